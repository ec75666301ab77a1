"""Dovecot 2.3's own doveadm (Debian's package) against anvild: who and kick
over sessions registered natively and through Dovecot's protocol. doveadm
runs with a scratch configuration; nothing touches system paths."""

import os
import shutil
import signal
import subprocess
import unittest

from harness import RawLineSocket, Stack, wait_until

DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"


class DoveadmAgainstAnvild(Stack):

    def setUp(self):
        super().setUp()
        self.assertTrue(os.path.exists(DOVEADM), "doveadm missing: run scripts/deps.sh")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(f"base_dir = {self.dir}/dovecot-run\nstate_dir = {self.dir}/dovecot-state\n"
                    f"log_path = {self.dir}/dovecot.log\nprotocols =\nssl = no\n")
        # Native: one anvil-echod serving jane and bob.
        self.echod = self.start_echod("imap")
        self.jane_native = self.connect(self.echod, "127.0.0.2", "jane")
        self.bob_native = self.connect(self.echod, "127.0.0.3", "bob")
        # Through Dovecot's protocol: a process holding only jane's sessions.
        self.mail = subprocess.Popen(["sleep", "120"])
        self.processes.append(self.mail)
        dc = RawLineSocket(self.admin_socket)
        self.clients.append(dc)
        dc.send(f"VERSION\tanvil\t1\t0\nCONNECT\t{self.mail.pid}\timap/::1/jane\n"
                f"CONNECT\t{self.mail.pid}\timap/::1/jane\n")
        self.wait_for_sessions(4)

    def doveadm(self, *args):
        proc = subprocess.run([DOVEADM, "-c", self.conf, *args], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stdout, proc.stderr

    def test_who_lists_what_anvilctl_lists(self):
        code, out, err = self.doveadm("who", "-1", "-a", self.admin_socket)
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["username", "proto", "pid", "ip"])
        doveadm_rows = sorted(tuple(line.split()) for line in lines[1:])
        code, out, err = self.anvilctl("who", "-1", global_args=("-f", "tab"))
        anvilctl_rows = sorted(tuple(line.split("\t")[:4]) for line in out.splitlines()[1:])
        self.assertEqual(doveadm_rows, anvilctl_rows)
        self.assertEqual(doveadm_rows, sorted([
            ("bob", "imap", str(self.echod.pid), "127.0.0.3"),
            ("jane", "imap", str(self.echod.pid), "127.0.0.2"),
            ("jane", "imap", str(self.mail.pid), "::1"),
            ("jane", "imap", str(self.mail.pid), "::1")]))

    def test_grouped_who(self):
        code, out, err = self.doveadm("who", "-a", self.admin_socket, "jane")
        self.assertEqual(code, 0, err)
        rows = [line.split() for line in out.splitlines()[1:]]
        self.assertEqual(len(rows), 1)
        user, count, proto = rows[0][:3]
        self.assertEqual((user, count, proto), ("jane", "3", "imap"))
        self.assertIn(str(self.echod.pid), out)
        self.assertIn(str(self.mail.pid), out)

    def test_kick_refuses_a_process_that_serves_other_users(self):
        code, out, err = self.doveadm("kick", "-a", self.admin_socket, "jane")
        self.assertEqual(code, 0, err)
        self.assertIn("other connections would also be kicked from following users", out)
        self.assertIn("bob", out)
        # Dovecot 2.3 then kills nothing at all.
        self.assertIsNone(self.mail.poll())
        self.assertTrue(self.jane_native.alive())

    def test_kick_with_force_ends_the_processes(self):
        code, out, err = self.doveadm("kick", "-a", self.admin_socket, "-f", "jane")
        self.assertEqual(code, 0, err)
        self.assertIn("kicked connections from the following users", out)
        self.assertEqual(self.mail.wait(10), -signal.SIGTERM)
        self.assertIsNone(self.jane_native.read_bye())  # a killed process says no BYE
        self.assertTrue(wait_until(lambda: self.who_users() == []))

    def test_kick_of_a_user_alone_in_its_process(self):
        code, out, err = self.doveadm("kick", "-a", self.admin_socket, "jane", "::1")
        self.assertEqual(code, 0, err)
        self.assertIn("jane", out)
        self.assertEqual(self.mail.wait(10), -signal.SIGTERM)
        self.assertTrue(wait_until(lambda: self.who_users() == ["bob", "jane"]))
        self.assertTrue(self.jane_native.alive())

    def test_nothing_matched(self):
        code, out, err = self.doveadm("kick", "-a", self.admin_socket, "nobody")
        self.assertEqual((code, out.strip()), (68, "no users kicked"))


if __name__ == "__main__":
    unittest.main()
