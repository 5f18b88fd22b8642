#!/usr/bin/env python3
"""Tests of the Rancher 2.x stand-in (rancher2_stand_in.py), started as a subprocess exactly as the
C++ tests start it. Run from the repository root:

    python3 tests/support/rancher2_stand_in_test.py -v
"""

import base64
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for stand_in_testing, under -m unittest too
import stand_in_testing  # noqa: E402

PROD = "c-abcde:p-xyz12"  # the seeded project "Default" of cluster "production"
LOCAL_DEFAULT = "local:p-default"
HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
OTHER_HOST = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"


def credential_body(name="ecr", password="t0ken", host=HOST, **fields):
    return {"type": "dockerCredential", "name": name,
            "registries": {host: {"username": "AWS", "password": password}}, **fields}


class Rancher2StandInTestCase(stand_in_testing.StandInTestCase):
    """The helpers of the tests below."""

    script = "rancher2_stand_in.py"

    def bearer(self):
        return "Bearer " + f"{self.info['access_key']}:{self.info['secret_key']}"

    def authorization(self):
        return self.bearer()

    def call(self, method, path, body=None, auth=True, headers=None, absolute=False):
        """One request; returns an Answer whatever the status. `auth`: True (Bearer), "basic", a
        literal Authorization value, or False."""
        headers = dict(headers or {})
        if auth is True:
            headers["Authorization"] = self.bearer()
        elif auth == "basic":
            pair = f"{self.info['access_key']}:{self.info['secret_key']}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        elif auth:
            headers["Authorization"] = auth
        return stand_in_testing.call(method, path if absolute else self.url + path, body, headers)

    def seed(self, name="ecr", project=PROD, namespace=None, password="s3cret", host=HOST, **fields):
        body = {"project": project, "namespace": namespace, "name": name,
                "registries": {host: {"username": "AWS", "password": password}}, **fields}
        return self.control("POST", "/_control/credentials", body)

    def collection(self, project=PROD, kind="dockercredentials", form="project"):
        return f"/v3/{form}/{project}/{kind}"

    def assert_norman_error(self, answer, status, code, field_name=None):
        self.assertEqual(answer.status, status, answer.raw)
        body = answer.json
        self.assertEqual((body["type"], body["baseType"], body["status"], body["code"]),
                         ("error", "error", status, code), answer.raw)
        self.assertIsInstance(body["message"], str)
        if field_name is not None:
            self.assertEqual(body["fieldName"], field_name)
        else:
            self.assertNotIn("fieldName", body)
        self.assertEqual(answer.headers["Content-Type"], "application/json")

    def assert_unauthenticated(self, answer):
        self.assertEqual(answer.status, 401, answer.raw)
        self.assertEqual(answer.json, {"type": "error", "status": "401", "message": "Unauthorized: must authenticate"})
        self.assertIsNone(answer.headers.get("WWW-Authenticate"))

    def assert_no_passwords(self, row):
        for entry in row["registries"].values():
            self.assertEqual(set(entry), {"username", "email", "description"}, row)

    def ids(self, path, **options):
        answer = self.call("GET", path, **options)
        self.assertEqual(answer.status, 200, answer.raw)
        return [item["id"] for item in answer.json["data"]]


