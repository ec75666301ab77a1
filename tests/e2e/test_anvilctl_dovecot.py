"""anvilctl against a real Dovecot 2.3's own anvil: it notices the dialect
by itself, lists what doveadm lists, and kicks real IMAP and POP3 clients by
signalling their processes through pidfds."""

import os
import socket
import unittest

from harness import DovecotServer, Stack, as_user, imap_alive, imap_goodbye, pop3_alive, wait_until


def doveadm_rows(dovecot):
    code, out, err = dovecot.doveadm("who", "-1")
    assert code == 0, err
    return sorted(tuple(line.split()) for line in out.splitlines()[1:])


class AnvilctlAgainstDovecot(Stack):

    daemonize = False  # Dovecot's master in the foreground (-F)

    def setUp(self):
        super().setUp()
        # pop3: one process for every client, as in doveadm-kick(1)'s -f text.
        self.dovecot = DovecotServer(self, "service pop3 {\n  client_limit = 10\n"
                                           "  service_count = 0\n  process_limit = 1\n}\n",
                                     daemonize=self.daemonize)
        self.jane_imap = self.dovecot.imap("jane")
        self.bob_imap = self.dovecot.imap("bob")
        self.jane_pop3 = self.dovecot.pop3("jane")
        self.bob_pop3 = self.dovecot.pop3("bob")
        self.assertTrue(wait_until(lambda: len(doveadm_rows(self.dovecot)) == 4))

    def tearDown(self):
        for client in (self.jane_imap, self.bob_imap):
            try:
                client.shutdown()
            except OSError:
                pass
        for client in (self.jane_pop3, self.bob_pop3):
            try:
                client.close()
            except OSError:
                pass
        super().tearDown()

    def ctl(self, *args, global_args=()):
        return self.anvilctl(*args, socket_path=self.dovecot.anvil_socket, global_args=global_args)

    def test_who_lists_what_doveadm_lists(self):
        code, out, err = self.ctl("who", "-1", global_args=("-f", "tab"))
        self.assertEqual(code, 0, err)
        rows = sorted(tuple(line.split("\t")[:4]) for line in out.splitlines()[1:])
        self.assertEqual(rows, doveadm_rows(self.dovecot))
        self.assertEqual(sorted(r[:2] for r in rows),
                         [("bob", "imap"), ("bob", "pop3"), ("jane", "imap"), ("jane", "pop3")])
        # Connections Dovecot registered have no id: shown as absent.
        self.assertEqual({line.split("\t")[5] for line in out.splitlines()[1:]}, {""})

    def test_kick_signals_only_processes_whose_users_all_match(self):
        code, out, err = self.ctl("kick", "jane")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "kicked connections from the following users:\njane\n")
        # The shared pop3 process also serves bob: not signalled, and said so.
        self.assertIn("not kicked: the process also serves", err)
        self.assertIn("other connections would also be kicked from the following users: bob", err)
        self.assertIn("Server shutting down", imap_goodbye(self.jane_imap))
        self.assertTrue(imap_alive(self.bob_imap))
        self.assertTrue(pop3_alive(self.jane_pop3))
        self.assertTrue(pop3_alive(self.bob_pop3))
        self.assertTrue(wait_until(lambda: ("jane", "imap") not in
                                   {r[:2] for r in doveadm_rows(self.dovecot)}))

    def test_force_ends_a_shared_process_and_names_everyone_it_hit(self):
        code, out, err = self.ctl("kick", "--force", "--service", "pop3", "jane")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "kicked connections from the following users:\nbob jane\n")
        self.assertTrue(wait_until(lambda: not pop3_alive(self.jane_pop3)))
        self.assertFalse(pop3_alive(self.bob_pop3))
        self.assertTrue(imap_alive(self.jane_imap))

    def test_kick_by_network_and_dry_run(self):
        code, out, err = self.ctl("kick", "--dry-run", "127.0.0.0/8", "--service", "imap")
        self.assertEqual((code, out), (0, "would kick connections from the following users:\nbob jane\n"), err)
        self.assertTrue(imap_alive(self.jane_imap))
        code, out, err = self.ctl("kick", "::1")
        self.assertEqual((code, out), (68, "no users kicked\n"))
        self.assertTrue(imap_alive(self.bob_imap))

    def test_dovecot_logs_no_protocol_error(self):
        self.assertEqual(self.ctl("who")[0], 0)
        self.assertEqual(self.ctl("kick", "nobody")[0], 68)
        with open(os.path.join(self.dir, "dovecot.log")) as log:
            text = log.read()
        self.assertNotIn("not compatible", text)
        self.assertNotIn("input error", text)

    def test_a_process_not_of_dovecots_master_is_not_signalled(self):
        # Dovecot's anvil lists whatever pid a CONNECT names; anvilctl
        # signals only children of the master that made the socket.
        stranger = self.spawn(["sleep", "60"], **as_user("nobody"))
        with socket_to(self.dovecot.anvil_socket) as sock:
            sock.sendall(f"VERSION\tanvil\t1\t0\nCONNECT\t{stranger.pid}\timap/127.0.0.77/mallory\n"
                         .encode())
            self.assertTrue(wait_until(lambda: ("mallory", "imap") in
                                       {r[:2] for r in doveadm_rows(self.dovecot)}))
            code, out, err = self.ctl("kick", "mallory")
        self.assertEqual(code, 68, err)
        self.assertIn("may not be signalled as one of Dovecot's: it is not a child of Dovecot's "
                      "master", err)
        self.assertIsNone(stranger.poll())

    def test_connection_ids_are_refused(self):
        code, out, err = self.ctl("kick", "--id", "0123456789abcdef0123456789abcdef")
        self.assertEqual(code, 64)
        self.assertIn("no connection ids", err)


class AnvilctlAgainstDaemonizedDovecot(AnvilctlAgainstDovecot):
    """The same against a master that daemonized (started without -F, as
    init scripts and admins at a shell start it): the process that made
    the socket has exited, and the master is the one master.pid names."""

    daemonize = True


def socket_to(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    return sock


if __name__ == "__main__":
    unittest.main()
