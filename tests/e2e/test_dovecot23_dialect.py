"""anvild serving Dovecot 2.3's anvil protocol on its admin socket, driven
by hand: registration, dumps, lookups, penalties, process watching, kicks by
signal, and bad input."""

import atexit
import os
import signal
import subprocess
import tempfile
import time
import unittest

from harness import RawLineSocket, as_user, Stack, hold_connections, wait_until

# This test process stands in for Dovecot's master: anvild signals only its
# children (dovecot_master_pid_files) that do not run as root.
with tempfile.NamedTemporaryFile("w", prefix="anvil-master-", suffix=".pid", delete=False) as _f:
    _f.write(f"{os.getpid()}\n")
    MASTER_PID_FILE = _f.name
atexit.register(os.unlink, MASTER_PID_FILE)


class Dovecot23Client(RawLineSocket):
    """A Dovecot 2.3 anvil client: VERSION first, no reply to it."""

    def __init__(self, path):
        super().__init__(path)
        self.send("VERSION\tanvil\t1\t0\n")

    def dump(self):
        self.send("CONNECT-DUMP\n")
        lines = []
        while True:
            line = self.line()
            if line is None:
                raise AssertionError("connection closed during CONNECT-DUMP")
            if line == "":
                return lines
            lines.append(line)


