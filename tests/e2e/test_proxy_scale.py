"""One anvil-proxy process holds 10,000 concurrent sessions, each
registered with anvild, and a kick by network drops every one of them with
the protocol's goodbye. No timing is asserted; every wait is bounded."""

import json
import resource
import socket
import unittest

from harness import Stack, start_proxy, wait_until

SESSIONS = 10_000


def raise_own_fd_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(needed, hard)), hard))


class ProxyScale(Stack):

    def test_ten_thousand_sessions_in_one_process(self):
        raise_own_fd_limit(SESSIONS + 1000)
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.assertGreaterEqual(limit, SESSIONS + 500,
                                "this machine does not allow enough open files for the test")
        proxy = start_proxy(self, {"imap_listen": "127.0.0.1:0", "pop3_listen": "127.0.0.1:0",
                                   "login_timeout": "10min"})
        clients = []
        try:
            for i in range(SESSIONS):
                # Spread over source addresses and both protocols.
                source = f"127.0.1.{1 + i % 200}"
                port = proxy.ports["imap" if i % 2 == 0 else "pop3"]
                sock = socket.create_connection(("127.0.0.1", port), timeout=30,
                                                source_address=(source, 0))
                clients.append(sock)
            for i, sock in enumerate(clients):
                greeting = sock.recv(256)
                self.assertTrue(greeting.startswith(b"* OK" if i % 2 == 0 else b"+OK"), greeting)
            self.assertIsNone(proxy.poll(), "the proxy died")

            def registered():
                code, out, _ = self.anvilctl("who", "-1", "127.0.1.0/24",
                                             global_args=("-f", "json"))
                return code == 0 and len(json.loads(out)) == SESSIONS

            self.assertTrue(wait_until(registered, timeout=60), "not every session is registered")
            code, out, err = self.anvilctl("kick", "--reason", "Scale test", "127.0.1.0/24",
                                           global_args=("-f", "json"))
            self.assertEqual(code, 0, err)
            rows = json.loads(out)
            self.assertEqual(len(rows), SESSIONS)
            self.assertEqual({row["result"] for row in rows}, {"kicked"})
            for i, sock in enumerate(clients):
                expected = (b"* BYE [UNAVAILABLE] Scale test\r\n" if i % 2 == 0
                            else b"-ERR [SYS/TEMP] Scale test\r\n")
                self.assertEqual(sock.recv(256), expected)
            code, out, err = self.anvilctl("who", "-1", global_args=("-f", "json"))
            self.assertTrue(wait_until(lambda: self.who_users() == [], timeout=60))
        finally:
            for sock in clients:
                sock.close()


if __name__ == "__main__":
    unittest.main()
