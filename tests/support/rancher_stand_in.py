#!/usr/bin/env python3
"""Rancher 1.x (Cattle) API stand-in for the tests and the README demo.

Serves the parts of the Rancher 1.x API that rancher-ecr-credentials uses, following
/work/shared/spec/rancher.md Part 1 (the section numbers below, "§1.x", refer to it):
discovery, Basic auth, the `registry` and `registryCredential` collections under `/v1` and
`/v2-beta`, each also under `/<version>/projects/<id>`, for one environment or many (§1.2).

Command line:
  python3 rancher_stand_in.py [--port N] [--access-key K --secret-key S] [--project 1a5]
                              [--environments NAME[,NAME...] | --environment-count N]
                              [--account-key [ACCESS:SECRET]] [--serve-forever] [--verbose]
Binds 127.0.0.1:N (0, the default, picks a free port), then prints ONE line on stdout:
  {"url":"http://127.0.0.1:PORT","access_key":"...","secret_key":"...","project":"1a5"}
plus "account_access_key" and "account_secret_key" when there is an account key (keys not given
are generated at random) and serves until its stdin reaches end of file (so it dies
with the test that started it), SIGTERM or SIGINT; with --serve-forever, until SIGTERM or SIGINT only.
Nothing else goes to stdout. stderr stays quiet (no per-request lines unless --verbose) and never
shows a secretValue.

Environments and keys (§1.2):
  - The environments: one, "Default", by default; --environments a,b,c names them; --environment-count
    N makes env-1..env-N. Their ids are the --project id (1a5 by default) and the ids that follow
    (1a6, 1a7, ...), each with its own registries and credentials; row ids (1sp<N>, 1c<N>) are
    global, as in Cattle's tables. Names are unique here (the control API finds environments by them).
  - The environment key (--access-key/--secret-key) belongs to the first environment (--project): it
    sees exactly that one, under every URL form, as before; another project id is 403.
  - The account key (--account-key ACCESS:SECRET; with no value a random one) is a user's key (account
    1a1, "admin"): GET /<version>/projects lists every environment (§1.3 pagination, filters, sort;
    each one's links lead under /<version>/projects/<id>); the path /<version>/projects/<id>/...,
    X-API-Project-Id: <id> or ?projectId=<id> picks the environment a request acts on (the path
    first, then the header, then the query); a request that picks none acts on the account's own
    rows (none unless one is created so). An id that is not 1a<N> is 400 InvalidFormat, one that is
    no environment's 403. X-API-Account-Id/-Kind/-Name name the environment acted on (project), or
    the account (1a1, admin, admin); X-API-User-Id is 1a1.

Control API for the tests (not part of Rancher; no authentication; plain JSON):
  POST   /_control/registries        {serverAddress, state?="active", removed?=false, name?, description?,
                                      environment?: id or name (default: the environment key's)}
  POST   /_control/credentials       {registryId, publicValue?, secretValue?, state?="active", removed?=false,
                                      email?, name?, description?, environment?: id or name (default:
                                      the registry's)}
         Both create a row directly (any state; removed=true stamps `removed`, and the state becomes
         "removed" unless one is given) and return the stored row (201).
  PATCH  /_control/registries/<id>   and  PATCH /_control/credentials/<id>: overwrite stored fields
                                      (same fields as above but environment; a row of any environment);
                                      returns the stored row.
  GET    /_control/environments      {"environments":[{"id","name","registries":n,"credentials":n}]}
                                      (n: how many rows are stored, removed ones included), by id.
  POST   /_control/environments      {"name", "id"?: "1a<N>"} adds an environment (id by default the
                                      next after every one so far; ids are not reused); 201 {"id","name"};
                                      409 if the name or id is taken.
  GET    /_control/environments/<id or name>   {"id","name","registries":[...],"credentials":[...]}
                                      (stored rows, as in state); 404 if there is none.
  DELETE /_control/environments/<id or name>   removes it and its rows; 200 {"id","name"}. Removing
                                      the environment key's environment makes that key 401.
  GET    /_control/state             {"project", "registries":[...], "credentials":[...] (stored rows of
                                      the environment key's environment, removed ones and every
                                      secretValue included), "environments":{id:{"id","name",
                                      "registries":[...],"credentials":[...]}} (every environment),
                                      "account":{"id":"1a1","name","registries","credentials"} (the
                                      account key's own rows), "requests":[...], "faults":[...],
                                      "held": answers kept by hold faults now}.
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
  POST   /_control/reset             the environments at start again, with no registries or
                                     credentials; no faults or log; row ids restart at 1; held
                                     answers go.

Behaviour the spec leaves open, as chosen here:
  - Rows created through the API start `registering` (the 201 shows it) and become `active` when the
    next request of any kind arrives (§1.4, §1.5 "reaches active asynchronously"); actions and
    DELETE likewise pass through deactivating/activating/removing.
  - A project id in the path that is not of the form 1a<N> gives 400 InvalidFormat, any other
    project id than one the key may see 403 (§1.2). So do X-API-Project-Id and ?projectId=.
  - A removed environment is gone: no longer listed, 403 for the account key.
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
ACCOUNT_ID, ACCOUNT_NAME, ACCOUNT_KIND = "1a1", "admin", "admin"  # the account key's own (user) account

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

    def __init__(self, name, plural, prefix, base_type, filterable, references, updatable, links, creatable=True):
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
        self.creatable = creatable  # POST on the collection (the envelope's createTypes)


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
# §1.2: the environments, as `project` accounts (id 1a<N>); read only here.
PROJECT = ResourceType(
    name="project", plural="projects", prefix="1a", base_type="account",
    filterable=("created", "description", "id", "kind", "name", "removed", "state", "uuid"),
    references={"id": "1a"}, updatable=(), links=(), creatable=False)

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


def environment_number(environment_id):
    """The N of an environment id 1a<N>; 0 for another form (one environment may have any id)."""
    return number_of(environment_id, "1a") or 0


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


class Environment:
    """One Rancher 1.x environment (a `project` account, §1.2) with its own registry and credential
    rows (§1.4, §1.5); also the account key's own user account, whose rows an un-scoped request of
    that key sees (§1.2: "normally none"). `row` holds its fields as the `project` collection shows
    them (§1.3 Resources)."""

    def __init__(self, environment_id, name, kind="project", uuid_text=None, created=None):
        self.id = environment_id
        self.name = name
        self.kind = kind
        created_text, created_ts = created or now_fields()
        self.row = {"id": environment_id, "name": name, "description": None, "kind": kind, "state": "active",
                    "uuid": uuid_text or str(uuid.uuid4()), "created": created_text, "createdTS": created_ts,
                    "removed": None}
        self.tables = {REGISTRY.name: {}, CREDENTIAL.name: {}}  # type name -> {number: row}

    def get(self, rtype, formatted_id):
        number = number_of(formatted_id, rtype.prefix)
        return None if number is None else self.tables[rtype.name].get(number)

    def rows(self, rtype):
        """All rows in ascending id order (§1.3), removed ones included."""
        table = self.tables[rtype.name]
        return [table[number] for number in sorted(table)]

    def summary(self):
        return {"id": self.id, "name": self.name}

    def stored(self):
        """What the control API shows of it: its stored rows, removed ones and secretValue included."""
        return {"id": self.id, "name": self.name,
                "registries": [dict(r, type=REGISTRY.name) for r in self.rows(REGISTRY)],
                "credentials": [dict(r, type=CREDENTIAL.name) for r in self.rows(CREDENTIAL)]}


class Store(BaseStore):
    """Every environment and its registries and credentials (the Cattle database), the account
    key's own account, beside the fault queue and the request log (BaseStore). One lock guards all
    of it. Row ids are global, as in Cattle's tables: 1sp1 in one environment, 1sp2 in another."""

    def __init__(self, start_environments, key_environment):
        self.start_environments = list(start_environments)  # [(id, name)]: the world at start
        self.key_environment = key_environment  # the id of the environment key's environment
        super().__init__()

    def reset(self):
        with self.lock:
            self.environments = {}  # id -> Environment, in the order they were added
            self.environments_by_name = {}
            self.next_environment_number = max(environment_number(i) for i, _ in self.start_environments) + 1
            for index, (environment_id, name) in enumerate(self.start_environments):
                # The environments at start date from the install; the first is Cattle's "adminProject".
                self.add_environment(name, environment_id, uuid_text="adminProject" if index == 0 else None,
                                     created=("2017-06-01T10:00:00Z", 1496311200000))
            self.account = Environment(ACCOUNT_ID, ACCOUNT_NAME, kind=ACCOUNT_KIND)
            self.owners = {REGISTRY.name: {}, CREDENTIAL.name: {}}  # type name -> {number: Environment}
            self.next_number = {REGISTRY.name: 1, CREDENTIAL.name: 1}
            self.last_created_ts = 0
            self.pending = []  # (row, final state): transitions that complete at the next request
            super().reset()

    # ---- environments --------------------------------------------------------------------------

    def add_environment(self, name, environment_id=None, **fields):
        """Adds an environment (id 1a<next number> unless given); the caller checks name and id."""
        if environment_id is None:
            environment_id = f"1a{self.next_environment_number}"
        self.next_environment_number = max(self.next_environment_number, environment_number(environment_id) + 1)
        environment = Environment(environment_id, name, **fields)
        self.environments[environment_id] = environment
        self.environments_by_name[name] = environment
        return environment

    def remove_environment(self, environment):
        """Drops an environment and its rows (ids are not reused)."""
        del self.environments[environment.id]
        del self.environments_by_name[environment.name]
        for rtype in RESOURCE_TYPES:
            for number in environment.tables[rtype.name]:
                self.owners[rtype.name].pop(number, None)

    def find_environment(self, id_or_name):
        """The environment with this id, else with this name, else None."""
        if not isinstance(id_or_name, str):
            return None
        return self.environments.get(id_or_name) or self.environments_by_name.get(id_or_name)

    def environments_in_order(self):
        """Every environment in ascending id order (§1.3)."""
        return sorted(self.environments.values(), key=lambda e: environment_number(e.id))

    # ---- rows ----------------------------------------------------------------------------------

    # Rows are dicts of the stored fields, named as in the API; secretValue and email always kept.
    def new_row(self, environment, rtype, state, fields):
        # Rows stored later are never older: createdTS follows the ids even if the clock steps back.
        created, created_ts = now_fields(self.last_created_ts)
        self.last_created_ts = created_ts
        number = self.next_number[rtype.name]
        self.next_number[rtype.name] += 1
        row = {"id": f"{rtype.prefix}{number}", "kind": rtype.name, "accountId": environment.id, "state": state,
               "name": None, "description": None, "created": created, "createdTS": created_ts,
               "removed": None, "removedTS": None, "transitioning": None, "transitioningMessage": None,
               "transitioningProgress": None, "uuid": str(uuid.uuid4())}
        if rtype is REGISTRY:
            row.update({"serverAddress": None, "externalId": None, "driverName": None, "volumeAccessMode": None,
                        "blockDevicePath": None, "volumeCapabilities": None})
        else:
            row.update({"registryId": None, "publicValue": None, "secretValue": None, "email": None})
        row.update(fields)
        environment.tables[rtype.name][number] = row
        self.owners[rtype.name][number] = environment
        return row

    def find_row(self, rtype, formatted_id):
        """(the environment, the row) of a row of any environment or the account, or (None, None)."""
        number = number_of(formatted_id, rtype.prefix)
        environment = self.owners[rtype.name].get(number) if number is not None else None
        if environment is None:
            return None, None
        return environment, environment.tables[rtype.name][number]

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
    def __init__(self, store, access_key, secret_key, account_key=None):
        self.store = store
        self.access_key = access_key  # the environment key (§1.2): sees its one environment
        self.secret_key = secret_key
        self.account_key = account_key  # (access, secret) of the account key (§1.2): sees every one, or None

    # ---- hooks of the shared request plumbing (stand_in_server.BaseApi) -------------------------

    def request_arrived(self):
        # Transitions started by earlier requests complete now (rows reach `active` etc.).
        self.store.complete_transitions()

    def error_response(self, status, code=None, message=None, field_name=None, headers=()):
        return Response(status, error_body(status, code, message, field_name), headers)

    def reason_phrase(self, status):
        return reason_phrase(status)

    # ---- authentication and routing ----------------------------------------------------------

    def caller(self, headers):
        """§1.2: HTTP Basic with the environment key ("environment") or the account key
        ("account"); None when neither matches."""
        value = headers.get("Authorization", "")
        scheme, _, encoded = value.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        if not sep:
            return None
        pairs = [("environment", (self.access_key, self.secret_key))]
        if self.account_key is not None:
            pairs.append(("account", self.account_key))
        for caller, (access, secret) in pairs:
            if secrets.compare_digest(user.encode(), access.encode()) \
                    and secrets.compare_digest(password.encode(), secret.encode()):
                return caller
        return None

    def scope(self, caller, chosen_ids):
        """The environment a request acts on (§1.2). `chosen_ids`: the project ids the request names,
        in the order path, X-API-Project-Id, ?projectId= (each may be None). An unparseable id is
        400 InvalidFormat, an environment the caller cannot access 403. The environment key always
        acts on its own environment; the account key on the first one named, else on its own
        account (un-scoped: its own rows, none unless created so)."""
        if caller == "environment":
            own = self.store.environments[self.store.key_environment]
            accessible = {own.id: own}.get
        else:
            own = self.store.account
            accessible = self.store.environments.get
        scoped = None
        for project_id in chosen_ids:
            if not project_id:
                continue
            environment = accessible(project_id)
            if environment is None:
                if number_of(project_id, "1a") is None:
                    raise ApiError(400, "InvalidFormat", "InvalidFormat")
                raise ApiError(403)
            scoped = scoped or environment
        return scoped or own

    @staticmethod
    def account_headers(sub_path, origin, caller, environment):
        # §1.1: every authenticated response carries these; X-API-Schemas names the schemas
        # collection under the same sub-path. For an environment key the account is the project.
        user = environment.id if caller == "environment" else ACCOUNT_ID
        return [("X-API-Schemas", f"{origin}{sub_path}/schemas"),
                ("X-API-Account-Id", environment.id), ("X-API-User-Id", user),
                ("X-API-Account-Kind", environment.kind), ("X-API-Account-Name", environment.name)]

    def handle(self, method, host, path, query, body, headers):
        segments = [s for s in path.split("/") if s]
        if not segments:
            return Response(200, self.versions_root(f"http://{host}"))
        if segments[0] not in VERSIONS:
            return Response(404, error_body(404))

        with self.store.lock:
            # §1.2: authenticate first; 401 with a challenge unless X-API-No-Challenge: true. An
            # environment key whose environment was removed is gone with it.
            caller = self.caller(headers)
            if caller == "environment" and self.store.key_environment not in self.store.environments:
                caller = None
            if caller is None:
                extra = []
                if headers.get("X-API-No-Challenge", "").strip().lower() != "true":
                    extra.append(("WWW-Authenticate", f'Basic realm="{REALM}"'))
                return Response(401, error_body(401), extra)

            version, rest = segments[0], segments[1:]
            sub_path = f"/{version}"
            origin = f"http://{host}"
            environment = self.scope(caller, ())  # for the headers of an error in scoping
            try:
                path_project = None
                if len(rest) >= 2 and rest[0] == "projects":
                    path_project = rest[1]
                    sub_path = f"/{version}/projects/{rest[1]}"
                    rest = rest[2:]
                # §1.2: a user key may also choose the project by header or query.
                environment = self.scope(caller, (path_project, headers.get("X-API-Project-Id"),
                                                  dict(parse_qsl(query, keep_blank_values=True)).get("projectId")))
                raw_path = "/" + "/".join(segments)
                request = ApiRequest(method, host, version, sub_path, raw_path, query, body, headers)
                request.caller, request.environment = caller, environment
                response = self.route(request, rest)
            except ApiError as error:
                response = Response(error.status, error.body)
            response.headers = self.account_headers(sub_path, origin, caller, environment) + response.headers
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
                return self.list_projects(request)
            raise ApiError(404)  # /projects/<other id> was answered by scope
        rtype = PATH_TYPES.get(name)
        if rtype is None:
            raise ApiError(404)
        environment = request.environment
        if len(rest) == 1:
            if method == "GET":
                return self.list(request, rtype)
            if method == "POST":
                return self.create(request, rtype)
            raise ApiError(405)
        row = environment.get(rtype, rest[1])
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

    def list_projects(self, request):
        """§1.2 "Finding the project id": the environment key sees exactly its one project, the
        account key every environment; filtered, sorted and paged like any collection (§1.3)."""
        if request.caller == "environment":
            environments = [request.environment]
        else:
            environments = self.store.environments_in_order()
        by_id = {e.id: e for e in environments}
        return self.list(request, PROJECT, rows=[e.row for e in environments],
                         render=lambda row: self.project_resource(request, by_id[row["id"]]))

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

    @staticmethod
    def root_links(request, prefix=None):
        prefix = prefix or request.prefix
        links = {"self": prefix, "schemas": prefix + "/schemas", "projects": prefix + "/projects"}
        for rtype in RESOURCE_TYPES:
            links[rtype.plural] = f"{prefix}/{rtype.plural}"
        return links

    def api_root(self, request):
        if "/projects/" in request.prefix:
            return self.project_resource(request, request.environment, request.prefix)
        return {"id": request.version, "type": "apiVersion", "links": self.root_links(request), "actions": {}}

    def project_resource(self, request, environment, self_url=None):
        """An environment as a `project` (baseType account). For the environment key its links
        keep the client's sub-path (the same collections, §1.2); for the account key they lead
        under /<version>/projects/<id>, where that environment's rows are."""
        own_prefix = f"{request.origin}/{request.version}/projects/{environment.id}"
        if request.caller == "environment":
            links = self.root_links(request)
        else:
            links = self.root_links(request, own_prefix)
        links["self"] = self_url or own_prefix
        resource = {"id": environment.id, "type": "project", "baseType": "account", "links": links, "actions": {}}
        resource.update(environment.row)
        return resource

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
            schema("project", "projects", {"name": field("string"), "kind": field("string")}, ["GET"], ["GET"], [],
                   PROJECT.filterable),
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
            registry = request.environment.get(REGISTRY, row["registryId"])
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
            if rtype.creatable:
                envelope["createTypes"] = {rtype.name: request.collection_url(rtype)}
            envelope["sortLinks"] = {f: request.url_with(drop=("sort", "order", "marker"), add=[("sort", f)])
                                     for f in rtype.filterable}
        return envelope

    def list(self, request, rtype, forced=None, rows=None, render=None):
        """§1.3: a collection of `rows` (by default the request's environment's rows of `rtype`),
        each shown by `render` (by default render())."""
        filters = self.parse_filters(request, rtype)
        conditions = {field: list(values) for field, values in filters.items()}
        for field, value in (forced or {}).items():
            conditions.setdefault(field, []).append(("eq", value))

        # §1.3 Removed rows: lists leave out every row whose `removed` is set.
        if rows is None:
            rows = request.environment.rows(rtype)
        rows = [row for row in rows if row["removed"] is None]
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
        data = [render(row) if render else self.render(request, rtype, row) for row in page]
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
            for row in request.environment.rows(REGISTRY):
                if row["removed"] is None and row["state"] not in ("removed", "purged") \
                        and (row["serverAddress"] or "").lower() == address.lower():
                    raise ApiError(400, "ServerAddressUsed", "ServerAddressUsed")
        else:
            # §1.5 Create: registryId required, must name an existing registry (422 InvalidReference).
            registry_id = body.get("registryId")
            if registry_id is None or registry_id == "":
                raise validation_error("MissingRequired", "registryId")
            if request.environment.get(REGISTRY, registry_id) is None:
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
        row = self.store.new_row(request.environment, rtype, "registering", fields)
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

    def remove_row(self, request, rtype, row):
        self.store.transition(row, "removing", "removed")
        if rtype is REGISTRY:  # §1.5: removing a registry also moves its credentials to removed
            for credential in request.environment.rows(CREDENTIAL):
                if credential["registryId"] == row["id"] and credential["removed"] is None:
                    self.store.transition(credential, "removing", "removed")

    def remove(self, request, rtype, row):
        """§1.5: DELETE returns 200 with the resource; only from inactive, requested, registering or
        updating-* (on an active row it is refused, probably with 405)."""
        if row["removed"] is None and row["state"] != "removing":
            if "remove" not in self.actions_for(row):
                raise ApiError(405)
            self.remove_row(request, rtype, row)
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
            self.remove_row(request, rtype, row)
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
        key_environment = store.environments.get(store.key_environment)
        shown = key_environment.stored() if key_environment else {"registries": [], "credentials": []}
        return {"project": store.key_environment,
                "registries": shown["registries"], "credentials": shown["credentials"],
                "environments": {e.id: e.stored() for e in store.environments_in_order()},
                "account": store.account.stored(),
                **store.fault_state()}

    def route_more(self, method, rest, body_bytes):
        if rest and rest[0] in ("registries", "credentials"):
            rtype = REGISTRY if rest[0] == "registries" else CREDENTIAL
            if len(rest) == 1:
                self.expect(method, "POST")
                return self.create(rtype, self.parse(body_bytes))
            if len(rest) == 2:
                self.expect(method, "PATCH", "PUT")
                environment, row = self.store.find_row(rtype, rest[1])
                if row is None:
                    raise ControlError(404, f"no {rtype.name} {rest[1]}")
                self.apply(environment, rtype, row, self.parse(body_bytes), creating=False)
                return Response(200, dict(row, type=rtype.name), cattle=False)
        if rest and rest[0] == "environments":
            if len(rest) == 1:
                self.expect(method, "GET", "POST")
                if method == "GET":
                    return Response(200, {"environments": [dict(e.summary(), registries=len(e.tables[REGISTRY.name]),
                                                                credentials=len(e.tables[CREDENTIAL.name]))
                                                           for e in self.store.environments_in_order()]},
                                    cattle=False)
                return Response(201, self.add_environment(self.parse(body_bytes)).summary(), cattle=False)
            if len(rest) == 2:
                self.expect(method, "GET", "DELETE")
                environment = self.store.find_environment(rest[1])
                if environment is None:
                    raise ControlError(404, f"no environment {rest[1]}")
                if method == "GET":
                    return Response(200, environment.stored(), cattle=False)
                self.store.remove_environment(environment)
                return Response(200, environment.summary(), cattle=False)
        return None

    def add_environment(self, body):
        unknown = set(body) - {"name", "id"}
        if unknown:
            raise ControlError(400, f"unknown fields: {sorted(unknown)}")
        name, environment_id = body.get("name"), body.get("id")
        problem = environment_name_problem(name)
        if problem:
            raise ControlError(400, problem)
        if name in self.store.environments_by_name:
            raise ControlError(409, f"an environment is named {name}")
        if environment_id is not None:
            if number_of(environment_id, "1a") is None or environment_id == ACCOUNT_ID:
                raise ControlError(400, f"id must be 1a<N> (not the account's {ACCOUNT_ID})")
            if environment_id in self.store.environments:
                raise ControlError(409, f"environment {environment_id} exists")
        return self.store.add_environment(name, environment_id)

    def environment_of(self, body, default):
        """The environment named by the body's `environment` (an id or a name), else `default`."""
        if "environment" not in body:
            if default is None:
                raise ControlError(400, "the environment key's environment is gone: name an environment")
            return default
        environment = self.store.find_environment(body["environment"])
        if environment is None:
            raise ControlError(400, f"no environment {body['environment']}")
        return environment

    def create(self, rtype, body):
        body = dict(body)
        key_environment = self.store.environments.get(self.store.key_environment)
        if rtype is CREDENTIAL:
            # By default a credential goes where its registry is.
            owner, _ = self.store.find_row(REGISTRY, body.get("registryId"))
            environment = self.environment_of(body, owner or key_environment)
        else:
            environment = self.environment_of(body, key_environment)
        body.pop("environment", None)
        fields = control_fields(body, rtype, creating=True)
        if rtype is CREDENTIAL and environment.get(REGISTRY, fields["registryId"]) is None:
            raise ControlError(400, f"no registry {fields['registryId']} in environment {environment.id}")
        state = fields.pop("state", None) or ("removed" if body.get("removed") else "active")
        row = self.store.new_row(environment, rtype, state, fields)
        if body.get("removed"):
            Store.mark_removed(row)
        return Response(201, dict(row, type=rtype.name), cattle=False)

    def apply(self, environment, rtype, row, body, creating):
        fields = control_fields(body, rtype, creating)
        if rtype is CREDENTIAL and "registryId" in fields and environment.get(REGISTRY, fields["registryId"]) is None:
            raise ControlError(400, f"no registry {fields['registryId']} in environment {environment.id}")
        row.update(fields)
        if "removed" in body:
            if body["removed"]:
                if row["removed"] is None:
                    Store.mark_removed(row)
            else:
                row["removed"] = row["removedTS"] = None


