"""What a local user, a delegated admin or a misbehaving service can do to
anvild, tried as they would: each attack of docs/security.md, and what
anvild does about it. Other uids are `nobody` (65534)."""

import json
import os
import resource
import signal
import time
import unittest

from harness import RawLineSocket, Stack, hold_connections, sanitized, wait_until

NOBODY = 65534
SERVICE_HELLO = "VERSION\tanvil-service\t1\t0\nHELLO\traw\t{pid}\n"


class WhoMayRegister(Stack):
    """Any local user could register sessions for any name and address."""

    def test_the_service_socket_is_not_open_to_everyone(self):
        mode = os.stat(self.service_socket).st_mode & 0o777
        self.assertEqual(mode, 0o660)
        holder = hold_connections(self, self.service_socket, 1, "nobody", SERVICE_HELLO)
        self.assertEqual(holder.answers, ["error: PermissionError"])

    def test_a_peer_past_the_file_mode_is_refused_by_its_uid(self):
        self.restart_anvild_with("-o", "service_socket_mode=0666")
        holder = hold_connections(self, self.service_socket, 1, "nobody", SERVICE_HELLO)
        self.assertEqual(len(holder.answers), 1)
        self.assertTrue(holder.answers[0].startswith(
            f"ERROR\t\t\tpermission denied: uid {NOBODY} may not register on "), holder.answers)
        self.assertIn(f"service uid {NOBODY} pid {holder.pid} refused", self.anvild_log())
        self.assertEqual(self.who_users(), [])

    def test_allowed_uids_register_and_who_names_them(self):
        self.restart_anvild_with("-o", "service_socket_mode=0666", "-o", "service_allow_uids=nobody")
        echod = self.start_echod("imap", user="nobody")
        self.connect(echod, "127.0.0.2", "jane")
        root_echod = self.start_echod("pop3")
        self.connect(root_echod, "127.0.0.3", "bob")
        self.wait_for_sessions(2)
        code, out, err = self.anvilctl("who", "-1", global_args=("-f", "json"))
        self.assertEqual(code, 0, err)
        uids = {row["username"]: row["uid"] for row in json.loads(out)}
        self.assertEqual(uids, {"jane": NOBODY, "bob": os.getuid()})

    def test_members_of_the_socket_group_may_register(self):
        # nobody's primary group is nogroup: making it the socket's group
        # lets nobody in without any allow-list.
        self.restart_anvild_with("-o", "service_socket_group=nogroup")
        st = os.stat(self.service_socket)
        self.assertEqual(st.st_gid, NOBODY)
        echod = self.start_echod("imap", user="nobody")
        self.connect(echod, "127.0.0.2", "jane")
        self.wait_for_sessions(1)


class NoPeerCrowdsOutTheRest(Stack):
    """Idle connections of one uid could fill every service slot, so that a
    real service started later was refused and its users invisible."""

    anvild_options = ["-o", "service_socket_mode=0666", "-o", "service_allow_uids=nobody",
                      "-o", "max_channels_per_uid=3", "-o", "max_service_clients=10",
                      "-o", "handshake_timeout_ms=60000"]

    def test_one_uid_gets_its_share_and_a_real_service_still_registers(self):
        holder = hold_connections(self, self.service_socket, 6, "nobody", SERVICE_HELLO)
        served = [a for a in holder.answers if a == "VERSION\tanvil-service\t1\t0"]
        refused = [a for a in holder.answers if "too many service connections for this uid" in a]
        self.assertEqual((len(served), len(refused)), (3, 3), holder.answers)
        echod = self.start_echod("imap")  # root: another uid
        jane = self.connect(echod, "127.0.0.2", "jane")
        self.wait_for_sessions(1)
        code, out, err = self.anvilctl("kick", "jane")
        self.assertEqual(code, 0, err)
        self.assertIsNotNone(jane.read_bye())