class Dovecot23Dialect(Stack):

    anvild_options = ["-o", f"dovecot_master_pid_files={MASTER_PID_FILE}"]

    def setUp(self):
        super().setUp()
        self.mail1 = self.sleeper()  # stand-ins for Dovecot imap processes
        self.mail2 = self.sleeper()
        self.echod = self.start_echod("pop3")
        self.native = self.connect(self.echod, "127.0.0.2", "jane")
        self.wait_for_sessions(1)
        self.dc = self.client()

    def sleeper(self, user="nobody"):
        """A stand-in for a Dovecot mail process: a child of this "master",
        running as a mail user unless told otherwise."""
        return self.spawn(["sleep", "120"], **as_user(user))

    def client(self):
        peer = Dovecot23Client(self.admin_socket)
        self.clients.append(peer)
        return peer

    def register(self):
        self.dc.send(f"CONNECT\t{self.mail1.pid}\timap/127.0.0.2/jane\n"
                     f"CONNECT\t{self.mail1.pid}\timap/127.0.0.2/jane\n"
                     f"CONNECT\t{self.mail2.pid}\timap/::1/bob\n"
                     f"CONNECT\t{self.mail2.pid}\timap/127.0.0.3/jane\n"
                     f"CONNECT\t{self.mail2.pid}\tlmtp/dept/carol\n")
        self.assertTrue(wait_until(lambda: len(self.who_users()) == 6))

    def test_dump_lists_native_and_dovecot_sessions(self):
        self.register()
        self.assertEqual(sorted(self.dc.dump()), sorted([
            f"imap/127.0.0.2/jane\t{self.mail1.pid}\t2",
            f"imap/::1/bob\t{self.mail2.pid}\t1",
            f"imap/127.0.0.3/jane\t{self.mail2.pid}\t1",
            f"lmtp/dept/carol\t{self.mail2.pid}\t1",
            f"pop3/127.0.0.2/jane\t{self.echod.pid}\t1"]))

    def test_sessions_show_in_anvilctl_who(self):
        self.register()
        code, out, err = self.anvilctl("who", "-1", "jane", global_args=("-f", "tab"))
        rows = sorted(tuple(line.split("\t")[:4]) for line in out.splitlines()[1:])
        self.assertEqual(rows, sorted([
            ("jane", "imap", str(self.mail1.pid), "127.0.0.2"),
            ("jane", "imap", str(self.mail1.pid), "127.0.0.2"),
            ("jane", "imap", str(self.mail2.pid), "127.0.0.3"),
            ("jane", "pop3", str(self.echod.pid), "127.0.0.2")]))

    def test_lookup_counts_every_process_and_disconnect_removes_one(self):
        self.register()
        self.dc.send("LOOKUP\timap/127.0.0.2/jane\n")
        self.assertEqual(self.dc.line(), "2")
        self.dc.send("LOOKUP\tpop3/127.0.0.2/jane\n")  # a native session counts too
        self.assertEqual(self.dc.line(), "1")
        self.dc.send("LOOKUP\timap/127.0.0.2/JANE\n")  # exact, as Dovecot compares
        self.assertEqual(self.dc.line(), "0")
        self.dc.send(f"DISCONNECT\t{self.mail1.pid}\timap/127.0.0.2/jane\nLOOKUP\timap/127.0.0.2/jane\n")
        self.assertEqual(self.dc.line(), "1")
        # An unknown pair is logged and ignored; the connection goes on.
        self.dc.send(f"DISCONNECT\t{self.mail1.pid}\timap/127.0.0.9/nobody\nLOOKUP\tlmtp/dept/carol\n")
        self.assertEqual(self.dc.line(), "1")
        self.assertIn("disconnection for unknown pid", self.anvild_log())

    def test_sessions_vanish_when_their_process_exits(self):
        self.register()
        self.mail2.kill()
        self.mail2.wait()
        self.assertTrue(wait_until(lambda: self.who_users() == ["jane", "jane", "jane"]))
        self.assertIn(f"pid {self.mail2.pid} exited; 3 sessions removed", self.anvild_log())

    def test_connect_for_a_process_that_does_not_exist_is_ignored(self):
        gone = subprocess.Popen(["true"])
        gone.wait()
        self.dc.send(f"CONNECT\t{gone.pid}\timap/127.0.0.2/ghost\nLOOKUP\timap/127.0.0.2/ghost\n")
        self.assertEqual(self.dc.line(), "0")
        self.assertIn(f"CONNECT for pid {gone.pid} ignored", self.anvild_log())

    def test_kick_signals_a_process_whose_sessions_all_match(self):
        self.register()
        code, out, err = self.anvilctl("kick", "jane", "127.0.0.2")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "kicked connections from the following users:\njane\n")
        self.assertEqual(self.mail1.wait(10), -signal.SIGTERM)
        self.assertIsNotNone(self.native.read_bye())  # the native pop3 session too
        self.assertTrue(wait_until(lambda: self.who_users() == ["bob", "dept/carol", "jane"]))
        self.assertIsNone(self.mail2.poll())

    def test_shared_process_needs_force(self):
        self.register()
        code, out, err = self.anvilctl("kick", "--service", "imap", "jane", "127.0.0.3")
        self.assertEqual(code, 68, err)
        self.assertEqual(out, "no users kicked\n")
        self.assertIn(f"imap pid {self.mail2.pid} not kicked: the process also serves", err)
        self.assertIsNone(self.mail2.poll())
        code, out, err = self.anvilctl("kick", "--force", "--service", "imap", "jane", "127.0.0.3")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.mail2.wait(10), -signal.SIGTERM)
        self.assertIsNone(self.mail1.poll())

    def test_a_process_that_is_not_dovecots_is_listed_but_never_signalled(self):
        # What a kick-role admin (or a test) may register: a root process,
        # and one that is no child of the master. Both count in LOOKUP and
        # show in who, and a kick signals neither and says why.
        root_owned = self.sleeper(user=None)
        # A mail user's process whose parent has exited: no child of ours.
        orphan = subprocess.run(
            ["/usr/bin/python3", "-c", "import subprocess; print(subprocess.Popen("
             "['sleep', '120'], start_new_session=True, stdout=subprocess.DEVNULL, "
             "stderr=subprocess.DEVNULL).pid)"],
            **as_user("nobody"), capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        stranger_pid = int(orphan.stdout)
        self.addCleanup(lambda: os.kill(stranger_pid, signal.SIGKILL))
        self.dc.send(f"CONNECT\t{root_owned.pid}\timap/127.0.0.66/ghost\n"
                     f"CONNECT\t{stranger_pid}\timap/127.0.0.66/ghost\n"
                     "LOOKUP\timap/127.0.0.66/ghost\n")
        self.assertEqual(self.dc.line(), "2")
        code, out, err = self.anvilctl("kick", "ghost")
        self.assertEqual(code, 68, err)
        self.assertEqual(out, "no users kicked\n")
        self.assertIn(f"pid {root_owned.pid} not kicked: the process may not be signalled as one of "
                      "Dovecot's: it runs as uid 0", err)
        self.assertIn(f"pid {stranger_pid} not kicked: the process may not be signalled as one of "
                      "Dovecot's: it is not a child of Dovecot's master", err)
        time.sleep(0.2)
        self.assertIsNone(root_owned.poll())
        os.kill(stranger_pid, 0)  # still there
        self.assertIn("not signalled", self.anvild_log())

    def test_a_read_role_admin_may_not_register(self):
        self.restart_anvild_with("-o", "admin_socket_mode=0666", "-o", "admin_allow_uids=nobody:read")
        holder = hold_connections(self, self.admin_socket, 1, "nobody",
                                  f"VERSION\tanvil\t1\t0\nCONNECT\t{self.mail1.pid}\timap/127.0.0.5/x\n")
        self.assertEqual(holder.answers, [""])  # closed without a reply
        self.assertTrue(wait_until(lambda: "CONNECT needs the kick role" in self.anvild_log()))
        self.assertEqual(self.who_users("x"), [])

    def test_penalties(self):
        self.dc.send("PENALTY-SET-EXPIRE-SECS\t29\n")
        self.dc.send("PENALTY-GET\t127.0.0.1\n")
        self.assertEqual(self.dc.line(), "0 0")
        before = int(time.time())
        self.dc.send("PENALTY-INC\t127.0.0.1\t257289427\t1\nPENALTY-GET\t127.0.0.1\n")
        value, last = self.dc.line().split(" ")
        self.assertEqual(value, "1")
        self.assertGreaterEqual(int(last), before)
        self.dc.send("PENALTY-INC\t127.0.0.1\t257289427\t2\nPENALTY-GET\t127.0.0.1\n")
        self.assertEqual(self.dc.line().split(" ")[0], "1")  # same credentials: value - 1
        self.dc.send("PENALTY-INC\t::\t5\t3\nPENALTY-DUMP\n")
        first, second, end = self.dc.line(), self.dc.line(), self.dc.line()
        self.assertEqual(first.split("\t")[:2], ["127.0.0.1", "1"])
        self.assertEqual(second.split("\t")[:2], ["::", "3"])
        self.assertEqual(end, "")


class Dovecot23BadInput(Stack):
    """Each of these closes that connection and nothing else."""

    anvild_options = ["-o", f"dovecot_master_pid_files={MASTER_PID_FILE}"]

    def setUp(self):
        super().setUp()
        self.mail = subprocess.Popen(["sleep", "120"])
        self.processes.append(self.mail)
        self.bystander = Dovecot23Client(self.admin_socket)
        self.clients.append(self.bystander)
        self.bystander.send(f"CONNECT\t{self.mail.pid}\timap/127.0.0.2/jane\n")
        self.assertTrue(wait_until(lambda: self.who_users() == ["jane"]))

    def assert_closed_and_logged(self, data, message):
        peer = Dovecot23Client(self.admin_socket)
        self.clients.append(peer)
        peer.send_flood(data)
        self.assertTrue(peer.closed(), f"connection stayed open after {data[:40]!r}")
        self.assertTrue(wait_until(lambda: message in self.anvild_log()), message)
        self.bystander.send("LOOKUP\timap/127.0.0.2/jane\n")
        self.assertEqual(self.bystander.line(), "1")
        self.assertEqual(self.who_users(), ["jane"])

    def test_malformed_lines(self):
        self.assert_closed_and_logged("CONNECT\t123\n", "CONNECT: Not enough parameters")
        self.assert_closed_and_logged("CONNECT\tabc\timap/127.0.0.1/x\n", "CONNECT: Invalid pid")
        self.assert_closed_and_logged("DISCONNECT\t-5\timap/127.0.0.1/x\n", "DISCONNECT: Invalid pid")
        self.assert_closed_and_logged("CONNECT\t1\tnoslash\n", "CONNECT: Invalid ident")
        self.assert_closed_and_logged("LOOKUP\n", "LOOKUP: Not enough parameters")

    def test_over_long_line(self):
        self.assert_closed_and_logged("LOOKUP\t" + "x" * 1100 + "\n",
                                      "Anvil client connection sent too much data")

    def test_kill_from_a_non_master_connection(self):
        self.assert_closed_and_logged(f"KILL\t{self.mail.pid}\n", "KILL sent by a non-master connection")
        self.assertIsNone(self.mail.poll())

    def test_unknown_command(self):
        self.assert_closed_and_logged("FROBNICATE\t1\n", "Unknown command: FROBNICATE")

    def test_penalty_inc_with_bad_numbers(self):
        for line in ("PENALTY-INC\t1.2.3.4\t5\t70000\n", "PENALTY-INC\t1.2.3.4\t5\t0\n",
                     "PENALTY-INC\t1.2.3.4\tabc\t1\n", "PENALTY-INC\t1.2.3.4\t1\t-1\n"):
            self.assert_closed_and_logged(line, "PENALTY-INC: Invalid parameters")
        self.assert_closed_and_logged("PENALTY-INC\t1.2.3.4\t1\n", "PENALTY-INC: Not enough parameters")
        self.assert_closed_and_logged("PENALTY-SET-EXPIRE-SECS\tsoon\n",
                                      "PENALTY-SET-EXPIRE-SECS: Invalid parameters")

    def test_other_version_is_not_the_dovecot_dialect(self):
        peer = RawLineSocket(self.admin_socket)
        self.clients.append(peer)
        peer.send("VERSION\tanvil\t2\t0\n")
        self.assertIn("expected VERSION", peer.line())
        self.assertTrue(peer.closed())


if __name__ == "__main__":
    unittest.main()
