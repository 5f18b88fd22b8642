#!/usr/bin/env python3
"""Rancher 1.x (Cattle) API stand-in for the tests and the README demo.

Serves the parts of the Rancher 1.x API that rancher-ecr-credentials uses, following
/work/shared/spec/rancher.md Part 1 (the section numbers below, "§1.x", refer to it):
discovery, Basic auth, the `registry` and `registryCredential` collections under `/v1` and
`/v2-beta`, each also under `/<version>/projects/<id>`.

Command line:
  python3 rancher_stand_in.py [--port N] [--access-key K --secret-key S] [--project 1a5]
                              [--serve-forever] [--verbose]
Binds 127.0.0.1:N (0, the default, picks a free port), then prints ONE line on stdout:
  {"url":"http://127.0.0.1:PORT","access_key":"...","secret_key":"...","project":"1a5"}
(keys not given are generated at random) and serves until its stdin reaches end of file (so it dies
with the test that started it), SIGTERM or SIGINT; with --serve-forever, until SIGTERM or SIGINT only.
Nothing else goes to stdout. stderr stays quiet (no per-request lines unless --verbose) and never
shows a secretValue.

Control API for the tests (not part of Rancher; no authentication; plain JSON):
  POST   /_control/registries        {serverAddress, state?="active", removed?=false, name?, description?}
  POST   /_control/credentials       {registryId, publicValue?, secretValue?, state?="active", removed?=false,
                                      email?, name?, description?}
         Both create a row directly (any state; removed=true stamps `removed`, and the state becomes
         "removed" unless one is given) and return the stored row (201).
  PATCH  /_control/registries/<id>   and  PATCH /_control/credentials/<id>: overwrite stored fields
                                      (same fields as above); returns the stored row.
  GET    /_control/state             {"project", "registries":[...], "credentials":[...] (stored rows,
                                      removed ones and every secretValue included), "requests":[...],
                                      "faults":[...], "held": answers kept by hold faults now}.
                                      A request log entry is
                                      {"method","path","query","body","status","fault"}: body is the
                                      parsed JSON (the raw text if it is not JSON) for requests that
                                      carry one, else null; status is null for a dropped request;
                                      fault names the fault applied, else null.
  POST   /_control/faults            {"match":{"method":"PUT","path_contains":"registrycredentials"}?,
                                      "fault":"status"|"delay"|"drop"|"truncate"|"hold", "times":1?,
                                      "status":503 (status), "seconds":1.5 (delay; hold: 10 by default),
                                      "parties":3? (hold; `times` is then `parties` by default),
                                      "code"?,"message"?,"fieldName"?,"headers"?:{name:value} (status)}
                                      queues a fault for the next `times` matching API requests
                                      (method compared case-insensitively, path_contains a
                                      case-insensitive substring of the path; /_control is never
                                      faulted). The first queued fault that matches applies.
                                        status:   answer that status with a Cattle error body (§1.6)
                                                  and do nothing else;
                                        delay:    sleep `seconds`, then serve normally;
                                        drop:     close the connection without answering; nothing
                                                  is done;
                                        truncate: serve normally (the change is made), but send
                                                  only the first half of the body, with the full
                                                  Content-Length, then close;
                                        hold:     serve normally (the change is made), then keep the
                                                  answer until `parties` answers of this fault are
                                                  kept (then all go at once), POST /_control/release,
                                                  a reset, or `seconds` pass. Concurrent clients
                                                  thus all get answers computed before any of them
                                                  acts on one: three replicas all list "no
                                                  credential", deterministically.
  GET    /_control/faults            the queue;  DELETE /_control/faults  clears it.
  POST   /_control/release           lets every answer kept by a hold fault go; {"released": n}.
  POST   /_control/reset             no registries, credentials, faults or log; ids restart at 1;
                                     held answers go.

Behaviour the spec leaves open, as chosen here:
  - Rows created through the API start `registering` (the 201 shows it) and become `active` when the
    next request of any kind arrives (§1.4, §1.5 "reaches active asynchronously"); actions and
    DELETE likewise pass through deactivating/activating/removing.
  - A project id in the path that is not of the form 1a<N> gives 400 InvalidFormat, any other
    project id than the configured one 403 (§1.2). So do X-API-Project-Id and ?projectId=.
  - Equality filters compare exactly (Cattle's database may compare case-insensitively).
  - An action the row's state does not offer gives 422 ActionNotAvailable; DELETE of a row whose
    state does not allow removal (active, deactivating, ...) 405 (§1.5: "probably 405").
  - A PUT on a removed or removing credential is stored and answered 200 (§1.5: unconfirmed,
    "probably stored but never used").
  - Every change to the store is made under one lock, so concurrent clients (several processes)
    see each request's change whole; ids and `createdTS` grow in the order rows are stored.

The HTTP server, the fault queue, the request log, the control routes state/reset/release/faults and
the process around them (the line on stdout, stopping) are shared with the Rancher 2.x stand-in:
stand_in_server.py beside this file.
"""

