"""anvild as Dovecot 2.3's own anvil service: Dovecot's master starts it,
real IMAP and POP3 processes register with it, anvilctl lists and kicks
them, mail_max_userip_connections holds, and it ends with the master."""

import imaplib
import os
import poplib
import signal
import subprocess
import unittest

from harness import BIN, DovecotServer, RawLineSocket, Stack, imap_alive, imap_goodbye, pop3_alive, wait_until


class AnvildAsDovecotAnvil(Stack):

    def setUp(self):
        super().setUp()
        self.run_dir = os.path.join(self.dir, "service-anvild")
        # vsz_limit = 0: a sanitizer build reserves terabytes of address
        # space, more than master's default limit for the service allows.
        self.dovecot = DovecotServer(self, f"""mail_max_userip_connections = 2
service anvil {{
  executable = {BIN}/anvild --dovecot-service --run-dir {self.run_dir} -o max_admin_clients=1 -o audit_log={self.run_dir}/audit.jsonl -o ban_file={self.run_dir}/bans
  vsz_limit = 0
}}
""")
        self.assertTrue(wait_until(lambda: os.path.exists(os.path.join(self.run_dir, "anvil"))))
        self.live = []

    def tearDown(self):
        for client in self.live:
            try:
                client.shutdown() if hasattr(client, "shutdown") else client.close()
            except OSError:
                pass
        super().tearDown()

    def ctl(self, *args, global_args=()):
        return self.anvilctl(*args, socket_path=os.path.join(self.run_dir, "anvil"),
                             global_args=global_args)

    def login(self, protocol, user, source="127.0.0.1"):
        client = (self.dovecot.imap if protocol == "imap" else self.dovecot.pop3)(user, source)
        self.live.append(client)
        return client

    def rows(self):
        code, out, err = self.ctl("who", "-1", global_args=("-f", "tab"))
        self.assertEqual(code, 0, err)
        return sorted(tuple(line.split("\t")[:4]) for line in out.splitlines()[1:])

    def dovecot_log(self):
        with open(os.path.join(self.dir, "dovecot.log"), errors="replace") as f:
            return f.read()

    def test_real_sessions_are_listed_and_kicked(self):
        jane = self.login("imap", "jane", "127.0.0.2")
        bob = self.login("imap", "bob", "127.0.0.3")
        jane_pop3 = self.login("pop3", "jane", "127.0.0.2")
        self.assertTrue(wait_until(lambda: len(self.rows()) == 3))
        self.assertEqual(sorted((r[0], r[1], r[3]) for r in self.rows()),
                         [("bob", "imap", "127.0.0.3"), ("jane", "imap", "127.0.0.2"),
                          ("jane", "pop3", "127.0.0.2")])
        # doveadm, on Dovecot's own anvil socket (served by anvild), agrees.
        code, out, err = self.dovecot.doveadm("who", "-1")
        self.assertEqual(code, 0, err)
        self.assertEqual(sorted(tuple(line.split()) for line in out.splitlines()[1:]), self.rows())

        code, out, err = self.ctl("kick", "jane")
        self.assertEqual((code, out), (0, "kicked connections from the following users:\njane\n"), err)
        self.assertIn("Server shutting down", imap_goodbye(jane))
        self.assertTrue(wait_until(lambda: not pop3_alive(jane_pop3)))
        self.assertTrue(imap_alive(bob))
        self.assertTrue(wait_until(lambda: [r[0] for r in self.rows()] == ["bob"]))

    def test_a_dovecot_process_cannot_register_a_stranger(self):
        # Any Dovecot process may write to anvild's sockets and pipes; a
        # CONNECT naming a process that is not a child of this master (here
        # the test itself, as root) is ignored, so it cannot be signalled
        # and does not count against mail_max_userip_connections.
        peer = RawLineSocket(self.dovecot.anvil_socket)
        self.clients.append(peer)
        peer.send(f"VERSION\tanvil\t1\t0\nCONNECT\t{os.getpid()}\timap/127.0.0.2/jane\n"
                  "LOOKUP\timap/127.0.0.2/jane\n")
        self.assertEqual(peer.line(), "0")
        self.assertEqual(self.rows(), [])
        # Why it was ignored is in Dovecot's log. Dovecot's log process may
        # hold a service's lines back for a long while on a busy machine;
        # they are all written once the master has stopped.
        self.dovecot.master.terminate()
        self.dovecot.master.wait(30)
        self.assertTrue(wait_until(lambda: f"CONNECT for pid {os.getpid()} ignored: it is not a "
                                   "child of Dovecot's master" in self.dovecot_log(), timeout=10))

    def test_mail_max_userip_connections_holds(self):
        self.login("imap", "jane", "127.0.0.2")
        self.login("imap", "jane", "127.0.0.2")
        with self.assertRaises(imaplib.IMAP4.error) as refused:
            self.login("imap", "jane", "127.0.0.2")
        self.assertIn("Maximum number of connections from user+IP exceeded", str(refused.exception))
        self.login("imap", "jane", "127.0.0.4")  # another address is fine

    def test_a_banned_user_cannot_log_in_over_imap_or_pop3(self):
        code, out, err = self.ctl("ban", "add", "--reason", "compromised", "jane")
        self.assertEqual(code, 0, err)
        with self.assertRaises(imaplib.IMAP4.error) as refused:
            self.login("imap", "jane", "127.0.0.2")
        # What a Dovecot admin sees: Dovecot's own refusal, as for too many
        # connections, and anvild's log line naming the ban.
        self.assertEqual(refused.exception.args[0], b"[LIMIT] Maximum number of connections from "
                                                    b"user+IP exceeded (mail_max_userip_connections=2)")
        with self.assertRaises(poplib.error_proto) as refused:
            self.login("pop3", "jane", "127.0.0.2")
        self.assertEqual(refused.exception.args[0], b"-ERR [IN-USE] Maximum number of connections "
                                                    b"from user+IP exceeded (mail_max_userip_connections=2)")
        self.assertTrue(wait_until(lambda: "jane is banned (ban 1)" in self.anvild_service_log()))
        # Others get in; jane has no session.
        self.assertTrue(imap_alive(self.login("imap", "bob", "127.0.0.3")))
        self.assertTrue(wait_until(lambda: [r[0] for r in self.rows()] == ["bob"]))
        # Lifted: jane gets in again.
        code, out, err = self.ctl("ban", "rm", "1")
        self.assertEqual(code, 0, err)
        self.assertTrue(imap_alive(self.login("imap", "jane", "127.0.0.2")))

    def anvild_service_log(self):
        # Under Dovecot's master, anvild logs to Dovecot's log.
        return self.dovecot_log()

    def test_dovecots_socket_is_not_capped_by_max_admin_clients(self):
        # Every Dovecot login process keeps a connection to this socket.
        peers = [RawLineSocket(self.dovecot.anvil_socket) for _ in range(5)]
        self.clients.extend(peers)
        for peer in peers:
            peer.send("VERSION\tanvil\t1\t0\nLOOKUP\timap/127.0.0.1/jane\n")
            self.assertEqual(peer.line(), "0")
        # anvild's own admin socket keeps its cap (max_admin_clients=1
        # here) for other uids; root is never refused.
        holders = [RawLineSocket(os.path.join(self.run_dir, "anvil")) for _ in range(2)]
        self.clients.extend(holders)
        for holder in holders:
            holder.send("VERSION\tanvil-admin\t1\t0\n")
            self.assertEqual(holder.line(), "VERSION\tanvil-admin\t1\t1")
        code, out, err = self.ctl("who")
        self.assertEqual(code, 0, err)

    def test_a_killed_process_leaves_no_session(self):
        self.login("imap", "jane", "127.0.0.2")
        self.assertTrue(wait_until(lambda: len(self.rows()) == 1))
        os.kill(int(self.rows()[0][2]), signal.SIGKILL)
        self.assertTrue(wait_until(lambda: self.rows() == []))

    def test_logs_in_dovecots_format_and_ends_with_master(self):
        self.login("imap", "bob")
        self.assertTrue(wait_until(lambda: len(self.rows()) == 1))
        # Dovecot's log process writes anvild's startup lines only once a
        # later line arrives (docs/dovecot.md); a kick logs one.
        self.assertEqual(self.ctl("kick", "nobody")[0], 68)
        self.assertTrue(wait_until(lambda: "anvil: Info: serving as Dovecot's anvil"
                                   in self.dovecot_log(), timeout=15), self.dovecot_log())
        log = self.dovecot_log()
        self.assertNotIn("anvil: Error", log)
        self.assertNotIn("Initial status notification not received", log)
        anvild = subprocess.run(["pgrep", "-f", f"anvild --dovecot-service --run-dir {self.run_dir}"],
                                capture_output=True, text=True).stdout.split()
        self.assertEqual(len(anvild), 1)
        self.dovecot.master.terminate()
        self.dovecot.master.wait(20)
        self.assertTrue(wait_until(lambda: not os.path.exists(f"/proc/{anvild[0]}"), timeout=15),
                        "anvild outlived Dovecot's master")
        self.assertIn("Dovecot's master is gone", self.dovecot_log())


if __name__ == "__main__":
    unittest.main()
