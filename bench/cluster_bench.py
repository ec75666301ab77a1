#!/usr/bin/env python3
"""Cluster who and kick against the same commands run on each node one
after another, on one load, in one run (docs/cluster.md).

A nats-server (Debian's package, JetStream on, loopback only) and N anvild
nodes in one cluster; on each node bench/native_load holds S sessions (two
service processes with a libanvil Client each; users user<k>@example.com,
three sessions each, clients in 10.0.0.0/8). Then, for each question, the
best of R rounds of

  cluster:     anvilctl --cluster <command> on one node
  sequential:  anvilctl <command> on node 1, then node 2, ... node N

and their ratio (sequential / cluster: above 1, the cluster is faster).
The questions: a full `who -1` (every session of every node), a `who` of
one user, a dry-run kick of one /24 per node, and last a real kick of a
/24 on every node (once each way, on different networks).

usage: bench/cluster_bench.py [--bin build/bin] [--nodes 5] [--sessions 200000]
                              [--rounds 3]
Run as root or any user; everything is in a scratch directory. Prints its
figures; asserts nothing about them.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    sys.exit(f"cluster_bench: {what} did not happen within {timeout} s")


def accepts(path):
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


class Cluster:
    def __init__(self, bindir, workdir, nodes, sessions):
        self.bindir = bindir
        self.workdir = workdir
        self.procs = []
        port = free_port()
        conf = os.path.join(workdir, "nats.conf")
        with open(conf, "w") as f:
            f.write(f"listen: 127.0.0.1:{port}\n"
                    f'jetstream {{ store_dir: "{workdir}/js" }}\n')
        nats = shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.spawn([nats, "-c", conf], "nats.log")
        self.names = [f"node{i + 1}" for i in range(nodes)]
        self.anvild = {}
        for name in self.names:
            run_dir = os.path.join(workdir, name)
            os.makedirs(run_dir)
            self.anvild[name] = self.spawn(
                [os.path.join(bindir, "anvild"), "--run-dir", run_dir, "-o", "audit_log=",
                 "-o", "ban_file=", "-o", f"cluster_nats_urls=nats://127.0.0.1:{port}",
                 "-o", f"node_name={name}", "-o", "max_sessions_per_process=1000000",
                 "-o", "cluster_presence_interval_ms=500", "-o", "cluster_presence_ttl_ms=2000",
                 "-o", "cluster_timeout_ms=60000", "-o", "admin_idle_timeout_ms=600000"],
                f"{name}.log")
            wait_for(lambda: accepts(self.admin(name)), 30, f"{name} listening")
        started = time.monotonic()
        self.loads = []
        for i, name in enumerate(self.names):
            load = subprocess.Popen(
                [os.path.join(bindir, "native_load"), self.service(name), "2",
                 str(sessions // 2), str(self.anvild[name].pid), "hold", "0"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.loads.append(load)
        for load in self.loads:
            for line in load.stdout:
                if line.strip() == "ready":
                    break
            else:
                sys.exit("cluster_bench: native_load ended early")
        self.load_seconds = time.monotonic() - started
        wait_for(self.settled, 60, "every node answering")

    def spawn(self, argv, log):
        with open(os.path.join(self.workdir, log), "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        self.procs.append(proc)
        return proc

    def admin(self, name):
        return os.path.join(self.workdir, name, "anvil")

    def service(self, name):
        return os.path.join(self.workdir, name, "anvil-service")

    def anvilctl(self, name, *args, cluster=False):
        argv = [os.path.join(self.bindir, "anvilctl")]
        if cluster:
            argv.append("--cluster")
        argv += ["-f", "tab", args[0], "-a", self.admin(name), *args[1:]]
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=600)

    def settled(self):
        r = self.anvilctl(self.names[0], "who", "nobody", cluster=True)
        return r.returncode == 0

    def stop(self):
        for load in self.loads:
            load.stdin.close()
            load.wait(60)
        for proc in reversed(self.procs):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def timed(function):
    start = time.monotonic()
    result = function()
    return time.monotonic() - start, result


def rows(result):
    return max(0, len(result.stdout.splitlines()) - 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                      "bin"))
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="anvil-cluster-bench-")
    cluster = Cluster(args.bin, workdir, args.nodes, args.sessions)
    try:
        print(f"{args.nodes} nodes x {args.sessions} sessions, registered in "
              f"{cluster.load_seconds:.1f} s; best of {args.rounds} rounds")
        print(f"{'question':<34} {'rows':>9} {'cluster s':>10} {'sequential s':>13} "
              f"{'ratio':>7}")
        first = cluster.names[0]
        questions = [
            ("who -1 (everything)", ("who", "-1")),
            ("who of one user", ("who", "-1", "user7@example.com")),
            ("kick --dry-run 10.0.0.0/24", ("kick", "--dry-run", "10.0.0.0/24")),
        ]
        for title, command in questions:
            best_cluster = best_sequential = None
            cluster_rows = sequential_rows = 0
            for _ in range(args.rounds):
                seconds, result = timed(lambda: cluster.anvilctl(first, *command, cluster=True))
                if result.returncode != 0:
                    sys.exit(f"cluster_bench: {command}: {result.stderr}")
                cluster_rows = rows(result)
                best_cluster = min(seconds, best_cluster or seconds)
                seconds, results = timed(lambda: [cluster.anvilctl(n, *command)
                                                  for n in cluster.names])
                sequential_rows = sum(rows(r) for r in results)
                best_sequential = min(seconds, best_sequential or seconds)
            if cluster_rows != sequential_rows:
                sys.exit(f"cluster_bench: {title}: {cluster_rows} rows in the cluster, "
                         f"{sequential_rows} one by one")
            print(f"{title:<34} {cluster_rows:>9} {best_cluster:>10.3f} {best_sequential:>13.3f} "
                  f"{best_sequential / best_cluster:>7.2f}")
        # A real kick, once each way, of a different /24 on every node.
        seconds_cluster, result = timed(lambda: cluster.anvilctl(first, "kick", "10.0.1.0/24",
                                                                 cluster=True))
        kicked_cluster = rows(result)
        seconds_sequential, results = timed(lambda: [cluster.anvilctl(n, "kick", "10.0.2.0/24")
                                                     for n in cluster.names])
        print(f"{'kick 10.0.x.0/24 (real)':<34} {'':>9} {seconds_cluster:>10.3f} "
              f"{seconds_sequential:>13.3f} {seconds_sequential / seconds_cluster:>7.2f}")
        if result.returncode != 0 or any(r.returncode != 0 for r in results):
            sys.exit("cluster_bench: a real kick failed")
        del kicked_cluster
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
