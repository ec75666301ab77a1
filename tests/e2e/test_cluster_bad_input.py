"""The cluster under bad input (docs/cluster.md): garbage and foreign
versions on a node's subject, a fake node that answers garbage, two anvild
with one name, answers larger than NATS' max_payload, a NATS server killed
mid-run, wrong or missing credentials. None of it may lose a local session
or stop the local registry."""

import os
import socket
import subprocess
import time
import unittest

import harness
from cluster_harness import ClusterStack, NatsClient, NatsCluster
from harness import BIN, wait_until


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def cluster_request(request_id, origin, command, major=1):
    return (f"ANVIL-CLUSTER\t{major}\t0\trequest\tid={request_id}\torigin={origin}"
            f"\ton_behalf=test\n{command}\n").encode()


class HostilePeers(ClusterStack):

    def setUp(self):
        super().setUp()
        self.victims = [self.connect("alpha", "jane", "127.0.0.2"),
                        self.connect("beta", "john", "127.0.0.3")]
        self.nats_client = NatsClient(self.nats.client_ports[0])
        self.addCleanup(self.nats_client.close)

    def subject(self, tail):
        return f"anvil.{self.cluster_name}.{tail}"

    def assert_unharmed(self):
        for victim in self.victims:
            self.assertTrue(victim.alive())
        rows, code, err = self.cluster_rows()
        self.assertEqual(code, 0, err)
        self.assertEqual(rows, [("jane", "127.0.0.2", "alpha"), ("john", "127.0.0.3", "beta")])

    def ask_raw(self, payload):
        self.nats_client.subscribe("_INBOX.test.>")
        self.nats_client.publish(self.subject("node.alpha"), payload, "_INBOX.test.1")
        message = self.nats_client.next_message()
        self.assertIsNotNone(message, "the node did not answer")
        return message[1]

    def test_garbage_and_foreign_versions_get_an_error_answer(self):
        answers = [
            self.ask_raw(b"\x00\x01garbage\xff\n\n"),
            self.ask_raw(cluster_request(1, "mallory", "WHO", major=2)),
            self.ask_raw(cluster_request(2, "mallory", "BAN-ADD\tuser=*\tforce=1")),
            self.ask_raw(cluster_request(3, "mallory", "KICK\tuser=*") + b"KICK\tuser=j*\n"),
            self.ask_raw(cluster_request(4, "mallory", "WHO\tuser=" + "x" * 40000)),
            self.ask_raw(cluster_request(5, "bad.name", "WHO")),
        ]
        expected = ["not an anvil cluster message", "cluster protocol 2.0, not 1.x",
                    "command not run for the cluster: BAN-ADD", "want one command line",
                    "request of ", "malformed origin"]
        for answer, words in zip(answers, expected):
            self.assertIn(b"\nERROR\t", answer)
            self.assertIn(words.encode(), answer)
            self.assertIn(b"\tlast=1", answer.split(b"\n")[0])
        # A bad filter inside a well-formed request: anvild's own error.
        answer = self.ask_raw(cluster_request(6, "mallory", "KICK\tnet=127.0.0.0/33"))
        self.assertIn(b"ERROR\tKICK: ", answer)
        self.assert_unharmed()
        self.assertEqual(sum(1 for line in self.nodes["alpha"].log().splitlines()
                             if "refused a request" in line), 6)

    def test_a_fake_node_answering_garbage_is_named_and_the_rest_is_exact(self):
        fake = NatsClient(self.nats.client_ports[1])
        self.addCleanup(fake.close)
        fake.subscribe(self.subject("node.mallory"))
        presence = (f"ANVIL-CLUSTER\t1\t0\tpresence\tnode=mallory\tinstance=ffff\t"
                    f"interval=300\tsessions=0\tstate=up\n").encode()
        fake.publish(self.subject("presence"), presence)
        replies = iter([
            b"this is not a reply",
            b"ANVIL-CLUSTER\t7\t0\treply\tid=1\tnode=mallory\tinstance=ffff\tseq=0\tlast=1\n",
            None,  # filled below: a reply in another node's name
            None,  # a session line that does not parse
        ])
        import threading

        def serve():
            for n in range(4):
                message = fake.next_message(timeout=30)
                if message is None:
                    return
                subject, payload = message
                request_id = payload.split(b"id=")[1].split(b"\t")[0].decode()
                reply_to = fake.last_reply
                body = next(replies)
                if n == 2:
                    body = (f"ANVIL-CLUSTER\t1\t0\treply\tid={request_id}\tnode=alpha\t"
                            f"instance=ffff\tseq=0\tlast=1\nEND\tcount=0\n").encode()
                if n == 3:
                    body = (f"ANVIL-CLUSTER\t1\t0\treply\tid={request_id}\tnode=mallory\t"
                            f"instance=ffff\tseq=0\tlast=1\nHELLO\tthere\nEND\n").encode()
                fake.publish(reply_to, body)
                fake.publish(self.subject("presence"), presence)
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        errors = ["unreadable answer: no header line",
                  "unreadable answer: cluster protocol 7.0, not 1.x",
                  "answered as alpha", "unexpected line: HELLO"]
        for error in errors:
            fake.publish(self.subject("presence"), presence)
            rows, code, err = self.cluster_rows()
            self.assertEqual(code, 75, err)
            self.assertIn(f"node mallory: error ({error})", err)
            self.assertIn("node alpha: answered", err)
            self.assertEqual(rows, [("jane", "127.0.0.2", "alpha"),
                                    ("john", "127.0.0.3", "beta")])
        thread.join(30)
        for victim in self.victims:
            self.assertTrue(victim.alive())

    def test_two_anvild_with_one_name_are_reported(self):
        impostor = self.start_node("beta-2", extra=("-o", "node_name=beta"), echod=False)
        self.assertTrue(wait_until(
            lambda: "two anvild call themselves beta" in self.nodes["alpha"].log(),
            timeout=30), self.nodes["alpha"].log())

        def reported():
            rows, code, err = self.cluster_rows()
            return code == 75 and "node beta: duplicate" in err
        self.assertTrue(wait_until(reported, timeout=30), self.cluster_rows())
        self.assertIn("two anvild call themselves beta", self.nodes["beta"].log())
        impostor.proc.terminate()
        impostor.proc.wait(10)
        self.wait_for_nodes(self.node_names)
        self.assert_unharmed()


