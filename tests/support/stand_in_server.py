"""What the Rancher stand-ins (rancher_stand_in.py for 1.x, rancher2_stand_in.py for 2.x) share:
the HTTP server and its request plumbing, the fault queue, the request log, the /_control routes
for them, and the process around it all (the one line on stdout, stopping). A stand-in keeps its
own API, its own error body and the rest of its control API, and documents its command line and
its control API as a whole in its docstring; aws_stand_in.py takes the stopping from here too.
Not a script: they import it from beside them (a script run as `python3 tests/support/<name>.py`
has its own directory on sys.path).

The server: 127.0.0.1, threaded, HTTP/1.1 with keep-alive (an idle connection is closed after
IDLE_TIMEOUT_SECONDS), TCP_NODELAY; every answer it composes is JSON, with Content-Type
application/json and a Content-Length. Request bodies are framed by Content-Length or chunked (bad
framing: a 400 in the stand-in's error format, and the connection is closed). A request to
/_control or below goes to the control API: not faulted, not logged. Any other request is logged,
then meets the first queued fault that matches it (if any), then the stand-in's API (BaseApi: its
hooks give the error format, the reason phrases and what else differs).

A fault ({"match":{"method"?,"path_contains"?}, "fault": kind, "times", ...}; see parse_fault)
applies to the next `times` matching requests (method compared case-insensitively, path_contains
a case-insensitive substring of the path). Its kinds:
  status:   answer `status` with the stand-in's error body (its `code`, `message` and `fieldName`
            when given), the stand-in's answer headers and the fault's `headers`; nothing is done;
  delay:    sleep `seconds`, then serve normally;
  drop:     close the connection without answering; nothing is done;
  truncate: serve normally (the change is made), but send only the first half of the body, with
            the full Content-Length, then close;
  hold:     serve normally (the change is made), then keep the answer until `parties` answers of
            this fault are kept (then all go at once), POST /_control/release, a reset, or
            `seconds` pass.
A request log entry is {"method","path","query","body","status","fault"} and what the stand-in's
log_fields adds: body is the parsed JSON (the raw text if it is not JSON) for requests that carry
one, else null; status is null for a dropped request; fault names the fault applied, else null.

The process (serve): prints ONE line on stdout, {"url":"http://127.0.0.1:PORT", ...the stand-in's
fields}, then serves until stdin reaches end of file (so it dies with the test that started it),
SIGTERM or SIGINT; with serve_forever, until SIGTERM or SIGINT only. Anything else printed goes to
stderr, which stays quiet (request lines, never bodies or headers, only when verbose).
"""

import argparse
import http
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

IDLE_TIMEOUT_SECONDS = 60  # an idle keep-alive connection is closed after this long
FAULT_KINDS = ("status", "delay", "drop", "truncate", "hold")


def http_reason_phrase(status):
    """The standard HTTP reason phrase of a status ("Error" for one HTTP does not name)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class Response:
    """An answer: a status, a payload sent as compact JSON, and headers besides Content-Type and
    Content-Length (which are added when it is sent)."""

    def __init__(self, status, payload, headers=None):
        self.status = status
        self.payload = payload
        self.headers = list(headers or [])

    def body_bytes(self):
        return json.dumps(self.payload, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------------------------------
# Stored state: the fault queue, the request log and the held answers


class BaseStore:
    """The fault queue, the request log and the answers kept by hold faults. A stand-in's store
    derives from it and keeps its rows beside them, under the same lock (`lock` guards all of it)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.held_changed = threading.Condition(self.lock)  # hold faults wait on it
        self.held = 0  # answers kept by hold faults now
        self.release_generation = 0  # bumped by POST /_control/release and reset: held answers go
        self.reset()

    def reset(self):
        """No faults, an empty log, held answers go; a stand-in's reset (which __init__ calls too)
        sets its rows up and calls this."""
        with self.lock:
            self.faults = []
            self.requests = []
            self.release_held()

    def fault_state(self):
        """The request log, the fault queue and the held count, as /_control/state shows them."""
        return {"requests": [dict(r) for r in self.requests],
                "faults": [public_fault(f) for f in self.faults], "held": self.held}

    def release_held(self):
        """Lets every answer kept by a hold fault go; returns how many were kept."""
        with self.lock:
            released = self.held
            self.release_generation += 1
            self.held_changed.notify_all()
            return released

    def hold(self, fault):
        """Keeps the calling request's answer until the fault's `parties` are kept together, a
        release, or its `seconds` pass (the caller holds no lock: other requests go on meanwhile)."""
        gate = fault["_gate"]
        deadline = time.monotonic() + fault["seconds"]
        with self.lock:
            generation = self.release_generation
            gate["kept"] += 1
            self.held += 1
            if fault.get("parties") and gate["kept"] >= fault["parties"]:
                gate["open"] = True
                self.held_changed.notify_all()
            try:
                while not gate["open"] and self.release_generation == generation:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self.held_changed.wait(left)
            finally:
                self.held -= 1

    def take_fault(self, method, path):
        with self.lock:
            for fault in self.faults:
                match = fault.get("match") or {}
                if "method" in match and str(match["method"]).upper() != method.upper():
                    continue
                if "path_contains" in match and str(match["path_contains"]).lower() not in path.lower():
                    continue
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self.faults.remove(fault)
                return dict(fault)  # a hold's _gate stays shared with its other requests
        return None