import base64
import binascii
import json
import re
import secrets
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qsl

import stand_in_server
from stand_in_server import BaseApi, BaseControl, BaseStore, ControlError, random_key

VERSIONS = ("v1", "v2-beta")  # §1.1
DEFAULT_LIMIT = 100  # §1.3 Pagination
MAX_LIMIT = 3000  # §1.3: the code's cap; limit<=0 means the cap
REALM = "Enter API access key and secret key as username and password"  # §1.2

# §1.6: errors that carry only a status have the reason phrase from Cattle's messages file as
# both code and message; other statuses get the standard HTTP phrase.
CATTLE_PHRASES = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method not allowed",
                  500: "Internal Server Error"}

# States in which a row is in a transition (the `transitioning` field is then "yes").
TRANSITIONING_STATES = {"requested", "registering", "activating", "deactivating", "removing", "purging",
                        "restoring", "updating-active", "updating-inactive"}

FILTER_MODIFIERS = ("eq", "ne", "null", "notnull", "prefix", "like", "notlike", "lt", "lte", "gt", "gte")


class ResourceType:
    """What differs between `registry` (§1.4) and `registryCredential` (§1.5)."""

    def __init__(self, name, plural, prefix, base_type, filterable, references, updatable, links):
        self.name = name
        self.plural = plural  # also the lower-case collection path segment
        self.prefix = prefix  # §1.1 IDs: "1" + type prefix + number
        self.base_type = base_type
        # §1.3 Filters: only database columns can be filtered (and sorted on); `serverAddress` lives
        # in the `data` blob, so it is NOT here and a filter on it is silently ignored.
        self.filterable = filterable
        self.references = references  # filterable field -> id prefix of the referenced type
        self.updatable = updatable  # §1.4/§1.5: create + update fields (email: v1 only, handled apart)
        self.links = links  # link name -> what it serves


REGISTRY = ResourceType(
    name="registry", plural="registries", prefix="1sp", base_type="storagePool",
    filterable=("accountId", "created", "description", "driverName", "externalId", "id", "kind", "name",
                "removed", "state", "uuid"),
    references={"id": "1sp", "accountId": "1a"},
    updatable=("name", "description"),
    links=("credentials",))
CREDENTIAL = ResourceType(
    name="registryCredential", plural="registrycredentials", prefix="1c", base_type="credential",
    filterable=("accountId", "created", "description", "id", "kind", "name", "publicValue", "registryId",
                "removed", "state", "uuid"),
    references={"id": "1c", "accountId": "1a", "registryId": "1sp"},
    updatable=("publicValue", "secretValue", "name", "description"),
    links=("registry",))
RESOURCE_TYPES = (REGISTRY, CREDENTIAL)

# §1.1: type names in the path are matched case-insensitively (plural or singular).
PATH_TYPES = {}
for _type in RESOURCE_TYPES:
    PATH_TYPES[_type.plural] = _type
    PATH_TYPES[_type.name.lower()] = _type


