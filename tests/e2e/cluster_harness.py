"""A real cluster on loopback: Debian's nats-server, three of them routed
into one NATS cluster with JetStream, and anvild nodes joined to it, each in
its own directory with its own anvil-echod. Also a minimal NATS client (the
text protocol), to speak to the nodes as a hostile peer would."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

import harness
from harness import BIN, accepts, free_ports, wait_until

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class NatsCluster:
    """count nats-server processes on loopback ports, routed together, with
    JetStream. extra: more lines for every server's configuration."""

    def __init__(self, directory, count=3, extra="", user=None, password=None):
        self.dir = directory
        self.count = count
        ports = free_ports(3 * count)
        self.client_ports = ports[:count]
        self.route_ports = ports[count:2 * count]
        self.monitor_ports = ports[2 * count:]
        self.extra = extra
        self.auth = ""
        if user:
            self.auth = f'authorization {{ user: "{user}", password: "{password}" }}\n'
        self.procs = [None] * count
        for i in range(count):
            self.start(i)
        self.wait_ready()

    def urls(self, order=None):
        order = order if order is not None else range(self.count)
        return ",".join(f"nats://127.0.0.1:{self.client_ports[i]}" for i in order)

    def start(self, i):
        routes = ", ".join(f"nats://127.0.0.1:{p}" for j, p in enumerate(self.route_ports)
                           if j != i)
        store = os.path.join(self.dir, f"nats{i}")
        os.makedirs(store, exist_ok=True)
        config = os.path.join(self.dir, f"nats{i}.conf")
        with open(config, "w") as f:
            f.write(f"server_name: n{i}\n"
                    f"listen: 127.0.0.1:{self.client_ports[i]}\n"
                    f"http: 127.0.0.1:{self.monitor_ports[i]}\n"
                    f'jetstream {{ store_dir: "{store}" }}\n' +
                    (f"cluster {{ name: anvil-test\n listen: 127.0.0.1:{self.route_ports[i]}\n"
                     f" routes: [{routes}] }}\n" if self.count > 1 else "") +
                    self.auth + self.extra)
        log = open(os.path.join(self.dir, f"nats{i}.log"), "ab")
        self.procs[i] = subprocess.Popen([NATS_SERVER, "-c", config], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        log.close()

    def healthy(self, i):
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.monitor_ports[i]}/healthz", timeout=2) as r:
                return json.load(r).get("status") == "ok"
        except (OSError, ValueError):
            return False

    def wait_ready(self, which=None):
        """Every server (or those in `which`) answers and JetStream is
        usable on it (its meta leader elected)."""
        which = range(self.count) if which is None else which
        ok = wait_until(lambda: all(self.healthy(i) for i in which), timeout=60, interval=0.2)
        if not ok:
            raise AssertionError("the NATS cluster did not become healthy")

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait()

    def stop(self):
        for proc in self.procs:
            if proc:
                harness.stop_process(proc, 10)


