"""The two EXAMPLE scenarios of the doveadm-kick man pages, with real
anvil-echod processes and real clients; documentation addresses are mapped
onto loopback (2001:db8::/32 and fd95::/16 onto ::1, 192.0.2.0/24 onto
127.0.2.0/24)."""

import datetime
import os
import time
import unittest

from harness import Stack


class SeedExampleMasks(Stack):
    """doveadm who -1 ja* / kick jan? (2.4) and kick ba? (2.3)."""

    def setUp(self):
        super().setUp()
        self.imap4 = self.start_echod("imap", "127.0.0.1:0")
        self.imap6 = self.start_echod("imap", "[::1]:0")
        self.pop3 = self.start_echod("pop3", "127.0.0.1:0")
        c = {}
        c["jane6"] = self.connect(self.imap6, "::1", "jane")
        c["janet"] = self.connect(self.imap6, "::1", "janet")
        c["jano"] = self.connect(self.imap4, "127.0.0.2", "jano")
        c["james"] = self.connect(self.imap4, "127.0.0.3", "james")
        c["bar"] = self.connect(self.imap4, "127.0.0.5", "bar")
        c["baz"] = self.connect(self.imap4, "127.0.0.6", "baz")
        c["barn"] = self.connect(self.imap4, "127.0.0.7", "barn")
        c["ba"] = self.connect(self.imap4, "127.0.0.8", "ba")
        c["jane_pop3"] = self.connect(self.pop3, "127.0.0.9", "jane")
        c["BAR_pop3"] = self.connect(self.pop3, "127.0.0.10", "BAR")
        self.c = c
        self.wait_for_sessions(len(c))

    def assert_alive_exactly(self, kicked, reason="Disconnected by administrator"):
        for name, client in self.c.items():
            if name in kicked:
                self.assertEqual(client.read_bye(), f"BYE {reason}", name)
            else:
                self.assertTrue(client.alive(), f"{name} should still be connected")

    def test_who_dash_one_ja_star(self):
        code, out, err = self.anvilctl("who", "-1", "ja*")
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(),
                         ["username", "service", "pid", "ip", "dest_ip", "conn_id", "uid", "started"])
        rows = [line.split() for line in lines[1:]]
        for r in rows:
            self.assertEqual(r[6], str(os.getuid()))  # the uid echod registered as
        self.assertEqual([r[0] for r in rows], ["james", "jane", "jane", "janet", "jano"])
        by_user = {(r[0], r[3]): r for r in rows}
        self.assertEqual(by_user[("jane", "::1")][1], "imap")
        self.assertEqual(by_user[("jane", "::1")][2], str(self.imap6.pid))
        self.assertEqual(by_user[("jane", "127.0.0.9")][1], "pop3")
        self.assertEqual(by_user[("jano", "127.0.0.2")][2], str(self.imap4.pid))
        for r in rows:
            self.assertEqual(r[4], "-")  # not proxied
            self.assertRegex(r[5], "^[0-9a-f]{32}$")
            started = datetime.datetime.strptime(r[7], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc)
            self.assertLess(abs(time.time() - started.timestamp()), 600)  # registered just now

    def test_kick_jan_question_mark(self):
        code, out, err = self.anvilctl("kick", "jan?")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "kicked connections from the following users:\njane jano\n")
        self.assert_alive_exactly({"jane6", "jano", "jane_pop3"})
        self.assertEqual(self.who_users(),
                         ["BAR", "ba", "bar", "barn", "baz", "james", "janet"])

    def test_kick_ba_question_mark(self):
        code, out, err = self.anvilctl("kick", "ba?")
        self.assertEqual(code, 0, err)
        # Plain names and masks follow one rule: ASCII case-insensitive.
        self.assertEqual(out, "kicked connections from the following users:\nBAR bar baz\n")
        self.assert_alive_exactly({"bar", "baz", "BAR_pop3"})


class SeedExampleUserAndNetwork(Stack):
    """doveadm who -1 foo / kick foo 192.0.2.0/24 / who f*."""

    def setUp(self):
        super().setUp()
        self.imap4 = self.start_echod("imap", "127.0.0.1:0")
        self.imap6 = self.start_echod("imap", "[::1]:0")
        self.foo6 = self.connect(self.imap6, "::1", "foo")
        self.foo53 = self.connect(self.imap4, "127.0.2.53", "foo")
        self.foo111 = self.connect(self.imap4, "127.0.2.111", "foo")
        self.bob = self.connect(self.imap4, "127.0.2.60", "bob")       # same net, other user
        self.carol = self.connect(self.imap6, "::1", "carol")          # same process as foo6
        self.wait_for_sessions(5)

    def test_who_then_kick_user_in_network(self):
        code, out, err = self.anvilctl("who", "-1", "foo")
        self.assertEqual(code, 0, err)
        ips = sorted(line.split()[3] for line in out.splitlines()[1:])
        self.assertEqual(ips, ["127.0.2.111", "127.0.2.53", "::1"])

        code, out, err = self.anvilctl("kick", "foo", "127.0.2.0/24")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "kicked connections from the following users:\nfoo\n")
        self.assertEqual(self.foo53.read_bye(), "BYE Disconnected by administrator")
        self.assertEqual(self.foo111.read_bye(), "BYE Disconnected by administrator")
        self.assertTrue(self.foo6.alive())
        self.assertTrue(self.bob.alive())
        self.assertTrue(self.carol.alive())

        code, out, err = self.anvilctl("who", "f*")
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["username", "#", "service", "(pids)", "(ips)"])
        self.assertEqual([line.split() for line in lines[1:]],
                         [["foo", "1", "imap", f"({self.imap6.pid})", "(::1)"]])


if __name__ == "__main__":
    unittest.main()
