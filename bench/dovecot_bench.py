#!/usr/bin/env python3
"""anvild next to Dovecot 2.3's anvil, on the same load in the same run.

A scratch Dovecot 2.3 (Debian's packages; its own base_dir, loopback only)
and a scratch anvild are started side by side. Both get the same Dovecot
2.3-dialect load over one client connection each: CONNECT lines for N
entries spread over P real processes (children of this script, so that
anvild's pidfd watch sees live pids), then the admin questions, a churn of
CONNECT/DISCONNECT pairs, and DISCONNECT of everything. Each step runs on
one daemon and then on the other, alternating which goes first from round
to round; the table shows the best round of each and their ratio.

First, a kick: ten service processes (bench/native_load) hold 10,000
sessions each, all in 10.0.0.0/8, and `anvilctl kick 10.0.0.0/8` ends them;
the figures are when the last process was told and when anvilctl returned.
After each size, the native path: bench/native_load (four service
processes with a libanvil Client each) registers as many sessions into a
fresh anvild and unregisters them; Dovecot has no such path to compare.

Batches of lines are timed to the reply of a LOOKUP sent after them, so a
figure covers the daemon's work, not just the socket buffer. Memory is the
daemon process' RSS growth over the first round's CONNECTs, per entry.

usage: bench/dovecot_bench.py [--bin build/bin] [--entries 100000,1000000]
                              [--processes 1000] [--rounds 2]
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

BATCH = 50_000  # lines between two LOOKUPs


def rss_bytes(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def wait_for_socket(path, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {path}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dialect23:
    """One client connection that speaks Dovecot 2.3's anvil protocol."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.sock.sendall(b"VERSION\tanvil\t1\t0\n")
        self.file = self.sock.makefile("rb")

    def timed_lines(self, lines, probe):
        """Sends lines in batches, each followed by LOOKUP probe; returns
        the seconds until the last LOOKUP is answered."""
        lookup = f"LOOKUP\t{probe}\n".encode()
        start = time.perf_counter()
        for i in range(0, len(lines), BATCH):
            self.sock.sendall(b"".join(lines[i:i + BATCH]) + lookup)
            self.file.readline()
        return time.perf_counter() - start

    def lookup(self, ident):
        self.sock.sendall(f"LOOKUP\t{ident}\n".encode())
        return int(self.file.readline())

    def connect_dump(self):
        start = time.perf_counter()
        self.sock.sendall(b"CONNECT-DUMP\n")
        rows = 0
        while self.file.readline() not in (b"\n", b""):
            rows += 1
        return time.perf_counter() - start, rows

    def close(self):
        self.file.close()
        self.sock.close()


class Dovecot:
    name = "Dovecot 2.3"

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "dovecot")
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w", encoding="ascii") as f:
            f.write(f"""base_dir = {self.dir}/run
state_dir = {self.dir}/state
instance_name = anvil-bench-{os.getpid()}
log_path = {self.dir}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
passdb {{
  driver = static
  args = password=unused
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service imap-login {{
  inet_listener imap {{
    port = {free_port()}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""")
        # Its output goes to a file: the master must not hold this
        # script's stdout open.
        with open(os.path.join(self.dir, "master.log"), "wb") as log:
            self.master = subprocess.Popen(["dovecot", "-F", "-c", self.conf],
                                           stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            self.socket = os.path.join(self.dir, "run", "anvil")
            wait_for_socket(self.socket)
            self.pid = self._anvil_pid()
        except BaseException:
            self.stop()
            raise

    def _anvil_pid(self):
        # The master creates the socket before it starts the process.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pid = self._find_anvil()
            if pid:
                return pid
            time.sleep(0.05)
        raise RuntimeError("Dovecot's anvil process not found")

    def _find_anvil(self):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if comm == "anvil" and ppid == self.master.pid:
                return int(entry)
        return None

    def who(self, *args):
        return ["doveadm", "-c", self.conf, "who", *args]

    def stop(self):
        self.master.terminate()
        self.master.wait(30)


class Anvild:
    name = "anvild"

    def __init__(self, workdir, bindir, entries, audit=False):
        self.dir = os.path.join(workdir, "anvild")
        os.makedirs(self.dir, exist_ok=True)
        self.bindir = bindir
        limit = str(4 * entries + 1_000_000)
        audit_log = os.path.join(self.dir, "audit.jsonl") if audit else ""
        with open(os.path.join(self.dir, "log"), "wb") as log:
            self.process = subprocess.Popen(
                [os.path.join(bindir, "anvild"), "--run-dir", self.dir, "-o", f"audit_log={audit_log}",
                 "-o", "ban_file=", "-o", f"max_sessions={limit}", "-o", f"max_sessions_per_uid={limit}",
                 "-o", f"max_sessions_per_process={limit}", "-o", "service_socket_group="],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.socket = os.path.join(self.dir, "anvil")
        try:
            wait_for_socket(self.socket)
        except BaseException:
            self.stop()
            raise
        self.pid = self.process.pid

    def who(self, *args):
        return [os.path.join(self.bindir, "anvilctl"), "who", "-a", self.socket, *args]

    def stop(self):
        self.process.terminate()
        self.process.wait(30)


def timed_run(argv):
    """Runs an admin command with its output going to a file, as
    `who -1 > list` does, and returns (seconds, lines). The lines are
    counted after the clock stops: a reader on a pipe would share the two
    cores with the programs measured, and on this machine it added about a
    second to a million-row answer, the same for doveadm and anvilctl."""
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=output, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{argv} failed: {proc.stderr.decode(errors='replace')}")
        output.seek(0)
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: output.read(1 << 20), b""))
    return elapsed, lines


