#!/usr/bin/env python3
"""Rancher 2.x (norman `v3` API) stand-in for the tests.

Serves the parts of the Rancher 2.x `v3` API that rancher-ecr-credentials uses, following
/work/shared/spec/rancher.md Part 2 (the section numbers below, "§2.x", refer to it): discovery,
API-key authentication, clusters, projects, namespaces and the `dockerCredential` and
`namespacedDockerCredential` collections of a project.

Command line:
  python3 rancher2_stand_in.py [--port N] [--access-key token-xxxxx --secret-key S]
                               [--public-url https://rancher.example:8443]
                               [--projects CLUSTER/NAME[,CLUSTER/NAME...] | --project-count N]
                               [--serve-forever] [--verbose]
Binds 127.0.0.1:N (0, the default, picks a free port), then prints ONE line on stdout:
  {"url":"http://127.0.0.1:PORT","access_key":"token-abcde","secret_key":"..."}
(keys not given are generated at random; the access key has the form token-<5 lowercase
alphanumerics>) and serves until its stdin reaches end of file (so it dies with the test that
started it), SIGTERM or SIGINT; with --serve-forever, until SIGTERM or SIGINT only. Nothing else goes
to stdout. stderr stays quiet (no per-request lines unless --verbose, and those never show a body or
the Authorization header).

Links and X-Api-Schemas use the origin http://<the request's Host header>, or the --public-url when
one is given (for a TLS front such as tests/support/tls_proxy.py, which forwards bytes and so cannot
say that the client used https). POST /_control/settings {"public_url": ...} sets it later too.

The world at start (and after a reset):
  clusters   local (name "local"), c-abcde (name "production")
  projects   local:p-default "Default" (cluster local), local:p-system "System" (cluster local),
             c-abcde:p-xyz12 "Default" (cluster c-abcde): the name Default is ambiguous on purpose
  namespaces local:p-default: apps, jobs;  c-abcde:p-xyz12: web
  no credentials, no faults, an empty request log, no read-only project.
  Then the projects of --projects (each CLUSTER/NAME: project NAME in cluster CLUSTER, which is added,
  named as its id, unless seeded) or --project-count N (project-1..project-N in cluster local), in
  that order, with ids <cluster>:p-00001, <cluster>:p-00002, ... (numbered across clusters, so
  that no two share a backing namespace) and no namespaces. Each project has its own credentials. Listing, finding and creating credentials cost
  the same with thousands of projects (they are indexed by project and by Secret location), and
  lists render only their page.

API (§2.1-§2.5; every /v3 request needs `Authorization: Bearer <access>:<secret>` or Basic of
<access>:<secret>, else 401 {"type":"error","status":"401","message":"Unauthorized: must authenticate"},
with `status` a string and no WWW-Authenticate header):
  GET  /v3, /v3/schemas[/<id>]           the schemas collection (discovery) / one schema
  GET  /v3/clusters[/<id>]               filters id, name
  GET  /v3/projects[/<id>]               filters id, name, clusterId (exact match)
  GET  /v3/project[s]/<pid>/namespaces, /v3/cluster[s]/<cid>/namespaces
  GET|POST        /v3/project[s]/<pid>/dockercredentials             filters name, namespaceId, id
  GET|PUT|DELETE  /v3/project[s]/<pid>/dockercredentials/<id>
  GET|POST        /v3/project[s]/<pid>/namespaceddockercredentials   (the same for namespaced ones)
  GET|PUT|DELETE  /v3/project[s]/<pid>/namespaceddockercredentials/<id>
Every answer is JSON with `X-Api-Schemas: <origin>/v3/schemas`.

Control API for the tests (not part of Rancher; no authentication; not faulted; not in the request
log; plain JSON):
  POST   /_control/credentials   {"project":"c-abcde:p-xyz12","namespace":null|"web","name":"ecr",
                                  "registries":{host:{"username","password","email"?,"description"?}},
                                  "description"?,"labels"?,"annotations"?}
                                 stores a credential (namespaced when `namespace` is given) and returns
                                 the stored row, passwords and auth included (201).
  POST   /_control/clusters      {"id","name"};  POST /_control/projects {"id"?,"name","clusterId",
                                 "description"?} (id "<clusterId>:<p-...>"; by default the next
                                 generated one, <clusterId>:p-<5 digits>);  POST /_control/namespaces
                                 {"project","name"} (a namespace name is unique within its cluster).
                                 Each answers 201 with what it stored (a project: {"id","name",
                                 "clusterId","description"}); 409 if the id is taken.
  GET    /_control/projects/<id>  {"id","name","clusterId","description","namespaces":[names],
                                 "credentials":[its stored rows, passwords and auth included]}; 404 if
                                 there is none.
  DELETE /_control/projects/<id>  removes the project with its namespaces and credentials (and from
                                 read_only_projects); answers what GET showed. The API then answers
                                 404 NotFound for it.
  GET    /_control/settings; POST /_control/settings {"read_only_projects":[ids]?,"public_url":s|null?}
                                 writes (POST, PUT, DELETE) to the credentials of a read-only project
                                 answer 403 PermissionDenied "unauthorized" (§2.5). A reset empties
                                 read_only_projects and keeps public_url.
  GET    /_control/state         {"clusters":[...],"projects":[...],"namespaces":{pid:[names]},
                                  "credentials":[stored rows, passwords and auth included],
                                  "requests":[...],"faults":[...],"held":n,"settings":{...}}.
                                 A request log entry is {"method","path","query","body","status",
                                 "fault","authorization_scheme"}: body is the parsed JSON (the raw text
                                 if it is not JSON) for requests that carry one, else null; status is
                                 null for a dropped request; fault names the fault applied, else null;
                                 authorization_scheme is "Bearer", "Basic", "other" or null (the
                                 header's value itself is never kept).
  POST   /_control/faults        {"match":{"method":"PUT","path_contains":"dockercredentials"}?,
                                  "fault":"status"|"delay"|"drop"|"truncate"|"hold", "times":1?,
                                  "status":503 (status), "seconds":1.5 (delay; hold: 10 by default),
                                  "parties":3? (hold; `times` is then `parties` by default),
                                  "code"?,"message"?,"fieldName"?,"headers"?:{name:value} (status)}
                                 queues a fault for the next `times` matching API requests (method
                                 compared case-insensitively, path_contains a case-insensitive
                                 substring of the path). The first queued fault that matches applies.
                                   status:   answer that status with a norman error body (§2.5; code by
                                             default 401 Unauthorized, 403 PermissionDenied, 404
                                             NotFound, 405 MethodNotAllow, 409 Conflict, 422
                                             InvalidFormat, 500 ServerError, 503 ClusterUnavailable,
                                             else the reason phrase in CamelCase; a 401 carries
                                             `status` as the string "401") and do nothing else;
                                   delay:    sleep `seconds`, then serve normally;
                                   drop:     close the connection without answering; nothing is done;
                                   truncate: serve normally (the change is made), but send only the
                                             first half of the body, with the full Content-Length,
                                             then close;
                                   hold:     serve normally (the change is made), then keep the answer
                                             until `parties` answers of this fault are kept (then all
                                             go at once), POST /_control/release, a reset, or
                                             `seconds` pass.
  GET    /_control/faults        the queue;  DELETE /_control/faults  clears it.
  POST   /_control/release       lets every answer kept by a hold fault go; {"released": n}.
  POST   /_control/reset         back to the world at start (--projects/--project-count
                                 included); held answers go.

Behaviour the spec leaves open, as chosen here:
  - Credential rows: id "<namespace>:<name>", the namespace being the project's backing namespace
    (the project id's part after the colon) for project-scoped ones; project-scoped Secrets live in
    the management cluster (`local`), namespaced ones in the project's cluster, and a name is unique
    per (cluster, namespace).
  - Create and update ignore fields they cannot set (id, type, projectId, namespaceId on update,
    name on update, created, ...), as norman's builder drops them; projectId comes from the URL.
  - PUT replaces `registries` whole when the body has it (§2.3): entries without a password store
    an empty one. `auth` is base64(username:password) when both are non-empty, else the entry's
    own `auth` if it gave one, else "".
  - DELETE answers 200 with the removed row (passwords left out).
  - Pagination: rows are ordered by id (`sort=name` and `order=desc` are honoured); `marker` is the
    id of the first row of the page; `limit` defaults to 1000, is capped at 10000, and -1 means the
    cap; a limit that is not a number, 0 or below -1 means the default.
  - Paths outside /v3 and /_control answer 404 NotFound without asking for authentication.
  - Every change to the store is made under one lock, so concurrent clients see each request's
    change whole; `createdTS` grows in the order rows are stored.

The HTTP server, the fault queue, the request log, the control routes state/reset/release/faults and
the process around them (the line on stdout, stopping) are shared with the Rancher 1.x stand-in:
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
from urllib.parse import unquote

import stand_in_server
from stand_in_server import (BaseApi, BaseControl, BaseStore, ControlError, Response, http_reason_phrase,
                             random_key)

DEFAULT_LIMIT = 1000  # §2.2 Pagination
MAX_LIMIT = 10000
MANAGEMENT_CLUSTER = "local"  # where project-scoped Secrets live (§2.4)
CREATOR_ID = "user-abc"
UNAUTHENTICATED_MESSAGE = "Unauthorized: must authenticate"  # §2.1

# §2.5: norman's framework codes per status, used when an error names only a status.
DEFAULT_CODES = {401: "Unauthorized", 403: "PermissionDenied", 404: "NotFound", 405: "MethodNotAllow",
                 409: "Conflict", 422: "InvalidFormat", 500: "ServerError", 503: "ClusterUnavailable"}
DEFAULT_MESSAGES = {403: "unauthorized", 404: "not found", 405: "Method not allowed"}

# Kubernetes object names (§2.3: a credential's name is a DNS-1123 subdomain).
DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = re.compile(DNS1123_LABEL + r"(\." + DNS1123_LABEL + r")*")


class CredentialKind:
    """What differs between `dockerCredential` and `namespacedDockerCredential` (§2.3)."""

    def __init__(self, name, plural, base_type, namespaced):
        self.name = name
        self.plural = plural  # the lower-case collection path segment
        self.base_type = base_type
        self.namespaced = namespaced


PROJECT_CREDENTIAL = CredentialKind("dockerCredential", "dockercredentials", "secret", False)
NAMESPACED_CREDENTIAL = CredentialKind("namespacedDockerCredential", "namespaceddockercredentials",
                                       "namespacedSecret", True)
CREDENTIAL_KINDS = {kind.plural: kind for kind in (PROJECT_CREDENTIAL, NAMESPACED_CREDENTIAL)}
CREDENTIAL_FILTERS = ("id", "name", "namespaceId", "projectId", "description")
REGISTRY_ENTRY_FIELDS = ("username", "password", "auth", "email", "description")


def now_fields(at_least=0):
    """RFC 3339 in UTC with a <name>TS twin in epoch milliseconds (now, or `at_least` milliseconds
    if the clock is behind that)."""
    millis = max(int(time.time() * 1000), at_least)
    text = datetime.fromtimestamp(millis / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return text, millis


def default_code(status):
    if status in DEFAULT_CODES:
        return DEFAULT_CODES[status]
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", http_reason_phrase(status)))


def error_body(status, code=None, message=None, field_name=None):
    """§2.5: the norman error envelope, `status` an integer; a 401 carries it as a string, as the
    authentication filter does (§2.1)."""
    body = {"type": "error", "baseType": "error", "status": str(status) if status == 401 else status,
            "code": code if code is not None else default_code(status),
            "message": message if message is not None else (
                UNAUTHENTICATED_MESSAGE if status == 401 else DEFAULT_MESSAGES.get(status, http_reason_phrase(status)))}
    if field_name is not None:
        body["fieldName"] = field_name
    return body


def unauthenticated_body():
    """§2.1: exactly what an unauthenticated request gets."""
    return {"type": "error", "status": "401", "message": UNAUTHENTICATED_MESSAGE}


class ApiError(Exception):
    def __init__(self, status, code=None, message=None, field_name=None):
        super().__init__(f"{status} {code}")
        self.status = status
        self.body = error_body(status, code, message, field_name)


def field_error(code, field_name, message=None):
    return ApiError(422, code, message if message is not None else f"{field_name}: {code}", field_name)


def not_found(message="not found"):
    return ApiError(404, "NotFound", message)


# --------------------------------------------------------------------------------------------------
# Stored state


def seeded_world():
    """The clusters, projects and namespaces every stand-in starts with (before --projects)."""
    clusters = {"local": {"id": "local", "name": "local"},
                "c-abcde": {"id": "c-abcde", "name": "production"}}
    projects = {}
    for project_id, name in (("local:p-default", "Default"), ("local:p-system", "System"),
                             ("c-abcde:p-xyz12", "Default")):
        projects[project_id] = {"id": project_id, "name": name, "clusterId": project_id.split(":", 1)[0],
                                "description": ""}
    namespaces = {"local:p-default": ["apps", "jobs"], "local:p-system": [], "c-abcde:p-xyz12": ["web"]}
    return clusters, projects, namespaces


def backing_namespace(project_id):
    """§2.4: the project's backing namespace; here always the project id's part after the colon."""
    return project_id.split(":", 1)[1]


def generated_project_id(cluster_id, number):
    """The id of the `number`th project made by --projects, --project-count or the control API
    without an id: <cluster>:p-<number, 5 digits> (Rancher's are p-<5 random alphanumerics>)."""
    return f"{cluster_id}:p-{number:05d}"


class Store(BaseStore):
    """The clusters, projects, namespaces and credentials (the Kubernetes Secrets behind them) and
    the settings, beside the fault queue and the request log (BaseStore). One lock guards all of it.
    Credentials are indexed by project and by Secret location, so that a request costs the same with
    one project or thousands."""

    def __init__(self, public_url, start_projects=()):
        self.public_url = public_url
        self.start_projects = list(start_projects)  # [(cluster id, name)] added to the seeded world
        super().__init__()

    def reset(self):
        with self.lock:
            self.clusters, self.projects, self.namespaces = seeded_world()
            self.credentials = []  # stored rows, in the order they were stored
            self.project_credentials = {project_id: [] for project_id in self.projects}  # pid -> rows
            self.secrets = {}  # (cluster, namespace, name) -> row: the Secret behind each row (§2.4)
            self.last_created_ts = 0
            self.read_only_projects = []
            self.next_project_number = 1
            # Backing namespaces in use (§2.4: project-scoped Secrets of every cluster live in `local`).
            self.backing_namespaces = {backing_namespace(project_id) for project_id in self.projects}
            for cluster_id, name in self.start_projects:
                if cluster_id not in self.clusters:
                    self.clusters[cluster_id] = {"id": cluster_id, "name": cluster_id}
                self.add_project(None, name, cluster_id)
            super().reset()

    def add_project(self, project_id, name, cluster_id, description=""):
        """Adds a project (id generated when None: generated_project_id, with a backing namespace
        no other project has); the caller checks a given one."""
        if project_id is None:
            project_id = generated_project_id(cluster_id, self.next_project_number)
            while backing_namespace(project_id) in self.backing_namespaces:
                self.next_project_number += 1
                project_id = generated_project_id(cluster_id, self.next_project_number)
            self.next_project_number += 1
        self.backing_namespaces.add(backing_namespace(project_id))
        self.projects[project_id] = {"id": project_id, "name": name, "clusterId": cluster_id,
                                     "description": description}
        self.namespaces[project_id] = []
        self.project_credentials[project_id] = []
        return self.projects[project_id]

    def remove_project(self, project_id):
        """Drops a project with its namespaces and its credentials (project-scoped and namespaced)."""
        for row in list(self.project_credentials[project_id]):
            self.remove_credential(row)
        del self.projects[project_id], self.namespaces[project_id], self.project_credentials[project_id]
        if not any(backing_namespace(other) == backing_namespace(project_id) for other in self.projects):
            self.backing_namespaces.discard(backing_namespace(project_id))
        if project_id in self.read_only_projects:
            self.read_only_projects.remove(project_id)

    def settings(self):
        return {"read_only_projects": list(self.read_only_projects), "public_url": self.public_url}

    # ---- the world -----------------------------------------------------------------------------

    def cluster_of_namespace(self, cluster_id, namespace):
        """The project of the cluster that holds `namespace`, or None."""
        for project_id, names in self.namespaces.items():
            if self.projects[project_id]["clusterId"] == cluster_id and namespace in names:
                return project_id
        return None

    # ---- credentials ---------------------------------------------------------------------------

    @staticmethod
    def secret_location(row):
        """(cluster, namespace) of the Kubernetes Secret behind a row (§2.4)."""
        if row["namespaceId"] is None:
            return MANAGEMENT_CLUSTER, backing_namespace(row["projectId"])
        return row["projectId"].split(":", 1)[0], row["namespaceId"]

    def name_taken(self, project_id, namespace, name):
        cluster, secret_namespace = Store.secret_location({"projectId": project_id, "namespaceId": namespace})
        return (cluster, secret_namespace, name) in self.secrets

    def new_credential(self, kind, project_id, namespace, name, registries, description, labels, annotations):
        created, created_ts = now_fields(self.last_created_ts)
        self.last_created_ts = created_ts
        row = {"id": f"{namespace if kind.namespaced else backing_namespace(project_id)}:{name}",
               "type": kind.name, "baseType": kind.base_type, "name": name, "projectId": project_id,
               "namespaceId": namespace if kind.namespaced else None, "description": description,
               "labels": labels, "annotations": annotations, "registries": registries,
               "created": created, "createdTS": created_ts, "creatorId": CREATOR_ID, "uuid": str(uuid.uuid4())}
        self.credentials.append(row)
        self.project_credentials[project_id].append(row)
        self.secrets[(*Store.secret_location(row), name)] = row
        return row

    def remove_credential(self, row):
        self.credentials.remove(row)
        self.project_credentials[row["projectId"]].remove(row)
        del self.secrets[(*Store.secret_location(row), row["name"])]

    def find_credential(self, kind, project_id, credential_id):
        for row in self.project_credentials[project_id]:
            if row["type"] == kind.name and row["id"] == credential_id:
                return row
        return None


def registry_entries(value, field_name="registries", problem=None):
    """The stored form of a `registries` map: every entry with the five fields, auth computed
    (§2.3). `problem(code, field)` makes the exception for an invalid value."""
    if not isinstance(value, dict):
        raise problem("InvalidType", field_name)
    entries = {}
    for host, entry in value.items():
        if not isinstance(entry, dict):
            raise problem("InvalidType", field_name)
        stored = {}
        for name in REGISTRY_ENTRY_FIELDS:
            item = entry.get(name)
            if item is None:
                item = ""
            if not isinstance(item, str):
                raise problem("InvalidType", field_name)
            stored[name] = item
        if stored["username"] and stored["password"]:
            stored["auth"] = base64.b64encode(f"{stored['username']}:{stored['password']}".encode()).decode()
        entries[host] = stored
    return entries


def string_map(value, field_name, problem):
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise problem("InvalidType", field_name)
    return dict(value)


def optional_string(value, field_name, problem):
    if value is None:
        return ""
    if not isinstance(value, str):
        raise problem("InvalidType", field_name)
    return value


# --------------------------------------------------------------------------------------------------
# The Rancher API


class ApiRequest(stand_in_server.ApiRequest):
    """One API request, with the origin that links are built from."""

    def invalid_body(self, message):
        return ApiError(422, "InvalidBodyContent", message)


class RancherApi(BaseApi):
    def __init__(self, store, access_key, secret_key):
        self.store = store
        self.access_key = access_key
        self.secret_key = secret_key

    # ---- hooks of the shared request plumbing (stand_in_server.BaseApi) -------------------------

    def origin(self, host):
        """What links and X-Api-Schemas start with: the public URL if one is set, else
        http://<the request's Host header>."""
        return self.store.public_url or "http://" + host

    def answer_headers(self, host):
        return [("X-Api-Schemas", f"{self.origin(host)}/v3/schemas")]

    def error_response(self, status, code=None, message=None, field_name=None, headers=()):
        return Response(status, error_body(status, code, message, field_name), headers)

    def log_fields(self, headers):
        return {"authorization_scheme": self.authorization_scheme(headers)}

    # ---- authentication and routing ----------------------------------------------------------

    @staticmethod
    def authorization_scheme(headers):
        value = headers.get("Authorization")
        if value is None:
            return None
        scheme = value.strip().partition(" ")[0].lower()
        return {"bearer": "Bearer", "basic": "Basic"}.get(scheme, "other")

    def authenticated(self, headers):
        """§2.1: Bearer <access>:<secret>, or Basic of the same pair."""
        value = headers.get("Authorization", "").strip()
        scheme, _, credentials = value.partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "basic":
            try:
                credentials = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
        elif scheme.lower() != "bearer":
            return False
        user, sep, password = credentials.partition(":")
        return bool(sep) and secrets.compare_digest(user.encode(), self.access_key.encode()) \
            and secrets.compare_digest(password.encode(), self.secret_key.encode())

    def handle(self, method, host, path, query, body, headers):
        origin = self.origin(host)
        headers_out = [("X-Api-Schemas", f"{origin}/v3/schemas")]
        segments = [unquote(s) for s in path.split("/") if s]
        if not segments or segments[0] != "v3":
            return Response(404, error_body(404), headers_out)
        if not self.authenticated(headers):
            return Response(401, unauthenticated_body(), headers_out)
        request = ApiRequest(method, origin, path, query, body)
        try:
            with self.store.lock:
                response = self.route(request, segments[1:])
        except ApiError as error:
            response = Response(error.status, error.body)
        response.headers = headers_out + response.headers
        return response

    def route(self, request, rest):
        method = "GET" if request.method == "HEAD" else request.method
        if not rest:  # §2.2 discovery
            self.allow(method, "GET")
            return Response(200, self.collection(request, "schema", self.schemas(request)))
        head = rest[0].lower()
        if head in ("schemas", "schema"):
            self.allow(method, "GET")
            if len(rest) == 1:
                return Response(200, self.collection(request, "schema", self.schemas(request)))
            if len(rest) == 2:
                for schema in self.schemas(request):
                    if schema["id"].lower() == rest[1].lower():
                        return Response(200, schema)
            raise not_found()
        if head in ("clusters", "cluster"):
            return self.route_cluster(request, method, rest[1:])
        if head in ("projects", "project"):
            return self.route_project(request, method, rest[1:])
        raise not_found()

    @staticmethod
    def allow(method, *allowed):
        if method not in allowed:
            raise ApiError(405, "MethodNotAllow", "Method not allowed")

    def route_cluster(self, request, method, rest):
        store = self.store
        if not rest:
            self.allow(method, "GET")
            return self.list(request, "cluster", list(store.clusters.values()), ("id", "name"),
                             render=lambda cluster: self.render_cluster(request, cluster))
        cluster = store.clusters.get(rest[0])
        if cluster is None:
            raise not_found(f'clusters.management.cattle.io "{rest[0]}" not found')
        if len(rest) == 1:
            self.allow(method, "GET")
            return Response(200, self.render_cluster(request, cluster))
        if len(rest) == 2 and rest[1].lower() == "namespaces":
            self.allow(method, "GET")
            rows = [self.render_namespace(request, project_id, name)
                    for project_id, names in store.namespaces.items()
                    if store.projects[project_id]["clusterId"] == cluster["id"] for name in names]
            return self.list(request, "namespace", rows, ("id", "name", "projectId"))
        raise not_found()

    def route_project(self, request, method, rest):
        store = self.store
        if not rest:
            self.allow(method, "GET")
            return self.list(request, "project", list(store.projects.values()), ("id", "name", "clusterId"),
                             render=lambda project: self.render_project(request, project))
        project = store.projects.get(rest[0])
        if project is None:
            raise not_found(f'projects.management.cattle.io "{rest[0].rpartition(":")[2]}" not found')
        if len(rest) == 1:
            self.allow(method, "GET")
            return Response(200, self.render_project(request, project))
        collection = rest[1].lower()
        if collection == "namespaces" and len(rest) == 2:
            self.allow(method, "GET")
            rows = [self.render_namespace(request, project["id"], name) for name in store.namespaces[project["id"]]]
            return self.list(request, "namespace", rows, ("id", "name", "projectId"))
        kind = CREDENTIAL_KINDS.get(collection)
        if kind is None or len(rest) > 3:
            raise not_found()
        self.allow(method, *(("GET", "POST") if len(rest) == 2 else ("GET", "PUT", "DELETE")))
        if method != "GET" and project["id"] in store.read_only_projects:
            raise ApiError(403, "PermissionDenied", "unauthorized")  # §2.5 the secret validator
        if len(rest) == 2:
            if method == "GET":
                rows = [row for row in store.project_credentials[project["id"]] if row["type"] == kind.name]
                return self.list(request, kind.name, rows, CREDENTIAL_FILTERS,
                                 self.collection_url(request, project["id"], kind),
                                 render=lambda row: self.render_credential(request, row))
            return self.create(request, project, kind)
        row = store.find_credential(kind, project["id"], rest[2])
        if row is None:
            raise not_found(f'secrets "{rest[2].rpartition(":")[2]}" not found')
        if method == "GET":
            return Response(200, self.render_credential(request, row))
        if method == "PUT":
            return self.update(request, row)
        store.remove_credential(row)
        return Response(200, self.render_credential(request, row))

    # ---- resources -----------------------------------------------------------------------------

    @staticmethod
    def collection_url(request, project_id, kind):
        return f"{request.origin}/v3/project/{project_id}/{kind.plural}"  # §2.2: the singular form

    def render_cluster(self, request, cluster):
        self_url = f"{request.origin}/v3/clusters/{cluster['id']}"
        return {"id": cluster["id"], "type": "cluster", "baseType": "cluster", "name": cluster["name"],
                "state": "active",
                "links": {"self": self_url, "projects": f"{request.origin}/v3/projects?clusterId={cluster['id']}",
                          "namespaces": f"{request.origin}/v3/cluster/{cluster['id']}/namespaces"},
                "actions": {}}

    def render_project(self, request, project):
        pid = project["id"]
        base = f"{request.origin}/v3/project/{pid}"
        return {"id": pid, "type": "project", "baseType": "project", "name": project["name"],
                "clusterId": project["clusterId"], "description": project["description"], "state": "active",
                "namespaceId": None,
                "links": {"self": f"{request.origin}/v3/projects/{pid}",
                          "dockerCredentials": f"{base}/dockercredentials",
                          "namespacedDockerCredentials": f"{base}/namespaceddockercredentials",
                          "namespaces": f"{base}/namespaces"},
                "actions": {}}

    def render_namespace(self, request, project_id, name):
        cluster_id = self.store.projects[project_id]["clusterId"]
        return {"id": name, "type": "namespace", "baseType": "namespace", "name": name, "projectId": project_id,
                "clusterId": cluster_id, "state": "active",
                "links": {"self": f"{request.origin}/v3/cluster/{cluster_id}/namespaces/{name}"}, "actions": {}}

    def render_credential(self, request, row, show_passwords=False):
        """§2.3: passwords and auth are write-only: only the create answer shows them."""
        kind = CREDENTIAL_KINDS[PROJECT_CREDENTIAL.plural if row["namespaceId"] is None
                                else NAMESPACED_CREDENTIAL.plural]
        self_url = f"{self.collection_url(request, row['projectId'], kind)}/{row['id']}"
        out = {key: row[key] for key in ("id", "type", "baseType", "name", "projectId", "namespaceId", "description")}
        out["labels"] = dict(row["labels"])
        out["annotations"] = dict(row["annotations"])
        registries = {}
        for host, entry in row["registries"].items():
            shown = {"username": entry["username"], "email": entry["email"], "description": entry["description"]}
            if show_passwords:
                shown["password"] = entry["password"]
                shown["auth"] = entry["auth"]
            registries[host] = shown
        out["registries"] = registries
        out["links"] = {"self": self_url, "update": self_url, "remove": self_url}
        out["actions"] = {}
        for key in ("created", "createdTS", "creatorId", "uuid"):
            out[key] = row[key]
        return out

    def schemas(self, request):
        def field(type_, create=False, update=False, required=False, nullable=True, **extra):
            spec = {"type": type_, "create": create, "update": update, "required": required, "nullable": nullable}
            spec.update(extra)
            return spec

        def schema(id_, plural, fields, collection_methods, resource_methods, filters=()):
            return {"id": id_, "type": "schema", "pluralName": plural,
                    "links": {"self": f"{request.origin}/v3/schemas/{id_.lower()}"},
                    "actions": {}, "resourceMethods": resource_methods, "collectionMethods": collection_methods,
                    "resourceFields": fields, "resourceActions": {}, "collectionActions": {},
                    "collectionFilters": {f: {"modifiers": ["eq"]} for f in filters}}

        def credential_fields(namespaced):
            return {
                "name": field("dnsLabel", create=True, required=True, nullable=False),
                "projectId": field("reference[project]"),
                "namespaceId": field("reference[namespace]", create=namespaced, required=namespaced,
                                     nullable=not namespaced),
                "description": field("string", create=True, update=True),
                "labels": field("map[string]", create=True, update=True),
                "annotations": field("map[string]", create=True, update=True),
                "registries": field("map[registryCredential]", create=True, update=True, required=True),
                "created": field("date"), "creatorId": field("reference[user]"), "uuid": field("string"),
            }

        return [
            schema("cluster", "clusters", {"name": field("string")}, ["GET"], ["GET"], ("id", "name")),
            schema("project", "projects", {"name": field("string"), "clusterId": field("reference[cluster]")},
                   ["GET"], ["GET"], ("id", "name", "clusterId")),
            schema("namespace", "namespaces", {"name": field("string"), "projectId": field("reference[project]")},
                   ["GET"], ["GET"], ("id", "name", "projectId")),
            schema(PROJECT_CREDENTIAL.name, PROJECT_CREDENTIAL.plural, credential_fields(False), ["GET", "POST"],
                   ["GET", "PUT", "DELETE"], CREDENTIAL_FILTERS),
            schema(NAMESPACED_CREDENTIAL.name, NAMESPACED_CREDENTIAL.plural, credential_fields(True),
                   ["GET", "POST"], ["GET", "PUT", "DELETE"], CREDENTIAL_FILTERS),
            schema("registryCredential", "registryCredentials",
                   {"username": field("string", create=True, update=True),
                    "password": field("password", create=True, update=True),
                    "auth": field("string", create=True, update=True),
                    "email": field("string", create=True, update=True),
                    "description": field("string", create=True, update=True)}, [], []),
        ]

    # ---- lists: filters, sort, pagination ------------------------------------------------------

    @staticmethod
    def collection(request, resource_type, data, create_url=None, pagination=None, sort=None, filters=None):
        return {"type": "collection", "resourceType": resource_type, "links": {"self": request.url},
                "createTypes": {resource_type: create_url} if create_url else {}, "actions": {},
                "data": data, "pagination": pagination, "sort": sort, "filters": filters or {}}

    def list(self, request, resource_type, rows, filterable, create_url=None, render=None):
        """§2.2: a collection of `rows` (stored rows, or rendered ones when `render` is None),
        filtered, sorted and paged on their fields; only the page is rendered (by `render`)."""
        filters = {}
        for key, value in request.params:
            if key in filterable:
                filters.setdefault(key, []).append(value)
        # Values given for one field are alternatives; different fields all must hold. Exact match.
        rows = [row for row in rows
                if all(any((row.get(name) if row.get(name) is not None else "") == value for value in values)
                       for name, values in filters.items())]

        sort_field = request.param("sort") if request.param("sort") in ("id", "name") else "id"
        descending = (request.param("order") or "").lower() == "desc"
        rows.sort(key=lambda row: (row.get(sort_field) or "", row["id"]), reverse=descending)
        sort = {"name": sort_field, "order": "desc" if descending else "asc",
                "reverse": request.url_with(drop=("order", "marker"), add=[] if descending else [("order", "desc")]),
                "links": {name: request.url_with(drop=("sort", "order", "marker"), add=[("sort", name)])
                          for name in ("id", "name")}}

        try:
            limit = int(request.param("limit")) if request.param("limit") is not None else DEFAULT_LIMIT
        except ValueError:
            limit = DEFAULT_LIMIT
        if limit == -1 or limit > MAX_LIMIT:
            limit = MAX_LIMIT
        elif limit <= 0:
            limit = DEFAULT_LIMIT
        # The marker is the id of the page's first row; should that row be gone, the page starts
        # where it would have been.
        marker = request.param("marker")
        start = 0
        if marker:
            marker_row = next((row for row in rows if row["id"] == marker), None)
            marker_key = ((marker_row.get(sort_field) or "") if marker_row else marker, marker)
            if sort_field == "id":
                marker_key = (marker, marker)
            while start < len(rows):
                key = (rows[start].get(sort_field) or "", rows[start]["id"])
                if (key > marker_key) if descending else (key < marker_key):
                    start += 1
                else:
                    break
        page = rows[start:start + limit]
        if render is not None:
            page = [render(row) for row in page]
        pagination = {"limit": limit, "total": len(rows)}
        if marker:
            pagination["marker"] = marker
        if start + limit < len(rows):
            pagination["next"] = request.url_with(drop=("marker",), add=[("marker", rows[start + limit]["id"])])
            pagination["partial"] = True
        shown_filters = {name: None for name in filterable}
        for name, values in filters.items():
            shown_filters[name] = [{"modifier": "eq", "value": value} for value in values]
        return Response(200, self.collection(request, resource_type, page, create_url, pagination, sort,
                                             shown_filters))

    # ---- writes --------------------------------------------------------------------------------

    def create(self, request, project, kind):
        """§2.3 Create."""
        body = request.json_body()
        name = body.get("name")
        if name is None or name == "":
            raise field_error("MissingRequired", "name", "name is required")
        if not isinstance(name, str) or len(name) > 253 or not DNS1123_SUBDOMAIN.fullmatch(name):
            raise field_error("InvalidFormat", "name",
                              "name must be a DNS-1123 subdomain: lower case alphanumerics, '-' or '.'")
        if body.get("registries") is None:
            raise field_error("MissingRequired", "registries", "registries is required")
        registries = registry_entries(body["registries"], problem=field_error)
        description = optional_string(body.get("description"), "description", field_error)
        labels = string_map(body.get("labels"), "labels", field_error)
        annotations = string_map(body.get("annotations"), "annotations", field_error)
        namespace = None
        if kind.namespaced:
            namespace = body.get("namespaceId")
            if namespace is None or namespace == "":
                raise field_error("MissingRequired", "namespaceId", "namespaceId is required")
            if not isinstance(namespace, str) or namespace not in self.store.namespaces[project["id"]]:
                raise field_error("InvalidReference", "namespaceId",
                                  f"namespace {namespace} is not in project {project['id']}")
        if self.store.name_taken(project["id"], namespace, name):
            raise ApiError(409, "AlreadyExists", f'secrets "{name}" already exists')
        row = self.store.new_credential(kind, project["id"], namespace, name, registries, description, labels,
                                        annotations)
        return Response(201, self.render_credential(request, row, show_passwords=True))

    def update(self, request, row):
        """§2.3 Update: the body's updatable fields over the stored row; `registries` replaces the
        whole stored map; everything else is ignored."""
        body = request.json_body()
        changes = {}
        if "description" in body:
            changes["description"] = optional_string(body["description"], "description", field_error)
        for name in ("labels", "annotations"):
            if name in body:
                changes[name] = string_map(body[name], name, field_error)
        if "registries" in body:
            if body["registries"] is None:
                raise field_error("NotNullable", "registries", "registries cannot be null")
            changes["registries"] = registry_entries(body["registries"], problem=field_error)
        row.update(changes)
        return Response(200, self.render_credential(request, row))  # no passwords (§2.3)


# --------------------------------------------------------------------------------------------------
# The control API (state, reset, release and faults: stand_in_server.BaseControl)


def control_problem(code, field_name):
    return ControlError(400, f"{field_name}: {code}")


class Control(BaseControl):
    @staticmethod
    def stored(row):
        return json.loads(json.dumps(row))  # a deep copy, passwords and auth included

    def state(self):
        store = self.store
        return {"clusters": list(store.clusters.values()), "projects": list(store.projects.values()),
                "namespaces": {pid: list(names) for pid, names in store.namespaces.items()},
                "credentials": [self.stored(row) for row in store.credentials],
                **store.fault_state(), "settings": store.settings()}

    def route_more(self, method, rest, body_bytes):
        if rest == ["settings"]:
            self.expect(method, "GET", "POST")
            if method == "POST":
                self.apply_settings(self.parse(body_bytes))
            return Response(200, self.store.settings())
        if rest == ["credentials"]:
            self.expect(method, "POST")
            return Response(201, self.stored(self.add_credential(self.parse(body_bytes))))
        if rest == ["clusters"]:
            self.expect(method, "POST")
            return Response(201, self.add_cluster(self.parse(body_bytes)))
        if rest == ["projects"]:
            self.expect(method, "POST")
            return Response(201, self.add_project(self.parse(body_bytes)))
        if len(rest) == 2 and rest[0] == "projects":
            self.expect(method, "GET", "DELETE")
            project = self.store.projects.get(rest[1])
            if project is None:
                raise ControlError(404, f"no project {rest[1]}")
            shown = dict(project, namespaces=list(self.store.namespaces[project["id"]]),
                         credentials=[self.stored(row) for row in self.store.project_credentials[project["id"]]])
            if method == "DELETE":
                self.store.remove_project(project["id"])
            return Response(200, shown)
        if rest == ["namespaces"]:
            self.expect(method, "POST")
            return Response(201, self.add_namespace(self.parse(body_bytes)))
        return None

    @staticmethod
    def text(body, name, required=True):
        value = body.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise ControlError(400, f"{name} must be a non-empty string")
        return value

    @staticmethod
    def only(body, *names):
        unknown = set(body) - set(names)
        if unknown:
            raise ControlError(400, f"unknown fields: {sorted(unknown)}")

    def apply_settings(self, body):
        self.only(body, "read_only_projects", "public_url")
        if "read_only_projects" in body:
            value = body["read_only_projects"]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ControlError(400, "read_only_projects must be a list of project ids")
            self.store.read_only_projects = list(value)
        if "public_url" in body:
            value = body["public_url"]
            if value is not None and (not isinstance(value, str) or not re.fullmatch(r"https?://[^/?#]+", value.rstrip("/"))):
                raise ControlError(400, "public_url must be null or http(s)://host[:port]")
            self.store.public_url = value.rstrip("/") if value else None

    def add_cluster(self, body):
        self.only(body, "id", "name")
        cluster_id, name = self.text(body, "id"), self.text(body, "name")
        if ":" in cluster_id or "/" in cluster_id:
            raise ControlError(400, "a cluster id has no ':' or '/'")
        if cluster_id in self.store.clusters:
            raise ControlError(409, f"cluster {cluster_id} exists")
        self.store.clusters[cluster_id] = {"id": cluster_id, "name": name}
        return dict(self.store.clusters[cluster_id])

    def add_project(self, body):
        self.only(body, "id", "name", "clusterId", "description")
        name, cluster_id = self.text(body, "name"), self.text(body, "clusterId")
        project_id = self.text(body, "id", required=False)
        description = self.text(body, "description", required=False) or ""
        if cluster_id not in self.store.clusters:
            raise ControlError(400, f"no cluster {cluster_id}")
        if project_id is not None:
            head, sep, tail = project_id.partition(":")
            if head != cluster_id or not sep or not tail or ":" in tail or "/" in tail:
                raise ControlError(400, "a project id is <clusterId>:<name>")
            if project_id in self.store.projects:
                raise ControlError(409, f"project {project_id} exists")
        return dict(self.store.add_project(project_id, name, cluster_id, description))

    def add_namespace(self, body):
        self.only(body, "project", "name")
        project_id, name = self.text(body, "project"), self.text(body, "name")
        project = self.store.projects.get(project_id)
        if project is None:
            raise ControlError(400, f"no project {project_id}")
        if not re.fullmatch(DNS1123_LABEL, name):
            raise ControlError(400, "a namespace name is a DNS-1123 label")
        if self.store.cluster_of_namespace(project["clusterId"], name) is not None:
            raise ControlError(409, f"namespace {name} exists in cluster {project['clusterId']}")
        self.store.namespaces[project_id].append(name)
        return {"project": project_id, "name": name}

    def add_credential(self, body):
        self.only(body, "project", "namespace", "name", "registries", "description", "labels", "annotations")
        project_id, name = self.text(body, "project"), self.text(body, "name")
        namespace = self.text(body, "namespace", required=False)
        store = self.store
        if project_id not in store.projects:
            raise ControlError(400, f"no project {project_id}")
        if namespace is not None and namespace not in store.namespaces[project_id]:
            raise ControlError(400, f"no namespace {namespace} in project {project_id}")
        registries = registry_entries(body.get("registries") or {}, problem=control_problem)
        description = optional_string(body.get("description"), "description", control_problem)
        labels = string_map(body.get("labels"), "labels", control_problem)
        annotations = string_map(body.get("annotations"), "annotations", control_problem)
        if store.name_taken(project_id, namespace, name):
            raise ControlError(409, f'secrets "{name}" already exists')
        kind = NAMESPACED_CREDENTIAL if namespace is not None else PROJECT_CREDENTIAL
        return store.new_credential(kind, project_id, namespace, name, registries, description, labels, annotations)


# --------------------------------------------------------------------------------------------------
# Process

MAX_PROJECTS = 99999  # generated ids have 5 digits


def parse_arguments():
    def add_options(parser):
        parser.add_argument("--access-key", help="the API access key, token-xxxxx (default: a random one)")
        parser.add_argument("--secret-key", help="the API secret key (default: a random one)")
        parser.add_argument("--public-url", help="the origin used in links and X-Api-Schemas, e.g. https://host:port "
                                                 "(default: http://<the request's Host header>)")
        several = parser.add_mutually_exclusive_group()
        several.add_argument("--projects", metavar="CLUSTER/NAME[,CLUSTER/NAME...]",
                             help="also serve these projects, with ids <CLUSTER>:p-00001, <CLUSTER>:p-00002, ... "
                                  "(a cluster not seeded is added, named as its id)")
        several.add_argument("--project-count", type=int, metavar="N",
                             help="also serve N projects project-1..project-N in cluster local "
                                  "(ids local:p-00001..)")

    parser, args = stand_in_server.parse_arguments(__doc__.split("\n\n")[0], add_options)
    if args.access_key is not None and (args.access_key == "" or ":" in args.access_key):
        parser.error("--access-key must be non-empty and without ':'")
    if args.secret_key is not None and args.secret_key == "":
        parser.error("--secret-key must be non-empty")
    if args.public_url is not None:
        args.public_url = args.public_url.rstrip("/")
        if not re.fullmatch(r"https?://[^/?#]+", args.public_url):
            parser.error("--public-url must be http(s)://host[:port]")
    args.start_projects = []
    if args.projects is not None:
        for item in args.projects.split(","):
            cluster_id, sep, name = item.partition("/")
            if not sep or not name or not re.fullmatch(r"[A-Za-z0-9][-A-Za-z0-9.]*", cluster_id):
                parser.error(f"--projects: {item!r} is not CLUSTER/NAME")
            args.start_projects.append((cluster_id, name))
    elif args.project_count is not None:
        if not 1 <= args.project_count <= MAX_PROJECTS:
            parser.error(f"--project-count must be 1 to {MAX_PROJECTS}")
        args.start_projects = [(MANAGEMENT_CLUSTER, f"project-{n}") for n in range(1, args.project_count + 1)]
    return args


def main():
    args = parse_arguments()
    # Rancher 2 API keys: token-<5 lower-case alphanumerics>, a 54-character secret.
    access_key = args.access_key or "token-" + random_key(5, "abcdefghijklmnopqrstuvwxyz0123456789")
    secret_key = args.secret_key or random_key(54, "bcdfghjklmnpqrstvwxz2456789")

    store = Store(args.public_url, args.start_projects)
    api = RancherApi(store, access_key, secret_key)
    stand_in_server.serve("rancher2_stand_in", args, store, api, Control(store),
                          {"access_key": access_key, "secret_key": secret_key})


if __name__ == "__main__":
    main()
