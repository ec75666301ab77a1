#!/usr/bin/env python3
"""anvil-proxy benchmark: prints a table of
  - login rate: connect, greeting, LOGIN, LOGOUT, through the proxy and
    straight to the backend;
  - relay throughput: one large download through the proxy and straight;
  - RSS per idle session: proxy memory growth per idle connection, before
    and after login, plain and with implicit TLS.
The backend is a minimal IMAP server run by this script in its own process
(it accepts any password and sends N bytes on "GET N"), so the figures
measure the proxy, not a mail store. anvild runs in a scratch directory.

usage: bench/proxy_bench.py [--bin build/bin] [--logins N] [--megabytes N] [--idle N]
"""

import argparse
import multiprocessing
import os
import resource
import selectors
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time


# --- the backend ---------------------------------------------------------

def backend_main(listener):
    """A tiny IMAP server: greeting, LOGIN (any), LOGOUT, and GET <bytes>."""
    raise_fd_limit(60000)
    selector = selectors.DefaultSelector()
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ)
    payload = b"x" * (1 << 20)
    buffers = {}
    while True:
        for key, _ in selector.select():
            sock = key.fileobj
            if sock is listener:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                conn.sendall(b"* OK bench backend ready\r\n")
                buffers[conn] = b""
                selector.register(conn, selectors.EVENT_READ)
                continue
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if not data:
                selector.unregister(sock)
                buffers.pop(sock, None)
                sock.close()
                continue
            buffers[sock] += data
            while b"\n" in buffers[sock]:
                line, buffers[sock] = buffers[sock].split(b"\n", 1)
                words = line.strip().split()
                if len(words) < 2:
                    continue
                tag, command = words[0], words[1].upper()
                sock.setblocking(True)
                if command == b"LOGIN":
                    sock.sendall(tag + b" OK Logged in\r\n")
                elif command == b"LOGOUT":
                    sock.sendall(b"* BYE\r\n" + tag + b" OK Logout\r\n")
                elif command == b"GET":
                    left = int(words[2])
                    while left > 0:
                        chunk = payload[:min(left, len(payload))]
                        sock.sendall(chunk)
                        left -= len(chunk)
                    sock.sendall(b"\r\n" + tag + b" OK done\r\n")
                else:
                    sock.sendall(tag + b" OK\r\n")
                sock.setblocking(False)


# --- clients -------------------------------------------------------------

