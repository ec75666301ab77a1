"""Bad input and failures: each gets a clear error, the offending
connection is closed where it must be, and no other client loses anything."""

import os
import signal
import subprocess
import unittest

from harness import BIN, RawLineSocket, Stack, hold_connections, wait_until

ID_A = "a" * 32
ID_B = "b" * 32


class BadServiceInput(Stack):

    def setUp(self):
        super().setUp()
        # A bystander: another process with sessions that must survive.
        self.echod = self.start_echod("imap")
        self.bystander = self.connect(self.echod, "127.0.0.2", "bystander")
        self.wait_for_sessions(1)

    def service(self, hello=True):
        peer = RawLineSocket(self.service_socket)
        self.clients.append(peer)
        if hello:
            peer.send(f"VERSION\tanvil-service\t1\t0\nHELLO\traw\t{os.getpid()}\n")
            self.assertEqual(peer.line(), "VERSION\tanvil-service\t1\t0")
        return peer

    def assert_bystander_intact(self):
        self.assertEqual(self.who_users("bystander"), ["bystander"])
        self.assertTrue(self.bystander.alive())

    def test_malformed_lines_get_errors_and_the_channel_stays(self):
        peer = self.service()
        peer.send(f"CONNECT\t{ID_A}\tuser=jane\n")
        peer.send("CONNECT\tnot-an-id\tuser=x\n")
        self.assertIn("invalid connection id", peer.line())
        peer.send(f"CONNECT\t{ID_B}\tip=999.1.1.1\n")
        self.assertIn("invalid ip", peer.line())
        peer.send("CONNECT\n")
        self.assertIn("needs a connection id", peer.line())
        peer.send(f"UPDATE\t{ID_A}\tport=99999\n")
        self.assertIn("invalid port", peer.line())
        peer.send("FROBNICATE\tx\n")
        self.assertEqual(peer.line(), "ERROR\tFROBNICATE\t\tunknown command: FROBNICATE")
        peer.send("KICKED\tnot-a-number\n")
        self.assertIn("request number", peer.line())
        # The channel still works, and its valid session is there.
        peer.send(f"CONNECT\t{ID_B}\tuser=john\tip=127.0.0.9\n")
        self.assertTrue(wait_until(lambda: self.who_users("jane", "john") == ["jane", "john"]))
        self.assert_bystander_intact()
        self.assertIn("unknown command: FROBNICATE", self.anvild_log())
        peer.close()

    def test_duplicate_id_is_refused_and_the_first_registration_wins(self):
        peer = self.service()
        peer.send(f"CONNECT\t{ID_A}\tuser=first\n")
        peer.send(f"CONNECT\t{ID_A}\tuser=second\n")
        self.assertEqual(peer.line(), f"ERROR\tCONNECT\t{ID_A}\tduplicate connection id {ID_A}")
        self.assertEqual(self.who_users("first", "second"), ["first"])
        # Another process cannot take over or remove that id either.
        other = self.service()
        other.send(f"CONNECT\t{ID_A}\tuser=thief\n")
        self.assertIn("duplicate connection id", other.line())
        other.send(f"DISCONNECT\t{ID_A}\n")
        self.assertIn("unknown connection id", other.line())
        other.send(f"UPDATE\t{ID_A}\tuser=thief\n")
        self.assertIn("unknown connection id", other.line())
        # Nor can it claim to have dropped it.
        other.send(f"KICKED\t1\t{ID_A}\n")
        other.send("FROBNICATE\n")  # a marker: its error comes after KICKED was handled
        self.assertIn("unknown command: FROBNICATE", other.line())
        self.assertEqual(self.who_users("first", "thief"), ["first"])
        self.assert_bystander_intact()

    def test_removing_an_unknown_id(self):
        peer = self.service()
        peer.send(f"DISCONNECT\t{ID_B}\n")
        self.assertEqual(peer.line(), f"ERROR\tDISCONNECT\t{ID_B}\tunknown connection id {ID_B}")
        self.assert_bystander_intact()

    def test_over_long_line_is_an_error_for_that_line_only(self):
        peer = self.service()
        peer.send(f"CONNECT\t{ID_A}\tuser=victim\n")
        self.assertTrue(wait_until(lambda: self.who_users("victim") == ["victim"]))
        # 8 MiB in one line: refused as a line, and the channel, with the
        # other sessions of its process, stays.
        peer.send(f"UPDATE\t{ID_A}\tuser_note=" + "x" * (8 * 1024 * 1024) + "\n")
        self.assertEqual(peer.line(),
                         f"ERROR\tUPDATE\t{ID_A}\tline longer than 16384 bytes ignored")
        peer.send(f"CONNECT\t{ID_B}\tuser=after\n")
        self.assertTrue(wait_until(lambda: self.who_users("victim", "after") == ["after", "victim"]))
        # Before the handshake is done, the stream cannot be trusted: closed.
        fresh = self.service(hello=False)
        fresh.send_flood("VERSION\t" + "x" * (64 * 1024) + "\n")
        self.assertIn("line longer than 16384 bytes", fresh.line())
        self.assertTrue(fresh.closed())
        self.assert_bystander_intact()

    def test_claiming_another_pid_is_refused(self):
        peer = self.service(hello=False)
        peer.send(f"VERSION\tanvil-service\t1\t0\nHELLO\traw\t{self.echod.pid}\n")
        self.assertEqual(peer.line(), "VERSION\tanvil-service\t1\t0")
        line = peer.line()
        self.assertIn(f"HELLO claims pid {self.echod.pid} but the connecting process is pid {os.getpid()}",
                      line)
        self.assertTrue(peer.closed())
        self.assert_bystander_intact()

    def test_missing_version_or_hello_is_refused(self):
        peer = self.service(hello=False)
        peer.send(f"CONNECT\t{ID_A}\tuser=x\n")
        self.assertIn("expected VERSION", peer.line())
        self.assertTrue(peer.closed())
        peer = self.service(hello=False)
        peer.send(f"VERSION\tanvil-service\t1\t0\nCONNECT\t{ID_A}\n")
        peer.line()
        self.assertIn("expected HELLO", peer.line())
        self.assertTrue(peer.closed())
        peer = self.service(hello=False)
        peer.send("VERSION\tanvil-service\t2\t0\n")
        self.assertIn("expected VERSION", peer.line())
        self.assertTrue(peer.closed())
        self.assert_bystander_intact()