class Load:
    """Entry i: user user%07d (three entries per name), client address
    10.x.y.z from i, process pids[i % P]."""

    def __init__(self, pids):
        self.pids = pids

    def ident(self, i):
        return f"imap/10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}/user{i // 3:07d}"

    def line(self, command, i):
        return f"{command}\t{self.pids[i % len(self.pids)]}\t{self.ident(i)}\n".encode()

    def lines(self, command, first, count):
        return [self.line(command, i) for i in range(first, first + count)]


def run_round(daemon, load, entries, churn, measure_memory):
    """One pass of every step on one daemon; returns {measure: value}."""
    out = {}
    client = Dialect23(daemon.socket)
    probe = load.ident(0)
    connects = load.lines("CONNECT", 0, entries)
    before = rss_bytes(daemon.pid)
    seconds = client.timed_lines(connects, probe)
    out["CONNECT lines/s"] = entries / seconds
    if measure_memory:
        out["bytes per entry (RSS)"] = (rss_bytes(daemon.pid) - before) / entries
    del connects
    if client.lookup(probe) != 1:
        raise RuntimeError(f"{daemon.name}: LOOKUP {probe} is not 1 after the CONNECTs")
    seconds, rows = client.connect_dump()
    if rows != entries:
        raise RuntimeError(f"{daemon.name}: CONNECT-DUMP gave {rows} rows, not {entries}")
    out["CONNECT-DUMP ms"] = seconds * 1000
    seconds, rows = timed_run(daemon.who())
    out["who (full) ms"] = seconds * 1000
    seconds, rows = timed_run(daemon.who("-1"))
    if rows != entries + 1:
        raise RuntimeError(f"{daemon.name}: who -1 gave {rows - 1} rows, not {entries}")
    out["who -1 ms"] = seconds * 1000
    user = f"user{(entries // 2) // 3:07d}"
    seconds, rows = timed_run(daemon.who("-1", user))
    if rows != 4:
        raise RuntimeError(f"{daemon.name}: who -1 {user} gave {rows - 1} rows, not 3")
    out["who -1 <user> ms"] = seconds * 1000
    seconds, rows = timed_run(daemon.who("-1", "10.1.2.0/24"))
    out["who -1 <a /24> ms"] = seconds * 1000
    mask = "user000*" if entries < 1_000_000 else "user0001*"
    seconds, rows = timed_run(daemon.who("-1", mask))
    out[f"who -1 {mask} ms"] = seconds * 1000
    # Churn: a new entry in, an old one out, the table's size unchanged.
    pairs = []
    for j in range(churn):
        pairs.append(load.line("CONNECT", entries + j))
        pairs.append(load.line("DISCONNECT", j))
    seconds = client.timed_lines(pairs, probe)
    out["churn lines/s"] = len(pairs) / seconds
    del pairs
    disconnects = load.lines("DISCONNECT", churn, entries)
    seconds = client.timed_lines(disconnects, probe)
    out["DISCONNECT lines/s"] = entries / seconds
    if client.lookup(load.ident(churn)) != 0:
        raise RuntimeError(f"{daemon.name}: entries left after DISCONNECT")
    client.close()
    return out


HIGHER_IS_BETTER = ("lines/s",)


def best(values, measure):
    if "bytes" in measure:
        return values[0]
    return max(values) if measure.endswith(HIGHER_IS_BETTER) else min(values)


