"""Bans in anvild, through anvilctl: set, listed in every formatter, lifted,
kept across a restart in the state file, expired by themselves, set with a
kick in one step; a bad state file loses only its bad lines."""

import json
import os
import time
import unittest

from harness import RawLineSocket, Stack, wait_until


def ban_ids(stack):
    code, out, err = stack.anvilctl("ban", "list", global_args=("-f", "json"))
    stack.assertEqual(code, 0, err)
    return [row["id"] for row in json.loads(out)]


class Bans(Stack):

    def ban(self, *args, code=0):
        got, out, err = self.anvilctl("ban", "add", *args)
        self.assertEqual(got, code, err)
        return out, err

    def test_add_list_remove_in_every_formatter(self):
        out, _ = self.ban("--duration", "1h", "--reason", "compromised", "jane", "192.0.2.0/24")
        self.assertRegex(out, r"^banned jane from 192\.0\.2\.0/24 until \S+Z \(ban 1\)\n$")
        out, _ = self.ban("-f", "user_email", "jd@example.com")
        self.assertEqual(out, "banned user_email jd@example.com with no end (ban 2)\n")
        out, _ = self.ban("2001:db8::/32")
        self.assertEqual(out, "banned all users from 2001:db8::/32 with no end (ban 3)\n")

        code, out, err = self.anvilctl("ban", "list", global_args=("-f", "json"))
        self.assertEqual(code, 0, err)
        rows = json.loads(out)
        self.assertEqual([r["id"] for r in rows], [1, 2, 3])
        self.assertEqual((rows[0]["user"], rows[0]["net"], rows[0]["reason"]),
                         ("jane", "192.0.2.0/24", "compromised"))
        self.assertAlmostEqual(rows[0]["expires"] - rows[0]["created"], 3600, delta=1)
        self.assertEqual((rows[1]["alt_field"], rows[1]["user"], rows[1]["expires"]),
                         ("user_email", "jd@example.com", None))
        self.assertIn(f"uid {os.getuid()}", rows[2]["by"])
        for formatter in ("table", "tab", "flow", "pager"):
            code, out, err = self.anvilctl("ban", "list", global_args=("-f", formatter))
            self.assertEqual(code, 0, err)
            self.assertIn("compromised", out, formatter)
            self.assertIn("2001:db8::/32", out, formatter)
        code, out, err = self.anvilctl("ban", "list")
        self.assertEqual(out.splitlines()[0].split(), ["id", "user", "field", "net", "expires",
                                                       "reason", "by"])

        code, out, err = self.anvilctl("ban", "rm", "2")
        self.assertEqual(code, 0, err)
        self.assertEqual(ban_ids(self), [1, 3])
        code, out, err = self.anvilctl("ban", "rm", "2")
        self.assertEqual(code, 68, err)  # gone already
        self.assertIn("no ban 2", err)
        # By what a ban names: the network alone, not jane's ban from it.
        self.ban("192.0.2.0/24")
        code, out, err = self.anvilctl("ban", "rm", "192.0.2.0/24")
        self.assertEqual(code, 0, err)
        self.assertEqual(ban_ids(self), [1, 3])

    def test_bans_survive_a_restart_and_expire_by_themselves(self):
        # Long enough to outlive a restart on a loaded machine (under ASan two
        # bans and a restart took over 2 s), short enough to wait for.
        self.ban("--duration", "10s", "shortlived")
        self.ban("--reason", "tab\there", "keeper")
        self.restart_anvild_with()
        self.assertEqual(ban_ids(self), [1, 2])
        self.assertTrue(wait_until(lambda: ban_ids(self) == [2], timeout=30),
                        "the 10 s ban did not expire")
        with open(self.ban_file) as state:
            lines = state.read().splitlines()
        self.assertEqual(lines[0], "anvil-bans\t1")
        self.assertEqual(len(lines), 2)
        self.assertIn("user=keeper", lines[1])
        self.restart_anvild_with()
        code, out, err = self.anvilctl("ban", "list", global_args=("-f", "json"))
        self.assertEqual(json.loads(out)[0]["reason"], "tab\there")
        self.assertEqual(self.ban("newer")[0], "banned newer with no end (ban 3)\n")  # ids go on

    def test_a_bad_state_file_loses_only_its_bad_lines(self):
        self.anvild.terminate()
        self.anvild.wait(10)
        with open(self.ban_file, "w") as state:
            state.write("anvil-bans\t1\n"
                        "id=4\tuser=good\tcreated=1\texpires=0\treason=r\tby=x\n"
                        "id=5\tnet=10.0.0.0/33\tcreated=1\texpires=0\n"
                        "garbage without fields\n"
                        "id=6\tnet=10.0.0.0/8\tcreated=1\texpires=0\treason=r\tby=x\n"
                        "id=7\tuser=tr")  # cut off mid-line: still one whole field
        self.start_anvild()
        self.assertEqual(ban_ids(self), [4, 6, 7])
        log = self.anvild_log()
        self.assertIn("line 3: invalid network: 10.0.0.0/33; skipped", log)
        self.assertIn("line 4: field without key=value", log)

    def test_bans_that_keep_everyone_out_need_force(self):
        for target in ("*", "0.0.0.0/0", "::/0"):
            out, err = self.ban(target, code=64)
            self.assertIn("would keep everyone out", err)
        self.assertEqual(ban_ids(self), [])
        self.ban("--force", "*")
        self.assertEqual(ban_ids(self), [1])

    def test_bad_requests_are_usage_errors(self):
        for args in (("ban", "add"), ("ban", "add", "--duration", "0", "jane"),
                     ("ban", "add", "--duration", "-1h", "jane"),
                     ("ban", "add", "--service", "imap", "jane"), ("ban", "add", "10.0.0.0/33"),
                     ("ban", "rm"), ("ban", "rm", "-x"), ("ban", "rm", "0"),
                     ("ban", "rm", "10.0.0.0/33"), ("ban", "frobnicate"), ("ban",),
                     ("kick", "--ban", "1h", "--service", "imap", "jane"),
                     ("kick", "--ban", "soon", "jane")):
            code, out, err = self.anvilctl(*args)
            self.assertEqual(code, 64, (args, err))
        self.assertEqual(ban_ids(self), [])
        code, out, err = self.anvilctl("ban", "rm", "x")  # a ban of user x: none
        self.assertEqual((code, err), (68, "anvilctl: no ban of x alone\n"))

    def test_a_hundred_thousand_bans_load_and_list(self):
        self.anvild.terminate()
        self.anvild.wait(10)
        with open(self.ban_file, "w") as state:
            state.write("anvil-bans\t1\n")
            for i in range(100000):
                state.write(f"id={i + 1}\tuser=user{i}\tcreated=1\texpires=0\treason=r\tby=x\n")
        self.start_anvild()
        self.assertEqual(len(ban_ids(self)), 100000)
        out, _ = self.ban("one-more")
        self.assertEqual(out, "banned one-more with no end (ban 100001)\n")