def public_fault(fault):
    """A fault as the control API shows it: without its internal state (keys starting with _)."""
    return {key: value for key, value in fault.items() if not key.startswith("_")}


# --------------------------------------------------------------------------------------------------
# The stand-in's API, as the request plumbing sees it


class ApiRequest:
    """One API request as a stand-in's API sees it: its query's parameters, its body, and its URL
    built from the origin that links use. A stand-in derives its own, with invalid_body()."""

    def __init__(self, method, origin, raw_path, query, body):
        self.method = method
        self.origin = origin
        self.raw_path = raw_path
        self.query = query
        self.params = parse_qsl(query, keep_blank_values=True)
        self.body = body

    def param(self, name):
        for key, value in self.params:
            if key == name:
                return value
        return None

    @property
    def url(self):
        return self.origin + self.raw_path + ("?" + self.query if self.query else "")

    def url_with(self, drop=(), add=()):
        """The request URL without the parameters in `drop` and with `add` appended."""
        params = [(k, v) for k, v in self.params if k not in drop] + list(add)
        query = urlencode(params)
        return self.origin + self.raw_path + ("?" + query if query else "")

    def json_body(self):
        """The body as a JSON object (an empty body is {}: every field missing)."""
        if not self.body.strip():
            return {}
        try:
            value = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise self.invalid_body("the body is not JSON")
        if not isinstance(value, dict):
            raise self.invalid_body("the body is not a JSON object")
        return value

    def invalid_body(self, message):
        """The exception (the stand-in's 422) for a body that is not a JSON object."""
        raise NotImplementedError


class BaseApi:
    """A stand-in's API derives from this; the request plumbing calls these hooks."""

    def handle(self, method, host, path, query, body, headers):
        """The answer (a Response) to an API request; `host` is the Host header in lower case (or
        the server's address when there is none), `body` the raw bytes."""
        raise NotImplementedError

    def error_response(self, status, code=None, message=None, field_name=None, headers=()):
        """An error answer in the stand-in's own format: for bad body framing, a status fault
        (with its code, message and fieldName) and an internal error."""
        raise NotImplementedError

    def reason_phrase(self, status):
        """The reason phrase on the status line."""
        return http_reason_phrase(status)

    def answer_headers(self, host):
        """Headers that a status fault's answer and an internal error's carry (before a fault's own)."""
        return []

    def log_fields(self, headers):
        """Fields the stand-in adds to each request log entry (after the common ones)."""
        return {}

    def request_arrived(self):
        """Called first for every request that is framed well, control requests included."""


