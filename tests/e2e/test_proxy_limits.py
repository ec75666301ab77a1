"""Limits that anvil-proxy asks anvild to count, so that they hold over
every proxy process in front of the same anvild: connections and
connections not yet logged in per client address, connections per user,
and the failed-login penalty of an address (Dovecot's auth penalty)."""

import imaplib
import os
import poplib
import socket
import unittest

from harness import (DovecotServer, RawLineSocket, SourcedIMAP4, Stack, imap_alive, mail_client,
                     proxy_log, start_proxy, wait_until)


def greeting(port, source):
    """Connects from `source` and returns (socket, first line)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    return sock, sock.makefile("rb").readline().decode().rstrip("\r\n")


class ProxyLimits(Stack):
    """Two anvil-proxy processes in front of one Dovecot, both registering
    with the test's anvild."""

    limits = {}

    def setUp(self):
        super().setUp()
        self.dovecot = DovecotServer(self)
        settings = {"imap_listen": "127.0.0.1:0", "pop3_listen": "127.0.0.1:0",
                    "backend_imap": f"127.0.0.1:{self.dovecot.imap_port}",
                    "backend_pop3": f"127.0.0.1:{self.dovecot.pop3_port}",
                    "require_tls_for_login": "no", **self.limits}
        self.proxy_a = start_proxy(self, settings)
        self.proxy_b = start_proxy(self, settings)
        self.open = []
        self.addCleanup(lambda: [s.close() for s in self.open])

    def hold(self, proxy, source, protocol="imap"):
        sock, line = greeting(proxy.ports[protocol], source)
        self.open.append(sock)
        return line

    def login(self, proxy, user, source="127.0.0.1", protocol="imap", password="secret"):
        # Dovecot adds delays of its own after failed logins (its auth
        # penalty for the proxy's address): a generous timeout.
        if protocol == "imap":
            client = SourcedIMAP4(source, "127.0.0.1", proxy.ports[protocol], 40)
        else:
            client = mail_client(protocol, proxy.ports[protocol], source=source)
        self.addCleanup(lambda: client.shutdown() if protocol == "imap" else client.close())
        if protocol == "imap":
            client.login(user, password)
        else:
            client.user(user)
            client.pass_(password)
        return client


class PerAddress(ProxyLimits):

    limits = {"max_connections_per_ip": "2"}

    def test_the_limit_holds_over_both_proxies(self):
        self.assertTrue(self.hold(self.proxy_a, "127.0.0.5").startswith("* OK"))
        self.assertTrue(self.hold(self.proxy_b, "127.0.0.5").startswith("* OK"))
        self.assertEqual(self.hold(self.proxy_a, "127.0.0.5"),
                         "* BYE [UNAVAILABLE] Too many connections from your address")
        self.assertEqual(self.hold(self.proxy_b, "127.0.0.5", "pop3"),
                         "-ERR [SYS/TEMP] Too many connections from your address")
        # Another address is not affected.
        self.assertTrue(self.hold(self.proxy_b, "127.0.0.6").startswith("* OK"))
        self.assertIn("max_connections_per_ip=2", proxy_log(self.proxy_a))
        # The refused connections are gone from the registry.
        self.assertTrue(wait_until(lambda: len(self.who_users("127.0.0.5")) == 2))


class PreLoginPerAddress(ProxyLimits):

    limits = {"max_prelogin_per_ip": "1"}

    def test_only_connections_not_logged_in_count(self):
        jane = self.login(self.proxy_a, "jane", source="127.0.0.7")
        # proxy_a tells anvild of the login on its own channel; proxy_b's
        # count may only be asked once anvild has seen it.
        self.assertTrue(wait_until(lambda: self.who_users("jane") == ["jane"]))
        self.assertTrue(self.hold(self.proxy_b, "127.0.0.7").startswith("* OK"))
        self.assertEqual(self.hold(self.proxy_a, "127.0.0.7"),
                         "* BYE [UNAVAILABLE] Too many connections from your address")
        self.assertTrue(imap_alive(jane))
        self.assertIn("max_prelogin_per_ip=1", proxy_log(self.proxy_a))


class PerUser(ProxyLimits):

    limits = {"max_connections_per_user": "1"}

    def test_a_user_gets_one_connection_over_both_proxies(self):
        jane = self.login(self.proxy_a, "jane")
        self.assertTrue(wait_until(lambda: self.who_users("jane") == ["jane"]))
        with self.assertRaises(imaplib.IMAP4.error) as refused:
            self.login(self.proxy_b, "jane")
        self.assertIn("[LIMIT] Maximum number of connections for this user exceeded",
                      str(refused.exception))
        with self.assertRaises(poplib.error_proto) as refused:
            self.login(self.proxy_b, "JANE", protocol="pop3")
        self.assertIn("-ERR [IN-USE] Maximum number of connections", str(refused.exception))
        self.login(self.proxy_b, "bob")  # another user is fine
        self.assertTrue(imap_alive(jane))
        self.assertEqual(self.who_users("jane", "bob"), ["bob", "jane"])


class LoginPenalty(ProxyLimits):

    limits = {"login_penalty_max": "3s"}

    def penalty(self, ip):
        peer = RawLineSocket(self.admin_socket)
        self.clients.append(peer)
        peer.send(f"VERSION\tanvil\t1\t0\nPENALTY-GET\t{ip}\n")
        return int(peer.line().split()[0])

    def test_failures_raise_the_addresses_penalty_and_a_login_clears_it(self):
        with self.assertRaises(imaplib.IMAP4.error):
            self.login(self.proxy_a, "jane", source="127.0.0.8", password="wrong")
        self.assertTrue(wait_until(lambda: self.penalty("127.0.0.8") == 1))
        # The same stale password again does not escalate; another does,
        # and the other proxy sees the same penalty and waits it out.
        with self.assertRaises(imaplib.IMAP4.error):
            self.login(self.proxy_b, "jane", source="127.0.0.8", password="wrong")
        self.assertEqual(self.penalty("127.0.0.8"), 1)
        self.assertIn("login from 127.0.0.8", proxy_log(self.proxy_b))
        self.assertIn("delayed 2000 ms (failed-login penalty 1)", proxy_log(self.proxy_b))
        with self.assertRaises(imaplib.IMAP4.error):
            self.login(self.proxy_b, "jane", source="127.0.0.8", password="other")
        self.assertTrue(wait_until(lambda: self.penalty("127.0.0.8") == 2))
        self.assertEqual(self.penalty("127.0.0.9"), 0)  # others are not touched
        jane = self.login(self.proxy_a, "jane", source="127.0.0.8")
        self.assertIn("delayed 3000 ms (failed-login penalty 2)", proxy_log(self.proxy_a))
        self.assertTrue(imap_alive(jane))
        self.assertTrue(wait_until(lambda: self.penalty("127.0.0.8") == 0))


if __name__ == "__main__":
    unittest.main()