def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(wanted, hard), max(wanted, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def read_until(sock, marker, buffer=b""):
    while marker not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed early")
        buffer += chunk
    return buffer


def login_logout(port, count):
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        read_until(sock, b"\r\n")
        sock.sendall(b"a LOGIN user%d secret\r\n" % i)
        read_until(sock, b"a OK")
        sock.sendall(b"b LOGOUT\r\n")
        read_until(sock, b"b OK")
        sock.close()


def login_rate(port, total, workers=2):
    per_worker = total // workers
    start = time.monotonic()
    procs = [multiprocessing.Process(target=login_logout, args=(port, per_worker))
             for _ in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    return per_worker * workers / (time.monotonic() - start)


def download_rate(port, megabytes, tls=None):
    sock = socket.create_connection(("127.0.0.1", port))
    if tls:
        sock = tls.wrap_socket(sock, server_hostname="127.0.0.1")
    read_until(sock, b"\r\n")
    sock.sendall(b"a LOGIN bench secret\r\n")
    read_until(sock, b"a OK")
    size = megabytes << 20
    start = time.monotonic()
    sock.sendall(b"g GET %d\r\n" % size)
    received = 0
    tail = b""
    buffer = bytearray(1 << 20)
    while True:
        n = sock.recv_into(buffer)
        if not n:
            raise ConnectionError("closed early")
        received += n
        tail = (tail + bytes(buffer[max(0, n - 32):n]))[-32:]
        if received >= size and tail.endswith(b"g OK done\r\n"):
            break
    elapsed = time.monotonic() - start
    sock.close()
    return megabytes / elapsed


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def idle_cost(proxy_pid, port, count, log_in, tls=None):
    """Proxy RSS growth per idle connection, in bytes; tls: an SSLContext
    for implicit TLS (the handshake is done before measuring)."""
    before = rss_kib(proxy_pid)
    socks = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        if tls:
            sock = tls.wrap_socket(sock, server_hostname="127.0.0.1")
        socks.append(sock)
    for i, sock in enumerate(socks):
        read_until(sock, b"\r\n")
        if log_in:
            sock.sendall(b"a LOGIN idle%d secret\r\n" % i)
    if log_in:
        for sock in socks:
            read_until(sock, b"a OK")
    time.sleep(0.5)
    after = rss_kib(proxy_pid)
    for sock in socks:
        sock.close()
    time.sleep(0.5)
    return (after - before) * 1024 / count


# --- main ----------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin"))
    parser.add_argument("--logins", type=int, default=4000)
    parser.add_argument("--megabytes", type=int, default=2000)
    parser.add_argument("--idle", type=int, default=5000)
    args = parser.parse_args()
    raise_fd_limit(4 * args.idle + 1000)

    scratch = tempfile.mkdtemp(prefix="anvil-proxy-bench-")
    processes = []
    try:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4096)
        backend_port = listener.getsockname()[1]
        backend = multiprocessing.Process(target=backend_main, args=(listener,), daemon=True)
        backend.start()
        listener.close()

        anvild = subprocess.Popen([os.path.join(args.bin, "anvild"), "--run-dir", scratch,
                                   "-o", "ban_file=", "-o", "audit_log="],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        processes.append(anvild)
        for _ in range(100):
            if os.path.exists(os.path.join(scratch, "anvil-service")):
                break
            time.sleep(0.05)
        cert, key = os.path.join(scratch, "cert.pem"), os.path.join(scratch, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)

        def start_proxy():
            """A fresh proxy: memory freed by an earlier measurement would
            otherwise be reused and hide the cost of the next."""
            proxy = subprocess.Popen(
                [os.path.join(args.bin, "anvil-proxy"), "-o", "imap_listen=127.0.0.1:0",
                 "-o", "imaps_listen=127.0.0.1:0", "-o", f"tls_cert={cert}", "-o", f"tls_key={key}",
                 "-o", "pop3_listen=", "-o", f"backend_imap=127.0.0.1:{backend_port}",
                 "-o", f"anvil_socket={scratch}/anvil-service", "-o", "max_login_attempts=100",
                 "-o", f"max_sessions={2 * args.idle + 1000}"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True)
            processes.append(proxy)
            proxy.ports = {}
            for _ in range(2):  # "listening <name> <address>:<port>"
                _, name, address = proxy.stdout.readline().split()
                proxy.ports[name] = int(address.rsplit(":", 1)[1])
            return proxy

        def idle_row(label, log_in, tls=None):
            proxy = start_proxy()
            cost = idle_cost(proxy.pid, proxy.ports["imaps" if tls else "imap"], args.idle,
                             log_in, tls)
            proxy.terminate()
            proxy.wait(10)
            return (f"RSS per idle {label} ({args.idle})", "-", f"{cost / 1024:.1f} KiB")

        proxy = start_proxy()
        proxy_port = proxy.ports["imap"]
        tls = ssl.create_default_context(cafile=cert)

        rows = []
        direct = login_rate(backend_port, args.logins)
        proxied = login_rate(proxy_port, args.logins)
        rows.append(("login rate (logins/s, 2 clients)", f"{direct:,.0f}", f"{proxied:,.0f}"))
        direct = download_rate(backend_port, args.megabytes)
        proxied = download_rate(proxy_port, args.megabytes)
        rows.append((f"download of {args.megabytes} MiB (MiB/s)", f"{direct:,.0f}",
                     f"{proxied:,.0f} ({100 * proxied / direct:.0f}%)"))
        proxied = download_rate(proxy.ports["imaps"], args.megabytes, tls)
        rows.append((f"download of {args.megabytes} MiB, TLS to the proxy (MiB/s)", "-",
                     f"{proxied:,.0f}"))
        rows.append(idle_row("session, before login", log_in=False))
        rows.append(idle_row("session, logged in", log_in=True))
        rows.append(idle_row("TLS session, before login", log_in=False, tls=tls))
        rows.append(idle_row("TLS session, logged in", log_in=True, tls=tls))

        print(f"anvil-proxy benchmark ({os.cpu_count()} CPUs; IMAP on loopback; plain unless"
              " marked TLS)")
        widths = [max(len(r[i]) for r in rows + [("measure", "direct", "through anvil-proxy")])
                  for i in range(3)]
        header = ("measure", "direct", "through anvil-proxy")
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        print("  ".join("-" * w for w in widths))
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    finally:
        for proc in processes:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