def now_fields(at_least=0):
    """§1.3: dates as yyyy-MM-dd'T'HH:mm:ss'Z' with a <name>TS twin in epoch milliseconds (now, or
    `at_least` milliseconds if the clock is behind that)."""
    millis = max(int(time.time() * 1000), at_least)
    text = datetime.fromtimestamp(millis / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return text, millis


def number_of(formatted_id, prefix):
    """The number in "1sp12" (prefix "1sp"), or None if it is not such an id (§1.1: a bare number
    resolves to nothing)."""
    if isinstance(formatted_id, str):
        match = re.fullmatch(re.escape(prefix) + r"([1-9][0-9]*)", formatted_id)
        if match:
            return int(match.group(1))
    return None


def cattle_json(value):
    """§1.3: Cattle escapes forward slashes in JSON strings; '/' only occurs inside strings."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("/", "\\/").encode("utf-8")


def reason_phrase(status):
    if status in CATTLE_PHRASES:
        return CATTLE_PHRASES[status]
    return stand_in_server.http_reason_phrase(status)


def error_body(status, code=None, message=None, field_name=None, detail=None):
    """§1.6: the Cattle error envelope. Status-only errors use the reason phrase as code and message;
    422 validation errors carry fieldName and a null message."""
    body = {"id": str(uuid.uuid4()), "type": "error", "baseType": "error", "links": {}, "actions": {},
            "status": status,
            "code": code if code is not None else reason_phrase(status),
            "message": message if (message is not None or code is not None) else reason_phrase(status),
            "detail": detail}
    if field_name is not None:
        body["fieldName"] = field_name
    return body


class ApiError(Exception):
    def __init__(self, status, code=None, message=None, field_name=None):
        super().__init__(f"{status} {code}")
        self.status = status
        self.body = error_body(status, code, message, field_name)


def validation_error(code, field_name):
    return ApiError(422, code, None, field_name)


class Response(stand_in_server.Response):
    def __init__(self, status, payload, headers=None, cattle=True):
        super().__init__(status, payload, headers)
        self.cattle = cattle  # Cattle JSON (escaped slashes) or plain JSON (control API)

    def body_bytes(self):
        if self.cattle:
            return cattle_json(self.payload)
        return super().body_bytes()


# --------------------------------------------------------------------------------------------------
# Stored state


class Store(BaseStore):
    """Every registry and credential (the Cattle database), beside the fault queue and the request
    log (BaseStore). One lock guards all of it."""

    def __init__(self, project):
        self.project = project
        super().__init__()

    def reset(self):
        with self.lock:
            self.tables = {REGISTRY.name: {}, CREDENTIAL.name: {}}  # type name -> {number: row}
            self.next_number = {REGISTRY.name: 1, CREDENTIAL.name: 1}
            self.last_created_ts = 0
            self.pending = []  # (row, final state): transitions that complete at the next request
            super().reset()

    # Rows are dicts of the stored fields, named as in the API; secretValue and email always kept.
    def new_row(self, rtype, state, fields):
        # Rows stored later are never older: createdTS follows the ids even if the clock steps back.
        created, created_ts = now_fields(self.last_created_ts)
        self.last_created_ts = created_ts
        number = self.next_number[rtype.name]
        self.next_number[rtype.name] += 1
        row = {"id": f"{rtype.prefix}{number}", "kind": rtype.name, "accountId": self.project, "state": state,
               "name": None, "description": None, "created": created, "createdTS": created_ts,
               "removed": None, "removedTS": None, "transitioning": None, "transitioningMessage": None,
               "transitioningProgress": None, "uuid": str(uuid.uuid4())}
        if rtype is REGISTRY:
            row.update({"serverAddress": None, "externalId": None, "driverName": None, "volumeAccessMode": None,
                        "blockDevicePath": None, "volumeCapabilities": None})
        else:
            row.update({"registryId": None, "publicValue": None, "secretValue": None, "email": None})
        row.update(fields)
        self.tables[rtype.name][number] = row
        return row

    def get(self, rtype, formatted_id):
        number = number_of(formatted_id, rtype.prefix)
        return None if number is None else self.tables[rtype.name].get(number)

    def rows(self, rtype):
        """All rows in ascending id order (§1.3), removed ones included."""
        table = self.tables[rtype.name]
        return [table[number] for number in sorted(table)]

    @staticmethod
    def mark_removed(row):
        row["removed"], row["removedTS"] = now_fields()

    def transition(self, row, transitional, final):
        """Moves `row` into a transitional state that completes when the next request arrives."""
        row["state"] = transitional
        self.pending.append((row, final))

    def complete_transitions(self):
        with self.lock:
            pending, self.pending = self.pending, []
            for row, final in pending:
                if row["state"] in TRANSITIONING_STATES:  # unless the control API changed it meanwhile
                    row["state"] = final
                    if final == "removed" and row["removed"] is None:
                        self.mark_removed(row)


# --------------------------------------------------------------------------------------------------
# The Rancher API


class ApiRequest(stand_in_server.ApiRequest):
    """One API request, with the URLs it implies (§1.1: links keep the version and project sub-path
    the client used)."""

    def __init__(self, method, host, version, sub_path, raw_path, query, body, headers):
        super().__init__(method, f"http://{host}", raw_path, query, body)
        self.version = version
        self.prefix = self.origin + sub_path  # e.g. http://127.0.0.1:1234/v2-beta/projects/1a5
        self.headers = headers

    def collection_url(self, rtype):
        return f"{self.prefix}/{rtype.plural}"

    def invalid_body(self, message):
        return ApiError(422, "InvalidBodyContent", None)  # Cattle's carries no message


def string_or_none(body, name):
    """A string field from a body: Cattle converts scalars to strings; objects and arrays are invalid."""
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    raise validation_error("InvalidFormat", name)


class RancherApi(BaseApi):
    def __init__(self, store, access_key, secret_key, project):
        self.store = store
        self.access_key = access_key
        self.secret_key = secret_key
        self.project = project

    # ---- hooks of the shared request plumbing (stand_in_server.BaseApi) -------------------------

    def request_arrived(self):
        # Transitions started by earlier requests complete now (rows reach `active` etc.).
        self.store.complete_transitions()

    def error_response(self, status, code=None, message=None, field_name=None, headers=()):
        return Response(status, error_body(status, code, message, field_name), headers)

    def reason_phrase(self, status):
        return reason_phrase(status)

    # ---- authentication and routing ----------------------------------------------------------

    def authenticated(self, headers):
        """§1.2: HTTP Basic with the one access key / secret key pair."""
        value = headers.get("Authorization", "")
        scheme, _, encoded = value.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and secrets.compare_digest(user.encode(), self.access_key.encode()) \
            and secrets.compare_digest(password.encode(), self.secret_key.encode())

    def check_project(self, project_id):
        """§1.2: an unparseable project id is 400 InvalidFormat, another project 403."""
        if project_id == self.project:
            return
        if number_of(project_id, "1a") is None:
            raise ApiError(400, "InvalidFormat", "InvalidFormat")
        raise ApiError(403)

    def account_headers(self, sub_path, origin):
        # §1.1: every authenticated response carries these; X-API-Schemas names the schemas
        # collection under the same sub-path.
        return [("X-API-Schemas", f"{origin}{sub_path}/schemas"),
                ("X-API-Account-Id", self.project), ("X-API-User-Id", self.project),
                ("X-API-Account-Kind", "project"), ("X-API-Account-Name", "Default")]

    def handle(self, method, host, path, query, body, headers):
        segments = [s for s in path.split("/") if s]
        if not segments:
            return Response(200, self.versions_root(f"http://{host}"))
        if segments[0] not in VERSIONS:
            return Response(404, error_body(404))

        # §1.2: authenticate first; 401 with a challenge unless X-API-No-Challenge: true.
        if not self.authenticated(headers):
            extra = []
            if headers.get("X-API-No-Challenge", "").strip().lower() != "true":
                extra.append(("WWW-Authenticate", f'Basic realm="{REALM}"'))
            return Response(401, error_body(401), extra)

        version, rest = segments[0], segments[1:]
        sub_path = f"/{version}"
        origin = f"http://{host}"
        try:
            if len(rest) >= 2 and rest[0] == "projects":
                self.check_project(rest[1])
                sub_path = f"/{version}/projects/{rest[1]}"
                rest = rest[2:]
            # §1.2: a user key may also choose the project by header or query.
            for chosen in (headers.get("X-API-Project-Id"),
                           dict(parse_qsl(query, keep_blank_values=True)).get("projectId")):
                if chosen:
                    self.check_project(chosen)
            raw_path = "/" + "/".join(segments)
            request = ApiRequest(method, host, version, sub_path, raw_path, query, body, headers)
            response = self.route(request, rest)
        except ApiError as error:
            response = Response(error.status, error.body)
        response.headers = self.account_headers(sub_path, origin) + response.headers
        return response

    def route(self, request, rest):
        method = request.method
        if not rest:  # GET <base>: the API root (§1.1 discovery, step 1)
            self.allow(method, "GET")
            return Response(200, self.api_root(request))
        name = rest[0].lower()
        if name in ("schemas", "schema"):
            self.allow(method, "GET")
            if len(rest) == 1:
                return Response(200, self.collection_envelope(request, "schema", self.schemas(request), None))
            if len(rest) == 2:
                for schema in self.schemas(request):
                    if schema["id"].lower() == rest[1].lower():
                        return Response(200, schema)
            raise ApiError(404)
        if name in ("projects", "project"):
            self.allow(method, "GET")
            if len(rest) == 1:
                return Response(200, self.collection_envelope(request, "project", [self.project_resource(request)],
                                                              None))
            raise ApiError(404)  # /projects/<other id> was answered by check_project
        rtype = PATH_TYPES.get(name)
        if rtype is None:
            raise ApiError(404)
        with self.store.lock:
            if len(rest) == 1:
                if method == "GET":
                    return self.list(request, rtype)
                if method == "POST":
                    return self.create(request, rtype)
                raise ApiError(405)
            row = self.store.get(rtype, rest[1])
            if row is None:
                raise ApiError(404)
            if len(rest) == 2:
                if method == "GET":
                    return Response(200, self.render(request, rtype, row))
                if method == "PUT":
                    return self.update(request, rtype, row)
                if method == "DELETE":
                    return self.remove(request, rtype, row)
                if method == "POST" and request.param("action") is not None:
                    return self.action(request, rtype, row, request.param("action"))
                raise ApiError(405)
            if len(rest) == 3 and rest[2].lower() in rtype.links:
                self.allow(method, "GET")
                return self.follow_link(request, rtype, row, rest[2].lower())
            raise ApiError(404)

    @staticmethod
    def allow(method, *allowed):
        if method not in allowed:
            raise ApiError(405)

    # ---- roots and schemas ---------------------------------------------------------------------

    @staticmethod
    def versions_root(origin):
        data = [{"id": v, "type": "apiVersion", "links": {"self": f"{origin}/{v}"}, "actions": {}}
                for v in VERSIONS]
        return {"type": "collection", "resourceType": "apiVersion", "links": {"self": origin + "/"},
                "createTypes": {}, "actions": {}, "data": data}

    def root_links(self, request):
        links = {"self": request.prefix, "schemas": request.prefix + "/schemas",
                 "projects": request.prefix + "/projects"}
        for rtype in RESOURCE_TYPES:
            links[rtype.plural] = request.collection_url(rtype)
        return links

    def api_root(self, request):
        if "/projects/" in request.prefix:
            return self.project_resource(request, request.prefix)
        return {"id": request.version, "type": "apiVersion", "links": self.root_links(request), "actions": {}}

    def project_resource(self, request, self_url=None):
        links = self.root_links(request)
        links["self"] = self_url or f"{request.origin}/{request.version}/projects/{self.project}"
        return {"id": self.project, "type": "project", "baseType": "account", "links": links, "actions": {},
                "name": "Default", "description": None, "kind": "project", "state": "active",
                "uuid": "adminProject", "created": "2017-06-01T10:00:00Z", "createdTS": 1496311200000,
                "removed": None}

    def schemas(self, request):
        """§1.1 discovery step 2 and §1.4/§1.5 field tables, as the environment key sees them."""
        def field(type_, create=False, update=False, required=False, nullable=True, **extra):
            spec = {"type": type_, "create": create, "update": update, "required": required, "nullable": nullable}
            spec.update(extra)
            return spec

        def common():
            return {
                "id": field("string", nullable=False),
                "kind": field("string", nullable=False),
                "accountId": field("reference[account]"),
                "state": field("enum", nullable=False,
                               options=["requested", "registering", "inactive", "activating", "active",
                                        "deactivating", "updating-active", "updating-inactive",
                                        "removing", "removed", "purging", "purged"]),
                "created": field("date"), "removed": field("date"),
                "transitioning": field("enum", options=["yes", "no", "error"]),
                "transitioningMessage": field("string"), "transitioningProgress": field("int"),
                "uuid": field("string", nullable=False),
                "name": field("string", create=True, update=True, maxLength=1024),
                "description": field("string", create=True, update=True, maxLength=1024),
            }

        registry_fields = common()
        registry_fields.update({
            "serverAddress": field("string", create=True, required=True, nullable=False, minLength=1),
            "externalId": field("string"), "driverName": field("string"), "volumeAccessMode": field("string"),
            "blockDevicePath": field("string"), "volumeCapabilities": field("array[string]"),
        })
        credential_fields = common()
        credential_fields.update({
            "registryId": field("reference[registry]", create=True, required=True, nullable=False),
            "publicValue": field("string", create=True, update=True),
            "secretValue": field("password", create=True, update=True),
        })
        if request.version == "v1":  # §1.7: email exists (required, non-empty) on /v1 only
            credential_fields["email"] = field("string", create=True, update=True, required=True, nullable=False,
                                               minLength=1)

        def schema(id_, plural, fields, collection_methods, resource_methods, actions, filterable=()):
            links = {"self": f"{request.prefix}/schemas/{id_.lower()}"}
            if collection_methods:
                links["collection"] = f"{request.prefix}/{plural}"
            return {"id": id_, "type": "schema", "links": links, "actions": {}, "pluralName": plural,
                    "resourceMethods": resource_methods, "resourceFields": fields,
                    "resourceActions": {a: {"input": None, "output": id_} for a in actions},
                    "collectionMethods": collection_methods, "collectionActions": {}, "collectionFields": {},
                    "collectionFilters": {f: {"modifiers": list(FILTER_MODIFIERS)} for f in filterable},
                    "includeableLinks": []}

        actions = ["activate", "deactivate", "remove"]
        return [
            schema("apiVersion", "apiVersions", {}, [], ["GET"], []),
            schema("collection", "collections", {}, [], ["GET"], []),
            schema("error", "errors", {"status": field("int"), "code": field("string"),
                                       "message": field("string"), "detail": field("string"),
                                       "fieldName": field("string")}, [], [], []),
            schema("project", "projects", {"name": field("string"), "kind": field("string")}, ["GET"], ["GET"], []),
            schema(REGISTRY.name, REGISTRY.plural, registry_fields, ["GET", "POST"], ["GET", "PUT", "DELETE"],
                   actions, REGISTRY.filterable),
            schema(CREDENTIAL.name, CREDENTIAL.plural, credential_fields, ["GET", "POST"],
                   ["GET", "PUT", "DELETE"], actions, CREDENTIAL.filterable),
            schema("schema", "schemas", {}, ["GET"], ["GET"], []),
        ]

    # ---- resources -----------------------------------------------------------------------------

    @staticmethod
    def actions_for(row):
        """Which actions a row offers in its state (§1.5 States)."""
        state = row["state"]
        if row["removed"] is not None:
            return []
        if state == "active":
            return ["deactivate"]
        if state == "inactive":
            return ["activate", "remove"]
        if state in ("requested", "registering") or state.startswith("updating-"):
            return ["remove"]
        return []

    def render(self, request, rtype, row, show_secret=False):
        """§1.3 Resources: id, type, baseType, links, actions, then every field, nulls included."""
        self_url = f"{request.collection_url(rtype)}/{row['id']}"
        links = {"self": self_url}
        for link in rtype.links:
            links[link] = f"{self_url}/{link}"
        out = {"id": row["id"], "type": rtype.name, "baseType": rtype.base_type, "links": links,
               "actions": {a: f"{self_url}/?action={a}" for a in self.actions_for(row)}}
        if rtype is REGISTRY:
            names = ["name", "description", "kind", "accountId", "state", "serverAddress", "created", "createdTS",
                     "removed", "transitioning", "transitioningMessage", "transitioningProgress", "uuid",
                     "externalId", "driverName", "volumeAccessMode", "blockDevicePath", "volumeCapabilities"]
        else:
            names = ["registryId", "publicValue", "secretValue"]
            if request.version == "v1":  # §1.7
                names.append("email")
            names += ["name", "description", "kind", "accountId", "state", "created", "createdTS", "removed",
                      "transitioning", "transitioningMessage", "transitioningProgress", "uuid"]
        for name in names:
            out[name] = row[name]
            if name == "removed" and row["removed"] is not None:
                out["removedTS"] = row["removedTS"]
        if out.get("transitioning") is None:
            out["transitioning"] = "yes" if row["state"] in TRANSITIONING_STATES else "no"
        if rtype is CREDENTIAL and not show_secret:
            out["secretValue"] = None  # §1.5: returned only in the POST (create) response
        return out

    def follow_link(self, request, rtype, row, link):
        if link == "registry":
            registry = self.store.get(REGISTRY, row["registryId"])
            if registry is None:
                raise ApiError(404)
            return Response(200, self.render(request, REGISTRY, registry))
        # registry -> its credentials: the credential collection filtered by registryId
        return self.list(request, CREDENTIAL, forced={"registryId": row["id"]})

    # ---- lists: §1.3 filters, sort, pagination, removed rows ----------------------------------

    def parse_filters(self, request, rtype):
        """{field: [(modifier, value)]} for the column-backed fields; anything else is ignored."""
        filters = {}
        for key, value in request.params:
            field, modifier = key, "eq"
            if "_" in key:
                head, _, tail = key.rpartition("_")
                if tail in FILTER_MODIFIERS and head in rtype.filterable:
                    field, modifier = head, tail
            if field in rtype.filterable:
                filters.setdefault(field, []).append((modifier, value))
        return filters

    @staticmethod
    def condition_holds(rtype, field, modifier, wanted, actual):
        if modifier == "null":
            return actual is None
        if modifier == "notnull":
            return actual is not None
        if actual is None:
            return False  # SQL: comparing with NULL is never true
        prefix = rtype.references.get(field)
        if prefix is not None:
            # §1.1: references are filtered by formatted id; a bare number resolves to nothing.
            wanted_number = number_of(wanted, prefix)
            actual_number = number_of(actual, prefix)
            if modifier in ("eq", "ne", "lt", "lte", "gt", "gte"):
                if wanted_number is None:
                    return False
                return {"eq": actual_number == wanted_number, "ne": actual_number != wanted_number,
                        "lt": actual_number < wanted_number, "lte": actual_number <= wanted_number,
                        "gt": actual_number > wanted_number, "gte": actual_number >= wanted_number}[modifier]
        actual_text = str(actual) if not isinstance(actual, bool) else ("true" if actual else "false")
        if modifier == "eq":
            return actual_text == wanted
        if modifier == "ne":
            return actual_text != wanted
        if modifier == "prefix":
            return actual_text.startswith(wanted)
        if modifier in ("like", "notlike"):
            pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in wanted)
            found = re.fullmatch(pattern, actual_text, re.DOTALL) is not None
            return found if modifier == "like" else not found
        try:
            left, right = float(actual_text), float(wanted)
        except ValueError:
            left, right = actual_text, wanted
        return {"lt": left < right, "lte": left <= right, "gt": left > right, "gte": left >= right}[modifier]

    @staticmethod
    def filter_display(rtype, field, modifier, value):
        # The collection's `filters` shows a reference's bare number, e.g. "12" for 1sp12 (§1.3 example).
        prefix = rtype.references.get(field)
        if prefix is not None and number_of(value, prefix) is not None:
            value = str(number_of(value, prefix))
        return {"modifier": modifier, "value": value}

    def collection_envelope(self, request, resource_type, data, rtype, pagination=None, sort=None, filters=None):
        envelope = {"type": "collection", "resourceType": resource_type, "links": {"self": request.url},
                    "createTypes": {}, "actions": {}, "data": data, "sortLinks": {},
                    "pagination": pagination, "sort": sort, "filters": filters or {}, "createDefaults": {}}
        if rtype is not None:
            envelope["createTypes"] = {rtype.name: request.collection_url(rtype)}
            envelope["sortLinks"] = {f: request.url_with(drop=("sort", "order", "marker"), add=[("sort", f)])
                                     for f in rtype.filterable}
        return envelope

    def list(self, request, rtype, forced=None):
        filters = self.parse_filters(request, rtype)
        conditions = {field: list(values) for field, values in filters.items()}
        for field, value in (forced or {}).items():
            conditions.setdefault(field, []).append(("eq", value))

        # §1.3 Removed rows: lists leave out every row whose `removed` is set.
        rows = [row for row in self.store.rows(rtype) if row["removed"] is None]
        # Conditions on one field are alternatives; conditions on different fields all must hold.
        rows = [row for row in rows
                if all(any(self.condition_holds(rtype, field, modifier, value, row.get(field))
                           for modifier, value in alternatives)
                       for field, alternatives in conditions.items())]

        # §1.3: ascending id order unless sort=<column>[&order=desc].
        sort_field = request.param("sort")
        sort = None
        if sort_field in rtype.filterable:
            descending = (request.param("order") or "").lower() == "desc"

            def sort_key(row):
                value = row.get(sort_field)
                prefix = rtype.references.get(sort_field)
                if prefix is not None and value is not None:
                    value = number_of(value, prefix) or 0
                return (value is not None, value if value is not None else "")

            rows.sort(key=sort_key, reverse=descending)
            sort = {"name": sort_field, "order": "desc" if descending else "asc",
                    "reverse": request.url_with(drop=("order", "marker"),
                                                add=[] if descending else [("order", "desc")])}

        # §1.3 Pagination: default 100, limit<=0 means the cap of 3000; marker=m<offset>.
        try:
            limit = int(request.param("limit")) if request.param("limit") is not None else DEFAULT_LIMIT
        except ValueError:
            limit = DEFAULT_LIMIT
        if limit <= 0 or limit > MAX_LIMIT:
            limit = MAX_LIMIT
        marker = request.param("marker") or ""
        offset = int(marker[1:]) if re.fullmatch(r"m[0-9]+", marker) else 0
        page = rows[offset:offset + limit]
        partial = offset + limit < len(rows)
        pagination = {
            "first": request.url_with(drop=("marker",)) if marker else None,
            "previous": None,
            "next": request.url_with(drop=("marker",), add=[("marker", f"m{offset + limit}")]) if partial else None,
            "limit": limit, "total": None, "partial": partial}

        shown_filters = {field: None for field in rtype.filterable}
        for field, values in filters.items():
            shown_filters[field] = [self.filter_display(rtype, field, m, v) for m, v in values]
        data = [self.render(request, rtype, row) for row in page]
        return Response(200, self.collection_envelope(request, rtype.name, data, rtype, pagination, sort,
                                                      shown_filters))

    # ---- writes --------------------------------------------------------------------------------

    def create(self, request, rtype):
        body = request.json_body()
        if rtype is REGISTRY:
            # §1.4 Create: serverAddress required (422 MissingRequired), minLength 1
            # (422 MinLengthExceeded), kept exactly as sent.
            address = string_or_none(body, "serverAddress")
            if address is None:
                raise validation_error("MissingRequired", "serverAddress")
            if address == "":
                raise validation_error("MinLengthExceeded", "serverAddress")
            fields = {"serverAddress": address, "name": string_or_none(body, "name"),
                      "description": string_or_none(body, "description")}
            # §1.4: another non-removed, non-purged registry with this serverAddress (ignoring case)
            # gives 400 ServerAddressUsed, with code and message both "ServerAddressUsed".
            for row in self.store.rows(REGISTRY):
                if row["removed"] is None and row["state"] not in ("removed", "purged") \
                        and (row["serverAddress"] or "").lower() == address.lower():
                    raise ApiError(400, "ServerAddressUsed", "ServerAddressUsed")
        else:
            # §1.5 Create: registryId required, must name an existing registry (422 InvalidReference).
            registry_id = body.get("registryId")
            if registry_id is None or registry_id == "":
                raise validation_error("MissingRequired", "registryId")
            if self.store.get(REGISTRY, registry_id) is None:
                raise validation_error("InvalidReference", "registryId")
            fields = {"registryId": registry_id}
            for name in ("publicValue", "secretValue", "name", "description"):
                fields[name] = string_or_none(body, name)
            if request.version == "v1":
                # §1.7: on /v1 email is required and non-empty; on /v2-beta it is ignored.
                email = string_or_none(body, "email")
                if not email:
                    raise validation_error("MissingRequired", "email")
                fields["email"] = email
        # §1.4/§1.5: 201; the row starts `registering` and becomes `active` asynchronously
        # (here: when the next request arrives).
        row = self.store.new_row(rtype, "registering", fields)
        self.store.pending.append((row, "active"))
        # §1.5: secretValue is echoed in the create response only.
        return Response(201, self.render(request, rtype, row, show_secret=True))

    def update(self, request, rtype, row):
        """§1.5 Update: writes the updatable fields directly, whatever the state; unknown and
        create-only fields (registryId, serverAddress, email on v2-beta) are silently ignored."""
        body = request.json_body()
        changes = {}
        for name in rtype.updatable:
            if name in body:
                changes[name] = string_or_none(body, name)
        if rtype is CREDENTIAL and request.version == "v1" and "email" in body:  # §1.7
            if body["email"] is None:
                raise validation_error("NotNullable", "email")
            changes["email"] = string_or_none(body, "email")
        row.update(changes)
        return Response(200, self.render(request, rtype, row))  # secretValue null (§1.5)

    def remove_row(self, rtype, row):
        self.store.transition(row, "removing", "removed")
        if rtype is REGISTRY:  # §1.5: removing a registry also moves its credentials to removed
            for credential in self.store.rows(CREDENTIAL):
                if credential["registryId"] == row["id"] and credential["removed"] is None:
                    self.store.transition(credential, "removing", "removed")

    def remove(self, request, rtype, row):
        """§1.5: DELETE returns 200 with the resource; only from inactive, requested, registering or
        updating-* (on an active row it is refused, probably with 405)."""
        if row["removed"] is None and row["state"] != "removing":
            if "remove" not in self.actions_for(row):
                raise ApiError(405)
            self.remove_row(rtype, row)
        return Response(200, self.render(request, rtype, row))

    def action(self, request, rtype, row, name):
        """§1.5: POST <self>?action=<name> returns 202."""
        if name not in ("activate", "deactivate", "remove"):
            raise ApiError(422, "InvalidAction", None)
        if name not in self.actions_for(row):
            raise ApiError(422, "ActionNotAvailable", None)
        if name == "activate":
            self.store.transition(row, "activating", "active")
        elif name == "deactivate":
            self.store.transition(row, "deactivating", "inactive")
        else:
            self.remove_row(rtype, row)
        return Response(202, self.render(request, rtype, row))


# --------------------------------------------------------------------------------------------------
# The control API (state, reset, release and faults: stand_in_server.BaseControl)


def control_fields(body, rtype, creating):
    allowed = {"state", "removed", "name", "description", "transitioning", "transitioningMessage"}
    if rtype is REGISTRY:
        allowed |= {"serverAddress"}
    else:
        allowed |= {"registryId", "publicValue", "secretValue", "email"}
    unknown = set(body) - allowed
    if unknown:
        raise ControlError(400, f"unknown fields: {sorted(unknown)}")
    fields = {k: v for k, v in body.items() if k not in ("removed",)}
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise ControlError(400, f"{name} must be a string or null")
    if "removed" in body and not isinstance(body["removed"], bool):
        raise ControlError(400, "removed must be true or false")
    if creating:
        required = "serverAddress" if rtype is REGISTRY else "registryId"
        if not fields.get(required):
            raise ControlError(400, f"{required} is required")
    return fields


class Control(BaseControl):
    def state(self):
        store = self.store
        return {"project": store.project,
                "registries": [dict(r, type=REGISTRY.name) for r in store.rows(REGISTRY)],
                "credentials": [dict(r, type=CREDENTIAL.name) for r in store.rows(CREDENTIAL)],
                **store.fault_state()}

    def route_more(self, method, rest, body_bytes):
        if rest and rest[0] in ("registries", "credentials"):
            rtype = REGISTRY if rest[0] == "registries" else CREDENTIAL
            if len(rest) == 1:
                self.expect(method, "POST")
                return self.create(rtype, self.parse(body_bytes))
            if len(rest) == 2:
                self.expect(method, "PATCH", "PUT")
                row = self.store.get(rtype, rest[1])
                if row is None:
                    raise ControlError(404, f"no {rtype.name} {rest[1]}")
                self.apply(rtype, row, self.parse(body_bytes), creating=False)
                return Response(200, dict(row, type=rtype.name), cattle=False)
        return None

    def create(self, rtype, body):
        fields = control_fields(body, rtype, creating=True)
        if rtype is CREDENTIAL and self.store.get(REGISTRY, fields["registryId"]) is None:
            raise ControlError(400, f"no registry {fields['registryId']}")
        state = fields.pop("state", None) or ("removed" if body.get("removed") else "active")
        row = self.store.new_row(rtype, state, fields)
        if body.get("removed"):
            Store.mark_removed(row)
        return Response(201, dict(row, type=rtype.name), cattle=False)

    def apply(self, rtype, row, body, creating):
        fields = control_fields(body, rtype, creating)
        if rtype is CREDENTIAL and "registryId" in fields and self.store.get(REGISTRY, fields["registryId"]) is None:
            raise ControlError(400, f"no registry {fields['registryId']}")
        row.update(fields)
        if "removed" in body:
            if body["removed"]:
                if row["removed"] is None:
                    Store.mark_removed(row)
            else:
                row["removed"] = row["removedTS"] = None


# --------------------------------------------------------------------------------------------------
# Process


def parse_arguments():
    def add_options(parser):
        parser.add_argument("--access-key", help="the API access key (default: a random one)")
        parser.add_argument("--secret-key", help="the API secret key (default: a random one)")
        parser.add_argument("--project", default="1a5", help="the environment's project id (default: 1a5)")

    parser, args = stand_in_server.parse_arguments(__doc__.split("\n\n")[0], add_options)
    for name in ("access_key", "secret_key"):
        value = getattr(args, name)
        if value is not None and (value == "" or ":" in value and name == "access_key"):
            parser.error(f"--{name.replace('_', '-')} must be non-empty (and the access key without ':')")
    if not args.project:
        parser.error("--project must be non-empty")
    return args


def main():
    args = parse_arguments()
    upper = "ABCDEF0123456789"
    access_key = args.access_key or random_key(20, upper)  # Rancher API keys look like this
    secret_key = args.secret_key or random_key(40, "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")

    store = Store(args.project)
    api = RancherApi(store, access_key, secret_key, args.project)
    stand_in_server.serve("rancher_stand_in", args, store, api, Control(store),
                          {"access_key": access_key, "secret_key": secret_key, "project": args.project})


if __name__ == "__main__":
    main()