class Limits(Stack):

    anvild_options = ["-o", "max_sessions_per_process=2", "-o", "max_service_clients=3",
                      "-o", "max_admin_clients=1", "-o", "admin_allow_uids=nobody",
                      "-o", "admin_socket_mode=0666"]

    def hello(self):
        peer = RawLineSocket(self.service_socket)
        self.clients.append(peer)
        peer.send(f"VERSION\tanvil-service\t1\t0\nHELLO\traw\t{os.getpid()}\n")
        self.assertEqual(peer.line(), "VERSION\tanvil-service\t1\t0")
        return peer

    def test_sessions_per_process(self):
        peer = self.hello()
        for i, user in enumerate(("one", "two", "three")):
            peer.send(f"CONNECT\t{str(i + 1) * 32}\tuser={user}\n")
        self.assertIn("too many sessions (max_sessions_per_process=2)", peer.line())
        self.assertEqual(self.who_users(), ["one", "two"])
        # The limit is the process's, not one connection's: a second channel
        # of the same process gets no more.
        more = self.hello()
        more.send(f"CONNECT\t{'4' * 32}\tuser=four\n")
        self.assertIn("too many sessions (max_sessions_per_process=2)", more.line())
        self.assertEqual(self.who_users(), ["one", "two"])

    def test_sessions_per_uid_and_in_all(self):
        self.restart_anvild_with("-o", "max_sessions_per_process=100", "-o", "max_sessions_per_uid=3")
        first, second = self.hello(), self.hello()
        first.send(f"CONNECT\t{'1' * 32}\tuser=one\nCONNECT\t{'2' * 32}\tuser=two\n")
        second.send(f"CONNECT\t{'3' * 32}\tuser=three\nCONNECT\t{'4' * 32}\tuser=four\n")
        self.assertIn("too many sessions (max_sessions_per_uid=3)", second.line())
        self.assertEqual(self.who_users(), ["one", "three", "two"])
        self.restart_anvild_with("-o", "max_sessions_per_process=100", "-o", "max_sessions=1")
        peer = self.hello()
        peer.send(f"CONNECT\t{'1' * 32}\tuser=one\nCONNECT\t{'2' * 32}\tuser=two\n")
        self.assertIn("too many sessions (max_sessions=1)", peer.line())
        self.assertEqual(self.who_users(), ["one"])

    def test_service_clients(self):
        first, second, _ = self.hello(), self.hello(), self.hello()
        third = RawLineSocket(self.service_socket)
        self.clients.append(third)
        self.assertIn("too many service connections", third.line())
        self.assertTrue(third.closed())
        first.send(f"CONNECT\t{ID_A}\tuser=still-served\n")
        self.assertTrue(wait_until(lambda: self.who_users() == ["still-served"]))
        self.assertIsNotNone(second)

    def test_admin_clients(self):
        # An allowed uid holds the one admin slot: the next such client is
        # refused, but root always gets in.
        holder = hold_connections(self, self.admin_socket, 1, "nobody")
        code, out, err = self.anvilctl("who", user="nobody")
        self.assertEqual(code, 75, err)
        self.assertIn("too many admin clients", err)
        code, out, err = self.anvilctl("who")
        self.assertEqual(code, 0, err)
        holder.kill()
        self.assertTrue(wait_until(lambda: self.anvilctl("who", user="nobody")[0] == 0))


