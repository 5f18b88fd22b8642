#!/usr/bin/env python3
"""Tests of the Rancher 1.x stand-in (rancher_stand_in.py), started as a subprocess exactly as the
C++ tests start it. Run from the repository root:

    python3 -m unittest tests/support/rancher_stand_in_test.py -v
"""

import base64
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for stand_in_testing, under -m unittest too
import stand_in_testing  # noqa: E402

URL_FORMS = ("/v1", "/v2-beta", "/v2-beta/projects/1a5", "/v1/projects/1a5")


def basic(access_key, secret_key):
    return "Basic " + base64.b64encode(f"{access_key}:{secret_key}".encode()).decode()


class RancherStandInTestCase(stand_in_testing.StandInTestCase):
    """The helpers of the tests below."""

    script = "rancher_stand_in.py"

    def authorization(self):
        return basic(self.info["access_key"], self.info["secret_key"])

    def call(self, method, path, body=None, auth=True, headers=None, absolute=False):
        """One request; returns an Answer whatever the status. `auth`: True (the stand-in's key
        pair), an (access key, secret key) pair, or None/False (no Authorization header)."""
        headers = dict(headers or {})
        if auth is True:
            auth = (self.info["access_key"], self.info["secret_key"])
        if auth:
            headers["Authorization"] = basic(*auth)
        return stand_in_testing.call(method, path if absolute else self.url + path, body, headers)

    def add_registry(self, address, **fields):
        return self.control("POST", "/_control/registries", {"serverAddress": address, **fields})["id"]

    def add_credential(self, registry_id, public="AWS", secret="s3cret", **fields):
        return self.control("POST", "/_control/credentials",
                            {"registryId": registry_id, "publicValue": public, "secretValue": secret,
                             **fields})["id"]

    def assert_cattle_error(self, answer, status, code, message=None, field_name=None):
        self.assertEqual(answer.status, status, answer.raw)
        body = answer.json
        self.assertEqual(body["type"], "error")
        self.assertEqual(body["baseType"], "error")
        self.assertEqual(body["status"], status)
        self.assertEqual(body["code"], code)
        self.assertEqual(body["message"], message)
        self.assertEqual(body["links"], {})
        self.assertEqual(body["actions"], {})
        self.assertIn("detail", body)
        if field_name is not None:
            self.assertEqual(body["fieldName"], field_name)
        self.assertEqual(answer.headers["Content-Type"], "application/json")

    def list_all(self, first_url):
        """Follows pagination.next; returns (all items, the pages)."""
        items, pages, url = [], [], first_url
        while url:
            answer = self.call("GET", url, absolute=True)
            self.assertEqual(answer.status, 200, answer.raw)
            pages.append(answer.json)
            items += answer.json["data"]
            url = answer.json["pagination"]["next"]
        return items, pages