def environment_name_problem(name):
    """Why `name` cannot name an environment here (names are unique, for the control API), or None."""
    if not isinstance(name, str) or not name.strip():
        return "name must be a non-empty string"
    if "," in name:
        return "name must not contain ','"
    return None


# --------------------------------------------------------------------------------------------------
# Process

MAX_ENVIRONMENTS = 100000


def parse_arguments():
    def add_options(parser):
        parser.add_argument("--access-key", help="the environment API key's access key (default: a random one)")
        parser.add_argument("--secret-key", help="the environment API key's secret key (default: a random one)")
        parser.add_argument("--project", default="1a5",
                            help="the project id of the (first) environment, the environment key's (default: 1a5); "
                                 "more environments get the ids that follow")
        several = parser.add_mutually_exclusive_group()
        several.add_argument("--environments", metavar="NAME[,NAME...]",
                             help="serve these environments (unique names), with ids from --project up "
                                  "(default: one environment, \"Default\")")
        several.add_argument("--environment-count", type=int, metavar="N",
                             help="serve N environments named env-1..env-N, with ids from --project up")
        parser.add_argument("--account-key", nargs="?", const="", metavar="ACCESS:SECRET",
                            help="also accept this account (user) API key, which sees every environment "
                                 "(no value: a random one)")

    parser, args = stand_in_server.parse_arguments(__doc__.split("\n\n")[0], add_options)
    for name in ("access_key", "secret_key"):
        value = getattr(args, name)
        if value is not None and (value == "" or ":" in value and name == "access_key"):
            parser.error(f"--{name.replace('_', '-')} must be non-empty (and the access key without ':')")
    if not args.project:
        parser.error("--project must be non-empty")
    if args.environments is not None:
        args.names = args.environments.split(",")
        for name in args.names:
            if environment_name_problem(name):
                parser.error(f"--environments: {name!r} is not a name")
        if len(set(args.names)) != len(args.names):
            parser.error("--environments: the names must be unique")
    elif args.environment_count is not None:
        if not 1 <= args.environment_count <= MAX_ENVIRONMENTS:
            parser.error(f"--environment-count must be 1 to {MAX_ENVIRONMENTS}")
        args.names = [f"env-{n}" for n in range(1, args.environment_count + 1)]
    else:
        args.names = ["Default"]
    if len(args.names) > 1 and number_of(args.project, "1a") is None:
        parser.error("--project must be 1a<N> when there are several environments")
    args.account = None
    if args.account_key is not None:
        if args.account_key:
            access, sep, secret = args.account_key.partition(":")
            if not (access and sep and secret):
                parser.error("--account-key must be ACCESS:SECRET, both non-empty")
            args.account = (access, secret)
        if args.project == ACCOUNT_ID:
            parser.error(f"--project {ACCOUNT_ID} is the account key's own account")
    return parser, args


def main():
    parser, args = parse_arguments()
    upper = "ABCDEF0123456789"
    lower = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    access_key = args.access_key or random_key(20, upper)  # Rancher API keys look like this
    secret_key = args.secret_key or random_key(40, lower)
    account = args.account
    if args.account_key is not None and account is None:
        account = (random_key(20, upper), random_key(40, lower))
    if account is not None and account[0] == access_key:
        parser.error("--account-key must have another access key than the environment key")

    first = number_of(args.project, "1a")
    if first is None:  # one environment with a free-form id (kept from before: any id is accepted)
        environments = [(args.project, args.names[0])]
    else:
        environments = [(f"1a{first + n}", name) for n, name in enumerate(args.names)]
    store = Store(environments, args.project)
    api = RancherApi(store, access_key, secret_key, account)
    description = {"access_key": access_key, "secret_key": secret_key, "project": args.project}
    if account is not None:
        description.update(account_access_key=account[0], account_secret_key=account[1])
    stand_in_server.serve("rancher_stand_in", args, store, api, Control(store), description)


if __name__ == "__main__":
    main()