class BadAdminInput(Stack):

    anvild_options = ["-o", "admin_socket_mode=0666"]

    def setUp(self):
        super().setUp()
        self.echod = self.start_echod("imap")
        self.jane = self.connect(self.echod, "127.0.0.2", "jane")
        self.wait_for_sessions(1)

    def admin(self):
        peer = RawLineSocket(self.admin_socket)
        self.clients.append(peer)
        peer.send("VERSION\tanvil-admin\t1\t0\n")
        self.assertEqual(peer.line(), "VERSION\tanvil-admin\t1\t1")
        return peer

    def test_errors_keep_the_admin_connection(self):
        peer = self.admin()
        peer.send("DANCE\n")
        self.assertEqual(peer.line(), "ERROR\tunknown command: DANCE")
        peer.send("WHO\tnet=127.0.0.0/33\n")
        self.assertEqual(peer.line(), "ERROR\tWHO: invalid filter net: 127.0.0.0/33")
        peer.send("WHO\tcolour=red\n")
        self.assertEqual(peer.line(), "ERROR\tWHO: unknown filter field: colour")
        peer.send("KICK\treason=x\n")
        self.assertEqual(peer.line(), "ERROR\tKICK: refusing to kick without a filter")
        peer.send("KICK\tuser=jane\tfuture=1\n")
        self.assertEqual(peer.line(), "ERROR\tKICK: unknown filter field: future")
        peer.send("WHO\tuser=jane\n")
        self.assertTrue(peer.line().startswith("SESSION\tid="))
        self.assertEqual(peer.line(), "END\tcount=1")
        self.assertTrue(self.jane.alive())

    def test_a_bad_on_behalf_is_refused_and_kicks_nobody(self):
        """on_behalf= is only recorded, but what is recorded is bounded and
        printable: a relaying peer cannot forge log lines or fill records."""
        peer = self.admin()
        peer.send("KICK\tuser=jane\ton_behalf=" + "x" * 129 + "\n")
        self.assertEqual(peer.line(), "ERROR\tKICK: on_behalf must be 1 to 128 bytes")
        peer.send("KICK\tuser=jane\ton_behalf=\n")
        self.assertEqual(peer.line(), "ERROR\tKICK: on_behalf must be 1 to 128 bytes")
        # A newline, escaped on the wire as 0x01 n, arrives as a newline.
        peer.send("BAN-ADD\tuser=jane\ton_behalf=ops\x01nforged line\n")
        self.assertEqual(peer.line(), "ERROR\tBAN-ADD: on_behalf may not hold control characters")
        peer.send("BAN-RM\ton_behalf=\x02\tid=1\n")
        self.assertEqual(peer.line(), "ERROR\tBAN-RM: on_behalf may not hold control characters")
        self.assertTrue(self.jane.alive())
        self.assertEqual(self.who_users(), ["jane"])
        peer.send("BAN-LIST\n")
        self.assertEqual(peer.line(), "END\tcount=0")
        # The connection stays, and a good one is taken.
        peer.send("KICK\tuser=jane\tdry_run=1\ton_behalf=web key ops\n")
        self.assertTrue(peer.line().startswith("RESULT\tstatus=would-kick\t"))
        self.assertEqual(peer.line(), "END\tmatched=1\tkicked=0")

    def test_over_long_line_and_garbage_close_only_that_connection(self):
        peer = self.admin()
        peer.send_flood(b"\x00\xff" * (4 * 1024 * 1024))
        self.assertEqual(peer.line(), "ERROR\tline too long")
        self.assertTrue(peer.closed())
        peer = RawLineSocket(self.admin_socket)
        self.clients.append(peer)
        peer.send("HELLO there\n")
        self.assertIn("expected VERSION", peer.line())
        self.assertTrue(peer.closed())
        self.assertEqual(self.who_users(), ["jane"])
        self.assertTrue(self.jane.alive())

    def test_admin_without_permission_is_refused(self):
        code, out, err = self.anvilctl("who", user=65534)  # nobody
        self.assertEqual(code, 77, err)
        self.assertIn("permission denied: uid 65534", err)
        code, out, err = self.anvilctl("kick", "jane", user=65534)
        self.assertEqual(code, 77, err)
        self.assertTrue(self.jane.alive())
        self.assertIn("refused: permission denied", self.anvild_log())