class Rancher2StandInTest(Rancher2StandInTestCase):
    """The stand-in as the tests of one project start it: no arguments."""

    # ---- start-up ------------------------------------------------------------------------------

    def test_description_line_keys_and_stopping(self):
        self.assertRegex(self.info["url"], r"^http://127\.0\.0\.1:[0-9]+$")
        self.assertRegex(self.info["access_key"], r"^token-[a-z0-9]{5}$")
        self.assertTrue(self.info["secret_key"])
        self.assertEqual(set(self.info), {"url", "access_key", "secret_key"})
        with self.another_stand_in("--access-key", "token-zz9zz", "--secret-key", "SK", "--public-url",
                                   "https://rancher.example:8443/") as (process, info):
            self.assertEqual((info["access_key"], info["secret_key"]), ("token-zz9zz", "SK"))
            answer = self.call("GET", info["url"] + "/v3/projects/" + PROD, auth="Bearer token-zz9zz:SK",
                               absolute=True)
            self.assertEqual(answer.status, 200, answer.raw)
            self.assertEqual(answer.headers["X-Api-Schemas"], "https://rancher.example:8443/v3/schemas")
            self.assertEqual(answer.json["links"]["self"], f"https://rancher.example:8443/v3/projects/{PROD}")
            self.assert_stops_on_end_of_file(process)
        self.assert_serve_forever_ignores_stdin_and_stops_on_sigterm()

    # ---- §2.1 authentication, §2.2 discovery ---------------------------------------------------

    def test_discovery(self):
        for path in ("/v3", "/v3/"):
            with self.subTest(path=path):
                root = self.call("GET", path)
                self.assertEqual(root.status, 200, root.raw)
                self.assertEqual(root.headers["X-Api-Schemas"], self.url + "/v3/schemas")
                self.assertEqual(root.headers["Content-Type"], "application/json")
                self.assertEqual((root.json["type"], root.json["resourceType"]), ("collection", "schema"))
                self.assertEqual(root.json["links"]["self"], self.url + "/v3")
                ids = {schema["id"] for schema in root.json["data"]}
                self.assertTrue({"project", "dockerCredential", "namespacedDockerCredential"} <= ids, ids)
                self.assertTrue(all(schema["type"] == "schema" for schema in root.json["data"]))
                unauthenticated = self.call("GET", path, auth=False)
                self.assert_unauthenticated(unauthenticated)
                self.assertEqual(unauthenticated.headers["X-Api-Schemas"], self.url + "/v3/schemas")
        schema = self.call("GET", "/v3/schemas/dockercredential")
        self.assertEqual(schema.status, 200)
        self.assertTrue(schema.json["resourceFields"]["name"]["required"])
        self.assertFalse(schema.json["resourceFields"]["namespaceId"]["required"])
        self.assertIn("PUT", schema.json["resourceMethods"])

    def test_authentication(self):
        self.assertEqual(self.call("GET", "/v3/clusters", auth=True).status, 200)
        self.assertEqual(self.call("GET", "/v3/clusters", auth="basic").status, 200)
        self.assertEqual(self.call("GET", "/v3/clusters", auth="bearer " + self.bearer()[7:]).status, 200)
        access, secret = self.info["access_key"], self.info["secret_key"]
        for value in (None, f"Bearer {access}:wrong", f"Bearer token-wrong:{secret}", f"Bearer {access}",
                      "Basic " + base64.b64encode(f"{access}:wrong".encode()).decode(), "Basic !!!",
                      f"Token {access}:{secret}"):
            with self.subTest(authorization=value):
                self.assert_unauthenticated(self.call("GET", f"/v3/projects/{PROD}/dockercredentials",
                                                      auth=value or False))
        self.assert_unauthenticated(self.call("GET", "/v3/no-such-thing", auth=False))  # before routing
        schemes = [entry["authorization_scheme"] for entry in self.state()["requests"]]
        self.assertEqual(schemes, ["Bearer", "Basic", "Bearer", None, "Bearer", "Bearer", "Bearer", "Basic",
                                   "Basic", "other", None])
        self.assertNotIn(secret, json.dumps(self.state()["requests"]))  # the header is never logged

    # ---- clusters, projects, namespaces ----------------------------------------------------------

    def test_clusters(self):
        clusters = self.call("GET", "/v3/clusters").json
        self.assertEqual([(c["id"], c["name"], c["type"]) for c in clusters["data"]],
                         [("c-abcde", "production", "cluster"), ("local", "local", "cluster")])
        self.assertEqual(clusters["data"][0]["links"]["self"], self.url + "/v3/clusters/c-abcde")
        self.assertEqual(self.call("GET", "/v3/clusters?name=production").json["data"][0]["id"], "c-abcde")
        self.assertEqual(self.call("GET", "/v3/clusters/local").json["name"], "local")
        self.assert_norman_error(self.call("GET", "/v3/clusters/c-nope"), 404, "NotFound")

    def test_projects_by_id_name_and_cluster(self):
        project = self.call("GET", f"/v3/projects/{PROD}")
        self.assertEqual(project.status, 200, project.raw)
        body = project.json
        self.assertEqual((body["id"], body["type"], body["name"], body["clusterId"]),
                         (PROD, "project", "Default", "c-abcde"))
        self.assertEqual(body["links"]["self"], f"{self.url}/v3/projects/{PROD}")
        self.assertEqual(body["links"]["dockerCredentials"], f"{self.url}/v3/project/{PROD}/dockercredentials")
        self.assertEqual(body["links"]["namespacedDockerCredentials"],
                         f"{self.url}/v3/project/{PROD}/namespaceddockercredentials")
        self.assertIn("namespaces", body["links"])
        self.assertEqual(self.call("GET", f"/v3/projects/{PROD.replace(':', '%3A')}").json["id"], PROD)

        named = self.call("GET", "/v3/projects?name=Default").json
        self.assertEqual(sorted(p["id"] for p in named["data"]), [PROD, LOCAL_DEFAULT])  # ambiguous
        self.assertEqual(named["filters"]["name"], [{"modifier": "eq", "value": "Default"}])
        self.assertEqual([p["id"] for p in self.call("GET", "/v3/projects?name=Default&clusterId=c-abcde").json["data"]],
                         [PROD])
        self.assertEqual(sorted(p["id"] for p in self.call("GET", "/v3/projects?clusterId=local").json["data"]),
                         [LOCAL_DEFAULT, "local:p-system"])
        self.assertEqual(self.call("GET", "/v3/projects?name=default").json["data"], [])  # exact match
        self.assertEqual([p["id"] for p in self.call("GET", f"/v3/projects?id={PROD}").json["data"]], [PROD])
        self.assertEqual(len(self.call("GET", "/v3/projects").json["data"]), 3)
        self.assert_norman_error(self.call("GET", "/v3/projects/c-abcde:p-nope"), 404, "NotFound")

    def test_namespaces_and_control_world(self):
        names = [n["name"] for n in self.call("GET", f"/v3/project/{LOCAL_DEFAULT}/namespaces").json["data"]]
        self.assertEqual(names, ["apps", "jobs"])
        self.control("POST", "/_control/clusters", {"id": "c-fghij", "name": "staging"})
        self.control("POST", "/_control/projects", {"id": "c-fghij:p-aaaaa", "name": "Default", "clusterId": "c-fghij"})
        self.control("POST", "/_control/namespaces", {"project": "c-fghij:p-aaaaa", "name": "web"})
        self.control("POST", "/_control/namespaces", {"project": PROD, "name": "web"}, expect=409)  # per cluster
        self.control("POST", "/_control/projects", {"id": "local:p-x", "name": "X", "clusterId": "c-fghij"}, expect=400)
        self.assertEqual(len(self.call("GET", "/v3/projects?name=Default").json["data"]), 3)
        self.assertEqual([n["id"] for n in self.call("GET", "/v3/clusters/c-fghij/namespaces").json["data"]], ["web"])
        state = self.state()
        self.assertEqual(state["namespaces"]["c-fghij:p-aaaaa"], ["web"])
        self.assertEqual(len(state["projects"]), 4)
        self.control("POST", "/_control/reset")
        self.assertEqual(len(self.state()["projects"]), 3)
        self.assert_norman_error(self.call("GET", "/v3/clusters/c-fghij"), 404, "NotFound")

    # ---- §2.3 credentials ----------------------------------------------------------------------

    def test_both_collection_forms(self):
        seeded = self.seed()
        self.assertEqual(seeded["id"], "p-xyz12:ecr")
        for form in ("project", "projects"):
            for kind in ("dockercredentials", "dockerCredentials"):
                with self.subTest(form=form, kind=kind):
                    listing = self.call("GET", self.collection(form=form, kind=kind))
                    self.assertEqual(listing.status, 200, listing.raw)
                    self.assertEqual([r["id"] for r in listing.json["data"]], ["p-xyz12:ecr"])
                    row = self.call("GET", self.collection(form=form, kind=kind) + "/p-xyz12:ecr")
                    self.assertEqual(row.status, 200, row.raw)
        listing = self.call("GET", self.collection())
        envelope = listing.json
        for key in ("type", "resourceType", "links", "actions", "data", "pagination", "sort", "filters"):
            self.assertIn(key, envelope)
        self.assertEqual((envelope["type"], envelope["resourceType"]), ("collection", "dockerCredential"))
        self.assertEqual(envelope["links"]["self"], self.url + self.collection())
        self.assertEqual(envelope["pagination"], {"limit": 1000, "total": 1})
        self.assertEqual(listing.headers["X-Api-Schemas"], self.url + "/v3/schemas")
        row = envelope["data"][0]
        self_url = f"{self.url}/v3/project/{PROD}/dockercredentials/p-xyz12:ecr"
        self.assertEqual(row["links"], {"self": self_url, "update": self_url, "remove": self_url})
        self.assertEqual((row["type"], row["baseType"], row["projectId"], row["namespaceId"]),
                         ("dockerCredential", "secret", PROD, None))
        for key in ("created", "createdTS", "creatorId", "uuid", "description", "labels", "annotations", "actions"):
            self.assertIn(key, row)
        self.assertRegex(row["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(self.call("GET", self.collection(project=LOCAL_DEFAULT)).json["data"], [])

    def test_create_echoes_password_only_in_its_answer(self):
        created = self.call("POST", f"/v3/projects/{PROD}/dockercredentials", credential_body(password="t0ken"))
        self.assertEqual(created.status, 201, created.raw)
        entry = created.json["registries"][HOST]
        self.assertEqual(entry["password"], "t0ken")
        self.assertEqual(entry["auth"], base64.b64encode(b"AWS:t0ken").decode())
        self.assertEqual(created.json["id"], "p-xyz12:ecr")
        self.assertEqual(created.json["projectId"], PROD)

        self_url = created.json["links"]["self"]
        self.assert_no_passwords(self.call("GET", self_url, absolute=True).json)
        self.assert_no_passwords(self.call("GET", self.collection()).json["data"][0])
        put = self.call("PUT", self_url, {"registries": {HOST: {"username": "AWS", "password": "n3w"}}}, absolute=True)
        self.assertEqual(put.status, 200, put.raw)
        self.assert_no_passwords(put.json)
        self.assertNotIn("n3w", put.raw)
        self.assertNotIn("t0ken", self.call("GET", self.collection()).raw)
        stored = self.state()["credentials"][0]
        self.assertEqual(stored["registries"][HOST]["password"], "n3w")
        self.assertEqual(stored["registries"][HOST]["auth"], base64.b64encode(b"AWS:n3w").decode())

    def test_put_replaces_registries_and_keeps_other_fields(self):
        seeded = self.control("POST", "/_control/credentials", {
            "project": PROD, "name": "ecr", "description": "ECR pulls", "labels": {"app": "x"},
            "annotations": {"note": "kept"},
            "registries": {HOST: {"username": "AWS", "password": "one"},
                           OTHER_HOST: {"username": "AWS", "password": "two"}}})
        self.assertEqual(seeded["registries"][OTHER_HOST]["password"], "two")  # the control API shows them
        self_url = f"{self.url}/v3/project/{PROD}/dockercredentials/p-xyz12:ecr"
        # A GET-edit-PUT cycle: the other host comes back without its password.
        fetched = self.call("GET", self_url, absolute=True).json
        fetched["registries"][HOST]["password"] = "fresh"
        fetched.update({"projectId": LOCAL_DEFAULT, "id": "p-other:x", "type": "namespacedDockerCredential",
                        "name": "renamed"})
        put = self.call("PUT", self_url, fetched, absolute=True)
        self.assertEqual(put.status, 200, put.raw)
        self.assertEqual((put.json["id"], put.json["projectId"], put.json["type"], put.json["name"]),
                         ("p-xyz12:ecr", PROD, "dockerCredential", "ecr"))
        stored = self.state()["credentials"][0]
        self.assertEqual(stored["registries"][HOST]["password"], "fresh")
        self.assertEqual(stored["registries"][OTHER_HOST]["password"], "")  # erased, as the real server does
        self.assertEqual(stored["registries"][OTHER_HOST]["auth"], "")

        # registries replaces the whole map; fields left out are kept.
        put = self.call("PUT", self_url, {"registries": {OTHER_HOST: {"username": "AWS", "password": "p"}}},
                        absolute=True)
        self.assertEqual(put.status, 200, put.raw)
        self.assertEqual(list(put.json["registries"]), [OTHER_HOST])
        stored = self.state()["credentials"][0]
        self.assertEqual(list(stored["registries"]), [OTHER_HOST])
        self.assertEqual((stored["name"], stored["description"], stored["labels"], stored["annotations"]),
                         ("ecr", "ECR pulls", {"app": "x"}, {"note": "kept"}))
        put = self.call("PUT", self_url, {"description": "changed"}, absolute=True)
        self.assertEqual((put.json["description"], list(put.json["registries"])), ("changed", [OTHER_HOST]))
        self.assertEqual(self.state()["credentials"][0]["registries"][OTHER_HOST]["password"], "p")

        self.assert_norman_error(self.call("PUT", self_url + "x", {"registries": {}}, absolute=True), 404, "NotFound")
        removed = self.call("DELETE", self_url, absolute=True)
        self.assertIn(removed.status, (200, 204))
        self.assertEqual(self.state()["credentials"], [])
        self.assert_norman_error(self.call("GET", self_url, absolute=True), 404, "NotFound")

    def test_pagination_follows_next(self):
        for name in ("c", "a", "b"):
            self.seed(name=name)
        items, url, pages = [], self.url + self.collection() + "?limit=1", []
        while url:
            answer = self.call("GET", url, absolute=True)
            self.assertEqual(answer.status, 200, answer.raw)
            pages.append(answer.json["pagination"])
            items += [row["id"] for row in answer.json["data"]]
            url = answer.json["pagination"].get("next")
        self.assertEqual(items, ["p-xyz12:a", "p-xyz12:b", "p-xyz12:c"])  # ordered by id
        self.assertEqual(len(pages), 3)
        self.assertEqual((pages[0]["limit"], pages[0]["total"], pages[0]["partial"]), (1, 3, True))
        self.assertNotIn("marker", pages[0])
        self.assertEqual(pages[1]["marker"], "p-xyz12:b")
        self.assertNotIn("next", pages[2])
        self.assertNotIn("partial", pages[2])
        self.assertEqual(self.call("GET", self.collection() + "?limit=-1").json["pagination"]["limit"], 10000)
        self.assertEqual(self.call("GET", self.collection() + "?limit=99999").json["pagination"]["limit"], 10000)
        by_name = self.call("GET", self.collection() + "?name=b").json
        self.assertEqual([row["id"] for row in by_name["data"]], ["p-xyz12:b"])

    def test_conflict_and_validation(self):
        path = f"/v3/projects/{PROD}/dockercredentials"
        self.assertEqual(self.call("POST", path, credential_body()).status, 201)
        conflict = self.call("POST", path, credential_body())
        self.assert_norman_error(conflict, 409, "AlreadyExists")
        self.assertEqual(conflict.json["message"], 'secrets "ecr" already exists')
        # Another project's backing namespace is another namespace.
        self.assertEqual(self.call("POST", f"/v3/project/{LOCAL_DEFAULT}/dockercredentials",
                                   credential_body()).json["id"], "p-default:ecr")
        for bad in ("ECR", "ecr_1", "-ecr", "ecr.", "a" * 254):
            with self.subTest(name=bad):
                self.assert_norman_error(self.call("POST", path, credential_body(name=bad)), 422, "InvalidFormat", "name")
        self.assertEqual(self.call("POST", path, credential_body(name="ecr.pull-1")).status, 201)
        body = credential_body()
        del body["name"]
        self.assert_norman_error(self.call("POST", path, body), 422, "MissingRequired", "name")
        self.assert_norman_error(self.call("POST", path, b"{not json"), 422, "InvalidBodyContent")
        self.assert_norman_error(self.call("POST", path, {"name": "x", "registries": []}), 422, "InvalidType", "registries")

    def test_namespaced_credentials(self):
        path = f"/v3/project/{PROD}/namespaceddockercredentials"
        self.assert_norman_error(self.call("POST", path, credential_body()), 422, "MissingRequired", "namespaceId")
        self.assert_norman_error(self.call("POST", path, credential_body(namespaceId="apps")), 422, "InvalidReference",
                                 "namespaceId")  # a namespace of another project
        created = self.call("POST", path, credential_body(namespaceId="web"))
        self.assertEqual(created.status, 201, created.raw)
        body = created.json
        self.assertEqual((body["id"], body["type"], body["baseType"], body["namespaceId"]),
                         ("web:ecr", "namespacedDockerCredential", "namespacedSecret", "web"))
        self.assertEqual(body["links"]["self"], f"{self.url}{path}/web:ecr")
        self.assertEqual(body["registries"][HOST]["password"], "t0ken")
        # The same name project-scoped lives in the backing namespace: no conflict. Each collection
        # lists only its own kind.
        self.assertEqual(self.call("POST", self.collection(), credential_body()).status, 201)
        self.assert_norman_error(self.call("POST", path, credential_body(namespaceId="web")), 409, "AlreadyExists")
        self.assertEqual([r["id"] for r in self.call("GET", path).json["data"]], ["web:ecr"])
        self.assertEqual([r["id"] for r in self.call("GET", self.collection()).json["data"]], ["p-xyz12:ecr"])
        self.assertEqual([r["id"] for r in self.call("GET", path + "?namespaceId=web").json["data"]], ["web:ecr"])
        self.assertEqual(self.call("GET", path + "?namespaceId=apps").json["data"], [])
        self.assert_no_passwords(self.call("GET", path + "/web:ecr").json)
        self.seed(name="other", namespace="web")
        self.assertEqual([r["id"] for r in self.call("GET", path).json["data"]], ["web:ecr", "web:other"])
        self.assert_norman_error(self.call("GET", self.collection() + "/web:ecr"), 404, "NotFound")

    def test_errors_and_permission(self):
        self.assert_norman_error(self.call("GET", "/v3/nothing"), 404, "NotFound")
        self.assert_norman_error(self.call("GET", f"/v3/project/{PROD}/secrets"), 404, "NotFound")
        self.assert_norman_error(self.call("GET", "/elsewhere", auth=False), 404, "NotFound")
        self.assert_norman_error(self.call("PATCH", self.collection(), {}), 405, "MethodNotAllow")
        self.assert_norman_error(self.call("DELETE", "/v3/projects"), 405, "MethodNotAllow")
        self.seed()
        self.control("POST", "/_control/settings", {"read_only_projects": [PROD]})
        denied = self.call("POST", self.collection(), credential_body(name="x"))
        self.assert_norman_error(denied, 403, "PermissionDenied")
        self.assertEqual(denied.json["message"], "unauthorized")
        self.assert_norman_error(self.call("PUT", self.collection() + "/p-xyz12:ecr", {"registries": {}}), 403,
                                 "PermissionDenied")
        self.assert_norman_error(self.call("DELETE", self.collection() + "/p-xyz12:ecr"), 403, "PermissionDenied")
        self.assertEqual(self.call("GET", self.collection()).status, 200)  # reads are allowed
        self.assertEqual(self.call("POST", self.collection(LOCAL_DEFAULT), credential_body()).status, 201)
        self.assertEqual(len(self.state()["credentials"]), 2)
        self.control("POST", "/_control/reset")
        self.assertEqual(self.state()["settings"]["read_only_projects"], [])

    def test_request_log_and_reset(self):
        self.seed()
        self.call("PUT", self.collection() + "/p-xyz12:ecr?x=1", {"registries": {}})
        state = self.state()
        self.assertEqual(state["requests"], [{"method": "PUT", "path": f"/v3/project/{PROD}/dockercredentials/p-xyz12:ecr",
                                              "query": "x=1", "body": {"registries": {}}, "status": 200, "fault": None,
                                              "authorization_scheme": "Bearer"}])  # control calls are not logged
        self.control("POST", "/_control/faults", {"fault": "delay", "seconds": 0})
        self.control("POST", "/_control/reset")
        state = self.state()
        self.assertEqual((state["credentials"], state["requests"], state["faults"], state["held"]), ([], [], [], 0))
        self.assertEqual(len(state["projects"]), 3)
        self.assertEqual(sorted(state["namespaces"][LOCAL_DEFAULT]), ["apps", "jobs"])

    # ---- faults --------------------------------------------------------------------------------

    def test_status_fault(self):
        fault = self.control("POST", "/_control/faults",
                             {"match": {"method": "post", "path_contains": "DOCKERcredentials"}, "fault": "status",
                              "status": 503, "times": 2})
        self.assertEqual(fault["times"], 2)
        for _ in range(2):
            answer = self.call("POST", self.collection(), credential_body())
            self.assert_norman_error(answer, 503, "ClusterUnavailable")
            self.assertEqual(answer.headers["X-Api-Schemas"], self.url + "/v3/schemas")
        self.assertEqual(self.state()["credentials"], [])  # nothing done
        self.assertEqual(self.call("POST", self.collection(), credential_body()).status, 201)  # spent

        self.control("POST", "/_control/faults", {"fault": "status", "status": 401})
        answer = self.call("GET", "/v3")
        self.assertEqual((answer.status, answer.json["status"], answer.json["code"]), (401, "401", "Unauthorized"))
        self.control("POST", "/_control/faults", {"fault": "status", "status": 422, "code": "InvalidFormat",
                                                  "fieldName": "name", "headers": {"Retry-After": "3"}})
        answer = self.call("GET", "/v3")
        self.assert_norman_error(answer, 422, "InvalidFormat", "name")
        self.assertEqual(answer.headers["Retry-After"], "3")
        self.control("POST", "/_control/faults", {"fault": "status", "status": 403})
        self.assertEqual(self.call("GET", "/v3").json["message"], "unauthorized")
        self.assertEqual([r["fault"] for r in self.state()["requests"]], ["status"] * 2 + [None] + ["status"] * 3)
        self.control("POST", "/_control/faults", {"fault": "nope"}, expect=400)
        self.control("POST", "/_control/faults", {"fault": "status"}, expect=400)

    def test_delay_fault(self):
        self.control("POST", "/_control/faults", {"match": {"path_contains": "/clusters"}, "fault": "delay",
                                                  "seconds": 0.4})
        self.assertEqual(len(self.control("GET", "/_control/faults")["faults"]), 1)
        results = {}

        def slow():
            began = time.monotonic()
            results["slow"] = (self.call("GET", "/v3/clusters").status, time.monotonic() - began)

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.05)
        began = time.monotonic()
        self.assertEqual(self.call("GET", "/v3/projects").status, 200)
        fast = time.monotonic() - began
        thread.join(timeout=5)
        self.assertEqual(results["slow"][0], 200)
        self.assertGreaterEqual(results["slow"][1], 0.4)
        self.assertLess(fast, 0.3)  # other requests go on meanwhile

    def test_drop_fault(self):
        self.seed(password="old")
        self.control("POST", "/_control/faults", {"match": {"method": "PUT"}, "fault": "drop"})
        self.assert_dropped(self.raw_request("PUT", self.collection() + "/p-xyz12:ecr",
                                             {"registries": {HOST: {"username": "AWS", "password": "new"}}}))
        state = self.state()
        self.assertEqual(state["credentials"][0]["registries"][HOST]["password"], "old")  # nothing done
        self.assertEqual((state["requests"][-1]["fault"], state["requests"][-1]["status"]), ("drop", None))

    def test_truncate_fault(self):
        self.seed(password="old")
        self.control("POST", "/_control/faults", {"match": {"method": "PUT"}, "fault": "truncate"})
        self.assert_truncated(self.raw_request("PUT", self.collection() + "/p-xyz12:ecr",
                                               {"registries": {HOST: {"username": "AWS", "password": "new"}}}))
        self.assertEqual(self.state()["credentials"][0]["registries"][HOST]["password"], "new")  # the change was made

    def test_hold_fault_with_two_parties(self):
        """Two concurrent lists are both computed before either answer goes: each sees no
        credential, even though the first one answered creates one at once."""
        self.add_hold_fault_for_parties("dockercredentials", 2)
        seen, lock = [], threading.Lock()

        def list_then_create(name):
            listed = self.call("GET", self.collection()).json["data"]
            created = self.call("POST", self.collection(), credential_body(name=name))
            with lock:
                seen.append((len(listed), created.status))

        first = threading.Thread(target=list_then_create, args=("one",))
        first.start()
        self.assertEqual(self.wait_until_held(1), 1)  # kept until the second party comes
        self.assertEqual(seen, [])
        second = threading.Thread(target=list_then_create, args=("two",))
        second.start()
        first.join(timeout=5)
        second.join(timeout=5)
        self.assertEqual(sorted(seen), [(0, 201), (0, 201)])
        state = self.state()
        self.assertEqual((state["held"], state["faults"], len(state["credentials"])), (0, [], 2))
        self.assertEqual([r["fault"] for r in state["requests"] if r["method"] == "GET"], ["hold"] * 2)

        # A release, a reset or the time lets a held answer go too.
        self.control("POST", "/_control/faults", {"fault": "hold", "times": 3, "seconds": 30})
        answers = []
        thread = threading.Thread(target=lambda: answers.append(self.call("GET", "/v3/clusters").status))
        thread.start()
        self.wait_until_held(1)
        self.assertEqual(self.control("POST", "/_control/release"), {"released": 1})
        thread.join(timeout=5)
        self.assertEqual(answers, [200])
        thread = threading.Thread(target=lambda: answers.append(self.call("GET", "/v3/clusters").status))
        thread.start()
        self.wait_until_held(1)
        self.control("POST", "/_control/reset")
        thread.join(timeout=5)
        self.assertEqual(answers, [200, 200])
        self.control("POST", "/_control/faults", {"fault": "hold", "seconds": 0.1})
        self.assertEqual(self.call("GET", "/v3/clusters").status, 200)  # its time passed
        for bad in ({"fault": "hold", "parties": 0}, {"fault": "hold", "seconds": -1}):
            self.control("POST", "/_control/faults", bad, expect=400)

    def test_keep_alive_and_public_url_setting(self):
        statuses = self.statuses_on_one_connection(("/v3", "/v3/clusters", "/v3/projects",
                                                    "/v3/projects/c-nope:p-nope"))
        self.assertEqual(statuses, [200, 200, 200, 404])
        self.control("POST", "/_control/settings", {"public_url": "https://127.0.0.1:9443"})
        self.assertEqual(self.call("GET", "/v3").headers["X-Api-Schemas"], "https://127.0.0.1:9443/v3/schemas")
        self.control("POST", "/_control/reset")  # keeps public_url
        self.assertEqual(self.state()["settings"]["public_url"], "https://127.0.0.1:9443")
        self.control("POST", "/_control/settings", {"public_url": None})
        self.assertEqual(self.call("GET", "/v3").headers["X-Api-Schemas"], self.url + "/v3/schemas")


class Rancher2StandInProjectsTest(Rancher2StandInTestCase):
    """Many projects: --projects adds them to the seeded world, each with its own credentials; the
    control API adds, reads and removes projects."""

    arguments = ("--projects", "local/alpha,c-abcde/beta,c-new12/gamma")
    ALPHA, BETA, GAMMA = "local:p-00001", "c-abcde:p-00002", "c-new12:p-00003"
    SEEDED = [PROD, LOCAL_DEFAULT, "local:p-system"]

    def test_start_world(self):
        answer = self.call("GET", "/v3/projects")
        self.assertEqual([(p["id"], p["name"], p["clusterId"]) for p in answer.json["data"]],
                         [(self.BETA, "beta", "c-abcde"), (PROD, "Default", "c-abcde"), (self.GAMMA, "gamma", "c-new12"),
                          (self.ALPHA, "alpha", "local"), (LOCAL_DEFAULT, "Default", "local"),
                          ("local:p-system", "System", "local")])  # by id
        self.assertEqual(answer.json["pagination"]["total"], 6)
        alpha = self.call("GET", f"/v3/projects/{self.ALPHA}").json
        self.assertEqual(alpha["links"]["dockerCredentials"], f"{self.url}/v3/project/{self.ALPHA}/dockercredentials")
        clusters = self.call("GET", "/v3/clusters").json["data"]
        self.assertEqual([(c["id"], c["name"]) for c in clusters],
                         [("c-abcde", "production"), ("c-new12", "c-new12"), ("local", "local")])
        self.assertEqual(self.ids("/v3/projects?clusterId=c-new12"), [self.GAMMA])
        self.assertEqual(self.ids("/v3/projects?name=beta"), [self.BETA])
        self.assertEqual(self.state()["namespaces"][self.GAMMA], [])

    def test_pagination_over_projects(self):
        seen, url, pages = [], self.url + "/v3/projects?limit=4", 0
        while url:
            page = self.call("GET", url, absolute=True).json
            seen += [p["id"] for p in page["data"]]
            url = page["pagination"].get("next")
            pages += 1
        self.assertEqual(pages, 2)
        self.assertEqual(sorted(seen), sorted(self.SEEDED + [self.ALPHA, self.BETA, self.GAMMA]))
        self.assertEqual(len(seen), 6)
        self.assertEqual(self.ids("/v3/projects?limit=2&sort=name&order=desc"), [self.GAMMA, self.BETA])

    def test_each_project_has_its_own_credentials(self):
        for project, password in ((self.ALPHA, "a"), (self.BETA, "b"), (self.GAMMA, "g")):
            answer = self.call("POST", self.collection(project), credential_body(password=password))
            self.assertEqual(answer.status, 201, answer.raw)
        for project, tail in ((self.ALPHA, "p-00001"), (self.BETA, "p-00002"), (self.GAMMA, "p-00003")):
            self.assertEqual(self.ids(self.collection(project)), [f"{tail}:ecr"])
        self.assertEqual(self.ids(self.collection(PROD)), [])
        self.assertEqual(self.call("GET", self.collection(self.ALPHA) + "/p-00002:ecr").status, 404)
        again = self.call("POST", self.collection(self.BETA), credential_body())
        self.assert_norman_error(again, 409, "AlreadyExists")
        shown = self.control("GET", f"/_control/projects/{self.BETA}")
        self.assertEqual((shown["id"], shown["name"], shown["clusterId"], shown["namespaces"]),
                         (self.BETA, "beta", "c-abcde", []))
        self.assertEqual([(c["id"], c["registries"][HOST]["password"]) for c in shown["credentials"]],
                         [("p-00002:ecr", "b")])
        deleted = self.call("DELETE", self.collection(self.BETA) + "/p-00002:ecr")
        self.assertEqual(deleted.status, 200, deleted.raw)
        self.assertEqual(self.control("GET", f"/_control/projects/{self.BETA}")["credentials"], [])
        self.assertEqual(self.call("POST", self.collection(self.BETA), credential_body()).status, 201)  # free again

    def test_control_adds_and_removes_projects(self):
        added = self.control("POST", "/_control/projects", {"name": "delta", "clusterId": "local"}, expect=201)
        self.assertEqual(added, {"id": "local:p-00004", "name": "delta", "clusterId": "local", "description": ""})
        self.assertIn("local:p-00004", self.ids("/v3/projects"))
        given = self.control("POST", "/_control/projects", {"id": "local:p-00005", "name": "e", "clusterId": "local"})
        self.assertEqual(given["id"], "local:p-00005")
        self.assertEqual(self.control("POST", "/_control/projects", {"name": "f", "clusterId": "c-new12"})["id"],
                         "c-new12:p-00006")  # numbered past a given id
        self.control("POST", "/_control/projects", {"id": self.ALPHA, "name": "x", "clusterId": "local"}, expect=409)
        self.control("POST", "/_control/projects", {"name": "x", "clusterId": "nowhere"}, expect=400)

        self.seed(project=self.GAMMA)
        self.control("POST", "/_control/namespaces", {"project": self.GAMMA, "name": "web"})
        self.seed(name="inner", project=self.GAMMA, namespace="web")
        self.control("POST", "/_control/settings", {"read_only_projects": [self.GAMMA, PROD]})
        removed = self.control("DELETE", f"/_control/projects/{self.GAMMA}")
        self.assertEqual((removed["id"], removed["namespaces"], len(removed["credentials"])), (self.GAMMA, ["web"], 2))
        self.control("GET", f"/_control/projects/{self.GAMMA}", expect=404)
        self.control("DELETE", f"/_control/projects/{self.GAMMA}", expect=404)
        self.assert_norman_error(self.call("GET", f"/v3/projects/{self.GAMMA}"), 404, "NotFound")
        self.assert_norman_error(self.call("GET", self.collection(self.GAMMA)), 404, "NotFound")
        state = self.state()
        self.assertNotIn(self.GAMMA, [p["id"] for p in state["projects"]])
        self.assertEqual(state["credentials"], [])
        self.assertEqual(state["settings"]["read_only_projects"], [PROD])
        # The namespace name is free again in its cluster.
        self.control("POST", "/_control/namespaces", {"project": "c-new12:p-00006", "name": "web"})

        self.control("POST", "/_control/reset")  # back to the world at start
        self.assertEqual(sorted(self.ids("/v3/projects")), sorted(self.SEEDED + [self.ALPHA, self.BETA, self.GAMMA]))
        self.assertEqual(self.control("POST", "/_control/projects", {"name": "d", "clusterId": "local"})["id"],
                         "local:p-00004")

    def test_project_count_and_a_thousand_projects_are_cheap(self):
        began = time.monotonic()
        with self.another_stand_in("--project-count", "1000") as (process, info):
            self.assertLess(time.monotonic() - began, 5)
            auth = f"Bearer {info['access_key']}:{info['secret_key']}"
            answer = self.call("GET", info["url"] + "/v3/projects?clusterId=local&limit=-1", auth=auth, absolute=True)
            generated = [(p["id"], p["name"]) for p in answer.json["data"] if p["id"].startswith("local:p-0")]
            self.assertEqual(generated, [(f"local:p-{n:05d}", f"project-{n}") for n in range(1, 1001)])
            seen, url = 0, info["url"] + "/v3/projects?limit=100"
            while url:
                page = self.call("GET", url, auth=auth, absolute=True).json
                seen += len(page["data"])
                url = page["pagination"].get("next")
            self.assertEqual(seen, 1003)
            started = time.monotonic()
            for n in (1, 500, 1000):
                collection = f"{info['url']}/v3/project/local:p-{n:05d}/dockercredentials"
                created = self.call("POST", collection, credential_body(), auth=auth, absolute=True)
                self.assertEqual(created.status, 201, created.raw)
                listed = self.call("GET", collection, auth=auth, absolute=True).json["data"]
                self.assertEqual([c["id"] for c in listed], [f"p-{n:05d}:ecr"])
            self.assertLess(time.monotonic() - started, 2)
            self.assertEqual(len(self.call("GET", info["url"] + "/v3/clusters", auth=auth, absolute=True).json["data"]),
                             2)
            self.assert_stops_on_end_of_file(process)

    def test_command_line_errors(self):
        for arguments in (["--projects", "nocluster"], ["--projects", "local/"], ["--projects", "a:b/x"],
                          ["--projects", "local/a", "--project-count", "2"], ["--project-count", "0"]):
            with self.subTest(arguments=arguments):
                done = subprocess.run([sys.executable, os.path.join(stand_in_testing.HERE, self.script), *arguments],
                                      stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
                self.assertEqual((done.returncode, done.stdout), (2, ""), done.stderr)


if __name__ == "__main__":
    unittest.main()