class BanLimit(Stack):
    """An admin with the kick role cannot fill anvild's memory with bans."""

    anvild_options = ["-o", "max_bans=3"]

    def test_bans_past_max_bans_are_refused_and_nothing_is_half_set(self):
        code, out, err = self.anvilctl("ban", "add", "a", "b")
        self.assertEqual(code, 0, err)
        # Two more would pass the limit: neither is set.
        code, out, err = self.anvilctl("ban", "add", "c", "d")
        self.assertEqual(code, 64, err)
        self.assertIn("too many bans (max_bans=3)", err)
        code, out, err = self.anvilctl("kick", "--ban", "1h", "c", "d")
        self.assertEqual(code, 64, err)
        self.assertEqual(ban_ids(self), [1, 2])
        code, out, err = self.anvilctl("ban", "add", "c")
        self.assertEqual(code, 0, err)
        self.assertEqual(ban_ids(self), [1, 2, 3])


class KickAndBan(Stack):

    def test_kick_ban_drops_the_sessions_and_keeps_the_ban(self):
        echod = self.start_echod("imap")
        jane = self.connect(echod, "127.0.0.2", "jane")
        john = self.connect(echod, "127.0.0.3", "john")
        self.wait_for_sessions(2)
        code, out, err = self.anvilctl("kick", "--ban", "1d", "--reason", "compromised", "jane")
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"^kicked connections from the following users:\njane\n"
                              r"banned jane until \S+Z \(ban 1\)\n$")
        self.assertEqual(jane.read_bye(), "BYE compromised")
        self.assertTrue(john.alive())
        code, out, err = self.anvilctl("ban", "list", global_args=("-f", "json"))
        (row,) = json.loads(out)
        self.assertEqual((row["user"], row["reason"]), ("jane", "compromised"))
        # A dry run bans nothing.
        code, out, err = self.anvilctl("kick", "--ban", "forever", "--dry-run", "john")
        self.assertEqual(code, 0, err)
        self.assertEqual(ban_ids(self), [1])
        self.assertTrue(john.alive())


