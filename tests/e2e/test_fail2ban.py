"""contrib/fail2ban: the action's own commands, as fail2ban runs them (through
a shell, with its tags filled in), against a running anvild and anvil-echod;
and the anvil-proxy filter against the proxy's log line."""

import configparser
import json
import os
import re
import subprocess
import time
import unittest

from harness import BIN, Stack

CONTRIB = os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "fail2ban")


def read_conf(path):
    parser = configparser.RawConfigParser()
    parser.read(path)
    return parser


class Fail2banAction(Stack):

    def setUp(self):
        super().setUp()
        self.action = read_conf(os.path.join(CONTRIB, "action.d", "anvil.conf"))

    def run_action(self, name, ip, bantime=3600):
        command = self.action.get("Definition", name)
        tags = {"anvilctl": os.path.join(BIN, "anvilctl"), "socket": self.admin_socket,
                "reason": self.action.get("Init", "reason"), "ip": ip, "bantime": str(bantime)}
        for tag, value in tags.items():
            command = command.replace(f"<{tag}>", value)
        self.assertNotRegex(command, r"<\w+>", "a tag fail2ban would fill is left")
        return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)

    def bans(self):
        code, out, err = self.anvilctl("ban", "list", global_args=("-f", "json"))
        self.assertEqual(code, 0, err)
        return {row["net"]: row for row in json.loads(out)}

    def test_ban_kicks_and_bans_the_address_and_unban_lifts_it(self):
        echod = self.start_echod("imap")
        bob = self.connect(echod, "127.0.0.30", "bob")
        alice = self.connect(echod, "127.0.0.31", "alice")
        self.wait_for_sessions(2)
        self.assertEqual(self.run_action("actioncheck", "").returncode, 0)

        done = self.run_action("actionban", "127.0.0.30")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(bob.read_bye(), "BYE Too many failed logins")
        self.assertTrue(alice.alive())
        ban = self.bans()["127.0.0.30/32"]
        self.assertAlmostEqual(ban["expires"] - time.time(), 3600, delta=60)
        again = self.connect(echod, "127.0.0.30")
        again.send("LOGIN bob")
        self.assertEqual(again.readline(), "NO banned: Too many failed logins")

        # No connection from there, and fail2ban's "forever": still banned.
        done = self.run_action("actionban", "127.0.0.32", bantime=-1)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIsNone(self.bans()["127.0.0.32/32"]["expires"])

        done = self.run_action("actionunban", "127.0.0.30")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(sorted(self.bans()), ["127.0.0.32/32"])
        self.assertEqual(self.run_action("actionunban", "127.0.0.30").returncode, 0)  # gone: fine
        self.connect(echod, "127.0.0.30", "bob")
        self.assertEqual(self.who_users(), ["alice", "bob"])

    def test_check_fails_when_anvild_is_not_there(self):
        self.anvild.terminate()
        self.anvild.wait(10)
        self.assertNotEqual(self.run_action("actioncheck", "").returncode, 0)


class Fail2banFilter(unittest.TestCase):

    def test_the_proxy_filter_finds_the_address_of_a_refused_login(self):
        filt = read_conf(os.path.join(CONTRIB, "filter.d", "anvil-proxy.conf"))
        # fail2ban's <ADDR> is an address; this test needs IPv4 only.
        regex = re.compile(filt.get("Definition", "failregex").replace(
            "<ADDR>", r"(?P<addr>\d+\.\d+\.\d+\.\d+)"))
        lines = {
            "anvil-proxy: info: imap: login refused by 127.0.0.1:143 for user=jane from "
            "192.0.2.7:50123": "192.0.2.7",
            "Nov 30 10:42:07 mail anvil-proxy[812]: info: pop3: login refused by 10.0.0.5:110 "
            "for user=j d from 198.51.100.4:4711 via 10.0.0.9:3456": "198.51.100.4",
        }
        for line, addr in lines.items():
            match = regex.search(line)
            self.assertIsNotNone(match, line)
            self.assertEqual(match.group("addr"), addr)
        for line in ("anvil-proxy: info: imap: login user=jane from 192.0.2.7:50123 to 127.0.0.1:143",
                     "anvil-proxy: info: imap: refused 192.0.2.7:50123: banned (x)"):
            self.assertIsNone(regex.search(line), line)


if __name__ == "__main__":
    unittest.main()
