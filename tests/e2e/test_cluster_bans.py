"""Bans across the cluster (docs/cluster.md): a ban set on any node holds on
every node, with the same id, including a node that was down when it was
set; lifting and expiry reach every node too; a cluster kick can ban."""

import json
import socket
import unittest

from cluster_harness import ClusterStack
from harness import wait_until


class ClusterBans(ClusterStack):

    def ban_list(self, name):
        code, out, err = self.anvilctl(name, "ban", "list", global_args=("-f", "json"))
        self.assertEqual(code, 0, err)
        return sorted((b["id"], b["user"], b["net"]) for b in json.loads(out))

    def wait_for_bans(self, expected, names=None):
        for name in names or self.node_names:
            self.assertTrue(wait_until(lambda: self.ban_list(name) == expected, timeout=30),
                            f"{name}: {self.ban_list(name)} != {expected}")

    def login(self, name, user, source="127.0.0.1"):
        """The reply of anvil-echod on node `name` to LOGIN."""
        sock = socket.create_connection(("127.0.0.1", self.nodes[name].echod.port), timeout=10,
                                        source_address=(source, 0))
        with sock, sock.makefile("rw") as f:
            f.readline()
            f.write(f"LOGIN {user}\n")
            f.flush()
            return f.readline().strip()

    def test_a_ban_set_anywhere_holds_everywhere_and_is_lifted_everywhere(self):
        code, out, err = self.anvilctl("beta", "ban", "add", "--reason", "compromised", "jane")
        self.assertEqual(code, 0, err)
        code, out, err = self.anvilctl("beta", "ban", "list", global_args=("-f", "json"))
        (ban,) = json.loads(out)
        expected = [(ban["id"], "jane", None)]
        self.wait_for_bans(expected)
        for name in self.node_names:
            self.assertEqual(self.login(name, "jane"), "NO banned: compromised")
            self.assertEqual(self.login(name, "john"), "OK")
        # --cluster ban list: every node's list, and each answered.
        code, out, err = self.anvilctl("alpha", "ban", "list", global_args=("--cluster", "-v"))
        self.assertEqual(code, 0, err)
        self.assertEqual(err.count(": answered"), 3, err)
        # Lifted on another node by the same id: lifted everywhere.
        code, _, err = self.anvilctl("gamma", "ban", "rm", str(ban["id"]))
        self.assertEqual(code, 0, err)
        self.wait_for_bans([])
        for name in self.node_names:
            self.assertEqual(self.login(name, "jane"), "OK")

    def test_a_node_down_when_a_ban_was_set_gets_it_when_it_returns(self):
        code, _, err = self.anvilctl("alpha", "ban", "add", "tmp")
        self.assertEqual(code, 0, err)
        self.wait_for_bans(self.ban_list("alpha"))
        (lifted,) = self.ban_list("alpha")
        gamma = self.nodes["gamma"]
        gamma.proc.terminate()
        gamma.proc.wait(10)
        # While gamma is away: one ban set, one lifted.
        for args in (("alpha", "ban", "add", "127.0.0.9/32"), ("beta", "ban", "add", "mallory"),
                     ("beta", "ban", "rm", str(lifted[0]))):
            code, _, err = self.anvilctl(*args)
            self.assertEqual(code, 0, err)
        expected = self.ban_list("beta")
        self.assertEqual(sorted(b[1] or b[2] for b in expected), ["127.0.0.9/32", "mallory"])
        self.wait_for_bans(expected, ("alpha", "beta"))
        self.start_node("gamma")
        self.wait_for_bans(expected)
        # gamma's anvil-echod reconnects to the new anvild, then refuses.
        self.assertTrue(wait_until(
            lambda: self.login("gamma", "mallory") == "NO banned: Banned by administrator"))
        self.assertEqual(self.login("gamma", "jane", "127.0.0.9"),
                         "NO banned: Banned by administrator")
        self.assertEqual(self.login("gamma", "tmp"), "OK")

    def test_expiry_reaches_every_node(self):
        code, _, err = self.anvilctl("alpha", "ban", "add", "--duration", "2s", "bob")
        self.assertEqual(code, 0, err)
        self.wait_for_bans(self.ban_list("alpha"))
        self.assertEqual(len(self.ban_list("gamma")), 1)
        self.wait_for_bans([])  # expired on each node by itself
        self.assertEqual(self.login("beta", "bob"), "OK")

    def test_a_cluster_kick_can_ban(self):
        clients = [self.connect("alpha", "eve", "127.0.0.2"),
                   self.connect("gamma", "eve", "127.0.0.3"),
                   self.connect("beta", "adam", "127.0.0.2")]
        code, out, err = self.anvilctl("beta", "kick", "--ban", "1h", "--reason", "abuse", "eve",
                                       global_args=("--cluster",))
        self.assertEqual(code, 0, err)
        self.assertIn("banned eve", out)
        self.assertIsNotNone(clients[0].read_bye())
        self.assertIsNotNone(clients[1].read_bye())
        self.assertTrue(clients[2].alive())
        self.wait_for_bans(self.ban_list("beta"))
        self.assertEqual(self.login("gamma", "eve"), "NO banned: abuse")


if __name__ == "__main__":
    unittest.main()