class DefaultAdminSocketMode(Stack):

    def test_socket_is_owner_only_and_others_get_77(self):
        self.assertEqual(os.stat(self.admin_socket).st_mode & 0o777, 0o600)
        code, out, err = self.anvilctl("who", user=65534)
        self.assertEqual(code, 77, err)
        self.assertIn("Permission denied", err)


class AdminAllowList(Stack):

    anvild_options = ["-o", "admin_socket_mode=0666", "-o", "admin_allow_uids=65534"]

    def test_listed_uid_may_use_the_admin_socket(self):
        code, out, err = self.anvilctl("who", user=65534)
        self.assertEqual(code, 0, err)


class FailuresDuringKick(Stack):

    anvild_options = ["-o", "kick_timeout_ms=10000"]

    def setUp(self):
        super().setUp()
        self.stuck = self.start_echod("imap")
        self.healthy = self.start_echod("pop3")
        self.jane_stuck = self.connect(self.stuck, "127.0.0.2", "jane")
        self.bob_stuck = self.connect(self.stuck, "127.0.0.2", "bob")
        self.jane_healthy = self.connect(self.healthy, "127.0.0.3", "jane")
        self.bob_healthy = self.connect(self.healthy, "127.0.0.3", "bob")
        self.wait_for_sessions(4)

    def test_service_vanishing_mid_kick(self):
        os.kill(self.stuck.pid, signal.SIGSTOP)
        kick = subprocess.Popen([os.path.join(BIN, "anvilctl"), "kick", "-a", self.admin_socket,
                                 "jane"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Once the healthy process has dropped jane, the kick is waiting on the stuck one.
        self.assertIsNotNone(self.jane_healthy.read_bye())
        os.kill(self.stuck.pid, signal.SIGKILL)
        out, err = kick.communicate(timeout=30)
        self.assertEqual(kick.returncode, 0, err)
        self.assertEqual(out, "kicked connections from the following users:\njane\n")
        self.assertIn(f"imap pid {self.stuck.pid} not kicked: the process went away", err)
        self.assertEqual(self.who_users(), ["bob"])
        self.assertTrue(self.bob_healthy.alive())


class UnansweredKick(Stack):

    anvild_options = ["-o", "kick_timeout_ms=300"]

    def test_process_that_does_not_answer_times_out_and_a_late_answer_still_cleans_up(self):
        # A service that ignores the request's deadline (as a client of an
        # older protocol would) and answers long after it: what it says it
        # dropped is gone, so no stale session stays behind. (libanvil
        # itself leaves the connections alone: test_trust.KicksThatTimedOut.)
        peer = RawLineSocket(self.service_socket)
        self.clients.append(peer)
        peer.send(f"VERSION\tanvil-service\t1\t0\nHELLO\timap\t{os.getpid()}\n"
                  f"CONNECT\t{ID_A}\tuser=jane\nCONNECT\t{ID_B}\tuser=bob\n")
        self.assertEqual(peer.line(), "VERSION\tanvil-service\t1\t0")
        self.wait_for_sessions(2)
        code, out, err = self.anvilctl("kick", "jane")
        self.assertEqual(code, 75, err)
        self.assertEqual(out, "no users kicked\n")
        self.assertIn(f"imap pid {os.getpid()} not kicked: the process did not answer", err)
        request = peer.line().split("\t")
        self.assertEqual(request[0], "KICK")
        self.assertTrue(request[3].startswith("deadline="), request)
        self.assertEqual(request[4:], [ID_A])
        self.assertEqual(self.who_users(), ["bob", "jane"])
        peer.send(f"KICKED\t{request[1]}\t{ID_A}\n")
        self.assertTrue(wait_until(lambda: self.who_users() == ["bob"]))
        self.assertIn("after it timed out", self.anvild_log())


class AnvildRestart(Stack):

    def test_services_replay_their_sessions_after_a_crash(self):
        imap = self.start_echod("imap")
        pop3 = self.start_echod("pop3")
        clients = [self.connect(imap, f"127.0.0.{i}", f"user{i}") for i in range(2, 12)]
        clients += [self.connect(pop3, f"127.0.1.{i + 1}", f"pop{i}") for i in range(5)]
        self.wait_for_sessions(15)
        before = self.who_users()

        self.anvild.kill()  # SIGKILL: no cleanup, stale socket files stay
        self.anvild.wait()
        self.start_anvild()
        self.assertTrue(wait_until(lambda: self.who_users() == before, timeout=15),
                        f"sessions after restart: {self.who_users()}")
        for client in clients:
            self.assertTrue(client.alive())
        code, out, err = self.anvilctl("kick", "user5")
        self.assertEqual((code, out), (0, "kicked connections from the following users:\nuser5\n"))
        self.assertIsNotNone(clients[3].read_bye())

    def test_second_anvild_refuses_a_live_socket(self):
        proc = subprocess.run([os.path.join(BIN, "anvild"), "--run-dir", self.dir],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("in use by another running anvild", proc.stderr)
        self.assertEqual(self.anvilctl("who")[0], 0)


class DaemonArguments(unittest.TestCase):

    def run_anvild(self, *args):
        return subprocess.run([os.path.join(BIN, "anvild"), *args], capture_output=True,
                              text=True, timeout=30)

    def test_help_and_bad_arguments(self):
        proc = self.run_anvild("--help")
        self.assertEqual(proc.returncode, 0)
        self.assertIn("--run-dir", proc.stdout)
        proc = self.run_anvild("--bogus")
        self.assertEqual(proc.returncode, 64)
        self.assertIn("unknown argument: --bogus", proc.stderr)
        proc = self.run_anvild("-o", "kick_timeout_ms=never")
        self.assertEqual(proc.returncode, 78)
        self.assertIn("invalid value for kick_timeout_ms", proc.stderr)
        proc = self.run_anvild("-c", "/nonexistent/anvild.conf")
        self.assertEqual(proc.returncode, 78)


if __name__ == "__main__":
    unittest.main()