class Deadlines(Stack):
    """A peer that connects and says nothing held a slot for ever."""

    anvild_options = ["-o", "handshake_timeout_ms=300", "-o", "admin_idle_timeout_ms=600"]

    def test_a_silent_service_is_closed(self):
        peer = RawLineSocket(self.service_socket)
        self.clients.append(peer)
        self.assertIn("no VERSION and HELLO within handshake_timeout_ms", peer.line())
        self.assertTrue(peer.closed())

    def test_a_silent_or_idle_admin_is_closed(self):
        silent = RawLineSocket(self.admin_socket)
        self.clients.append(silent)
        self.assertEqual(silent.line(), "ERROR\ttimed out")
        self.assertTrue(silent.closed())
        idle = RawLineSocket(self.admin_socket)
        self.clients.append(idle)
        idle.send("VERSION\tanvil-admin\t1\t0\n")
        self.assertEqual(idle.line(), "VERSION\tanvil-admin\t1\t1")
        idle.send("WHO\n")
        self.assertEqual(idle.line(), "END\tcount=0")
        self.assertEqual(idle.line(), "ERROR\ttimed out")
        self.assertTrue(idle.closed())


class AdminRoles(Stack):
    """A uid allowed only to look could kick."""

    anvild_options = ["-o", "admin_socket_mode=0666", "-o", "admin_allow_uids=nobody:read"]

    def test_read_role_lists_but_may_not_kick(self):
        echod = self.start_echod("imap")
        jane = self.connect(echod, "127.0.0.2", "jane")
        self.wait_for_sessions(1)
        code, out, err = self.anvilctl("who", user="nobody")
        self.assertEqual(code, 0, err)
        self.assertIn("jane", out)
        code, out, err = self.anvilctl("kick", "jane", user="nobody")
        self.assertEqual(code, 77, err)
        self.assertIn(f"permission denied: uid {NOBODY} may only read", err)
        self.assertTrue(jane.alive())
        self.assertEqual(self.who_users(), ["jane"])


class KicksThatTimedOut(Stack):
    """A kick reported as failed to a stopped service ran when it resumed."""

    anvild_options = ["-o", "kick_timeout_ms=400"]

    def test_a_kick_reported_as_timed_out_does_not_happen_later(self):
        echod = self.start_echod("imap")
        jane = self.connect(echod, "127.0.0.2", "jane")
        bob = self.connect(echod, "127.0.0.3", "bob")
        self.wait_for_sessions(2)
        os.kill(echod.pid, signal.SIGSTOP)
        try:
            code, out, err = self.anvilctl("kick", "jane")
        finally:
            os.kill(echod.pid, signal.SIGCONT)
        self.assertEqual(code, 75, err)
        self.assertIn("did not answer within the kick timeout", err)
        # The service reads the request now, after its deadline: it must
        # leave jane connected, as the admin was told.
        time.sleep(1)
        self.assertTrue(jane.alive())
        self.assertTrue(bob.alive())
        self.assertEqual(self.who_users(), ["bob", "jane"])
        # A kick now works as usual.
        code, out, err = self.anvilctl("kick", "jane")
        self.assertEqual(code, 0, err)
        self.assertIsNotNone(jane.read_bye())