# --------------------------------------------------------------------------------------------------
# The control API: state, reset, release and faults; a stand-in routes the rest


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class BaseControl:
    """/_control: plain JSON, no authentication. A stand-in's control derives from this and gives
    state() (the body of GET /_control/state) and route_more() (its own resources)."""

    def __init__(self, store):
        self.store = store

    def handle(self, method, path, body_bytes):
        try:
            return self.route(method, [s for s in path.split("/") if s][1:], body_bytes)
        except ControlError as error:
            return Response(error.status, {"error": error.message})

    @staticmethod
    def parse(body_bytes):
        if not body_bytes.strip():
            return {}
        try:
            value = json.loads(body_bytes)
        except (ValueError, UnicodeDecodeError) as error:
            raise ControlError(400, f"the body is not JSON: {error}")
        if not isinstance(value, dict):
            raise ControlError(400, "the body must be a JSON object")
        return value

    @staticmethod
    def expect(method, *methods):
        if method not in methods:
            raise ControlError(405, f"{method} is not allowed here")

    def state(self):
        raise NotImplementedError

    def route_more(self, method, rest, body_bytes):
        """The answer for the stand-in's own control resources (called under the store's lock), or
        None for a 404."""
        return None

    def route(self, method, rest, body_bytes):
        store = self.store
        with store.lock:
            if rest == ["state"]:
                self.expect(method, "GET")
                return Response(200, self.state())
            if rest == ["reset"]:
                self.expect(method, "POST")
                store.reset()
                return Response(200, {})
            if rest == ["release"]:
                self.expect(method, "POST")
                return Response(200, {"released": store.release_held()})
            if rest == ["faults"]:
                self.expect(method, "GET", "POST", "DELETE")
                if method == "GET":
                    return Response(200, {"faults": [public_fault(f) for f in store.faults]})
                if method == "DELETE":
                    store.faults = []
                    return Response(200, {})
                fault = parse_fault(self.parse(body_bytes))
                store.faults.append(fault)
                return Response(201, public_fault(fault))
            response = self.route_more(method, rest, body_bytes)
            if response is not None:
                return response
        raise ControlError(404, "no such control resource")


def parse_fault(body):
    """A fault from the body of POST /_control/faults (ControlError 400 when it is not one)."""
    kind = body.get("fault")
    if kind not in FAULT_KINDS:
        raise ControlError(400, "fault must be one of status, delay, drop, truncate, hold")
    match = body.get("match") or {}
    if not isinstance(match, dict) or set(match) - {"method", "path_contains"}:
        raise ControlError(400, "match takes only method and path_contains")
    times = body.get("times", 1)
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise ControlError(400, "times must be a positive integer")
    fault = {"match": match, "fault": kind, "times": times}
    if kind == "status":
        status = body.get("status")
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ControlError(400, "a status fault needs an HTTP status")
        fault["status"] = status
        for name in ("code", "message", "fieldName"):
            if name in body:
                fault[name] = body[name]
        headers = body.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ControlError(400, "headers must map names to strings")
        fault["headers"] = headers
    if kind in ("delay", "hold"):
        seconds = body.get("seconds", 10 if kind == "hold" else None)
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= 600:
            raise ControlError(400, f"a {kind} fault needs seconds (0 to 600)")
        fault["seconds"] = seconds
    if kind == "hold":
        parties = body.get("parties")
        if parties is not None and (not isinstance(parties, int) or isinstance(parties, bool) or parties < 1):
            raise ControlError(400, "parties must be a positive integer")
        fault["parties"] = parties
        if parties and "times" not in body:
            fault["times"] = parties  # one answer per party by default
        fault["_gate"] = {"kept": 0, "open": False}  # shared by the requests this fault matches
    return fault


# --------------------------------------------------------------------------------------------------
# HTTP: a small threaded HTTP/1.1 server (keep-alive), with raw socket access for drop/truncate


class StandInServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the listen backlog (5 by default): many clients may connect at once

    def __init__(self, address, name, store, api, control, verbose):
        self.name = name  # e.g. rancher_stand_in: the prefix of stderr lines; the Server header with '-'
        self.store = store
        self.api = api
        self.control = control
        self.verbose = verbose
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):
        # A client going away is normal; anything else is a bug in the stand-in and is reported.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError, socket.timeout)):
            return
        print(f"{self.name}: error while serving a connection:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses connections
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle and delayed ACKs
    # stall every kept-alive answer by about 40 ms.
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_SECONDS

    def version_string(self):  # the Server header
        return self.server.name.replace("_", "-")

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if self.server.verbose:  # request lines only: no bodies, no headers, so no secret
            sys.stderr.write("%s: %s - %s\n" % (self.server.name, self.address_string(), format % args))

    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def read_body(self):
        """The whole request body (Content-Length or chunked), so the connection stays usable."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                if not size_line:
                    raise ConnectionError("the client closed the connection mid-body")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        body = self.rfile.read(length)
        if len(body) != length:
            raise ConnectionError("the client closed the connection mid-body")
        return body

    def handle_any(self):
        method = self.command
        target = urlsplit(self.path)
        path, query = target.path or "/", target.query
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        api = self.server.api
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            self.send(api.error_response(400, "InvalidBodyContent", "bad request body framing"))
            return

        api.request_arrived()
        if path == "/_control" or path.startswith("/_control/"):
            self.send(self.server.control.handle(method, path, body))
            return

        store = self.server.store
        entry = {"method": method, "path": path, "query": query, "body": None, "status": None, "fault": None,
                 **api.log_fields(self.headers)}
        if body:
            try:
                entry["body"] = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                entry["body"] = body.decode("utf-8", "replace")
        with store.lock:  # the log and the fault queue change together, whole
            store.requests.append(entry)
            fault = store.take_fault(method, path)
            kind = fault["fault"] if fault else None
            entry["fault"] = kind

        if kind == "drop":
            self.close_abruptly()
            return
        if kind == "delay":
            time.sleep(fault["seconds"])
        host = (self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]).lower()
        if kind == "status":
            response = api.error_response(fault["status"], fault.get("code"), fault.get("message"),
                                          fault.get("fieldName"),
                                          api.answer_headers(host) + list(fault.get("headers", {}).items()))
        else:
            try:
                response = api.handle(method, host, path, query, body, self.headers)
            except Exception:  # noqa: BLE001 - a bug here must not hang the client
                print(f"{self.server.name}: internal error:", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)
                response = api.error_response(500, headers=api.answer_headers(host))
        with store.lock:
            entry["status"] = response.status
        if kind == "hold":
            store.hold(fault)  # the change is made; only the answer waits
        self.send(response, truncate=(kind == "truncate"))

    def send(self, response, truncate=False):
        payload = response.body_bytes()
        self.send_response(response.status, self.server.api.reason_phrase(response.status))
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if truncate:
            # The full Content-Length was announced; send half the body and close.
            self.wfile.write(payload[:len(payload) // 2])
            self.wfile.flush()
            self.close_abruptly()
            return
        self.wfile.write(payload)

    def close_abruptly(self):
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# --------------------------------------------------------------------------------------------------
# Process


def fail(name, message):
    print(f"{name}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def parse_arguments(description, add_options):
    """The command line: --port, the stand-in's own options (add_options(parser) adds them),
    --serve-forever and --verbose; returns (parser, args), for the stand-in's own checks."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0,
                        help="TCP port on 127.0.0.1 (default: a free one chosen by the system)")
    add_options(parser)
    parser.add_argument("--serve-forever", action="store_true",
                        help="ignore stdin; serve until SIGTERM or SIGINT (for a demo in the background)")
    parser.add_argument("--verbose", action="store_true", help="log each request line to stderr")
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a TCP port")
    return parser, args


def random_key(length, alphabet):
    return "".join(secrets.choice(alphabet) for _ in range(length))


def install_stop_handlers():
    """SIGTERM and SIGINT set the returned event; installed before the line is printed, so that a
    parent that signals as soon as it has read it still gets a clean stop."""
    stop = threading.Event()

    def on_signal(signal_number, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def wait_for_stop(stop, serve_forever):
    if not serve_forever:
        def watch_stdin():
            # The parent test holds our stdin open; its end of file means the parent is gone.
            # os.read, not sys.stdin: a daemon thread blocked in the buffered reader holds its lock
            # and makes the interpreter abort at exit.
            try:
                while os.read(sys.stdin.fileno(), 65536):
                    pass
            except (OSError, ValueError):
                pass
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
    while not stop.wait(1.0):
        pass


def serve(name, args, store, api, control, description):
    """Serves on 127.0.0.1:args.port, prints the line {"url": ..., **description} on stdout and
    returns when stopped (see the module's docstring); args also gives verbose and serve_forever."""
    # The one line goes to the real stdout; anything else printed goes to stderr.
    output = sys.stdout
    sys.stdout = sys.stderr

    try:
        server = StandInServer(("127.0.0.1", args.port), name, store, api, control, args.verbose)
    except OSError as error:
        fail(name, f"cannot serve on 127.0.0.1:{args.port}: {error}")
    stop = install_stop_handlers()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()

    port = server.server_address[1]
    output.write(json.dumps({"url": f"http://127.0.0.1:{port}", **description}, separators=(",", ":")) + "\n")
    output.flush()
    try:
        wait_for_stop(stop, args.serve_forever)
    finally:
        server.shutdown()
        server.server_close()