def bench_size(bindir, entries, load, rounds, churn):
    with tempfile.TemporaryDirectory(prefix="anvil-bench-") as workdir:
        os.chmod(workdir, 0o755)
        daemons = [Dovecot(workdir)]
        try:
            daemons.append(Anvild(workdir, bindir, entries))
            results = {d.name: {} for d in daemons}
            for r in range(rounds):
                order = daemons if r % 2 == 0 else daemons[::-1]
                for daemon in order:
                    figures = run_round(daemon, load, entries, churn, measure_memory=(r == 0))
                    for measure, value in figures.items():
                        results[daemon.name].setdefault(measure, []).append(value)
                    print(f"  round {r + 1}: {daemon.name} done", file=sys.stderr)
        finally:
            for d in daemons:
                d.stop()
    return results


def native_figures(bindir, workdir, entries, processes=4):
    """libanvil's path into a fresh anvild: `processes` service processes
    register entries sessions between them, then unregister them."""
    anvild = Anvild(os.path.join(workdir, "native"), bindir, entries)
    try:
        proc = subprocess.run(
            [os.path.join(bindir, "native_load"), os.path.join(anvild.dir, "anvil-service"),
             str(processes), str(entries // processes), str(anvild.pid)],
            capture_output=True, text=True, timeout=600, check=True)
    finally:
        anvild.stop()
    figures = dict(line.split() for line in proc.stdout.splitlines())
    return {key: float(value) for key, value in figures.items()}


def kick_figures(bindir, workdir, processes=10, each=10_000):
    """A kick of processes * each sessions by one network, with the audit
    trail on (as by default): when the last process was told, and when
    anvilctl returned."""
    anvild = Anvild(os.path.join(workdir, "kick"), bindir, processes * each, audit=True)
    try:
        proc = subprocess.run(
            [os.path.join(bindir, "native_load"), os.path.join(anvild.dir, "anvil-service"),
             str(processes), str(each), str(anvild.pid), "kick",
             os.path.join(bindir, "anvilctl"), anvild.socket],
            capture_output=True, text=True, timeout=600, check=True)
    finally:
        anvild.stop()
    return {key: float(value) for key, value in (line.split() for line in proc.stdout.splitlines())}


def print_table(entries, results):
    dovecot, anvild = results["Dovecot 2.3"], results["anvild"]
    print(f"\n{entries:,} entries, best of {len(dovecot['CONNECT-DUMP ms'])} rounds")
    print(f"| {'measure':<26} | {'Dovecot 2.3':>12} | {'anvild':>12} | {'anvild/Dovecot':>14} |")
    print(f"|{'-' * 28}|{'-' * 14}|{'-' * 14}|{'-' * 16}|")
    for measure in dovecot:
        d, a = best(dovecot[measure], measure), best(anvild[measure], measure)
        print(f"| {measure:<26} | {d:>12,.1f} | {a:>12,.1f} | {a / d:>13.2f}× |")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                     "bin"))
    parser.add_argument("--entries", default="100000,1000000")
    parser.add_argument("--processes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--churn", type=int, default=100_000)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("dovecot_bench.py: run as root (it starts Dovecot's master)")
    if not shutil.which("dovecot") or not shutil.which("doveadm"):
        sys.exit("dovecot_bench.py: needs Debian's dovecot-core (scripts/deps.sh installs it)")
    children = [subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL)
                for _ in range(args.processes)]
    try:
        with tempfile.TemporaryDirectory(prefix="anvil-bench-") as workdir:
            kick = kick_figures(os.path.abspath(args.bin), workdir)
        print(f"kick of 100,000 sessions over 10 service processes by one network (audit on): "
              f"the last process told after {kick['kick_told']:.2f} s, anvilctl returned after "
              f"{kick['kick_anvilctl']:.2f} s")
        load = Load([c.pid for c in children])
        for entries in (int(n) for n in args.entries.split(",")):
            print(f"{entries:,} entries over {args.processes} processes...", file=sys.stderr)
            results = bench_size(os.path.abspath(args.bin), entries, load, args.rounds,
                                 min(args.churn, entries))
            print_table(entries, results)
            with tempfile.TemporaryDirectory(prefix="anvil-bench-") as workdir:
                native = native_figures(os.path.abspath(args.bin), workdir, entries)
            print(f"native path (libanvil, 4 service processes, {entries:,} sessions with ports, "
                  f"a destination and one alternative name): {native['register']:,.0f} "
                  f"registrations/s, {native['unregister']:,.0f} unregistrations/s, "
                  f"{native['bytes']:.0f} bytes per session (RSS)")
            sys.stdout.flush()
    finally:
        for c in children:
            c.kill()
            c.wait()


if __name__ == "__main__":
    main()