class AuditTrail(Stack):
    """A kick left no record beyond a log line."""

    def records(self):
        with open(self.audit_log) as f:
            return [json.loads(line) for line in f]

    def test_every_kick_and_dry_run_is_recorded_before_the_answer(self):
        echod = self.start_echod("imap")
        jane = self.connect(echod, "127.0.0.2", "jane")
        bob = self.connect(echod, "127.0.0.3", "bob")
        self.wait_for_sessions(2)
        code, out, err = self.anvilctl("who", "-1", global_args=("-f", "json"))
        ids = {row["username"]: row["conn_id"] for row in json.loads(out)}
        code, out, err = self.anvilctl("kick", "--dry-run", "127.0.0.0/8")
        self.assertEqual(code, 0, err)
        code, out, err = self.anvilctl("kick", "--reason", "password changed", "jane")
        self.assertEqual(code, 0, err)
        # anvilctl has its answer: the records are already in the file.
        dry, kick = self.records()
        self.assertEqual(dry["action"], "dry-run")
        self.assertEqual(dry["filter"], {"net": ["127.0.0.0/8"]})
        self.assertEqual({c["user"]: c["outcome"] for c in dry["connections"]},
                         {"jane": "would-kick", "bob": "would-kick"})
        self.assertEqual(kick["action"], "kick")
        self.assertEqual(kick["peer"]["uid"], os.getuid())
        self.assertEqual(kick["peer"]["user"], "root")
        self.assertEqual(kick["peer"]["program"], "anvilctl")
        self.assertEqual(kick["filter"], {"user": ["jane"]})
        self.assertEqual(kick["reason"], "password changed")
        self.assertEqual((kick["matched"], kick["kicked"]), (1, 1))
        [conn] = kick["connections"]
        self.assertEqual((conn["id"], conn["user"], conn["service"], conn["pid"], conn["ip"],
                          conn["outcome"]),
                         (ids["jane"], "jane", "imap", echod.pid, "127.0.0.2", "kicked"))
        self.assertIsNotNone(jane.read_bye())
        self.assertTrue(bob.alive())
        # anvilctl audit shows the same, newest last.
        code, out, err = self.anvilctl("audit", "-n", "1", global_args=("-f", "json"))
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out), [kick])
        code, out, err = self.anvilctl("audit")
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertIn("dry-run by root (uid 0", lines[0])
        self.assertIn("kick by root (uid 0", lines[3])
        self.assertIn('user=jane, reason "password changed", 1 matched, 1 kicked', lines[3])
        self.assertEqual(lines[4].split()[:3], ["kicked", "jane", "imap"])

    def test_reopened_on_sighup(self):
        echod = self.start_echod("imap")
        self.connect(echod, "127.0.0.2", "jane")
        self.wait_for_sessions(1)
        self.assertEqual(self.anvilctl("kick", "--dry-run", "jane")[0], 0)
        os.rename(self.audit_log, self.audit_log + ".1")
        self.anvild.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "reopened" in self.anvild_log()))
        self.assertEqual(self.anvilctl("kick", "jane")[0], 0)
        self.assertEqual([r["action"] for r in self.records()], ["kick"])
        with open(self.audit_log + ".1") as f:
            self.assertEqual([json.loads(line)["action"] for line in f], ["dry-run"])


class InputAtTheEdges(Stack):
    """Values that parsed as something they are not, and a reason that
    could inject a protocol line."""

    def test_an_embedded_nul_is_no_address(self):
        peer = RawLineSocket(self.service_socket)
        self.clients.append(peer)
        peer.send(SERVICE_HELLO.format(pid=os.getpid()))
        self.assertEqual(peer.line(), "VERSION\tanvil-service\t1\t0")
        peer.send(f"CONNECT\t{'a' * 32}\tuser=x\tip=1.2.3.4\x010garbage\n")
        self.assertIn("invalid ip", peer.line())
        admin = RawLineSocket(self.admin_socket)
        self.clients.append(admin)
        admin.send("VERSION\tanvil-admin\t1\t0\nWHO\tnet=10.0.0.0\x010junk/8\n")
        self.assertEqual(admin.line(), "VERSION\tanvil-admin\t1\t1")
        self.assertIn("invalid filter net", admin.line())
        self.assertEqual(self.who_users(), [])

    def test_a_mapped_network_is_its_ipv4_network(self):
        echod = self.start_echod("imap")
        self.connect(echod, "127.0.0.2", "jane")
        self.wait_for_sessions(1)
        self.assertEqual(self.who_users("::ffff:127.0.0.0/104"), ["jane"])
        self.assertEqual(self.who_users("::ffff:10.0.0.0/104"), [])

    def test_a_reason_cannot_inject_a_line(self):
        echod = self.start_echod("imap")
        jane = self.connect(echod, "127.0.0.2", "jane")
        self.wait_for_sessions(1)
        code, out, err = self.anvilctl("kick", "--reason", "bye\nOK injected", "jane")
        self.assertEqual(code, 0, err)
        self.assertEqual(jane.readline(), "BYE bye OK injected")
        self.assertEqual(jane.readline(), "")


