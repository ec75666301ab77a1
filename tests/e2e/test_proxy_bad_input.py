"""anvil-proxy against bad input and bad peers: garbage before login, an
8 MB line, TLS garbage, a backend that is down or hangs, clients that
vanish mid-login. Each gets a clear answer or a clean close, and nothing
leaks: the proxy's descriptors return to where they were and anvild holds
no session afterwards."""

import os
import socket
import ssl
import unittest

from harness import (DovecotServer, ScriptedImapBackend, Stack, free_port, make_tls_pair,
                     start_proxy, wait_until)


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class LineClient:
    """A raw connection that reads CRLF lines."""

    def __init__(self, port, tls_context=None, source="127.0.0.1"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15,
                                             source_address=(source, 0))
        if tls_context:
            self.sock = tls_context.wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.file = self.sock.makefile("rb")

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        return self.file.readline().decode("utf-8", "replace")

    def closed(self):
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        self.file.close()
        self.sock.close()


class ProxyBadInput(Stack):

    def setUp(self):
        super().setUp()
        self.cert, self.key = make_tls_pair(self.dir)
        self.context = ssl.create_default_context(cafile=self.cert)
        self.dovecot = DovecotServer(self)
        # A backend that accepts connections (the kernel does, from its
        # backlog) and never says a word.
        self.silent = socket.socket()
        self.silent.bind(("127.0.0.1", 0))
        self.silent.listen(16)
        self.addCleanup(self.silent.close)
        self.proxy = self.start({})
        self.raw = []

    def start(self, settings):
        values = {"imap_listen": "127.0.0.1:0", "imaps_listen": "127.0.0.1:0",
                  "pop3_listen": "127.0.0.1:0", "pop3s_listen": "127.0.0.1:0",
                  "backend_imap": f"127.0.0.1:{self.dovecot.imap_port}",
                  "backend_pop3": f"127.0.0.1:{self.dovecot.pop3_port}",
                  "tls_cert": self.cert, "tls_key": self.key, "backend_timeout": "1s",
                  "require_tls_for_login": "no"}
        values.update(settings)
        proxy = start_proxy(self, values)
        # Descriptors once the proxy is up and its registry connections are made.
        self.assertTrue(wait_until(lambda: len(self.who()) == 0))
        wait_until(lambda: False, timeout=0.3)
        proxy.baseline_fds = open_fds(proxy.pid)
        return proxy

    def who(self):
        code, out, err = self.anvilctl("who", "-1", global_args=("-f", "tab"))
        self.assertEqual(code, 0, err)
        return out.splitlines()[1:]

    def client(self, name, proxy=None, tls=False):
        client = LineClient((proxy or self.proxy).ports[name], self.context if tls else None)
        self.addCleanup(client.close)
        return client

    def assert_nothing_left(self, proxy=None):
        proxy = proxy or self.proxy
        self.assertTrue(wait_until(lambda: self.who() == []), self.who())
        self.assertTrue(wait_until(lambda: open_fds(proxy.pid) == proxy.baseline_fds),
                        f"{open_fds(proxy.pid)} fds open, {proxy.baseline_fds} at start")
        self.assertIsNone(proxy.poll(), "the proxy died")

    def test_garbage_before_login_is_answered_and_the_session_goes_on(self):
        imap = self.client("imap")
        self.assertTrue(imap.line().startswith("* OK"))
        for garbage, answer in ((b"\x00\xff\xfe\x01 junk\r\n", "* BAD Invalid tag."),
                                (b"a\r\n", "* BAD Invalid tag."),
                                (b"a LOGIN\r\n", "a BAD LOGIN takes a user name and a password."),
                                (b"b LOGIN \"x\r\n", "b BAD Unterminated quoted string."),
                                (b"c AUTHENTICATE PLAIN !!!!\r\n",
                                 "c BAD Invalid base64 in authentication response."),
                                (b"d FETCH 1 BODY[]\r\n",
                                 "d BAD Unknown command or not valid before login.")):
            imap.send(garbage)
            self.assertEqual(imap.line(), answer + "\r\n")
        imap.send(b"e LOGIN jane secret\r\n")
        self.assertTrue(imap.line().startswith("e OK"))
        pop3 = self.client("pop3")
        self.assertTrue(pop3.line().startswith("+OK"))
        pop3.send(b"\xff\xfe\r\nRETR 1\r\nAUTH PLAIN ###\r\n")
        self.assertEqual(pop3.line(), "-ERR Unknown command or not valid before login.\r\n")
        self.assertEqual(pop3.line(), "-ERR Unknown command or not valid before login.\r\n")
        self.assertEqual(pop3.line(), "-ERR Invalid base64 in authentication response.\r\n")
        pop3.send(b"USER jane\r\nPASS secret\r\n")
        self.assertEqual(pop3.line(), "+OK\r\n")
        self.assertTrue(pop3.line().startswith("+OK"))
        imap.close()
        pop3.close()
        self.assert_nothing_left()

    def test_too_many_bad_commands_end_the_session(self):
        imap = self.client("imap")
        imap.line()
        imap.send(b"x\r\n" * 10)
        lines = [imap.line() for _ in range(11)]
        self.assertEqual(lines[-1], "* BYE Too many invalid commands.\r\n")
        self.assertTrue(imap.closed())
        self.assert_nothing_left()

    def test_an_8_megabyte_line_is_refused_without_being_kept(self):
        for name, answer, follow_up, expected in (
                ("imap", "* BAD Command line too long.\r\n", b"a NOOP\r\n", "a OK NOOP completed.\r\n"),
                ("pop3", "-ERR Line too long.\r\n", b"NOOP\r\n", "+OK\r\n")):
            with self.subTest(protocol=name):
                client = self.client(name)
                client.line()
                chunk = b"A" * 65536
                for _ in range(128):  # 8 MiB without a line end
                    client.send(chunk)
                client.send(b"\r\n" + follow_up)
                self.assertEqual(client.line(), answer)
                self.assertEqual(client.line(), expected)
                status = open(f"/proc/{self.proxy.pid}/status").read()
                rss_kb = int(status.split("VmRSS:")[1].split()[0])
                self.assertLess(rss_kb, 200 * 1024, "the proxy kept the line")
                client.close()
        self.assert_nothing_left()

    def test_tls_garbage_is_dropped(self):
        for name in ("imaps", "pop3s"):
            with self.subTest(port=name):
                raw = socket.create_connection(("127.0.0.1", self.proxy.ports[name]), timeout=15)
                raw.sendall(b"\x16\x03\x01\x02\x00" + os.urandom(600))
                try:
                    while raw.recv(4096):
                        pass
                except ConnectionResetError:
                    pass
                raw.close()
        imap = self.client("imap")
        imap.line()
        imap.send(b"s STARTTLS\r\n")
        self.assertEqual(imap.line(), "s OK Begin TLS negotiation now.\r\n")
        imap.send(b"GET / HTTP/1.0\r\n\r\n")
        self.assertTrue(imap.closed())
        # Still serving:
        good = self.client("imaps", tls=True)
        self.assertTrue(good.line().startswith("* OK"))
        good.close()
        imap.close()
        self.assert_nothing_left()

    def test_backend_down_or_silent_gives_unavailable(self):
        down = free_port()
        for backend, name in ((down, "down"), (self.silent.getsockname()[1], "silent")):
            with self.subTest(backend=name):
                proxy = self.start({"backend_imap": f"127.0.0.1:{backend}",
                                    "backend_pop3": f"127.0.0.1:{backend}"})
                imap = self.client("imap", proxy)
                imap.line()
                imap.send(b"a LOGIN jane secret\r\n")
                self.assertEqual(imap.line(),
                                 "a NO [UNAVAILABLE] Server is temporarily unavailable.\r\n")
                imap.send(b"b NOOP\r\n")  # the session goes on
                self.assertEqual(imap.line(), "b OK NOOP completed.\r\n")
                pop3 = self.client("pop3", proxy)
                pop3.line()
                pop3.send(b"USER jane\r\nPASS secret\r\n")
                self.assertEqual(pop3.line(), "+OK\r\n")
                self.assertEqual(pop3.line(),
                                 "-ERR [SYS/TEMP] Server is temporarily unavailable.\r\n")
                imap.close()
                pop3.close()
                self.assert_nothing_left(proxy)

    def test_clients_that_vanish_mid_login(self):
        slow = self.start({"backend_imap": f"127.0.0.1:{self.silent.getsockname()[1]}"})
        # Gone while the proxy logs in to a backend that does not answer.
        waiting = self.client("imap", slow)
        waiting.line()
        waiting.send(b"a LOGIN jane secret\r\n")
        waiting.close()
        # Gone after announcing a literal.
        literal = self.client("imap", slow)
        literal.line()
        literal.send(b"b LOGIN {100}\r\n")
        self.assertTrue(literal.line().startswith("+"))
        literal.close()
        # Gone in the middle of AUTHENTICATE and of a TLS handshake.
        auth = self.client("pop3", slow)
        auth.line()
        auth.send(b"AUTH PLAIN\r\n")
        auth.close()
        half = socket.create_connection(("127.0.0.1", slow.ports["imaps"]), timeout=15)
        half.sendall(b"\x16\x03\x01")
        half.close()
        self.assert_nothing_left(slow)

    def test_login_timeout_and_plaintext_refusal(self):
        strict = self.start({"login_timeout": "1s", "secure_networks": "",
                             "require_tls_for_login": "yes"})
        imap = self.client("imap", strict)
        self.assertIn("LOGINDISABLED", imap.line())
        imap.send(b"a LOGIN jane secret\r\n")
        self.assertEqual(
            imap.line(),
            "a NO [PRIVACYREQUIRED] Plaintext authentication is not allowed without TLS.\r\n")
        self.assertEqual(imap.line(), "* BYE Disconnected for inactivity during login.\r\n")
        self.assertTrue(imap.closed())
        pop3 = self.client("pop3s", strict, tls=True)
        pop3.line()
        pop3.send(b"USER jane\r\nPASS secret\r\n")
        self.assertEqual(pop3.line(), "+OK\r\n")
        self.assertTrue(pop3.line().startswith("+OK"))
        pop3.close()
        self.assert_nothing_left(strict)

    def flooded_client(self, tls=False):
        """A logged-in client that reads nothing, behind a backend that
        floods it: the proxy's writes to it stall, and no goodbye can be
        delivered. Returns (proxy, backend thread)."""
        def flood(conn, lines):
            try:
                while True:
                    conn.sendall(b"* flood " + b"x" * 65536 + b"\r\n")
            except OSError:
                pass  # the proxy closed the connection

        backend = ScriptedImapBackend(self, flood)
        proxy = self.start({"backend_imap": f"127.0.0.1:{backend.port}"})
        client = self.client("imaps" if tls else "imap", proxy, tls=tls)
        client.line()
        client.send(b"a LOGIN jane secret\r\n")
        # The connection is registered from accept on; wait for the login.
        self.assertTrue(wait_until(lambda: [row.split("\t")[0] for row in self.who()] == ["jane"]))
        return proxy, backend.thread

    def test_a_kicked_client_that_reads_nothing_is_closed_anyway(self):
        for tls in (False, True):
            with self.subTest(tls=tls):
                proxy, server = self.flooded_client(tls)
                code, out, err = self.anvilctl("kick", "jane")
                self.assertEqual(code, 0, err)
                server.join(30)
                self.assertFalse(server.is_alive(), "the backend side was not closed")
                self.assert_nothing_left(proxy)

    def test_sigterm_exits_even_when_a_client_reads_nothing(self):
        proxy, _ = self.flooded_client()
        proxy.terminate()
        self.assertEqual(proxy.wait(30), 0)  # and no sanitizer report (checked at cleanup)

    def test_unknown_option_and_bad_settings(self):
        import subprocess
        from harness import BIN
        for args, expected_code, text in (
                (["--bogus"], 64, "unknown argument: --bogus"),
                (["-o", "imap_listen=nowhere"], 78, "invalid value for imap_listen"),
                (["-o", "backend_tls=sometimes"], 78, "invalid value for backend_tls"),
                (["-o", "imaps_listen=127.0.0.1:0"], 78, "need tls_cert and tls_key"),
                (["-o", "tls_cert=/nonexistent.pem", "-o", "tls_key=/nonexistent.pem",
                  "-o", "imap_listen=127.0.0.1:0", "-o", "pop3_listen="], 71, "cannot load tls_cert")):
            with self.subTest(args=args):
                proc = subprocess.run([os.path.join(BIN, "anvil-proxy"), *args], capture_output=True,
                                      text=True, timeout=30, stdin=subprocess.DEVNULL)
                self.assertEqual(proc.returncode, expected_code, proc.stderr)
                self.assertIn(text, proc.stderr)


if __name__ == "__main__":
    unittest.main()
