"""Conformance: the same scenarios through Dovecot 2.3's doveadm and through
anvilctl, against the same real Dovecot. Compared as sets: which sessions
each lists, which real IMAP/POP3 clients each disconnects. Every intended
difference is asserted here and listed in docs/dovecot.md."""

import time
import unittest

from harness import DovecotServer, Stack, imap_alive, pop3_alive, wait_until

# name: (protocol, user, source address). The pop3 clients share one
# process (client_limit > 1), the case doveadm-kick(1)'s -f is about.
CLIENTS = {
    "jane-imap": ("imap", "jane", "127.0.0.2"),
    "jano-imap": ("imap", "jano", "127.0.0.6"),
    "james-imap": ("imap", "james", "127.0.0.3"),
    "bob-imap": ("imap", "bob", "127.0.0.4"),
    "foo-imap-53": ("imap", "foo", "127.0.2.53"),
    "foo-imap-111": ("imap", "foo", "127.0.2.111"),
    "foo-imap-other": ("imap", "foo", "127.0.0.5"),
    "jane-pop3": ("pop3", "jane", "127.0.0.2"),
    "bob-pop3": ("pop3", "bob", "127.0.0.4"),
}


class Conformance(Stack):

    def setUp(self):
        super().setUp()
        self.dovecot = DovecotServer(self, "service pop3 {\n  client_limit = 10\n"
                                           "  service_count = 0\n  process_limit = 1\n}\n")

    # --- running one tool ---------------------------------------------------

    def login_all(self):
        for client in getattr(self, "live", {}).values():
            close(client)
        self.live = {}
        for name, (protocol, user, source) in CLIENTS.items():
            connect = self.dovecot.imap if protocol == "imap" else self.dovecot.pop3
            self.live[name] = connect(user, source)
        self.assertTrue(wait_until(lambda: len(self.who_rows("doveadm")) == len(CLIENTS)))

    def run_tool(self, tool, *args):
        if tool == "doveadm":
            return self.dovecot.doveadm(*args[:1], "-a", self.dovecot.anvil_socket, *args[1:])
        return self.anvilctl(*args, socket_path=self.dovecot.anvil_socket)

    def who_rows(self, tool, *masks):
        """(user, service, pid, ip) per connection."""
        if tool == "doveadm":
            code, out, err = self.dovecot.doveadm("who", "-1", "-a", self.dovecot.anvil_socket, *masks)
            rows = [tuple(line.split()) for line in out.splitlines()[1:]]
        else:
            code, out, err = self.anvilctl("who", "-1", *masks, socket_path=self.dovecot.anvil_socket,
                                           global_args=("-f", "tab"))
            rows = [tuple(line.split("\t")[:4]) for line in out.splitlines()[1:]]
        self.assertEqual(code, 0, err)
        return sorted(rows)

    def disconnected_by(self, tool, *args):
        """Logs every client in, runs the kick, and returns (exit code, the
        names of the clients it disconnected)."""
        self.login_all()
        code, out, err = self.run_tool(tool, "kick", *args)
        # Signalled processes end within milliseconds; wait until the
        # registry stops changing.
        previous = [None]

        def settled():
            rows = self.who_rows("doveadm")
            same = rows == previous[0]
            previous[0] = rows
            return same
        wait_until(settled, interval=0.2)
        gone = set()
        for name, client in self.live.items():
            alive = imap_alive(client) if CLIENTS[name][0] == "imap" else pop3_alive(client)
            if not alive:
                gone.add(name)
        return code, gone

    def tearDown(self):
        for client in getattr(self, "live", {}).values():
            close(client)
        super().tearDown()

    # --- who -----------------------------------------------------------------

    def test_who_lists_the_same_sessions(self):
        self.login_all()
        for masks in ((), ("ja*",), ("jan?",), ("foo", "127.0.2.0/24"), ("127.0.0.4",),
                      ("nobody",), ("*",)):
            self.assertEqual(self.who_rows("doveadm", *masks), self.who_rows("anvilctl", *masks),
                             f"who -1 {' '.join(masks)}")

    # --- kick ----------------------------------------------------------------

    def assert_same_kick(self, doveadm_args, anvilctl_args, expected):
        code_d, gone_d = self.disconnected_by("doveadm", *doveadm_args)
        code_a, gone_a = self.disconnected_by("anvilctl", *anvilctl_args)
        self.assertEqual(gone_d, set(expected), f"doveadm kick {doveadm_args}")
        self.assertEqual(gone_a, gone_d, f"anvilctl kick {anvilctl_args}")
        self.assertEqual(code_a, code_d)

    def test_kick_user_in_network(self):
        self.assert_same_kick(("foo", "127.0.2.0/24"), ("foo", "127.0.2.0/24"),
                              {"foo-imap-53", "foo-imap-111"})

    def test_kick_mask_alone_in_its_processes(self):
        self.assert_same_kick(("ja?es",), ("ja?es",), {"james-imap"})

    def test_kick_address(self):
        self.assert_same_kick(("127.0.0.3",), ("127.0.0.3",), {"james-imap"})

    def test_kick_nothing(self):
        self.assert_same_kick(("nobody",), ("nobody",), set())

    def test_forced_kick_of_a_shared_process(self):
        # Dovecot 2.3's "-f" is spelled --force in anvilctl (whose -f names a
        # passdb field, as in Dovecot 2.4).
        self.assert_same_kick(("-f", "jan?"), ("--force", "jan?"),
                              {"jane-imap", "jano-imap", "jane-pop3", "bob-pop3"})

    def test_shared_process_without_force_differs_on_purpose(self):
        # doveadm refuses the whole kick when any process is shared;
        # anvilctl spares only the shared process and kicks the rest.
        code_d, gone_d = self.disconnected_by("doveadm", "jan?")
        code_a, gone_a = self.disconnected_by("anvilctl", "jan?")
        self.assertEqual((code_d, gone_d), (0, set()))
        self.assertEqual((code_a, gone_a), (0, {"jane-imap", "jano-imap"}))


def close(client):
    try:
        if hasattr(client, "shutdown"):
            client.shutdown()
        else:
            client.close()
    except OSError:
        pass


if __name__ == "__main__":
    unittest.main()
