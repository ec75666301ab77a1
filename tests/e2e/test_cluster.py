"""One who and kick for the whole cluster (docs/cluster.md): three
nats-server processes routed into one NATS cluster, three anvild nodes, each
with anvil-echod sessions from chosen loopback addresses, and anvilctl
--cluster / --node on any node."""

import json
import os
import signal
import time
import unittest

from cluster_harness import ClusterStack
from harness import BIN, wait_until


class ClusterWhoKick(ClusterStack):

    def populate(self):
        """Sessions on each node: who and from where."""
        plan = {
            "alpha": [("jane", "127.0.0.2"), ("bob", "127.0.0.3")],
            "beta": [("john", "127.0.0.4"), ("jane", "127.0.0.5"), ("carol", "127.0.0.2")],
            "gamma": [("jack", "127.0.0.6"), ("dave", "127.0.0.4")],
        }
        clients = {}
        for node, sessions in plan.items():
            for user, source in sessions:
                clients[(user, source, node)] = self.connect(node, user, source)
        expected = sorted(clients)
        self.assertTrue(wait_until(lambda: self.cluster_rows()[0] == expected),
                        f"{self.cluster_rows()} != {expected}")
        return clients

    def test_who_is_the_union_of_the_nodes(self):
        clients = self.populate()
        expected = sorted(clients)
        # From every node the same union, each row with its node.
        for via in self.node_names:
            rows, code, err = self.cluster_rows(via)
            self.assertEqual((rows, code), (expected, 0), err)
        # --node: that node's sessions alone.
        rows, code, _ = self.cluster_rows("alpha", node="beta")
        self.assertEqual(rows, [k for k in expected if k[2] == "beta"])
        self.assertEqual(code, 0)
        # Filters run on every node: a user mask, and a network.
        rows, code, _ = self.cluster_rows("gamma", "j*")
        self.assertEqual(rows, [k for k in expected if k[0].startswith("j")])
        rows, code, _ = self.cluster_rows("gamma", "127.0.0.4")
        self.assertEqual(rows, [("dave", "127.0.0.4", "gamma"), ("john", "127.0.0.4", "beta")])
        # The grouped view counts across nodes (doveadm's columns).
        code, out, _ = self.anvilctl("beta", "who", "jane", global_args=("--cluster",))
        self.assertEqual(code, 0)
        self.assertEqual(out.splitlines()[1].split()[:3], ["jane", "2", "imap"])
        # Table output has the node column.
        code, out, _ = self.anvilctl("beta", "who", "-1", "dave",
                                     global_args=("--cluster", "-f", "tab"))
        header, row = out.splitlines()
        self.assertEqual(header.split("\t")[-1], "node")
        self.assertEqual(row.split("\t")[-1], "gamma")
        # Without --cluster: the local node only, as always.
        code, out, _ = self.anvilctl("gamma", "who", "-1", global_args=("-f", "tab"))
        self.assertEqual(sorted(line.split("\t")[0] for line in out.splitlines()[1:]),
                         ["dave", "jack"])

    def assert_kicked_exactly(self, clients, kicked):
        for key, client in clients.items():
            if key in kicked:
                self.assertIsNotNone(client.read_bye(), f"{key} was not kicked")
            else:
                self.assertTrue(client.alive(), f"bystander {key} was hurt")

    def test_cluster_kick_by_mask_drops_exactly_the_matching_sessions(self):
        clients = self.populate()
        # A dry run reports and drops nothing.
        code, out, err = self.anvilctl("alpha", "kick", "--dry-run", "j*",
                                       global_args=("--cluster", "-f", "json"))
        self.assertEqual(code, 0, err)
        dry = sorted((r["username"], r["ip"], r["node"], r["result"]) for r in json.loads(out))
        self.assertEqual(dry, [("jack", "127.0.0.6", "gamma", "would-kick"),
                               ("jane", "127.0.0.2", "alpha", "would-kick"),
                               ("jane", "127.0.0.5", "beta", "would-kick"),
                               ("john", "127.0.0.4", "beta", "would-kick")])
        self.assertEqual(self.cluster_rows()[0], sorted(clients))
        code, out, err = self.anvilctl("beta", "kick", "--reason", "password changed", "j*",
                                       global_args=("--cluster", "-f", "json"))
        self.assertEqual(code, 0, err)
        done = sorted((r["username"], r["ip"], r["node"], r["result"]) for r in json.loads(out))
        self.assertEqual(done, [(u, ip, n, "kicked") for u, ip, n, _ in dry])
        kicked = {k for k in clients if k[0].startswith("j")}
        self.assert_kicked_exactly(clients, kicked)
        rows, code, _ = self.cluster_rows()
        self.assertEqual(rows, sorted(set(clients) - kicked))
        # Each node's audit trail has its part, naming the asking node and uid.
        with open(self.nodes["gamma"].audit_log) as f:
            record = json.loads(f.read().splitlines()[-1])
        self.assertEqual([c["user"] for c in record["connections"]], ["jack"])
        self.assertTrue(record["on_behalf"].startswith("node beta: root uid 0 pid "),
                        record["on_behalf"])
        self.assertEqual(record["reason"], "password changed")

    def test_cluster_kick_by_network_and_one_node(self):
        clients = self.populate()
        code, out, err = self.anvilctl("gamma", "kick", "127.0.0.2/32",
                                       global_args=("--cluster",))
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines(),
                         ["kicked connections from the following users:", "carol jane"])
        kicked = {("jane", "127.0.0.2", "alpha"), ("carol", "127.0.0.2", "beta")}
        self.assert_kicked_exactly(clients, kicked)
        # --node: the same network elsewhere is left alone.
        code, out, err = self.anvilctl("alpha", "kick", "127.0.0.4",
                                       global_args=("--node", "gamma", "-f", "tab"))
        self.assertEqual(code, 0, err)
        kicked.add(("dave", "127.0.0.4", "gamma"))
        self.assert_kicked_exactly({k: c for k, c in clients.items()
                                    if k not in kicked or k[0] == "dave"},
                                   {("dave", "127.0.0.4", "gamma")})
        rows, _, _ = self.cluster_rows()
        self.assertIn(("john", "127.0.0.4", "beta"), rows)
        # Nothing matched anywhere: doveadm's 68.
        code, _, _ = self.anvilctl("alpha", "kick", "nobody*", global_args=("--cluster",))
        self.assertEqual(code, 68)

    def test_a_stopped_node_is_reported_while_the_others_are_exact(self):
        clients = self.populate()
        gamma = self.nodes["gamma"].proc
        os.kill(gamma.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            code, out, err = self.anvilctl("alpha", "kick", "j*",
                                           global_args=("--cluster", "-f", "json"))
            took = time.monotonic() - started
        finally:
            os.kill(gamma.pid, signal.SIGCONT)
        self.assertEqual(code, 75, err)  # incomplete
        self.assertIn("node gamma: timeout", err)
        self.assertIn("node alpha: answered", err)
        self.assertIn("node beta: answered", err)
        self.assertIn("the answer is incomplete: 1 of 3", err)
        self.assertLess(took, 30)
        done = sorted((r["username"], r["ip"], r["node"], r["result"]) for r in json.loads(out))
        self.assertEqual(done, [("jane", "127.0.0.2", "alpha", "kicked"),
                                ("jane", "127.0.0.5", "beta", "kicked"),
                                ("john", "127.0.0.4", "beta", "kicked")])
        kicked = {k for k in clients if k[0].startswith("j") and k[2] != "gamma"}
        # gamma's late answer to the old request is dropped; its jack was
        # kicked when it woke (the request was waiting for it), or is still
        # there: either way the others are exact and nobody else was hurt.
        for key, client in clients.items():
            if key in kicked:
                self.assertIsNotNone(client.read_bye(), f"{key} was not kicked")
            elif key[2] != "gamma" or not key[0].startswith("j"):
                self.assertTrue(client.alive(), f"bystander {key} was hurt")
        self.wait_for_nodes(self.node_names)

    def test_a_node_killed_and_restarted_rejoins(self):
        self.populate()
        gamma = self.nodes["gamma"]
        gamma.proc.kill()
        gamma.proc.wait()
        gamma.echod.kill()
        gamma.echod.wait()
        # NATS knows at once that nobody listens for gamma any more.
        code, out, err = self.anvilctl("alpha", "who", "-1",
                                       global_args=("--cluster", "-f", "tab"))
        self.assertEqual(code, 75, err)
        self.assertRegex(err, r"node gamma: (no-responders|expired|timeout)")
        self.assertNotIn("gamma", out)
        self.start_node("gamma")
        self.wait_for_nodes(self.node_names)
        self.connect("gamma", "eve", "127.0.0.7")
        self.assertTrue(wait_until(
            lambda: ("eve", "127.0.0.7", "gamma") in self.cluster_rows("beta")[0]))

    def test_a_node_that_left_cleanly_is_not_expected(self):
        self.nodes["gamma"].proc.terminate()
        self.nodes["gamma"].proc.wait(10)
        self.wait_for_nodes(("alpha", "beta"))
        self.assertIn("cluster", self.nodes["alpha"].log())

    def test_read_role_may_ask_but_not_kick(self):
        """A uid with the read role (nobody, through admin_allow_uids) may ask
        the cluster who, but its cluster kick is refused on the asking node,
        before anything goes out: no node kicks."""
        import shutil
        import subprocess
        from harness import as_user
        clients = self.populate()
        alpha = self.nodes["alpha"]
        alpha.proc.terminate()
        alpha.proc.wait(10)
        self.start_node("alpha", extra=("-o", "admin_socket_mode=0666",
                                        "-o", "admin_allow_uids=nobody:read"))
        self.wait_for_nodes(self.node_names)
        anvilctl = os.path.join(self.dir, "anvilctl")
        shutil.copy(os.path.join(BIN, "anvilctl"), anvilctl)
        os.chmod(anvilctl, 0o755)

        def as_nobody(*args):
            return subprocess.run([anvilctl, "--cluster", "-f", "tab", args[0], "-a",
                                   alpha.admin_socket, *args[1:]], capture_output=True,
                                  text=True, timeout=60, stdin=subprocess.DEVNULL,
                                  **as_user("nobody"))
        # alpha's anvil-echod registers its sessions again with the new anvild.
        self.assertTrue(wait_until(
            lambda: len(as_nobody("who", "-1").stdout.splitlines()) - 1 == len(clients)))
        asked = as_nobody("who", "-1")
        self.assertEqual(asked.returncode, 0, asked.stderr)
        kicked = as_nobody("kick", "j*")
        self.assertEqual(kicked.returncode, 77, kicked.stderr)
        self.assertIn("may only read", kicked.stderr)
        for key, client in clients.items():
            self.assertTrue(client.alive(), f"{key} was kicked by a read-role uid")
        for node in self.nodes.values():
            self.assertNotIn("kick by", node.log())


class ClusterOverHttp(ClusterStack):
    """The same through anvil-httpd on one node: /api/v1/sessions?cluster=1
    (or node=NAME) and /api/v1/kick with "cluster": true, each with every
    node's status."""

    def start_httpd(self):
        import subprocess
        keys = os.path.join(self.dir, "http-keys")
        made = subprocess.run([os.path.join(BIN, "anvil-httpd"), "-o", f"keys_file={keys}",
                               "--new-key", "ops", "kick"],
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(made.returncode, 0, made.stderr)
        log = open(os.path.join(self.dir, "httpd.log"), "ab")
        proc = self.spawn([os.path.join(BIN, "anvil-httpd"), "-o", "listen=127.0.0.1:0",
                           "-o", f"keys_file={keys}",
                           "-o", f"admin_socket={self.nodes['alpha'].admin_socket}"],
                          stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        line = proc.stdout.readline().split()
        return f"{line[1]}://{line[2]}", made.stdout.strip()

    def call(self, url, key, path, body=None):
        import urllib.request
        request = urllib.request.Request(
            url + path, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def test_sessions_and_kick_over_http(self):
        clients = {("ann", "alpha"): self.connect("alpha", "ann", "127.0.0.2"),
                   ("ann", "gamma"): self.connect("gamma", "ann", "127.0.0.3"),
                   ("ben", "beta"): self.connect("beta", "ben", "127.0.0.2")}
        url, key = self.start_httpd()
        self.assertTrue(wait_until(
            lambda: self.call(url, key, "/api/v1/sessions?cluster=1")[1].get("total") == 3))
        status, body = self.call(url, key, "/api/v1/sessions?cluster=1")
        self.assertEqual(status, 200)
        self.assertTrue(body["complete"])
        self.assertEqual(sorted(n["node"] for n in body["nodes"] if n["status"] == "answered"),
                         ["alpha", "beta", "gamma"])
        self.assertEqual(sorted((r["user"], r["node"]) for r in body["sessions"]),
                         [("ann", "alpha"), ("ann", "gamma"), ("ben", "beta")])
        status, body = self.call(url, key, "/api/v1/sessions?node=gamma")
        self.assertEqual([(r["user"], r["node"]) for r in body["sessions"]], [("ann", "gamma")])
        status, body = self.call(url, key, "/api/v1/sessions?node=no.such")
        self.assertEqual(status, 400)
        status, body = self.call(url, key, "/api/v1/kick",
                                 {"q": "ann", "cluster": True, "reason": "over http"})
        self.assertEqual(status, 200, body)
        self.assertTrue(body["complete"])
        self.assertEqual(sorted((r["session"]["user"], r["node"], r["status"])
                                for r in body["results"]),
                         [("ann", "alpha", "kicked"), ("ann", "gamma", "kicked")])
        self.assertEqual(clients[("ann", "alpha")].read_bye(), "BYE over http")
        self.assertEqual(clients[("ann", "gamma")].read_bye(), "BYE over http")
        self.assertTrue(clients[("ben", "beta")].alive())


class ClusterWithoutNats(unittest.TestCase):
    """anvild whose NATS is down at start serves locally, says so once, and
    joins when NATS comes."""

    def test_nats_down_at_start(self):
        import harness
        from cluster_harness import NatsCluster, Node
        import shutil
        import subprocess
        import tempfile
        directory = tempfile.mkdtemp(prefix="anvil-cluster-down-")
        self.addCleanup(shutil.rmtree, directory, True)
        port = harness.free_port()
        node = Node("solo", os.path.join(directory, "solo"))
        os.makedirs(node.dir)
        log = open(os.path.join(node.dir, "anvild.log"), "ab")
        proc = subprocess.Popen(
            [os.path.join(harness.BIN, "anvild"), "--run-dir", node.dir,
             "-o", f"audit_log={node.audit_log}", "-o", "ban_file=",
             "-o", f"cluster_nats_urls=nats://127.0.0.1:{port}", "-o", "node_name=solo",
             "-o", "cluster_presence_interval_ms=300", "-o", "cluster_presence_ttl_ms=1200"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()

        def stop():
            proc.terminate()
            proc.wait(10)
        self.addCleanup(stop)
        self.assertTrue(wait_until(lambda: harness.accepts(node.admin_socket)))
        anvilctl = os.path.join(harness.BIN, "anvilctl")
        # Local commands work; the cluster cannot be asked, and says why.
        local = subprocess.run([anvilctl, "who", "-a", node.admin_socket],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(local.returncode, 0, local.stderr)
        asked = subprocess.run([anvilctl, "--cluster", "who", "-a", node.admin_socket],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(asked.returncode, 70)
        self.assertIn("not connected to NATS", asked.stderr)
        time.sleep(1.5)  # several reconnect attempts: logged once
        self.assertEqual(node.log().count("cannot join NATS"), 1, node.log())
        self.assertEqual(node.log().count("lost the connection"), 0, node.log())
        # NATS comes up on that port: the node joins by itself.
        config = os.path.join(directory, "nats.conf")
        with open(config, "w") as f:
            f.write(f"listen: 127.0.0.1:{port}\njetstream {{ store_dir: \"{directory}/js\" }}\n")
        nats = subprocess.Popen(["nats-server", "-c", config], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (nats.terminate(), nats.wait(10)))

        def joined():
            r = subprocess.run([anvilctl, "--cluster", "-v", "who", "-a", node.admin_socket],
                               capture_output=True, text=True, timeout=30)
            return r.returncode == 0 and "node solo: answered" in r.stderr
        self.assertTrue(wait_until(joined, timeout=30, interval=0.2), node.log())
        self.assertEqual(harness.sanitizer_reports(node.dir), [])


if __name__ == "__main__":
    unittest.main()