class ServicesRefuseBannedLogins(Stack):
    """A libanvil service asks before it registers (anvil-echod answers
    NO banned: <reason>), and anvild refuses to register a banned session
    for a service that does not ask."""

    def test_echod_refuses_a_banned_user_and_address_and_serves_the_rest(self):
        echod = self.start_echod("imap")
        for args in (("--reason", "account locked", "jane"),
                     ("--reason", "abuse", "127.0.0.20/32")):
            code, out, err = self.anvilctl("ban", "add", *args)
            self.assertEqual(code, 0, err)
        for source, user, reason in (("127.0.0.2", "jane", "account locked"),
                                     ("127.0.0.20", "john", "abuse")):
            client = self.connect(echod, source)
            client.send(f"LOGIN {user}")
            self.assertEqual(client.readline(), f"NO banned: {reason}")
            self.assertEqual(client.file.readline(), "")  # closed
        ok = self.connect(echod, "127.0.0.3", "john")
        ok.send("hello")
        self.assertEqual(ok.readline(), "hello")
        self.assertEqual(self.who_users(), ["john"])
        # Lifted: jane gets in.
        code, out, err = self.anvilctl("ban", "rm", "1")
        self.assertEqual(code, 0, err)
        self.connect(echod, "127.0.0.2", "jane")
        self.assertEqual(self.who_users(), ["jane", "john"])

    def test_anvild_does_not_register_a_banned_session(self):
        code, out, err = self.anvilctl("ban", "add", "--reason", "locked", "jane")
        self.assertEqual(code, 0, err)
        service = RawLineSocket(self.service_socket)
        self.clients.append(service)
        service.send(f"VERSION\tanvil-service\t1\t0\nHELLO\timap\t{os.getpid()}\n")
        self.assertTrue(service.line().startswith("VERSION"))
        jane, bob = "1" * 32, "2" * 32
        service.send(f"CONNECT\t{bob}\tuser=bob\nCONNECT\t{jane}\tuser=jane\tip=127.0.0.2\n")
        self.assertEqual(service.line(), f"BANNED\t{jane}\treason=locked\tban=1")
        self.assertEqual(self.who_users(), ["bob"])
        # An update that logs a pre-login session in as jane: refused, and
        # the session goes.
        pre = "3" * 32
        service.send(f"CONNECT\t{pre}\tip=127.0.0.4\n")
        self.assertTrue(wait_until(lambda: len(self.who_users()) == 2))
        service.send(f"UPDATE\t{pre}\tuser=jane\tip=127.0.0.4\n")
        self.assertEqual(service.line(), f"BANNED\t{pre}\treason=locked\tban=1")
        self.assertEqual(self.who_users(), ["bob"])


class ReadRoleBans(Stack):

    anvild_options = ["-o", "admin_socket_mode=0666", "-o", "admin_allow_uids=nobody:read"]

    def test_read_role_lists_bans_but_may_not_set_or_lift_them(self):
        code, out, err = self.anvilctl("ban", "add", "jane")
        self.assertEqual(code, 0, err)
        code, out, err = self.anvilctl("ban", "list", user="nobody")
        self.assertEqual(code, 0, err)
        self.assertIn("jane", out)
        for args in (("ban", "add", "john"), ("ban", "rm", "1"), ("kick", "--ban", "1h", "jane")):
            code, out, err = self.anvilctl(*args, user="nobody")
            self.assertEqual(code, 77, (args, err))
        self.assertEqual(ban_ids(self), [1])


if __name__ == "__main__":
    unittest.main()
