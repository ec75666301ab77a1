"""anvil-httpd against hostile and broken clients: oversized headers and
bodies, request smuggling, malformed requests, slow clients, many clients
at once, and anvild down or frozen. The server answers each with a clear
status, stays up, and never blocks anvild or other clients."""

import json
import re
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import wait_until
from httpd_harness import HttpdStack


def request(method, path, key, body=b"", extra=b""):
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {key}\r\n").encode() + extra
    if body:
        head += f"Content-Length: {len(body)}\r\n".encode()
    return head + b"\r\n" + body


def status_codes(data):
    """The status of each response in what a server sent (bodies end in LF,
    so a response may start right after one)."""
    return [int(code) for code in re.findall(rb"(?:^|\n)HTTP/1\.1 (\d{3}) ", data)]


class Limits(HttpdStack):
    httpd_options = ["-o", "request_timeout=1s", "-o", "max_body_size=4096",
                     "-o", "max_header_size=2048"]

    def setUp(self):
        super().setUp()
        self.echod = self.start_echod()
        self.jane = self.connect(self.echod, "127.0.0.2", "jane")
        self.john = self.connect(self.echod, "127.0.0.3", "john")
        self.wait_for_sessions(2)

    def assert_nobody_kicked(self):
        self.assertTrue(self.jane.alive() and self.john.alive())
        self.assertEqual(self.who_users(), ["jane", "john"])

    def assert_serving(self):
        code, _, text = self.curl("/api/v1/sessions", key=self.read_key)
        self.assertEqual((code, json.loads(text)["total"]), (200, 2))
        self.assertIsNone(self.httpd.poll())

    def test_oversized_headers_and_bodies_are_refused_and_not_run(self):
        answer = self.raw(request("GET", "/api/v1/sessions", self.read_key,
                                  extra=b"X-Padding: " + b"a" * 4096 + b"\r\n"))
        self.assertEqual(status_codes(answer), [431])
        body = json.dumps({"q": "jane", "reason": "x" * 8000}).encode()
        answer = self.raw(request("POST", "/api/v1/kick", self.kick_key, body))
        self.assertEqual(status_codes(answer), [413])
        code, _, _ = self.curl("/api/v1/kick", key=self.kick_key,
                               data=json.dumps({"q": "jane", "pad": "y" * 100_000}))
        self.assertEqual(code, 413)
        self.assert_nobody_kicked()
        self.assert_serving()

    def test_request_smuggling_is_refused_and_the_smuggled_request_never_runs(self):
        smuggled = request("POST", "/api/v1/kick", self.kick_key, b'{"q":"jane"}')
        attempts = [
            # Content-Length and Transfer-Encoding together (CL.TE / TE.CL).
            (b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled),
            (b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
             b"Content-Length: 5\r\n\r\n0\r\n\r\n" + smuggled),
            # A coding other than chunked, or chunked twice: no length known.
            (b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n" + smuggled),
            (b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled),
            (b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n" + smuggled),
            # Two different lengths.
            (b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
             b"Content-Length: 40\r\n\r\n" + smuggled),
            # Malformed framing and start lines.
            (b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + smuggled),
            (b"GET /api/v1/sessions HTTP/9.9\r\n\r\n" + smuggled),
            (b"GARBAGE\r\n\r\n" + smuggled),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 64),  # TLS on the plain port
        ]
        for attempt in attempts:
            answer = self.raw(attempt)
            codes = status_codes(answer)
            self.assertEqual(codes, [400], (attempt[:90], answer[:200]))
        self.assert_nobody_kicked()
        self.assert_serving()

    def test_malformed_bodies_unknown_paths_and_methods(self):
        for body in (b"{", b"[]", b"\xff\xfe", b'{"q": 5}', b"null"):
            answer = self.raw(request("POST", "/api/v1/kick", self.kick_key, body))
            self.assertEqual(status_codes(answer), [400], body)
        self.assertEqual(self.curl("/api/v1/nothing", key=self.read_key)[0], 404)
        self.assertEqual(self.curl("/nothing.html")[0], 404)
        self.assertEqual(self.curl("/api/v1/kick", key=self.kick_key)[0], 405)
        self.assertEqual(self.curl("/api/v1/sessions", key=self.kick_key, method="DELETE")[0], 405)
        self.assertEqual(self.curl("/api/v1/bans/abc", key=self.kick_key, method="DELETE")[0], 400)
        # Pipelined requests are answered in order on one connection.
        pipelined = request("GET", "/api/v1/whoami", self.read_key) * 3
        answer = self.raw(pipelined.replace(b"Host: 127.0.0.1", b"Host: 127.0.0.1\r\nConnection: keep-alive"),
                          read_timeout=3)
        self.assertEqual(status_codes(answer), [200, 200, 200])
        self.assert_nobody_kicked()
        self.assert_serving()

    def test_slow_clients_are_dropped_and_never_hold_up_others(self):
        slow = []
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", self.httpd.port), timeout=10)
            s.sendall(b"GET /api/v1/sessions HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            slow.append(s)
        self.addCleanup(lambda: [s.close() for s in slow])
        started = time.monotonic()
        self.assert_serving()
        self.assertLess(time.monotonic() - started, 5)
        # request_timeout (1 s) ends each of them.
        for s in slow:
            s.settimeout(10)
            self.assertEqual(s.recv(100), b"")
        # A client that sends its body a byte at a time is cut off too.
        with socket.create_connection(("127.0.0.1", self.httpd.port), timeout=10) as s:
            s.sendall(request("POST", "/api/v1/kick", self.kick_key, b"")[:-2] +
                      b"Content-Length: 12\r\n\r\n{")
            time.sleep(1.5)
            self.assertEqual(s.recv(100), b"")
        self.assert_nobody_kicked()

    def test_many_clients_at_once_are_all_answered(self):
        results = []

        def client():
            try:
                with socket.create_connection(("127.0.0.1", self.httpd.port), timeout=30) as s:
                    s.sendall(request("GET", "/api/v1/sessions", self.read_key,
                                      extra=b"Connection: close\r\n"))
                    data = b""
                    while chunk := s.recv(65536):
                        data += chunk
                    results.append(status_codes(data))
            except OSError as error:
                results.append(str(error))

        threads = [threading.Thread(target=client) for _ in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        # Each is answered: 200, or 503 when more wait on anvild than the
        # workers take; never a hang or a reset.
        self.assertEqual(len(results), 100)
        for result in results:
            self.assertIn(result, ([200], [503]), result)
        self.assertGreater(results.count([200]), 0)
        self.assert_serving()


class MaxClients(HttpdStack):
    httpd_options = ["-o", "max_clients=5", "-o", "request_timeout=3s"]

    def test_connections_past_max_clients_are_closed_at_once(self):
        held = [socket.create_connection(("127.0.0.1", self.httpd.port), timeout=10) for _ in range(5)]
        self.addCleanup(lambda: [s.close() for s in held])
        time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", self.httpd.port), timeout=10) as extra:
            self.assertEqual(extra.recv(100), b"")
        for s in held:
            s.close()
        self.assertTrue(wait_until(lambda: self.curl("/api/v1/whoami", key=self.read_key)[0] == 200,
                                   timeout=10))


class AnvildDown(HttpdStack):
    httpd_options = ["-o", "anvild_timeout=1s"]

    def test_anvild_stopped_or_frozen_gives_503_not_a_hang(self):
        self.assertEqual(self.curl("/api/v1/sessions", key=self.read_key)[0], 200)
        os.kill(self.anvild.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            code, headers, text = self.curl("/api/v1/sessions", key=self.read_key)
            self.assertEqual(code, 503, text)
            self.assertLess(time.monotonic() - started, 10)
            self.assertIn(("retry-after", "5"), headers)
            self.assertIn("did not answer in time", json.loads(text)["error"])
            code, _, text = self.curl("/doveadm/v1", "-u", f"doveadm:{self.read_key}",
                                      data='[["who",{},"t"]]')
            self.assertEqual(code, 503, text)
            # The page itself does not need anvild.
            self.assertEqual(self.curl("/")[0], 200)
        finally:
            os.kill(self.anvild.pid, signal.SIGCONT)
        self.assertTrue(wait_until(lambda: self.curl("/api/v1/sessions", key=self.read_key)[0] == 200,
                                   timeout=10))
        self.anvild.terminate()
        self.anvild.wait(10)
        started = time.monotonic()
        code, _, text = self.curl("/metrics", key=self.read_key)
        self.assertEqual(code, 503, text)
        self.assertLess(time.monotonic() - started, 5)
        self.assertIn("cannot reach anvild", json.loads(text)["error"])
        self.start_anvild()
        self.assertEqual(self.curl("/metrics", key=self.read_key)[0], 200)


class Tls(HttpdStack):

    def test_https_with_the_configured_certificate(self):
        cert, key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
        httpd = self.start_httpd("-o", "tls_listen=127.0.0.1:0", "-o", f"tls_cert={cert}",
                                 "-o", f"tls_key={key}", listeners=2)
        https = [u for u in httpd.urls if u.startswith("https://")][0]
        code, _, text = self.curl("/api/v1/whoami", "--cacert", cert, key=self.read_key, url=https)
        self.assertEqual((code, json.loads(text)["name"]), (200, "grafana"))
        # Plain HTTP on the TLS port gets no answer, and the server stays up.
        port = int(https.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\n\r\n")
            self.assertNotIn(b"HTTP/1.1 200", s.recv(1000))
        self.assertEqual(self.curl("/api/v1/whoami", "--cacert", cert, key=self.read_key,
                                   url=https)[0], 200)

    def test_bad_settings_exit_78_with_one_line(self):
        from harness import BIN
        for args, message in (
                (["-o", "tls_listen=127.0.0.1:0"], "tls_listen needs tls_cert and tls_key"),
                (["-o", "listen=nowhere"], "invalid value for listen"),
                (["-o", "colour=blue"], "unknown setting: colour"),
                (["-o", f"keys_file={self.dir}/bad-keys"], "line 1: want <name> <role>")):
            with open(f"{self.dir}/bad-keys", "w") as f:
                f.write("just-a-name\n")
            proc = subprocess.run([os.path.join(BIN, "anvil-httpd"), "-o", f"keys_file={self.keys_file}",
                                   *args], capture_output=True, text=True, timeout=30,
                                  stdin=subprocess.DEVNULL)
            self.assertEqual(proc.returncode, 78, proc.stderr)
            self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
            self.assertIn(message, proc.stderr)
        proc = subprocess.run([os.path.join(BIN, "anvil-httpd"), "--frobnicate"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 64)


if __name__ == "__main__":
    unittest.main()