class BoundedMemory(Stack):
    """Peers that send without reading grew anvild and its log without end."""

    anvild_options = ["-o", "max_output_bytes=262144", "-o", "admin_idle_timeout_ms=1000"]

    def rss_kib(self):
        with open(f"/proc/{self.anvild.pid}/status") as f:
            return int(f.read().split("VmRSS:")[1].split()[0])

    def assert_memory_bounded(self):
        # Unbounded, these attacks grew anvild by gigabytes. ASan keeps up
        # to 256 MiB of freed memory in quarantine on top.
        limit_mib = 512 if sanitized("anvild") else 64
        self.assertLess(self.rss_kib(), limit_mib * 1024)

    def test_a_service_sending_bad_lines_without_reading(self):
        peer = RawLineSocket(self.service_socket)
        self.clients.append(peer)
        peer.send(SERVICE_HELLO.format(pid=os.getpid()))
        bad = "CONNECT\tnot-an-id" + "x" * 8000 + "\n"
        deadline = time.monotonic() + 5
        sent = 0
        peer.sock.settimeout(1)
        while time.monotonic() < deadline and sent < 4000:  # about 32 MB
            try:
                peer.send(bad)
                sent += 1
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
        self.assertGreater(sent, 100)
        log = self.anvild_log()
        warnings = [line for line in log.splitlines() if "invalid connection id" in line]
        # A few dozen log lines a second, each cut short, not one per line
        # with 8 KB each.
        self.assertLess(len(warnings), 200)
        self.assertTrue(all(len(line) < 600 for line in warnings))
        self.assertLess(len(log), 200_000)
        self.assert_memory_bounded()
        self.assertEqual(self.anvilctl("who")[0], 0)  # still serving

    def test_an_admin_pipelining_who_without_reading_is_dropped(self):
        peer = RawLineSocket(self.service_socket)
        self.clients.append(peer)
        peer.send(SERVICE_HELLO.format(pid=os.getpid()))
        self.assertEqual(peer.line(), "VERSION\tanvil-service\t1\t0")
        peer.send("".join(f"CONNECT\t{i + 1:032x}\tuser=user{i}\tip=127.0.0.{i % 200 + 1}\n"
                          for i in range(2000)))
        self.assertTrue(wait_until(lambda: len(self.who_users()) == 2000))
        greedy = RawLineSocket(self.admin_socket)
        self.clients.append(greedy)
        greedy.sock.settimeout(2)
        greedy.send("VERSION\tanvil-admin\t1\t0\n" + "WHO\n" * 200)
        # The first answer fills what the socket holds, then nothing more
        # is taken: anvild stops building answers and drops the client.
        self.assertTrue(wait_until(lambda: "read nothing for admin_idle_timeout_ms; dropping it"
                                   in self.anvild_log()))
        self.assertTrue(greedy.closed())
        self.assert_memory_bounded()
        self.assertEqual(len(self.who_users()), 2000)  # others are served meanwhile


class Descriptors(Stack):
    """Under the usual limit of 1024 descriptors, a thousand idle sockets
    exhausted anvild; then root's who hung and the log filled."""

    def start_anvild(self, extra=(), preexec_fn=None):
        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)
        return super().start_anvild(extra, preexec_fn=limit)

    def setUp(self):
        self.nofile = (256, 2048)
        super().setUp()

    def test_the_limit_is_raised_at_start(self):
        self.assertEqual(resource.prlimit(self.anvild.pid, resource.RLIMIT_NOFILE), (2048, 2048))

    def test_out_of_descriptors_refuses_at_once_and_logs_little(self):
        self.nofile = (48, 48)
        self.restart_anvild_with()
        holder = hold_connections(self, self.service_socket, 80, None, SERVICE_HELLO)
        served = holder.answers.count("VERSION\tanvil-service\t1\t0")
        self.assertGreater(served, 10)
        self.assertLess(served, 48)
        # Root's own who is not left hanging: it is refused at once, and
        # served again once descriptors are free.
        started = time.monotonic()
        code, out, err = self.anvilctl("who")
        self.assertEqual(code, 75, err)
        self.assertLess(time.monotonic() - started, 30)
        time.sleep(1)
        exhausted = [line for line in self.anvild_log().splitlines()
                     if "out of file descriptors" in line]
        self.assertLess(len(exhausted), 60)
        holder.kill()
        holder.wait()
        self.assertTrue(wait_until(lambda: self.anvilctl("who")[0] == 0))


if __name__ == "__main__":
    unittest.main()
