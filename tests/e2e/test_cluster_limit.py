"""cluster_max_user_connections (docs/cluster.md): a user may hold at most N
sessions over every node; a login past it is refused on any node, and is
let in again once the user is below N."""

import socket
import unittest

from cluster_harness import ClusterStack
from harness import wait_until


class ClusterLimit(ClusterStack):

    node_options = ClusterStack.node_options + ("-o", "cluster_max_user_connections=3")

    def login(self, name, user):
        """A connection to anvil-echod on node `name` and its LOGIN reply."""
        sock = socket.create_connection(("127.0.0.1", self.nodes[name].echod.port), timeout=10)
        f = sock.makefile("rw")
        f.readline()
        f.write(f"LOGIN {user}\n")
        f.flush()
        reply = f.readline().strip()
        self.addCleanup(sock.close)
        self.addCleanup(f.close)
        return reply, f

    def test_the_limit_holds_across_nodes(self):
        held = []
        for name in ("alpha", "beta", "gamma"):
            reply, client = self.login(name, "jane")
            self.assertEqual(reply, "OK")
            held.append(client)
        self.assertTrue(wait_until(lambda: len(self.cluster_rows("beta", "jane")[0]) == 3))
        # A fourth, on any node, is refused, and names the count and limit.
        for name in self.node_names:
            reply, _ = self.login(name, "jane")
            self.assertEqual(reply, "NO limit: 3 sessions of this user in the cluster; "
                                    "cluster_max_user_connections is 3")
        # Others are not limited by jane's sessions; the count is per user
        # and ASCII case-folded.
        self.assertEqual(self.login("alpha", "john")[0], "OK")
        self.assertTrue(self.login("gamma", "JANE")[0].startswith("NO limit: 3 sessions"))
        # One of jane's sessions ends (on beta): a login anywhere works again.
        held[1].write("QUIT\n")
        held[1].flush()
        held[1].readline()
        self.assertTrue(wait_until(lambda: len(self.cluster_rows("beta", "jane")[0]) == 2))
        self.assertEqual(self.login("gamma", "jane")[0], "OK")
        self.assertTrue(self.login("alpha", "jane")[0].startswith("NO limit"))

    def test_a_stopped_node_counts_as_none_and_logins_are_not_held_up(self):
        import os
        import signal
        import time
        self.assertEqual(self.login("gamma", "jane")[0], "OK")
        self.assertEqual(self.login("gamma", "jane")[0], "OK")
        os.kill(self.nodes["gamma"].proc.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            reply, _ = self.login("alpha", "jane")
            took = time.monotonic() - started
        finally:
            os.kill(self.nodes["gamma"].proc.pid, signal.SIGCONT)
        self.assertEqual(reply, "OK")  # gamma's two were not counted
        self.assertLess(took, 5)
        self.assertIn("gave no count for a login (timeout)", self.nodes["alpha"].log())
        # With gamma back, the three are counted again.
        self.assertTrue(wait_until(lambda: self.login("beta", "jane")[0].startswith("NO limit")))


class ClusterLimitAtTheProxy(ClusterStack):
    """anvil-proxy in front of Dovecot on two nodes, each registering with
    its node's anvild: the limit holds over both, with the proxy's own
    refusals (IMAP NO [LIMIT], POP3 -ERR [IN-USE])."""

    node_names = ("alpha", "beta")
    node_options = ClusterStack.node_options + ("-o", "cluster_max_user_connections=1")

    def test_a_second_login_on_another_node_is_refused(self):
        import imaplib
        import poplib
        from harness import DovecotServer, SourcedIMAP4, mail_client, start_proxy
        dovecot = DovecotServer(self)
        proxies = {}
        for name in self.node_names:
            proxies[name] = start_proxy(self, {
                "imap_listen": "127.0.0.1:0", "pop3_listen": "127.0.0.1:0",
                "backend_imap": f"127.0.0.1:{dovecot.imap_port}",
                "backend_pop3": f"127.0.0.1:{dovecot.pop3_port}",
                "require_tls_for_login": "no",
                "anvil_socket": self.nodes[name].service_socket})
        jane = SourcedIMAP4("127.0.0.1", "127.0.0.1", proxies["alpha"].ports["imap"], 40)
        self.addCleanup(jane.shutdown)
        jane.login("jane", "secret")
        self.assertTrue(wait_until(lambda: [r[0] for r in self.cluster_rows("beta")[0]]
                                   == ["jane"]))
        second = SourcedIMAP4("127.0.0.1", "127.0.0.1", proxies["beta"].ports["imap"], 40)
        self.addCleanup(second.shutdown)
        with self.assertRaises(imaplib.IMAP4.error) as refused:
            second.login("jane", "secret")
        self.assertIn("[LIMIT] Maximum number of connections for this user exceeded",
                      str(refused.exception))
        pop = mail_client("pop3", proxies["beta"].ports["pop3"])
        self.addCleanup(pop.close)
        pop.user("jane")
        with self.assertRaises(poplib.error_proto) as refused:
            pop.pass_("secret")
        self.assertIn("-ERR [IN-USE]", str(refused.exception))
        # Someone else is fine, and jane's first session is untouched.
        bob = SourcedIMAP4("127.0.0.1", "127.0.0.1", proxies["beta"].ports["imap"], 40)
        self.addCleanup(bob.shutdown)
        bob.login("bob", "secret")
        self.assertEqual(jane.noop()[0], "OK")


if __name__ == "__main__":
    unittest.main()
