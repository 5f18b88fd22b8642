"""What the self-tests of the Rancher stand-ins (rancher_stand_in_test.py, rancher2_stand_in_test.py)
share: a stand-in started as a subprocess exactly as the C++ tests start it, JSON requests to it that
never go through a proxy, and the checks both make of stopping and of the drop and truncate faults.
Not a test itself: the self-tests import it from beside them.
"""

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

# Never through a proxy the environment may name.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def start(script, *arguments):
    """Starts the stand-in `script` (a file name beside this one); returns (process, the
    description line as a dict)."""
    process = subprocess.Popen([sys.executable, os.path.join(HERE, script), *arguments], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("{"):
        process.kill()
        raise AssertionError(f"the stand-in did not start: {line!r} {process.stderr.read()}")
    return process, json.loads(line)


def stop(process):
    """Kills the stand-in if it still runs and closes its pipes."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout=5)
    process.stdout.close()
    process.stderr.close()
    if process.stdin:
        process.stdin.close()


class Answer:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.json = json.loads(raw) if raw else None


def call(method, url, body=None, headers=None):
    """One request; returns an Answer whatever the status. A body that is not bytes goes as JSON."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with OPENER.open(request, timeout=10) as response:
            return Answer(response.status, response.headers, response.read().decode())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read().decode())


class StandInTestCase(unittest.TestCase):
    """One stand-in (`script`) for the whole class, reset before each test; when the class is done,
    end of file on its stdin must stop it cleanly, its stderr empty. A subclass gives `script` and
    authorization() (the Authorization header of the stand-in's key pair, for raw_request), and may
    give `arguments` (the stand-in's command line; none by default)."""

    script = None
    arguments = ()

    @classmethod
    def setUpClass(cls):
        cls.process, cls.info = start(cls.script, *cls.arguments)
        cls.url = cls.info["url"]

    @classmethod
    def tearDownClass(cls):
        cls.process.stdin.close()  # end of file on stdin stops it
        try:
            exit_code = cls.process.wait(timeout=10)
            log = cls.process.stderr.read()
        finally:
            stop(cls.process)
        # It stops cleanly on end of file and stays quiet, faults and errors included.
        if exit_code != 0 or log:
            raise AssertionError(f"the stand-in exited with {exit_code}, stderr: {log!r}")

    def setUp(self):
        self.control("POST", "/_control/reset")

    # ---- helpers -------------------------------------------------------------------------------

    def authorization(self):
        raise NotImplementedError

    def control(self, method, path, body=None, expect=None):
        """A control API request (no authentication); its JSON answer, whose status must be
        `expect`, or below 300 when none is given."""
        answer = call(method, self.url + path, body)
        if expect is None:
            self.assertLess(answer.status, 300, answer.raw)
        else:
            self.assertEqual(answer.status, expect, answer.raw)
        return answer.json

    def state(self):
        return self.control("GET", "/_control/state")

    def raw_request(self, method, path, body=None):
        """An authenticated request on a connection of its own, whose answer is the caller's to read."""
        host, port = self.url[len("http://"):].split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request(method, path, body=json.dumps(body) if body is not None else None,
                           headers={"Authorization": self.authorization(), "Content-Type": "application/json"})
        return connection

    @contextlib.contextmanager
    def another_stand_in(self, *arguments):
        """Another stand-in, started with `arguments`, for the block: (process, description line);
        killed at the end of the block if it still runs."""
        process, info = start(self.script, *arguments)
        try:
            yield process, info
        finally:
            stop(process)

    def add_hold_fault_for_parties(self, path_contains, parties):
        """Queues a hold fault for `parties` GETs whose path contains `path_contains`; checks what
        the control API shows of it (times `parties` by default, seconds 10, no internal state)."""
        fault = self.control("POST", "/_control/faults",
                             {"match": {"method": "GET", "path_contains": path_contains}, "fault": "hold",
                              "parties": parties})
        self.assertEqual((fault["times"], fault["parties"], fault["seconds"]), (parties, parties, 10))
        self.assertNotIn("_gate", fault)

    def wait_until_held(self, count, seconds=10):
        """Waits until hold faults keep `count` answers (for `seconds` at the most); returns how
        many they keep."""
        deadline = time.monotonic() + seconds
        while self.state()["held"] < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.state()["held"]

    def statuses_on_one_connection(self, paths):
        """GETs each path in turn on one raw_request connection, which must stay the same (keep-alive);
        returns the statuses."""
        connection = self.raw_request("GET", paths[0])
        response = connection.getresponse()
        response.read()
        statuses = [response.status]
        sock = connection.sock
        self.assertIsNotNone(sock)
        for path in paths[1:]:
            connection.request("GET", path, headers={"Authorization": self.authorization()})
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            self.assertIs(connection.sock, sock)  # the same connection
        connection.close()
        return statuses

    # ---- checks --------------------------------------------------------------------------------

    def assert_stops_on_end_of_file(self, process):
        process.stdin.close()
        self.assertEqual(process.wait(timeout=5), 0)

    def assert_serve_forever_ignores_stdin_and_stops_on_sigterm(self):
        with self.another_stand_in("--serve-forever") as (process, _):
            process.stdin.close()
            time.sleep(0.3)
            self.assertIsNone(process.poll(), "--serve-forever must ignore stdin")
            process.send_signal(signal.SIGTERM)
            self.assertEqual(process.wait(timeout=5), 0)
            self.assertEqual(process.stderr.read(), "")  # quiet

    def assert_dropped(self, connection):
        """The connection of a raw_request closes without an answer."""
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            connection.getresponse()
        connection.close()

    def assert_truncated(self, connection):
        """The answer on the connection of a raw_request is a 200 with half the body it announces."""
        response = connection.getresponse()
        self.assertEqual(response.status, 200)
        length = int(response.getheader("Content-Length"))
        with self.assertRaises(http.client.IncompleteRead) as raised:
            response.read()
        self.assertEqual(len(raised.exception.partial), length // 2)
        connection.close()
