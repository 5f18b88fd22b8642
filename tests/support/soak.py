#!/usr/bin/env python3
"""A soak test with faults: runs the service binary for a while against moto_server (ECR) and the
Rancher stand-in, both behind fault-injecting forwarders, while probes and scrapes hammer /healthz and
/metrics, and checks all the time what the service must never do.

Run by scripts/soak, which starts the stand-ins and exports what they print (AWS_REGION, the IAM user's
AWS keys, AWS_ENDPOINT_URL_ECR, CATTLE_ACCESS_KEY, CATTLE_SECRET_KEY); this program takes the Rancher
stand-in's URL and the binary on its command line.

The forwarders pass about --fault-rate of the requests to a random fault: a 5xx answer, ECR's
ThrottlingException or Rancher's 429, a connection reset before the request is forwarded, a response
cut short after it was (the write happened, the answer is lost), or a delay past the service's
request deadline. The ECR forwarder gives every token it passes a password of its own and a real
12-hour expiresAt, and remembers them, so that the checks can tell an issued, unexpired password from
anything else.

Checked all the time (every --check-interval seconds): each registry's credential in Rancher holds a
password the ECR forwarder issued for that registry's host (never empty, never cut short, never
another host's) whose expiry has not passed, with the username AWS; no registry and no credential is
duplicated. At the end: faults off, the service recovers (/healthz 200 and every credential written
since) within --recovery seconds; resident memory and open descriptors grew no more than the bounds
between the end of the warm-up and the end; SIGTERM gives exit status 0. Prints a summary; exit
status 1 when anything was violated.
"""

import argparse
import base64
import http.client
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("status", "throttle", "reset", "truncate", "delay")
# The service gives a request 15 s (https_client_options::request_timeout); the delay outlasts it.
DELAY_SECONDS = 16
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
              "content-length"}


def log(*words):
    print("soak:", *words, file=sys.stderr, flush=True)