class NatsClient:
    """Just enough of NATS' client protocol: CONNECT, PUB, SUB and reading
    MSG lines; blocking, with a timeout."""

    def __init__(self, port, user=None, password=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        info = self._line()
        assert info.startswith(b"INFO "), info
        self.info = json.loads(info[5:])
        connect = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True}
        if user:
            connect.update(user=user, **{"pass": password})
        self.sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        self._expect_pong()
        self.sid = 0
        self.last_reply = ""

    def _line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("NATS closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _bytes(self, count):
        while len(self.buffer) < count + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("NATS closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count + 2:]
        return data

    def _expect_pong(self):
        while True:
            line = self._line()
            if line == b"PONG":
                return
            if line.startswith(b"-ERR"):
                raise ConnectionError(line.decode())

    def subscribe(self, subject):
        self.sid += 1
        self.sock.sendall(f"SUB {subject} {self.sid}\r\nPING\r\n".encode())
        self._expect_pong()
        return self.sid

    def publish(self, subject, payload, reply=""):
        head = f"PUB {subject} {reply} {len(payload)}\r\n" if reply else \
            f"PUB {subject} {len(payload)}\r\n"
        self.sock.sendall(head.encode() + payload + b"\r\n")

    def next_message(self, timeout=10):
        """(subject, payload) of the next MSG or HMSG; None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                line = self._line()
            except socket.timeout:
                return None
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
                continue
            parts = line.split()
            if parts[0] == b"MSG":
                self.last_reply = parts[3].decode() if len(parts) == 5 else ""
                return parts[1].decode(), self._bytes(int(parts[-1]))
            if parts[0] == b"HMSG":
                self.last_reply = parts[3].decode() if len(parts) == 6 else ""
                whole = self._bytes(int(parts[-1]))
                return parts[1].decode(), whole[int(parts[-2]):]
        return None

    def close(self):
        self.sock.close()


class Node:
    """One anvild of the cluster, with its directory and anvil-echod."""

    def __init__(self, name, directory):
        self.name = name
        self.dir = directory
        self.proc = None
        self.echod = None

    @property
    def admin_socket(self):
        return os.path.join(self.dir, "anvil")

    @property
    def service_socket(self):
        return os.path.join(self.dir, "anvil-service")

    @property
    def audit_log(self):
        return os.path.join(self.dir, "audit.jsonl")

    def log(self):
        with open(os.path.join(self.dir, "anvild.log"), encoding="utf-8", errors="replace") as f:
            return f.read()


class ClusterStack(unittest.TestCase):
    """A NATS cluster for the whole class (JetStream's election takes
    seconds); anvild nodes per test, in a cluster_name of their own, so no
    test sees another's nodes or stored records."""

    nats_servers = 3
    nats_extra = ""
    node_names = ("alpha", "beta", "gamma")
    node_options = ("-o", "cluster_presence_interval_ms=300", "-o",
                    "cluster_presence_ttl_ms=1200", "-o", "cluster_timeout_ms=3000",
                    "-o", "kick_timeout_ms=1000")
    counter = 0

    @classmethod
    def setUpClass(cls):
        cls.class_dir = tempfile.mkdtemp(prefix="anvil-cluster-")
        cls.nats = NatsCluster(cls.class_dir, cls.nats_servers, cls.nats_extra)

    @classmethod
    def tearDownClass(cls):
        cls.nats.stop()
        if not os.environ.get("ANVIL_E2E_KEEP"):
            shutil.rmtree(cls.class_dir, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="anvil-cluster-test-")
        os.chmod(self.dir, 0o755)
        ClusterStack.counter += 1
        self.cluster_name = f"t{os.getpid()}x{ClusterStack.counter}"
        self.processes = []
        self.clients = []
        self.nodes = {}
        self.addCleanup(self.stop_everything)
        for i, name in enumerate(self.node_names):
            self.start_node(name, order=[(i + k) % self.nats.count
                                         for k in range(self.nats.count)])
        self.wait_for_nodes(self.node_names)

    def stop_everything(self):
        harness.stop_all(self.clients, self.processes, 10)
        reports = harness.sanitizer_reports(self.dir)
        if harness.test_failed(self):
            print(f"\nlogs of the failed test {self.id()}:\n{harness.log_tails(self.dir)}",
                  flush=True)
        if not os.environ.get("ANVIL_E2E_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        self.assertEqual(reports, [], "a process printed a sanitizer report")

    def spawn(self, args, **kwargs):
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, **kwargs)
        self.processes.append(proc)
        return proc

    def start_node(self, name, order=None, extra=(), urls=None, echod=True, wait=True):
        node = self.nodes.get(name) or Node(name, os.path.join(self.dir, name))
        os.makedirs(node.dir, exist_ok=True)
        self.nodes[name] = node
        with open(os.path.join(node.dir, "anvild.log"), "ab") as log:
            node.proc = self.spawn(
                [os.path.join(BIN, "anvild"), "--run-dir", node.dir,
                 "-o", f"audit_log={node.audit_log}",
                 "-o", f"ban_file={os.path.join(node.dir, 'bans')}",
                 "-o", f"cluster_nats_urls={urls or self.nats.urls(order)}",
                 "-o", f"cluster_name={self.cluster_name}",
                 "-o", f"node_name={name}", *self.node_options, *extra],
                stdout=log, stderr=log)
        if wait:
            self.assertTrue(wait_until(lambda: accepts(node.admin_socket)
                                       and accepts(node.service_socket)),
                            f"anvild {name} did not start listening")
        if echod and (node.echod is None or node.echod.poll() is not None):
            with open(os.path.join(node.dir, "echod.log"), "ab") as log:
                proc = self.spawn([os.path.join(BIN, "anvil-echod"), "--listen", "127.0.0.1:0",
                                   "--anvil", node.service_socket, "--service", "imap"],
                                  stdout=subprocess.PIPE, stderr=log, text=True)
            line = proc.stdout.readline().strip()
            self.assertTrue(line.startswith("listening on "), line)
            proc.port = int(line.rsplit(":", 1)[1])
            node.echod = proc
        return node

    def connect(self, name, user, source="127.0.0.1"):
        client = harness.EchoClient(self.nodes[name].echod.port, source, user)
        client.node = name
        self.clients.append(client)
        return client

    def anvilctl(self, name, *args, global_args=()):
        """anvilctl on node `name`: (exit code, stdout, stderr)."""
        command = [os.path.join(BIN, "anvilctl"), *global_args, args[0], "-a",
                   self.nodes[name].admin_socket, *args[1:]]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stdout, proc.stderr

    def cluster_rows(self, name="alpha", *args, node=None):
        """cluster who -1 as (user, ip, node) tuples, sorted, and the exit
        code and stderr."""
        global_args = ("--node", node) if node else ("--cluster",)
        code, out, err = self.anvilctl(name, "who", "-1", *args,
                                       global_args=(*global_args, "-f", "json"))
        rows = json.loads(out) if out.strip() else []
        return sorted((r["username"], r["ip"], r["node"]) for r in rows), code, err

    def wait_for_nodes(self, names, via="alpha"):
        """Until a cluster who from `via` is complete over exactly `names`."""
        def ready():
            code, out, err = self.anvilctl(via, "who", global_args=("--cluster", "-v"))
            answered = sorted(line.split()[1].rstrip(":") for line in err.splitlines()
                              if line.startswith("node ") and ": answered" in line)
            return code == 0 and answered == sorted(names)
        self.assertTrue(wait_until(ready, timeout=60, interval=0.2),
                        f"the cluster did not settle on {names}: "
                        f"{self.anvilctl(via, 'who', global_args=('--cluster', '-v'))}")