class ChunkedAnswers(ClusterStack):
    """A NATS whose max_payload is 16 KiB: a node's who of 800 sessions is
    sent in many parts and arrives whole."""

    nats_extra = "max_payload: 16384\n"
    node_names = ("alpha", "beta")

    def test_a_large_who_is_chunked(self):
        service = socket.socket(socket.AF_UNIX)
        service.connect(self.nodes["beta"].service_socket)
        self.addCleanup(service.close)
        lines = [f"VERSION\tanvil-service\t1\t0\nHELLO\tpop3\t{os.getpid()}\n"]
        for i in range(800):
            lines.append(f"CONNECT\t{i + 1:032x}\tuser=user{i:04d}\tip=127.0.1.{i % 200 + 1}"
                         f"\tport={1000 + i}\tlocal_port=110\tuser_email=user{i:04d}@"
                         f"{'example' * 8}.com\n")
        service.sendall("".join(lines).encode())
        rows = []

        def all_there():
            nonlocal rows
            rows, code, err = self.cluster_rows()
            return code == 0 and len(rows) == 800
        self.assertTrue(wait_until(all_there, timeout=60), (len(rows), self.cluster_rows()[1:]))
        self.assertEqual([r[0] for r in rows], [f"user{i:04d}" for i in range(800)])
        self.assertTrue(all(r[2] == "beta" for r in rows))


class NatsServerKilled(ClusterStack):
    """One of three NATS servers dies mid-run: the nodes on it move to the
    others, and cluster who and kick work again, exact."""

    node_options = ClusterStack.node_options + ("-o", "cluster_replicas=3")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

    def test_the_cluster_survives_a_nats_server(self):
        clients = {name: self.connect(name, f"user-{name}", "127.0.0.2")
                   for name in self.node_names}
        self.nats.kill(0)
        self.addCleanup(lambda: (self.nats.start(0), self.nats.wait_ready()))
        expected = sorted((f"user-{name}", "127.0.0.2", name) for name in self.node_names)
        for via in self.node_names:
            self.assertTrue(wait_until(lambda: self.cluster_rows(via)[:2] == (expected, 0),
                                       timeout=60, interval=0.3),
                            (via, self.cluster_rows(via)))
        code, out, err = self.anvilctl("gamma", "kick", "user-alpha",
                                       global_args=("--cluster",))
        self.assertEqual(code, 0, err)
        self.assertIsNotNone(clients["alpha"].read_bye())
        self.assertTrue(clients["beta"].alive())
        self.assertTrue(clients["gamma"].alive())