class RancherStandInTest(RancherStandInTestCase):
    """The stand-in as the single-environment tests start it: no arguments."""

    # ---- start-up ------------------------------------------------------------------------------

    def test_description_line(self):
        self.assertRegex(self.info["url"], r"^http://127\.0\.0\.1:[0-9]+$")
        self.assertEqual(self.info["project"], "1a5")
        self.assertTrue(self.info["access_key"] and self.info["secret_key"])
        self.assertEqual(set(self.info), {"url", "access_key", "secret_key", "project"})  # no account key
        state = self.state()
        self.assertEqual(list(state["environments"]), ["1a5"])
        self.assertEqual(state["environments"]["1a5"]["name"], "Default")
        self.assertEqual(self.control("GET", "/_control/environments"),
                         {"environments": [{"id": "1a5", "name": "Default", "registries": 0, "credentials": 0}]})

    def test_given_keys_project_and_stop_on_stdin_eof_and_sigterm(self):
        with self.another_stand_in("--access-key", "AK", "--secret-key", "SK", "--project", "1a7") as (process, info):
            self.assertEqual((info["access_key"], info["secret_key"], info["project"]), ("AK", "SK", "1a7"))
            answer = self.call("GET", info["url"] + "/v2-beta/projects/1a7", auth=("AK", "SK"), absolute=True)
            self.assertEqual(answer.status, 200)
            self.assertEqual(answer.headers["X-API-Account-Id"], "1a7")
            self.assert_stops_on_end_of_file(process)
        self.assert_serve_forever_ignores_stdin_and_stops_on_sigterm()

    # ---- §1.1 discovery, §1.2 auth ---------------------------------------------------------------

    def test_discovery_under_each_url_form(self):
        for base in URL_FORMS:
            with self.subTest(base=base):
                root = self.call("GET", base)
                self.assertEqual(root.status, 200, root.raw)
                self.assertEqual(root.headers["X-API-Schemas"], self.url + base + "/schemas")
                self.assertEqual(root.headers["X-API-Account-Id"], "1a5")
                self.assertIn("X-API-User-Id", root.headers)
                self.assertIn("X-API-Account-Kind", root.headers)
                self.assertIn("X-API-Account-Name", root.headers)
                self.assertEqual(root.json["links"]["self"], self.url + base)
                self.assertIn("http:\\/\\/", root.raw)  # Cattle escapes slashes

                schemas = self.call("GET", base + "/schemas")
                self.assertEqual(schemas.status, 200)
                by_id = {s["id"]: s for s in schemas.json["data"]}
                registry, credential = by_id["registry"], by_id["registryCredential"]
                self.assertEqual(registry["pluralName"], "registries")
                self.assertEqual(registry["links"]["collection"], self.url + base + "/registries")
                self.assertEqual(credential["links"]["collection"], self.url + base + "/registrycredentials")
                self.assertIn("POST", credential["collectionMethods"])
                self.assertIn("PUT", credential["resourceMethods"])
                self.assertTrue(registry["resourceFields"]["serverAddress"]["required"])
                self.assertEqual(credential["resourceFields"]["secretValue"]["type"], "password")
                self.assertEqual("email" in credential["resourceFields"], base.startswith("/v1"))  # §1.7

    def test_authentication(self):
        for auth in (None, (self.info["access_key"], "wrong"), ("wrong", self.info["secret_key"])):
            answer = self.call("GET", "/v2-beta/registries", auth=auth)
            self.assert_cattle_error(answer, 401, "Unauthorized", "Unauthorized")
            self.assertEqual(answer.headers["WWW-Authenticate"],
                             'Basic realm="Enter API access key and secret key as username and password"')
            self.assertIsNone(answer.headers["X-API-Account-Id"])
        answer = self.call("GET", "/v1", auth=None, headers={"X-API-No-Challenge": "true"})
        self.assertEqual(answer.status, 401)
        self.assertIsNone(answer.headers["WWW-Authenticate"])
        self.assert_cattle_error(self.call("GET", "/v2-beta/projects/1a7/registries"), 403, "Forbidden", "Forbidden")
        self.assertEqual(self.call("GET", "/v2-beta/projects/nonsense").status, 400)
        self.assertEqual(self.call("GET", "/v2-beta/registries", headers={"X-API-Project-Id": "1a9"}).status, 403)
        projects = self.call("GET", "/v2-beta/projects")
        self.assertEqual([p["id"] for p in projects.json["data"]], ["1a5"])

    # ---- §1.3 collections --------------------------------------------------------------------------

    def test_collection_envelope_and_resource(self):
        registry = self.add_registry("123456789012.dkr.ecr.us-east-1.amazonaws.com", name="ecr")
        credential = self.add_credential(registry)
        answer = self.call("GET", f"/v2-beta/registrycredentials?registryId={registry}")
        body = answer.json
        self.assertEqual(list(body), ["type", "resourceType", "links", "createTypes", "actions", "data", "sortLinks",
                                      "pagination", "sort", "filters", "createDefaults"])
        self.assertEqual(body["resourceType"], "registryCredential")
        self.assertEqual(body["links"]["self"], f"{self.url}/v2-beta/registrycredentials?registryId={registry}")
        self.assertEqual(body["createTypes"], {"registryCredential": self.url + "/v2-beta/registrycredentials"})
        self.assertEqual(body["pagination"], {"first": None, "previous": None, "next": None, "limit": 100,
                                              "total": None, "partial": False})
        self.assertIsNone(body["sort"])
        self.assertEqual(body["filters"]["registryId"], [{"modifier": "eq", "value": registry[3:]}])
        self.assertIsNone(body["filters"]["state"])
        self.assertEqual(body["sortLinks"]["name"],
                         f"{self.url}/v2-beta/registrycredentials?registryId={registry}&sort=name")
        (item,) = body["data"]
        self.assertEqual(item["id"], credential)
        self.assertRegex(credential, r"^1c[0-9]+$")
        self.assertEqual((item["type"], item["baseType"], item["kind"]),
                         ("registryCredential", "credential", "registryCredential"))
        self.assertEqual(item["links"]["self"], f"{self.url}/v2-beta/registrycredentials/{credential}")
        self.assertEqual((item["registryId"], item["publicValue"], item["secretValue"]), (registry, "AWS", None))
        self.assertEqual((item["state"], item["removed"], item["accountId"]), ("active", None, "1a5"))
        for name in ("name", "description", "transitioningMessage", "transitioningProgress"):
            self.assertIn(name, item)
            self.assertIsNone(item[name])
        self.assertRegex(item["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIsInstance(item["createdTS"], int)
        self.assertNotIn("email", item)  # v2-beta

        reg = self.call("GET", f"/v1/projects/1a5/registries/{registry}").json  # links keep the client's path
        self.assertRegex(registry, r"^1sp[0-9]+$")
        self.assertEqual(reg["links"]["self"], f"{self.url}/v1/projects/1a5/registries/{registry}")
        self.assertEqual((reg["type"], reg["baseType"], reg["serverAddress"], reg["name"]),
                         ("registry", "storagePool", "123456789012.dkr.ecr.us-east-1.amazonaws.com", "ecr"))
        for name in ("externalId", "driverName", "volumeAccessMode", "blockDevicePath", "volumeCapabilities"):
            self.assertIsNone(reg[name])
        # Type names in the path are case-insensitive (§1.1).
        self.assertEqual(self.call("GET", "/v2-beta/registryCredentials").json["data"][0]["id"], credential)
        self.assertEqual(self.call("GET", f"/v2-beta/registrycredentials/{credential}/registry").json["id"], registry)

    def test_pagination_with_markers(self):
        ids = [self.add_registry(f"r{n}.example.com") for n in range(250)]
        items, pages = self.list_all(self.url + "/v2-beta/registries")
        self.assertEqual([i["id"] for i in items], ids)  # ascending id order, each once
        self.assertEqual([len(p["data"]) for p in pages], [100, 100, 50])
        self.assertEqual([p["pagination"]["partial"] for p in pages], [True, True, False])
        self.assertEqual(pages[0]["pagination"]["next"], self.url + "/v2-beta/registries?marker=m100")
        self.assertEqual(pages[1]["pagination"]["next"], self.url + "/v2-beta/registries?marker=m200")
        self.assertIsNone(pages[2]["pagination"]["next"])

        items, pages = self.list_all(self.url + "/v2-beta/projects/1a5/registries?limit=70")
        self.assertEqual(len(items), 250)
        self.assertEqual(len(pages), 4)
        self.assertEqual(pages[0]["pagination"]["next"],
                         self.url + "/v2-beta/projects/1a5/registries?limit=70&marker=m70")
        for limit in ("0", "-1", "5000"):  # limit<=0 means the cap (3000)
            answer = self.call("GET", f"/v1/registries?limit={limit}").json
            self.assertEqual((len(answer["data"]), answer["pagination"]["limit"]), (250, 3000))

    def test_removed_rows_and_filters(self):
        live = self.add_registry("live.example.com")
        gone = self.add_registry("gone.example.com", removed=True)
        inactive = self.add_registry("other.example.com", state="inactive")
        cred = self.add_credential(live)
        gone_cred = self.add_credential(live, removed=True)

        listed = [r["id"] for r in self.call("GET", "/v2-beta/registries").json["data"]]
        self.assertEqual(listed, [live, inactive])  # §1.3: removed rows are left out of lists
        by_id = self.call("GET", f"/v2-beta/registries/{gone}").json  # ... but not by id
        self.assertIsNotNone(by_id["removed"])
        self.assertEqual(by_id["state"], "removed")
        creds = self.call("GET", f"/v2-beta/registrycredentials?registryId={live}").json["data"]
        self.assertEqual([c["id"] for c in creds], [cred])
        self.assertIsNotNone(self.call("GET", f"/v2-beta/registrycredentials/{gone_cred}").json["removed"])

        # serverAddress is not a column: the filter is ignored and everything comes back.
        answer = self.call("GET", "/v2-beta/registries?serverAddress=live.example.com").json
        self.assertEqual([r["id"] for r in answer["data"]], [live, inactive])
        self.assertNotIn("serverAddress", answer["filters"])

        def ids(query):
            return [r["id"] for r in self.call("GET", "/v2-beta/registries?" + query).json["data"]]

        self.assertEqual(ids("state=inactive"), [inactive])
        self.assertEqual(ids("state_ne=inactive"), [live])
        self.assertEqual(ids("removed_null=true"), [live, inactive])
        self.assertEqual(ids("name_null=true&state=active"), [live])
        self.assertEqual(ids("state=active&state=inactive"), [live, inactive])
        self.assertEqual(ids("sort=id&order=desc"), [inactive, live])
        other_reg = self.add_registry("x.example.com")
        self.add_credential(other_reg)
        self.assertEqual(len(self.call("GET", "/v2-beta/registrycredentials").json["data"]), 2)
        # A bare number is not an id (§1.1): it resolves to nothing.
        self.assertEqual(self.call("GET", f"/v2-beta/registrycredentials?registryId={live[3:]}").json["data"], [])

    # ---- §1.4/§1.5 writes ------------------------------------------------------------------------

    def test_create_registry(self):
        answer = self.call("POST", "/v2-beta/registries", {"serverAddress": "1.dkr.ecr.us-east-1.amazonaws.com"})
        self.assertEqual(answer.status, 201, answer.raw)
        self.assertEqual(answer.json["state"], "registering")
        self.assertEqual(answer.json["serverAddress"], "1.dkr.ecr.us-east-1.amazonaws.com")
        registry = answer.json["id"]
        self.assertEqual(self.call("GET", f"/v2-beta/registries/{registry}").json["state"], "active")

        used = self.call("POST", "/v1/registries", {"serverAddress": "1.DKR.ecr.us-east-1.amazonaws.com"})
        self.assert_cattle_error(used, 400, "ServerAddressUsed", "ServerAddressUsed")
        # A removed registry with that address does not count.
        self.add_registry("2.dkr.ecr.us-east-1.amazonaws.com", removed=True)
        self.assertEqual(self.call("POST", "/v2-beta/registries",
                                   {"serverAddress": "2.dkr.ecr.us-east-1.amazonaws.com"}).status, 201)

        self.assert_cattle_error(self.call("POST", "/v2-beta/registries", {"name": "x"}), 422, "MissingRequired",
                                 None, "serverAddress")
        self.assert_cattle_error(self.call("POST", "/v2-beta/registries", {"serverAddress": ""}), 422,
                                 "MinLengthExceeded", None, "serverAddress")
        self.assertEqual(len(self.state()["registries"]), 3)

    def test_credentials_post_put_and_secret_value(self):
        registry = self.add_registry("1.dkr.ecr.us-east-1.amazonaws.com")
        created = self.call("POST", "/v2-beta/registrycredentials",
                            {"registryId": registry, "publicValue": "AWS", "secretValue": "token-1"})
        self.assertEqual(created.status, 201, created.raw)
        self.assertEqual(created.json["secretValue"], "token-1")  # echoed in the create response only
        credential = created.json["id"]
        got = self.call("GET", f"/v2-beta/registrycredentials/{credential}").json
        self.assertEqual((got["secretValue"], got["state"]), (None, "active"))

        put = self.call("PUT", got["links"]["self"], {"publicValue": "AWS", "secretValue": "token-2",
                                                      "email": "not-really@required.anymore",
                                                      "registryId": "1sp999", "bogus": 1}, absolute=True)
        self.assertEqual(put.status, 200, put.raw)
        self.assertIsNone(put.json["secretValue"])
        self.assertEqual(put.json["registryId"], registry)  # create-only: ignored
        listed = self.call("GET", "/v2-beta/registrycredentials").json["data"]
        self.assertEqual([c["secretValue"] for c in listed], [None])
        (stored,) = self.state()["credentials"]
        self.assertEqual((stored["secretValue"], stored["registryId"], stored["email"]), ("token-2", registry, None))

        self.assert_cattle_error(self.call("POST", "/v2-beta/registrycredentials",
                                           {"registryId": "1sp999", "secretValue": "x"}),
                                 422, "InvalidReference", None, "registryId")
        self.assert_cattle_error(self.call("POST", "/v2-beta/registrycredentials", {"publicValue": "AWS"}),
                                 422, "MissingRequired", None, "registryId")
        self.assert_cattle_error(self.call("PUT", "/v2-beta/registrycredentials/1c999", {}), 404, "Not Found",
                                 "Not Found")

    def test_v1_email_rule(self):
        registry = self.add_registry("1.dkr.ecr.us-east-1.amazonaws.com")
        for body in ({}, {"email": ""}):
            answer = self.call("POST", "/v1/registrycredentials",
                               {"registryId": registry, "publicValue": "AWS", "secretValue": "t", **body})
            self.assert_cattle_error(answer, 422, "MissingRequired", None, "email")
        answer = self.call("POST", "/v1/projects/1a5/registrycredentials",
                           {"registryId": registry, "publicValue": "AWS", "secretValue": "t", "email": "a@b"})
        self.assertEqual(answer.status, 201, answer.raw)
        self.assertEqual(answer.json["email"], "a@b")
        credential = answer.json["id"]
        put = self.call("PUT", f"/v1/registrycredentials/{credential}", {"email": "c@d", "secretValue": "u"})
        self.assertEqual((put.status, put.json["email"], put.json["secretValue"]), (200, "c@d", None))
        self.assertNotIn("email", self.call("GET", f"/v2-beta/registrycredentials/{credential}").json)
        self.assertEqual(self.state()["credentials"][0]["secretValue"], "u")

    def test_not_found_method_not_allowed_actions_and_delete(self):
        self.assert_cattle_error(self.call("GET", "/v2-beta/registries/1sp999"), 404, "Not Found", "Not Found")
        self.assert_cattle_error(self.call("GET", "/v2-beta/nothing"), 404, "Not Found", "Not Found")
        self.assert_cattle_error(self.call("GET", "/v3/registries"), 404, "Not Found", "Not Found")
        self.assert_cattle_error(self.call("DELETE", "/v2-beta/registries"), 405, "Method not allowed",
                                 "Method not allowed")
        self.assertEqual(self.call("PUT", "/v2-beta", {}).status, 405)

        registry = self.add_registry("a.example.com")
        credential = self.add_credential(registry)
        self.assertEqual(self.call("DELETE", f"/v2-beta/registries/{registry}").status, 405)  # active
        got = self.call("GET", f"/v2-beta/registries/{registry}").json
        answer = self.call("POST", got["actions"]["deactivate"], absolute=True)
        self.assertEqual((answer.status, answer.json["state"]), (202, "deactivating"))
        self.assertEqual(self.call("DELETE", f"/v2-beta/registries/{registry}").status, 200)
        self.assertEqual(self.call("GET", "/v2-beta/registries").json["data"], [])
        self.assertIsNotNone(self.call("GET", f"/v2-beta/registrycredentials/{credential}").json["removed"])

    def test_credential_deactivate_delete_and_states(self):
        """§1.5 States: deactivate (active -> deactivating -> inactive), then DELETE (inactive ->
        removing -> removed, `removed` stamped); lists leave the row out, GET by id still shows it."""
        registry = self.add_registry("a.example.com")
        created = self.call("POST", "/v2-beta/registrycredentials",
                            {"registryId": registry, "publicValue": "AWS", "secretValue": "t"}).json
        self.assertEqual((created["state"], created["actions"]), ("registering", {"remove": created["links"]["self"]
                                                                                  + "/?action=remove"}))
        self_url = created["links"]["self"]
        got = self.call("GET", self_url, absolute=True).json
        self.assertEqual((got["state"], list(got["actions"])), ("active", ["deactivate"]))
        self.assertIsInstance(got["createdTS"], int)
        self.assertEqual(self.call("DELETE", self_url, absolute=True).status, 405)  # not from active
        self.assert_cattle_error(self.call("POST", self_url + "?action=activate", absolute=True), 422,
                                 "ActionNotAvailable")
        self.assert_cattle_error(self.call("POST", self_url + "?action=fly", absolute=True), 422, "InvalidAction")

        answer = self.call("POST", got["actions"]["deactivate"], absolute=True)
        self.assertEqual((answer.status, answer.json["state"], answer.json["transitioning"]),
                         (202, "deactivating", "yes"))
        inactive = self.call("GET", self_url, absolute=True).json
        self.assertEqual((inactive["state"], sorted(inactive["actions"])), ("inactive", ["activate", "remove"]))
        self.assertEqual([c["id"] for c in self.call("GET", f"/v2-beta/registrycredentials?registryId={registry}")
                          .json["data"]], [created["id"]])  # inactive rows are listed

        deleted = self.call("DELETE", self_url, absolute=True)
        self.assertEqual((deleted.status, deleted.json["state"], deleted.json["removed"]), (200, "removing", None))
        self.assertEqual(self.call("DELETE", self_url, absolute=True).status, 200)  # again: nothing more to do
        gone = self.call("GET", self_url, absolute=True).json
        self.assertEqual((gone["state"], gone["actions"]), ("removed", {}))
        self.assertIsNotNone(gone["removed"])
        self.assertIsInstance(gone["removedTS"], int)
        self.assertEqual(self.call("GET", f"/v2-beta/registrycredentials?registryId={registry}").json["data"], [])
        self.assertEqual(self.call("POST", self_url + "?action=deactivate", absolute=True).status, 422)

        # A PUT on a removed credential is stored (§1.5: unconfirmed, "probably stored but never used").
        put = self.call("PUT", self_url, {"secretValue": "late"}, absolute=True)
        self.assertEqual((put.status, put.json["state"]), (200, "removed"))
        (stored,) = self.state()["credentials"]
        self.assertEqual(stored["secretValue"], "late")

    def test_concurrent_creates_are_atomic_and_ordered(self):
        registry = self.add_registry("a.example.com")
        answers = []

        def create(n):
            answers.append(self.call("POST", "/v2-beta/registrycredentials",
                                     {"registryId": registry, "publicValue": "AWS", "secretValue": f"t{n}"}))

        threads = [threading.Thread(target=create, args=(n,)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(sorted(a.status for a in answers), [201] * 20)
        ids = [a.json["id"] for a in answers]
        self.assertEqual(len(set(ids)), 20)
        rows = self.call("GET", f"/v2-beta/registrycredentials?registryId={registry}").json["data"]
        self.assertEqual(sorted(int(r["id"][2:]) for r in rows), list(range(1, 21)))
        # createdTS never decreases with the id (ties within a millisecond are broken by the id).
        ordered = sorted(rows, key=lambda r: int(r["id"][2:]))
        self.assertEqual([r["createdTS"] for r in ordered], sorted(r["createdTS"] for r in ordered))
        self.assertEqual(sorted(c["secretValue"] for c in self.state()["credentials"]),
                         sorted(f"t{n}" for n in range(20)))

    def test_request_log(self):
        registry = self.add_registry("a.example.com")
        credential = self.add_credential(registry)
        for n in range(3):
            self.call("PUT", f"/v2-beta/registrycredentials/{credential}?x=1", {"secretValue": f"t{n}"})
        self.call("GET", "/v2-beta/registries")
        log = self.state()["requests"]
        puts = [r for r in log if r["method"] == "PUT"]
        self.assertEqual(len(puts), 3)
        self.assertEqual(puts[2], {"method": "PUT", "path": f"/v2-beta/registrycredentials/{credential}",
                                   "query": "x=1", "body": {"secretValue": "t2"}, "status": 200, "fault": None})
        self.assertEqual(log[-1]["body"], None)
        self.assertEqual(len(log), 4)  # control requests are not logged

    # ---- faults --------------------------------------------------------------------------------

    def test_status_fault(self):
        self.control("POST", "/_control/faults", {"match": {"method": "PUT", "path_contains": "registrycredentials"},
                                                   "fault": "status", "status": 503, "times": 2})
        registry = self.add_registry("a.example.com")
        credential = self.add_credential(registry)
        self.assertEqual(self.call("GET", "/v2-beta/registrycredentials").status, 200)  # no match
        for _ in range(2):
            self.assert_cattle_error(self.call("PUT", f"/v2-beta/registrycredentials/{credential}",
                                               {"secretValue": "new"}),
                                     503, "Service Unavailable", "Service Unavailable")
        self.assertEqual(self.state()["credentials"][0]["secretValue"], "s3cret")  # nothing done
        self.assertEqual(self.call("PUT", f"/v2-beta/registrycredentials/{credential}", {"secretValue": "new"}).status,
                         200)
        self.assertEqual([r["fault"] for r in self.state()["requests"]], [None, "status", "status", None])

        self.control("POST", "/_control/faults", {"fault": "status", "status": 500, "times": 5})
        self.assertEqual(len(self.state()["faults"]), 1)
        self.control("DELETE", "/_control/faults")
        self.assertEqual(self.call("GET", "/v1").status, 200)

    def test_delay_fault_and_concurrency(self):
        self.control("POST", "/_control/faults", {"match": {"path_contains": "/registries"}, "fault": "delay",
                                                   "seconds": 1.0})
        results = {}

        def slow():
            began = time.monotonic()
            results["status"] = self.call("GET", "/v2-beta/registries").status
            results["slow"] = time.monotonic() - began

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.1)
        began = time.monotonic()
        self.assertEqual(self.call("GET", "/v2-beta").status, 200)  # served meanwhile
        fast = time.monotonic() - began
        thread.join()
        self.assertEqual(results["status"], 200)
        self.assertGreaterEqual(results["slow"], 1.0)
        self.assertLess(fast, 0.5)

    def test_hold_fault_with_parties(self):
        """Three concurrent lists are all computed before any answer goes: each sees no credential,
        even though the first one answered creates one at once."""
        registry = self.add_registry("a.example.com")
        self.add_hold_fault_for_parties("/registrycredentials", 3)
        seen, lock = [], threading.Lock()

        def list_then_create():
            listed = self.call("GET", f"/v2-beta/registrycredentials?registryId={registry}").json["data"]
            created = self.call("POST", "/v2-beta/registrycredentials",
                                {"registryId": registry, "publicValue": "AWS", "secretValue": "t"})
            with lock:
                seen.append((len(listed), created.status))

        threads = [threading.Thread(target=list_then_create) for _ in range(2)]
        for thread in threads:
            thread.start()
        self.assertEqual(self.wait_until_held(2), 2)  # kept until the third party comes
        self.assertEqual(seen, [])
        last = threading.Thread(target=list_then_create)
        last.start()
        for thread in threads + [last]:
            thread.join(timeout=10)
        self.assertEqual(sorted(seen), [(0, 201)] * 3)
        state = self.state()
        self.assertEqual((state["held"], state["faults"]), (0, []))
        self.assertEqual(len([c for c in state["credentials"] if c["removed"] is None]), 3)
        self.assertEqual([r["fault"] for r in state["requests"] if r["method"] == "GET"], ["hold"] * 3)
        # Spent: the next list is answered at once.
        self.assertEqual(len(self.call("GET", "/v2-beta/registrycredentials").json["data"]), 3)

    def test_hold_fault_released_by_control_reset_or_time(self):
        registry = self.add_registry("a.example.com")
        self.control("POST", "/_control/faults",
                     {"match": {"method": "PUT"}, "fault": "hold", "times": 2, "seconds": 30})
        credential = self.add_credential(registry)
        answers = []

        def put(secret):
            answers.append(self.call("PUT", f"/v2-beta/registrycredentials/{credential}", {"secretValue": secret}))

        thread = threading.Thread(target=put, args=("new",))
        thread.start()
        self.wait_until_held(1)
        state = self.state()
        self.assertEqual(state["held"], 1)
        self.assertEqual(state["credentials"][0]["secretValue"], "new")  # the change is made; the answer waits
        self.assertEqual(answers, [])
        self.assertEqual(self.control("POST", "/_control/release"), {"released": 1})
        thread.join(timeout=10)
        self.assertEqual([a.status for a in answers], [200])

        thread = threading.Thread(target=put, args=("newer",))
        thread.start()
        self.wait_until_held(1)
        self.control("POST", "/_control/reset")  # a reset lets held answers go too
        thread.join(timeout=10)
        self.assertEqual([a.status for a in answers], [200, 200])
        self.assertEqual(self.control("POST", "/_control/release"), {"released": 0})

        self.control("POST", "/_control/faults", {"match": {"method": "GET"}, "fault": "hold", "seconds": 0.2})
        self.assertEqual(self.call("GET", "/v2-beta/registries").status, 200)  # its time passed

        for bad in ({"fault": "hold", "parties": 0}, {"fault": "hold", "parties": "3"},
                    {"fault": "hold", "seconds": -1}):
            self.assertEqual(self.call("POST", "/_control/faults", bad, auth=False).status, 400, bad)

    def test_drop_fault(self):
        registry = self.add_registry("a.example.com")
        credential = self.add_credential(registry)
        self.control("POST", "/_control/faults", {"match": {"method": "PUT"}, "fault": "drop"})
        self.assert_dropped(self.raw_request("PUT", f"/v2-beta/registrycredentials/{credential}",
                                             {"secretValue": "new"}))
        state = self.state()
        self.assertEqual(state["credentials"][0]["secretValue"], "s3cret")  # nothing done
        self.assertEqual((state["requests"][-1]["fault"], state["requests"][-1]["status"]), ("drop", None))

    def test_truncate_fault(self):
        registry = self.add_registry("a.example.com")
        credential = self.add_credential(registry)
        self.control("POST", "/_control/faults", {"match": {"method": "PUT"}, "fault": "truncate"})
        self.assert_truncated(self.raw_request("PUT", f"/v2-beta/registrycredentials/{credential}",
                                               {"secretValue": "new"}))
        self.assertEqual(self.state()["credentials"][0]["secretValue"], "new")  # the change was made

    def test_keep_alive(self):
        statuses = self.statuses_on_one_connection(("/v2-beta", "/v2-beta/schemas", "/v2-beta/registries",
                                                    "/v2-beta/registries/1sp404"))
        self.assertEqual(statuses, [200, 200, 200, 404])


class RancherStandInEnvironmentsTest(RancherStandInTestCase):
    """Several environments (§1.2): the environment key sees its own one, the account key every one,
    each with its own rows; the control API adds, removes and reads environments."""

    arguments = ("--environments", "alpha,beta,gamma", "--account-key", "ACCOUNTKEY:accountsecret")
    ACCOUNT = ("ACCOUNTKEY", "accountsecret")

    def account(self, method, path, body=None, **options):
        return self.call(method, path, body, auth=self.ACCOUNT, **options)

    def ids(self, answer):
        self.assertEqual(answer.status, 200, answer.raw)
        return [item["id"] for item in answer.json["data"]]

    # ---- start-up ------------------------------------------------------------------------------

    def test_description_line_and_start_world(self):
        self.assertEqual((self.info["project"], self.info["account_access_key"], self.info["account_secret_key"]),
                         ("1a5", "ACCOUNTKEY", "accountsecret"))
        self.assertEqual(self.control("GET", "/_control/environments")["environments"],
                         [{"id": "1a5", "name": "alpha", "registries": 0, "credentials": 0},
                          {"id": "1a6", "name": "beta", "registries": 0, "credentials": 0},
                          {"id": "1a7", "name": "gamma", "registries": 0, "credentials": 0}])
        state = self.state()
        self.assertEqual(list(state["environments"]), ["1a5", "1a6", "1a7"])
        self.assertEqual(state["account"], {"id": "1a1", "name": "admin", "registries": [], "credentials": []})

    def test_command_line_errors(self):
        for arguments in (["--environments", "a,a"], ["--environments", "a,,b"], ["--environment-count", "0"],
                          ["--environments", "a", "--environment-count", "2"], ["--account-key", "nosecret"],
                          ["--account-key", ":s"], ["--environment-count", "2", "--project", "p"],
                          ["--account-key", "AK:SK", "--access-key", "AK"]):
            with self.subTest(arguments=arguments):
                done = subprocess.run([sys.executable, os.path.join(stand_in_testing.HERE, self.script), *arguments],
                                      stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
                self.assertEqual((done.returncode, done.stdout), (2, ""), done.stderr)
                self.assertIn("error", done.stderr)

    def test_random_account_key_and_environment_count(self):
        with self.another_stand_in("--account-key", "--environment-count", "3", "--project", "1a10") as (_, info):
            self.assertRegex(info["account_access_key"], r"^[0-9A-F]{20}$")
            self.assertNotEqual(info["account_access_key"], info["access_key"])
            answer = self.call("GET", info["url"] + "/v2-beta/projects", absolute=True,
                               auth=(info["account_access_key"], info["account_secret_key"]))
            self.assertEqual([(p["id"], p["name"]) for p in answer.json["data"]],
                             [("1a10", "env-1"), ("1a11", "env-2"), ("1a12", "env-3")])

    def test_a_thousand_environments_are_cheap(self):
        began = time.monotonic()
        with self.another_stand_in("--environment-count", "1000", "--account-key", "AK:SK") as (process, info):
            self.assertLess(time.monotonic() - began, 5)
            items, pages = self.list_all_as(info["url"] + "/v2-beta/projects", ("AK", "SK"))
            self.assertEqual([p["id"] for p in items], [f"1a{n}" for n in range(5, 1005)])
            self.assertEqual(items[-1]["name"], "env-1000")
            self.assertEqual(len(pages), 10)
            self.assertEqual(len(self.call("GET", info["url"] + "/v2-beta/projects?limit=0", auth=("AK", "SK"),
                                           absolute=True).json["data"]), 1000)
            started = time.monotonic()
            for n in (5, 500, 1004):
                registry = stand_in_testing.call("POST", info["url"] + "/_control/registries",
                                                 {"serverAddress": f"r{n}.example.com", "environment": f"1a{n}"})
                self.assertEqual(registry.status, 201, registry.raw)
                listed = self.call("GET", info["url"] + f"/v2-beta/projects/1a{n}/registries", auth=("AK", "SK"),
                                   absolute=True)
                self.assertEqual([r["serverAddress"] for r in listed.json["data"]], [f"r{n}.example.com"])
            self.assertLess(time.monotonic() - started, 2)
            state = stand_in_testing.call("GET", info["url"] + "/_control/state").json
            self.assertEqual(len(state["environments"]), 1000)
            self.assert_stops_on_end_of_file(process)

    def list_all_as(self, first_url, auth):
        items, pages, url = [], [], first_url
        while url:
            answer = self.call("GET", url, auth=auth, absolute=True)
            self.assertEqual(answer.status, 200, answer.raw)
            pages.append(answer.json)
            items += answer.json["data"]
            url = answer.json["pagination"]["next"]
        return items, pages

    # ---- §1.2 keys and scoping ---------------------------------------------------------------------

    def test_environment_key_sees_its_one_environment(self):
        self.assertEqual(self.ids(self.call("GET", "/v2-beta/projects")), ["1a5"])
        self.assertEqual(self.call("GET", "/v2-beta/projects/1a6/registries").status, 403)
        self.assertEqual(self.call("GET", "/v2-beta/registries", headers={"X-API-Project-Id": "1a6"}).status, 403)
        self.assertEqual(self.call("GET", "/v2-beta/registries?projectId=1a7").status, 403)
        root = self.call("GET", "/v2-beta")
        self.assertEqual((root.headers["X-API-Account-Id"], root.headers["X-API-Account-Name"],
                          root.headers["X-API-Account-Kind"]), ("1a5", "alpha", "project"))
        beta = self.add_registry("b.example.com", environment="beta")
        self.assertEqual(self.ids(self.call("GET", "/v2-beta/registries")), [])
        self.assertEqual(self.call("GET", f"/v2-beta/registries/{beta}").status, 404)

    def test_account_key_lists_every_environment(self):
        answer = self.account("GET", "/v2-beta/projects")
        self.assertEqual([(p["id"], p["name"], p["type"], p["baseType"], p["kind"], p["state"])
                          for p in answer.json["data"]],
                         [("1a5", "alpha", "project", "account", "project", "active"),
                          ("1a6", "beta", "project", "account", "project", "active"),
                          ("1a7", "gamma", "project", "account", "project", "active")])
        beta = answer.json["data"][1]
        self.assertEqual(beta["links"]["self"], self.url + "/v2-beta/projects/1a6")
        self.assertEqual(beta["links"]["registries"], self.url + "/v2-beta/projects/1a6/registries")
        self.assertEqual(answer.json["createTypes"], {})
        self.assertEqual(answer.json["pagination"]["limit"], 100)
        self.assertEqual((answer.headers["X-API-Account-Id"], answer.headers["X-API-User-Id"],
                          answer.headers["X-API-Account-Kind"]), ("1a1", "1a1", "admin"))

        first = self.account("GET", "/v2-beta/projects?limit=2").json
        self.assertEqual([p["id"] for p in first["data"]], ["1a5", "1a6"])
        self.assertEqual(first["pagination"]["next"], self.url + "/v2-beta/projects?limit=2&marker=m2")
        rest = self.account("GET", first["pagination"]["next"], absolute=True).json
        self.assertEqual(([p["id"] for p in rest["data"]], rest["pagination"]["partial"]), (["1a7"], False))
        self.assertEqual(self.ids(self.account("GET", "/v2-beta/projects?name=beta")), ["1a6"])
        self.assertEqual(self.ids(self.account("GET", "/v1/projects?sort=id&order=desc")), ["1a7", "1a6", "1a5"])
        self.assertEqual(self.ids(self.account("GET", "/v2-beta/projects/1a7/projects")), ["1a5", "1a6", "1a7"])
        one = self.account("GET", "/v2-beta/projects/1a6")
        self.assertEqual((one.status, one.json["id"], one.json["name"], one.json["links"]["self"]),
                         (200, "1a6", "beta", self.url + "/v2-beta/projects/1a6"))
        self.assertEqual(one.headers["X-API-Schemas"], self.url + "/v2-beta/projects/1a6/schemas")

    def test_account_key_reaches_each_environments_rows(self):
        alpha = self.add_registry("a.example.com")  # the environment key's by default
        beta = self.add_registry("b.example.com", environment="1a6")
        credential = self.add_credential(beta)  # where its registry is
        self.assertEqual(self.state()["environments"]["1a6"]["credentials"][0]["id"], credential)

        self.assertEqual(self.ids(self.account("GET", "/v2-beta/projects/1a5/registries")), [alpha])
        for path, headers in (("/v2-beta/projects/1a6/registries", None),
                              ("/v2-beta/registries", {"X-API-Project-Id": "1a6"}),
                              ("/v1/registries?projectId=1a6", None),
                              ("/v2-beta/projects/1a6/registries", {"X-API-Project-Id": "1a7"})):  # path first
            with self.subTest(path=path, headers=headers):
                answer = self.account("GET", path, headers=headers)
                self.assertEqual(self.ids(answer), [beta])
                self.assertEqual((answer.headers["X-API-Account-Id"], answer.headers["X-API-Account-Kind"],
                                  answer.headers["X-API-User-Id"]), ("1a6", "project", "1a1"))
        self.assertEqual(self.ids(self.account("GET", f"/v2-beta/projects/1a6/registrycredentials?registryId={beta}")),
                         [credential])
        self.assertEqual(self.account("GET", f"/v2-beta/projects/1a5/registries/{beta}").status, 404)
        self.assertEqual(self.account("GET", "/v2-beta/projects/1a99/registries").status, 403)
        self.assertEqual(self.account("GET", "/v2-beta/projects/nonsense/registries").status, 400)
        self.assertEqual(self.account("GET", "/v2-beta/registries", headers={"X-API-Project-Id": "1a99"}).status, 403)
        # Un-scoped, the account key sees its own rows: none (§1.2).
        self.assertEqual(self.ids(self.account("GET", "/v2-beta/registries")), [])
        self.assertEqual(self.ids(self.account("GET", "/v2-beta/registrycredentials")), [])

        # Writes land in the environment picked; references stay within it.
        created = self.account("POST", "/v2-beta/projects/1a7/registries", {"serverAddress": "b.example.com"})
        self.assertEqual((created.status, created.json["accountId"]), (201, "1a7"), created.raw)
        self.assertEqual(created.json["links"]["self"],
                         f"{self.url}/v2-beta/projects/1a7/registries/{created.json['id']}")
        self.assert_cattle_error(self.account("POST", "/v2-beta/projects/1a7/registrycredentials",
                                              {"registryId": beta, "publicValue": "AWS"}),
                                 422, "InvalidReference", None, "registryId")
        self.assert_cattle_error(self.account("POST", "/v2-beta/projects/1a6/registries",
                                              {"serverAddress": "B.example.com"}), 400, "ServerAddressUsed",
                                 "ServerAddressUsed")
        put = self.account("PUT", f"/v2-beta/projects/1a6/registrycredentials/{credential}", {"secretValue": "new"})
        self.assertEqual(put.status, 200, put.raw)
        state = self.state()
        self.assertEqual(state["environments"]["1a6"]["credentials"][0]["secretValue"], "new")
        self.assertEqual([r["id"] for r in state["environments"]["1a7"]["registries"]], [created.json["id"]])
        self.assertEqual([r["id"] for r in state["registries"]], [alpha])  # the environment key's only
        own = self.account("POST", "/v2-beta/registries", {"serverAddress": "own.example.com"})
        self.assertEqual((own.status, own.json["accountId"]), (201, "1a1"))
        self.assertEqual([r["id"] for r in self.state()["account"]["registries"]], [own.json["id"]])

    # ---- the control API -------------------------------------------------------------------------

    def test_control_adds_reads_and_removes_environments(self):
        added = self.control("POST", "/_control/environments", {"name": "delta"}, expect=201)
        self.assertEqual(added, {"id": "1a8", "name": "delta"})
        self.assertEqual(self.ids(self.account("GET", "/v2-beta/projects")), ["1a5", "1a6", "1a7", "1a8"])
        registry = self.add_registry("d.example.com", environment="delta")
        self.assertEqual(self.ids(self.account("GET", "/v2-beta/projects/1a8/registries")), [registry])
        for key in ("1a8", "delta"):
            one = self.control("GET", f"/_control/environments/{key}")
            self.assertEqual((one["id"], one["name"], [r["id"] for r in one["registries"]], one["credentials"]),
                             ("1a8", "delta", [registry], []))
        self.assertEqual(self.control("POST", "/_control/environments", {"name": "x", "id": "1a20"}, expect=201),
                         {"id": "1a20", "name": "x"})
        self.assertEqual(self.control("POST", "/_control/environments", {"name": "y"})["id"], "1a21")
        self.control("POST", "/_control/environments", {"name": "delta"}, expect=409)
        self.control("POST", "/_control/environments", {"name": "z", "id": "1a6"}, expect=409)
        for bad in ({}, {"name": ""}, {"name": "a,b"}, {"name": "z", "id": "1a1"}, {"name": "z", "id": "7"},
                    {"name": "z", "other": 1}):
            self.control("POST", "/_control/environments", bad, expect=400)
        self.control("GET", "/_control/environments/nothing", expect=404)
        self.control("POST", "/_control/registries", {"serverAddress": "a", "environment": "nothing"}, expect=400)
        self.control("POST", "/_control/credentials", {"registryId": registry, "environment": "beta"}, expect=400)

        self.assertEqual(self.control("DELETE", "/_control/environments/delta"), {"id": "1a8", "name": "delta"})
        self.control("DELETE", "/_control/environments/delta", expect=404)
        self.assertEqual(self.ids(self.account("GET", "/v2-beta/projects")), ["1a5", "1a6", "1a7", "1a20", "1a21"])
        self.assertEqual(self.account("GET", "/v2-beta/projects/1a8/registries").status, 403)
        self.control("PATCH", f"/_control/registries/{registry}", {"name": "n"}, expect=404)  # gone with it
        self.assertNotIn("1a8", self.state()["environments"])
        self.assertEqual(self.control("POST", "/_control/environments", {"name": "delta"})["id"], "1a22")  # not reused

        self.control("POST", "/_control/reset")
        self.assertEqual(self.ids(self.account("GET", "/v2-beta/projects")), ["1a5", "1a6", "1a7"])
        self.assertEqual(self.control("POST", "/_control/environments", {"name": "delta"})["id"], "1a8")

    def test_removing_the_environment_keys_environment(self):
        self.control("DELETE", "/_control/environments/alpha")
        self.assertEqual(self.call("GET", "/v2-beta/registries").status, 401)  # the key went with it
        self.assertEqual(self.ids(self.account("GET", "/v2-beta/projects")), ["1a6", "1a7"])
        state = self.state()
        self.assertEqual((state["project"], state["registries"], state["credentials"]), ("1a5", [], []))
        self.control("POST", "/_control/registries", {"serverAddress": "a"}, expect=400)  # no default environment
        self.control("POST", "/_control/reset")
        self.assertEqual(self.call("GET", "/v2-beta/registries").status, 200)

    def test_patch_reaches_rows_of_any_environment(self):
        registry = self.add_registry("g.example.com", environment="gamma")
        credential = self.add_credential(registry)
        patched = self.control("PATCH", f"/_control/credentials/{credential}", {"state": "inactive"})
        self.assertEqual((patched["state"], patched["accountId"]), ("inactive", "1a7"))
        other = self.add_registry("other.example.com")
        self.control("PATCH", f"/_control/credentials/{credential}", {"registryId": other}, expect=400)


if __name__ == "__main__":
    unittest.main()