class Issued:
    """The passwords the ECR forwarder handed out: password -> (registry host, expiry in epoch seconds)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.passwords = {}
        self.count = 0

    def issue(self, host):
        with self.lock:
            self.count += 1
            password = f"soak-{self.count}-{os.urandom(6).hex()}"
            expires_at = time.time() + 12 * 3600
            self.passwords[password] = (host, expires_at)
            return password, expires_at

    def lookup(self, password):
        with self.lock:
            return self.passwords.get(password)


class Forwarder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name, upstream, issued=None):
        super().__init__(("127.0.0.1", 0), ForwardingHandler)
        self.name = name
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.issued = issued  # only for ECR
        self.fault_rate = 0.0
        self.lock = threading.Lock()
        self.requests = 0
        self.faults = {fault: 0 for fault in FAULTS}

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def pick_fault(self):
        with self.lock:
            self.requests += 1
            if random.random() >= self.fault_rate:
                return None
            fault = random.choice(FAULTS)
            self.faults[fault] += 1
            return fault

    def rewrite_tokens(self, body):
        """Gives each token of a GetAuthorizationToken answer a password of its own and a real expiry."""
        answer = json.loads(body)
        for entry in answer.get("authorizationData", []):
            host = urlsplit(entry["proxyEndpoint"]).hostname
            password, expires_at = self.issued.issue(host)
            entry["authorizationToken"] = base64.b64encode(f"AWS:{password}".encode()).decode()
            entry["expiresAt"] = expires_at
        return json.dumps(answer).encode()


class ForwardingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except OSError:
            self.close_connection = True

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    def reset(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def answer(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def fault_answer(self, fault):
        ecr = self.server.issued is not None
        if fault == "status":
            if ecr:
                body = json.dumps({"__type": "ServerException", "message": "soak: injected"}).encode()
                return self.answer(500, "application/x-amz-json-1.1", body)
            body = json.dumps({"type": "error", "status": 503, "code": "ServiceUnavailable",
                               "message": "soak: injected"}).encode()
            return self.answer(503, "application/json", body)
        if ecr:
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
            return self.answer(400, "application/x-amz-json-1.1", body)
        body = json.dumps({"type": "error", "status": 429, "code": "TooManyRequests",
                           "message": "soak: injected"}).encode()
        return self.answer(429, "application/json", body)

    def forward(self, body):
        connection = http.client.HTTPConnection(*self.server.upstream, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            connection.request(self.command, self.path, body=body if body else None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = self.server.pick_fault()
        if fault == "reset":
            return self.reset()
        if fault == "delay":
            time.sleep(DELAY_SECONDS)
            return self.reset()
        if fault in ("status", "throttle"):
            return self.fault_answer(fault)
        status, headers, response = self.forward(body)
        if self.server.issued is not None and status == 200:
            response = self.server.rewrite_tokens(response)
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response)))
        self.end_headers()
        if fault == "truncate":
            self.wfile.write(response[: len(response) // 2])
            self.wfile.flush()
            return self.reset()
        self.wfile.write(response)

    do_GET = do_POST = do_PUT = do_DELETE = serve


def rancher_control(rancher, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(rancher + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def process_figures(pid):
    """(RssAnon in KiB, VmRSS in KiB, open descriptors) of the process."""
    figures = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            figures[name] = value.strip()
    kib = lambda name: int(figures.get(name, "0 kB").split()[0])
    return kib("RssAnon"), kib("VmRSS"), len(os.listdir(f"/proc/{pid}/fd"))


class Hammer(threading.Thread):
    """GET /healthz and /metrics in a loop on one kept-alive connection, as probes and scrapers do."""

    def __init__(self, port, stop):
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.answers, self.errors, self.last_error = 0, 0, None

    def run(self):
        connection = None
        while not self.stop.is_set():
            for path in ("/healthz", "/metrics"):
                try:
                    if connection is None:
                        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                    connection.request("GET", path)
                    response = connection.getresponse()
                    response.read()
                    if response.status not in (200, 503):
                        raise RuntimeError(f"{path} answered {response.status}")
                    self.answers += 1
                except (OSError, http.client.HTTPException, RuntimeError) as error:
                    self.errors += 1
                    self.last_error = repr(error)
                    if connection is not None:
                        connection.close()
                    connection = None
            time.sleep(0.005)


def probe(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def metric_sum(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--rancher", required=True, help="the Rancher stand-in's URL")
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--refresh-interval", default="200ms")
    parser.add_argument("--check-interval", type=float, default=0.5)
    parser.add_argument("--warm-up", type=float, default=20.0, help="seconds before the first memory figure")
    parser.add_argument("--recovery", type=float, default=60.0)
    parser.add_argument("--max-rss-growth-kib", type=int, default=1024)
    parser.add_argument("--max-fd-growth", type=int, default=4)
    args = parser.parse_args()

    region = os.environ["AWS_REGION"]
    accounts = ["123456789012", "210987654321"]
    hosts = [f"{account}.dkr.ecr.{region}.amazonaws.com" for account in accounts]
    issued = Issued()
    ecr = Forwarder("ECR", os.environ["AWS_ENDPOINT_URL_ECR"], issued)
    rancher = Forwarder("Rancher", args.rancher)
    for forwarder in (ecr, rancher):
        threading.Thread(target=forwarder.serve_forever, daemon=True).start()

    # The first account's registry exists with an expired password; the second's is created (AUTO_CREATE).
    registry = rancher_control(args.rancher, "POST", "/_control/registries", {"serverAddress": hosts[0]})
    rancher_control(args.rancher, "POST", "/_control/credentials",
                    {"registryId": registry["id"], "publicValue": "AWS", "secretValue": "an-expired-password"})

    port_socket = socket.socket()
    port_socket.bind(("127.0.0.1", 0))
    port = port_socket.getsockname()[1]
    port_socket.close()
    environment = {name: os.environ[name] for name in ("AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    environment.update({
        "PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_ECR": ecr.url,
        "AWS_ECR_REGISTRY_IDS": ",".join(accounts), "CATTLE_URL": rancher.url + "/v2-beta",
        "CATTLE_ACCESS_KEY": os.environ["CATTLE_ACCESS_KEY"], "CATTLE_SECRET_KEY": os.environ["CATTLE_SECRET_KEY"],
        "AUTO_CREATE": "true", "LISTEN_ADDRESS": "127.0.0.1", "LISTEN_PORT": str(port),
        "REFRESH_INTERVAL": args.refresh_interval, "LOG_LEVEL": "warn"})
    service_log = open(os.path.join(os.environ.get("SOAK_WORKDIR", "/tmp"), "soak-service.log"), "w")
    service = subprocess.Popen([args.binary], env=environment, stdout=service_log, stderr=subprocess.STDOUT)
    violations = []

    def violation(text):
        if len(violations) < 20:
            log("VIOLATION:", text)
        violations.append(text)

    # Until both credentials exist with issued passwords, faults stay off: the checks start from there.
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if probe(port, "/healthz")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.1)
    else:
        log("the service did not become healthy; its log:", open(service_log.name).read()[-4000:])
        service.kill()
        return 1

    stop = threading.Event()
    hammers = [Hammer(port, stop) for _ in range(2)]
    for hammer in hammers:
        hammer.start()
    ecr.fault_rate = rancher.fault_rate = args.fault_rate
    started = time.time()
    end = started + args.minutes * 60
    warm_figures = None
    checks = 0
    while time.time() < end:
        if warm_figures is None and time.time() - started >= args.warm_up:
            warm_figures = process_figures(service.pid)
        if service.poll() is not None:
            violation(f"the service exited with status {service.returncode}")
            break
        state = rancher_control(args.rancher, "GET", "/_control/state")
        checks += 1
        check_state(state, hosts, issued, violation)
        time.sleep(args.check_interval)

    # Faults off: every failure must be recovered from.
    ecr.fault_rate = rancher.fault_rate = 0.0
    recovered_at = None
    issued_before = issued.count
    deadline = time.time() + args.recovery
    while time.time() < deadline and service.poll() is None:
        try:
            status, _ = probe(port, "/healthz")
        except OSError:
            status = 0
        if status == 200 and issued.count > issued_before:
            recovered_at = time.time()
            break
        time.sleep(0.2)
    if recovered_at is None:
        violation(f"no recovery within {args.recovery:.0f} s after the faults stopped")
    state = rancher_control(args.rancher, "GET", "/_control/state")
    check_state(state, hosts, issued, violation)
    final_figures = process_figures(service.pid) if service.poll() is None else None
    _, metrics = probe(port, "/metrics") if service.poll() is None else (0, "")
    stop.set()
    for hammer in hammers:
        hammer.join(10)

    service.send_signal(signal.SIGTERM)
    try:
        code = service.wait(10)
    except subprocess.TimeoutExpired:
        service.kill()
        code = "none (still running 10 s after SIGTERM)"
    if code != 0:
        violation(f"exit status after SIGTERM: {code}")

    if warm_figures and final_figures:
        anon_growth = final_figures[0] - warm_figures[0]
        fd_growth = final_figures[2] - warm_figures[2]
        if anon_growth > args.max_rss_growth_kib:
            violation(f"RssAnon grew by {anon_growth} KiB (bound {args.max_rss_growth_kib} KiB)")
        if fd_growth > args.max_fd_growth:
            violation(f"open descriptors grew by {fd_growth} (bound {args.max_fd_growth})")
    probe_errors = sum(h.errors for h in hammers)
    if probe_errors:
        violation(f"{probe_errors} probe errors, the last: {[h.last_error for h in hammers if h.last_error][-1]}")

    minutes = (time.time() - started) / 60
    print(f"soak: {minutes:.1f} min, fault rate {args.fault_rate:.0%}, REFRESH_INTERVAL {args.refresh_interval}")
    print(f"soak: refreshes {metric_sum(metrics, 'rancher_ecr_credentials_refresh_attempts_total'):.0f}, "
          f"failed {metric_sum(metrics, 'rancher_ecr_credentials_refresh_failures_total'):.0f} (all recovered: "
          f"{'yes' if recovered_at else 'no'}), ECR tokens issued {issued.count}")
    for forwarder in (ecr, rancher):
        faults = ", ".join(f"{name} {count}" for name, count in forwarder.faults.items())
        print(f"soak: {forwarder.name} requests {forwarder.requests}, faults injected {sum(forwarder.faults.values())}"
              f" ({faults})")
    print(f"soak: probes and scrapes answered {sum(h.answers for h in hammers)}, errors {probe_errors}; "
          f"state checks {checks}")
    if warm_figures and final_figures:
        print(f"soak: after warm-up RssAnon {warm_figures[0]} KiB, VmRSS {warm_figures[1]} KiB, descriptors "
              f"{warm_figures[2]}; at the end RssAnon {final_figures[0]} KiB, VmRSS {final_figures[1]} KiB, "
              f"descriptors {final_figures[2]}")
    print(f"soak: exit status after SIGTERM {code}")
    print(f"soak: {len(violations)} violations")
    return 1 if violations else 0


def check_state(state, hosts, issued, violation):
    now = time.time()
    registries = [r for r in state["registries"] if not r.get("removed")]
    for host in hosts:
        mine = [r for r in registries if r["serverAddress"].lower().rstrip("/").split("://")[-1] == host]
        if len(mine) > 1:
            violation(f"{len(mine)} registries for {host}")
        for registry in mine:
            credentials = [c for c in state["credentials"]
                           if c["registryId"] == registry["id"] and not c.get("removed")]
            if len(credentials) > 1:
                violation(f"{len(credentials)} credentials on registry {registry['id']} ({host})")
            for credential in credentials:
                password = credential.get("secretValue") or ""
                if password == "an-expired-password":
                    continue  # the seed, before the first write
                found = issued.lookup(password)
                if found is None:
                    violation(f"credential {credential['id']} of {host} holds a password ECR did not issue "
                              f"({len(password)} characters)")
                elif found[0] != host:
                    violation(f"credential {credential['id']} of {host} holds the password issued for {found[0]}")
                elif found[1] <= now:
                    violation(f"credential {credential['id']} of {host} holds an expired password")
                if credential.get("publicValue") != "AWS":
                    violation(f"credential {credential['id']} has username {credential.get('publicValue')!r}")


if __name__ == "__main__":
    sys.exit(main())