class Credentials(unittest.TestCase):
    """A NATS that wants a user and password: the right ones join; wrong
    ones leave anvild serving locally and saying why; a missing password
    file is a configuration error (exit 78)."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="anvil-cluster-auth-")
        os.chmod(cls.dir, 0o755)
        cls.nats = NatsCluster(cls.dir, 1, user="anvil", password="s3cret")

    @classmethod
    def tearDownClass(cls):
        cls.nats.stop()
        import shutil
        shutil.rmtree(cls.dir, ignore_errors=True)

    def anvild(self, name, password):
        run_dir = os.path.join(self.dir, name)
        os.makedirs(run_dir, exist_ok=True)
        password_file = os.path.join(run_dir, "password")
        if password is not None:
            with open(password_file, "w") as f:
                f.write(password + "\n")
        log_path = os.path.join(run_dir, "anvild.log")
        log = open(log_path, "ab")
        proc = subprocess.Popen(
            [os.path.join(BIN, "anvild"), "--run-dir", run_dir, "-o", "audit_log=",
             "-o", "ban_file=", "-o", f"cluster_nats_urls={self.nats.urls()}",
             "-o", f"node_name={name}", "-o", "cluster_user=anvil",
             "-o", f"cluster_password_file={password_file}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        self.addCleanup(lambda: proc.poll() is None and (proc.terminate(), proc.wait(10)))
        return proc, run_dir, log_path

    def ask(self, run_dir):
        return subprocess.run([os.path.join(BIN, "anvilctl"), "--cluster", "-v", "who", "-a",
                               os.path.join(run_dir, "anvil")],
                              capture_output=True, text=True, timeout=30)

    def test_right_and_wrong_credentials(self):
        good, good_dir, _ = self.anvild("good", "s3cret")
        bad, bad_dir, bad_log = self.anvild("bad", "wrong")
        self.assertTrue(wait_until(lambda: self.ask(good_dir).returncode == 0, timeout=30))
        self.assertIn("node good: answered", self.ask(good_dir).stderr)
        self.assertTrue(wait_until(lambda: harness.accepts(os.path.join(bad_dir, "anvil"))))
        time.sleep(1)
        self.assertIsNone(bad.poll())
        local = subprocess.run([os.path.join(BIN, "anvilctl"), "who", "-a",
                                os.path.join(bad_dir, "anvil")],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(local.returncode, 0, local.stderr)
        asked = self.ask(bad_dir)
        self.assertEqual(asked.returncode, 70)
        self.assertIn("not connected to NATS", asked.stderr)
        with open(bad_log) as f:
            self.assertIn("uthorization", f.read())

    def test_a_missing_password_file_is_a_configuration_error(self):
        proc, _, log_path = self.anvild("nofile", None)
        self.assertEqual(proc.wait(10), 78)
        with open(log_path) as f:
            text = f.read()
        self.assertIn("cluster_password_file: cannot read", text)
        self.assertEqual(len(text.strip().splitlines()), 1, text)


class Tls(unittest.TestCase):
    """NATS over TLS: anvild with the server's CA (cluster_tls_ca) joins;
    one without TLS, or trusting another CA, is refused, says why, and
    serves locally."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="anvil-cluster-tls-")
        os.chmod(cls.dir, 0o755)
        cls.cert, cls.key = harness.make_tls_pair(cls.dir)
        other = os.path.join(cls.dir, "other")
        os.makedirs(other)
        cls.other_ca, _ = harness.make_tls_pair(other)
        cls.nats = NatsCluster(cls.dir, 1, extra=f'tls {{ cert_file: "{cls.cert}", '
                                                 f'key_file: "{cls.key}" }}\n')

    @classmethod
    def tearDownClass(cls):
        cls.nats.stop()
        import shutil
        shutil.rmtree(cls.dir, ignore_errors=True)

    def anvild(self, name, *settings):
        run_dir = os.path.join(self.dir, name)
        os.makedirs(run_dir, exist_ok=True)
        log_path = os.path.join(run_dir, "anvild.log")
        log = open(log_path, "ab")
        proc = subprocess.Popen(
            [os.path.join(BIN, "anvild"), "--run-dir", run_dir, "-o", "audit_log=",
             "-o", "ban_file=", "-o", f"node_name={name}", *settings],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        self.addCleanup(lambda: proc.poll() is None and (proc.terminate(), proc.wait(10)))
        self.assertTrue(wait_until(lambda: harness.accepts(os.path.join(run_dir, "anvil"))))
        return run_dir, log_path

    def ask(self, run_dir):
        return subprocess.run([os.path.join(BIN, "anvilctl"), "--cluster", "-v", "who", "-a",
                               os.path.join(run_dir, "anvil")],
                              capture_output=True, text=True, timeout=30)

    def test_tls(self):
        port = self.nats.client_ports[0]
        good, _ = self.anvild("good", "-o", f"cluster_nats_urls=tls://127.0.0.1:{port}",
                              "-o", f"cluster_tls_ca={self.cert}")
        self.assertTrue(wait_until(lambda: "node good: answered" in self.ask(good).stderr,
                                   timeout=30), self.ask(good))
        for name, settings in (("plain", ("-o", f"cluster_nats_urls=nats://127.0.0.1:{port}")),
                               ("stranger", ("-o", f"cluster_nats_urls=tls://127.0.0.1:{port}",
                                             "-o", f"cluster_tls_ca={self.other_ca}"))):
            run_dir, log_path = self.anvild(name, *settings)
            self.assertTrue(wait_until(lambda: "cannot join NATS" in read(log_path), timeout=30))
            asked = self.ask(run_dir)
            self.assertEqual(asked.returncode, 70, asked.stderr)
            self.assertIn("not connected to NATS", asked.stderr)
            local = subprocess.run([os.path.join(BIN, "anvilctl"), "who", "-a",
                                    os.path.join(run_dir, "anvil")],
                                   capture_output=True, text=True, timeout=30)
            self.assertEqual(local.returncode, 0, local.stderr)
        # The node that joined never saw them.
        self.assertNotIn("stranger", self.ask(good).stderr)


if __name__ == "__main__":
    unittest.main()
