"""Real processes for end-to-end tests: anvild in a scratch run directory,
anvil-echod services, TCP clients bound to loopback source addresses, and
anvilctl. Everything stays on loopback and every wait is bounded."""

import imaplib
import os
import poplib
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BIN = os.environ.get("ANVIL_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")


def as_user(user):
    """subprocess keyword arguments that run a child as `user` with that
    user's primary group and no other (Popen's user= alone keeps root's
    groups); none for user None."""
    if user is None:
        return {}
    import pwd
    entry = pwd.getpwuid(user) if isinstance(user, int) else pwd.getpwnam(user)
    return {"user": user, "group": entry.pw_gid, "extra_groups": []}


_SANITIZED = {}


def sanitized(program):
    """True if a program of the build was built with AddressSanitizer:
    its memory figures then include ASan's shadow and quarantine."""
    if program not in _SANITIZED:
        with open(os.path.join(BIN, program), "rb") as f:
            _SANITIZED[program] = b"__asan_init" in f.read()
    return _SANITIZED[program]


def wait_until(condition, timeout=30.0, interval=0.02):
    """Polls condition() until it is true or timeout seconds pass. The
    default is generous: only a failing test ever waits that long, and a
    loaded 2-core CI machine can be many times slower than a desk."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def logs(directory):
    """(name relative to directory, text) of every log a test made there:
    anvild's, its services', Dovecot's, the proxy's."""
    for root, _, names in sorted(os.walk(directory)):
        for name in sorted(names):
            if name.endswith(".log"):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    yield os.path.relpath(path, directory), f.read()


def sanitizer_reports(directory):
    """Sanitizer reports in the logs of a test."""
    return [f"{name}:\n{text[-4000:]}" for name, text in logs(directory)
            if any(marker in text for marker in SANITIZER_MARKERS)]


def log_tails(directory, lines=60):
    """The last lines of every log of a test, for a failed test's report:
    CI keeps no scratch directories."""
    tails = []
    for name, text in logs(directory):
        last = text.splitlines()[-lines:]
        tails.append(f"--- {name} (last {len(last)} lines)\n" + "\n".join(last))
    return "\n".join(tails)


def test_failed(case):
    """True once an assertion or error has failed this test (setUp and
    the test itself), as seen from one of its cleanups."""
    result = getattr(getattr(case, "_outcome", None), "result", None)
    return result is not None and any(
        test is case for test, _ in [*result.failures, *result.errors])


def accepts(path):
    """True if a UNIX socket at path accepts a connection."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def stop_process(proc, timeout=5):
    """Ends a process (woken first, if a test stopped it): SIGTERM, then
    SIGKILL after `timeout` seconds."""
    if proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGCONT)
    except ProcessLookupError:
        pass
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_all(clients, processes, timeout=5):
    """A test's cleanup: its clients closed, its processes ended, their
    pipes closed."""
    for client in clients:
        client.close()
    for proc in processes:
        stop_process(proc, timeout)
    for proc in processes:
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


class EchoClient:
    """One TCP connection to anvil-echod, from a chosen loopback address."""

    def __init__(self, port, source, user=None, attributes=""):
        family = socket.AF_INET6 if ":" in source else socket.AF_INET
        server = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.bind((source, 0))
        self.sock.connect((server, port))
        self.file = self.sock.makefile("rw", encoding="utf-8", newline="\n")
        assert self.readline() == "OK ready"
        self.user = user
        if user is not None:
            self.send(f"LOGIN {user} {attributes}".rstrip())
            reply = self.readline()
            assert reply == "OK", reply

    def send(self, line):
        self.file.write(line + "\n")
        self.file.flush()

    def readline(self):
        return self.file.readline().rstrip("\n")

    def alive(self):
        """True if the server still echoes on this connection."""
        try:
            self.send("ping")
            return self.readline() == "ping"
        except OSError:
            return False

    def read_bye(self):
        """The BYE line of a kicked connection, then EOF; None otherwise."""
        try:
            line = self.readline()
            if not line.startswith("BYE "):
                return None
            return line if self.file.readline() == "" else None
        except OSError:
            return None

    def close(self):
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass


class RawLineSocket:
    """A raw UNIX-socket peer of anvild that speaks lines by hand."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def send_flood(self, data):
        """Sends data that anvild is expected to cut off part-way."""
        try:
            self.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def line(self):
        """The next line, or None at EOF."""
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def closed(self):
        """True once anvild has closed the connection (after any lines)."""
        try:
            while True:
                if self.line() is None:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


class Stack(unittest.TestCase):
    """A TestCase with anvild running in a fresh directory per test."""

    anvild_options = []

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="anvil-e2e-")
        os.chmod(self.dir, 0o755)  # so that tests running as another uid reach the sockets
        self.processes = []
        self.clients = []
        self.anvild = None
        # A cleanup runs even when setUp fails (tearDown would not), so no
        # process outlives its test.
        self.addCleanup(self.stop_everything)
        self.start_anvild()

    def stop_everything(self):
        stop_all(self.clients, self.processes)
        reports = sanitizer_reports(self.dir)
        if test_failed(self):
            print(f"\nlogs of the failed test {self.id()}:\n{log_tails(self.dir)}",
                  file=sys.stderr, flush=True)
        if os.environ.get("ANVIL_E2E_KEEP"):
            print(f"\nkept {self.dir}", flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.assertEqual(reports, [], "a process printed a sanitizer report")

    # --- processes -------------------------------------------------------

    @property
    def audit_log(self):
        return os.path.join(self.dir, "audit.jsonl")

    @property
    def ban_file(self):
        return os.path.join(self.dir, "bans")

    @property
    def admin_socket(self):
        return os.path.join(self.dir, "anvil")

    @property
    def service_socket(self):
        return os.path.join(self.dir, "anvil-service")

    def spawn(self, args, **kwargs):
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, **kwargs)
        self.processes.append(proc)
        return proc

    def start_anvild(self, extra=(), preexec_fn=None):
        with open(os.path.join(self.dir, "anvild.log"), "ab") as log:
            self.anvild = self.spawn(
                [os.path.join(BIN, "anvild"), "--run-dir", self.dir,
                 "-o", f"audit_log={self.audit_log}", "-o", f"ban_file={self.ban_file}",
                 *self.anvild_options, *extra],
                stdout=log, stderr=log, preexec_fn=preexec_fn)
        # A socket file may be left over from a killed anvild: ready means
        # that both sockets accept connections.
        self.assertTrue(wait_until(lambda: accepts(self.admin_socket)
                                   and accepts(self.service_socket)),
                        "anvild did not start listening")
        return self.anvild

    def restart_anvild_with(self, *extra):
        """Stops anvild and starts it again with more options."""
        self.anvild.terminate()
        self.anvild.wait(10)
        return self.start_anvild(extra)

    def anvild_log(self):
        with open(os.path.join(self.dir, "anvild.log"), encoding="utf-8", errors="replace") as f:
            return f.read()

    def binary_for(self, name, user):
        """The path of a program that `user` may run: the build tree may sit
        where another uid cannot reach it, so a copy goes to the test's
        directory."""
        binary = os.path.join(BIN, name)
        if user is None:
            return binary
        copy = os.path.join(self.dir, name)
        if not os.path.exists(copy):
            shutil.copy(binary, copy)
            os.chmod(copy, 0o755)
        return copy

    def start_echod(self, service="echo", listen="127.0.0.1:0", user=None):
        with open(os.path.join(self.dir, f"echod-{len(self.processes)}.log"), "ab") as log:
            proc = self.spawn([self.binary_for("anvil-echod", user), "--listen", listen,
                               "--anvil", self.service_socket, "--service", service],
                              stdout=subprocess.PIPE, stderr=log, text=True, **as_user(user))
        line = proc.stdout.readline().strip()
        self.assertTrue(line.startswith("listening on "), line)
        proc.port = int(line.rsplit(":", 1)[1])
        return proc

    def connect(self, echod, source, user=None, attributes=""):
        client = EchoClient(echod.port, source, user, attributes)
        self.clients.append(client)
        return client

    # --- anvilctl ---------------------------------------------------------

    def anvilctl(self, *args, socket_path=None, global_args=(), user=None):
        """Runs anvilctl, as another uid if user is given; returns (exit
        code, stdout, stderr)."""
        binary = self.binary_for("anvilctl", user)
        command = [binary, *global_args, args[0],
                   "-a", socket_path or self.admin_socket, *args[1:]]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, **as_user(user))
        return proc.returncode, proc.stdout, proc.stderr

    def who_users(self, *args):
        """User names of `who -1` with the tab formatter, one per connection."""
        code, out, err = self.anvilctl("who", "-1", *args, global_args=("-f", "tab"))
        self.assertEqual(code, 0, err)
        return sorted(line.split("\t")[0] for line in out.splitlines()[1:])

    def wait_for_sessions(self, count):
        self.assertTrue(wait_until(lambda: len(self.who_users()) == count),
                        f"expected {count} sessions, have {self.who_users()}")


_HOLDER = r"""
import os, socket, sys, time
path, count = sys.argv[1], int(sys.argv[2])
greeting = sys.argv[3].replace("{pid}", str(os.getpid())).encode()
held, answers = [], []
for _ in range(count):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(path)
    except OSError as e:
        answers.append("error: " + type(e).__name__)
        continue
    if greeting:
        # A refusal may be written, and the socket closed, before the
        # greeting goes out: what was said is read all the same.
        try:
            s.sendall(greeting)
        except OSError:
            pass
        try:
            answers.append(s.recv(4096).decode().strip().replace("\n", " | "))
        except OSError as e:
            answers.append("error: " + type(e).__name__)
    held.append(s)
print("\n".join(answers), flush=True)
print("ready", flush=True)
time.sleep(600)
"""


def hold_connections(stack, path, count, user=None, greeting="VERSION\tanvil-admin\t1\t0\n"):
    """Opens count connections to a UNIX socket from a process of its own,
    as `user` if given, each sending `greeting` ("{pid}" in it becomes the
    process's pid) and reading one answer, and
    holds them until the process is killed. Returns the process, with
    .answers: what each connection got (or "error: <exception>")."""
    # Another uid may not reach this interpreter (e.g. one under /root):
    # Debian's python3 serves it.
    python = "/usr/bin/python3" if user is not None else sys.executable
    proc = stack.spawn([python, "-c", _HOLDER, path, str(count), greeting],
                       stdout=subprocess.PIPE, text=True, **as_user(user))
    proc.answers = []
    while True:
        line = proc.stdout.readline()
        stack.assertTrue(line, "the holding process died")
        if line.strip() == "ready":
            return proc
        proc.answers.append(line.rstrip("\n"))


def _bindable(address, port):
    probe = socket.socket()
    try:
        probe.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def free_ports(count, addresses=("127.0.0.1",)):
    """count different free ports (see free_port): two calls of free_port
    may well return the same port, since nothing binds it in between."""
    ports = []
    while len(ports) < count:
        port = free_port(addresses)
        if port not in ports:
            ports.append(port)
    return ports


def free_port(addresses=("127.0.0.1",)):
    """A TCP port that nothing uses right now on any of addresses, for a
    server the test starts. It is taken below the kernel's ephemeral range:
    a port from bind(0) may meanwhile become the local port of an outgoing
    connection of a test running alongside (the 10,000-session test makes
    tens of thousands), and then the server cannot bind it."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral_low = int(f.read().split()[0])
    low = 20000 if ephemeral_low > 21000 else 1024
    rng = random.SystemRandom()
    for _ in range(500):
        port = rng.randrange(low, ephemeral_low)
        if all(_bindable(address, port) for address in addresses):
            return port
    raise RuntimeError(f"no free port below {ephemeral_low} on {addresses}")


class DaemonizedMaster:
    """A Dovecot master started without -F, as init scripts and admins at a
    shell start it: `dovecot` forks, the parent exits, and the master is
    the process its master.pid names. Stands in for a Popen in a Stack's
    process list (poll, terminate, kill, wait)."""

    stdout = stderr = None

    def __init__(self, conf, pid_file, log_path):
        self.pid_file = pid_file
        self.pid = None
        with open(log_path, "ab") as log:
            self.returncode = subprocess.run(["dovecot", "-c", conf], stdout=log, stderr=log,
                                             stdin=subprocess.DEVNULL, timeout=60).returncode
        if self.returncode == 0:
            # The master creates its pid file before it writes the pid.
            self.pid = wait_until(self._read_pid)

    def _read_pid(self):
        try:
            with open(self.pid_file) as f:
                text = f.read().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    def poll(self):
        if self.pid is None:
            return self.returncode or 1
        try:
            os.kill(self.pid, 0)
            return None
        except ProcessLookupError:
            return 0

    def send_signal(self, number):
        if self.pid is not None and self.poll() is None:
            os.kill(self.pid, number)

    def terminate(self):
        self.send_signal(signal.SIGTERM)

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout=30):
        if not wait_until(lambda: self.poll() is not None, timeout=timeout):
            raise subprocess.TimeoutExpired("dovecot", timeout)
        return 0


class DovecotServer:
    """Debian's Dovecot 2.3, run by a test from its own directory: loopback
    only, free ports, passwd-file users (password "secret"), maildirs owned
    by nobody. extra_config is appended to the configuration."""

    USERS = ("jane", "jano", "bob", "james", "foo")

    def __init__(self, stack, extra_config="", listen="127.0.0.1", tls_pair=None,
                 daemonize=False):
        """listen: Dovecot's listen setting; tls_pair: (cert, key) to serve
        STARTTLS and imaps/pop3s (imaps_port, pop3s_port) with; daemonize:
        start the master without -F (it forks and detaches)."""
        self.daemonize = daemonize
        self.dir = os.path.join(stack.dir, "dovecot")
        os.makedirs(os.path.join(self.dir, "mail"))
        shutil.chown(os.path.join(self.dir, "mail"), "nobody", "nogroup")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.writelines(f"{user}:{{PLAIN}}secret\n" for user in self.USERS)
        log_path = os.path.join(stack.dir, "dovecot.log")
        addresses = [address.strip() for address in listen.split(",")]
        # Another test's server may still bind a port between free_port()
        # and Dovecot's bind; a clash shows in the log and gets new ports.
        for attempt in range(3):
            log_start = os.path.getsize(log_path) if os.path.exists(log_path) else 0
            self._start(stack, extra_config, listen, addresses, tls_pair, log_path)
            wait_until(lambda: self.master.poll() is not None or self.ready(), timeout=30)
            if self.ready():
                return
            self.master.terminate()
            self.master.wait(timeout=30)
            with open(log_path, encoding="utf-8", errors="replace") as f:
                f.seek(log_start)
                log = f.read()
            if "Address already in use" not in log:
                break
        stack.fail(f"Dovecot did not start; its log says:\n{log[-3000:]}")

    def _start(self, stack, extra_config, listen, addresses, tls_pair, log_path):
        ports = free_ports(4 if tls_pair else 2, addresses)
        self.imap_port, self.pop3_port = ports[:2]
        self.imaps_port = self.pop3s_port = 0
        ssl = "ssl = no"
        if tls_pair:
            self.imaps_port, self.pop3s_port = ports[2:]
            ssl = f"ssl = yes\nssl_cert = <{tls_pair[0]}\nssl_key = <{tls_pair[1]}"
        with open(self.conf, "w") as f:
            f.write(f"""base_dir = {self.dir}/run
state_dir = {self.dir}/state
instance_name = anvil-test-{os.getpid()}
log_path = {log_path}
listen = {listen}
protocols = imap pop3
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.dir}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={self.dir}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = {self.imaps_port}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    port = {self.pop3s_port}
  }}
}}
{extra_config}
""")
        # Errors before Dovecot's log process runs go to the master's stderr.
        if self.daemonize:
            self.master = DaemonizedMaster(self.conf, os.path.join(self.dir, "run", "master.pid"),
                                           log_path)
            stack.processes.append(self.master)
            return
        with open(log_path, "ab") as log:
            self.master = stack.spawn(["dovecot", "-F", "-c", self.conf],
                                      stdout=log, stderr=log)

    def ready(self):
        return (accepts(self.anvil_socket) and port_open(self.imap_port)
                and port_open(self.pop3_port))

    @property
    def anvil_socket(self):
        return os.path.join(self.dir, "run", "anvil")

    def doveadm(self, *args):
        proc = subprocess.run(["doveadm", "-c", self.conf, *args], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stdout, proc.stderr

    def imap(self, user, source="127.0.0.1"):
        client = SourcedIMAP4(source, "127.0.0.1", self.imap_port, timeout=10)
        client.login(user, "secret")
        return client

    def pop3(self, user, source="127.0.0.1"):
        client = SourcedPOP3(source, "127.0.0.1", self.pop3_port, timeout=10)
        client.user(user)
        client.pass_("secret")
        return client


class FromSource:
    """Makes imaplib's and poplib's clients connect from a chosen loopback
    address (both open their socket in _create_socket). The implicit-TLS
    classes take their SSLContext as imaplib and poplib do (ssl_context= /
    context=), and get the socket wrapped here."""

    def __init__(self, source, host, port, timeout, **kwargs):
        self.source = source
        super().__init__(host, port, timeout=timeout, **kwargs)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.source, 0))
        if isinstance(self, imaplib.IMAP4_SSL):
            return self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        if isinstance(self, poplib.POP3_SSL):
            return self.context.wrap_socket(sock, server_hostname=self.host)
        return sock


class SourcedIMAP4(FromSource, imaplib.IMAP4):
    pass


class SourcedPOP3(FromSource, poplib.POP3):
    pass


class SourcedIMAP4_SSL(FromSource, imaplib.IMAP4_SSL):
    pass


class SourcedPOP3_SSL(FromSource, poplib.POP3_SSL):
    pass


def mail_client(protocol, port, source="127.0.0.1", tls=None, context=None):
    """An imaplib ("imap") or poplib ("pop3") client connected from
    `source`: tls None (plain), "starttls" (STARTTLS / STLS) or "implicit"."""
    imap = protocol == "imap"
    if tls == "implicit":
        if imap:
            return SourcedIMAP4_SSL(source, "127.0.0.1", port, 10, ssl_context=context)
        return SourcedPOP3_SSL(source, "127.0.0.1", port, 10, context=context)
    client = (SourcedIMAP4 if imap else SourcedPOP3)(source, "127.0.0.1", port, 10)
    if tls == "starttls":
        client.starttls(context) if imap else client.stls(context)
    return client


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def imap_alive(client):
    try:
        return client.noop()[0] == "OK"
    except (imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError):
        return False


def imap_goodbye(client):
    """The text of the goodbye a signalled Dovecot process sends, or "no
    goodbye". The signal is asynchronous: NOOPs may still be answered
    before the process handles it, so this polls within a bound."""
    def goodbye():
        try:
            client.noop()
            return None
        except imaplib.IMAP4.abort as bye:
            return str(bye)
    return wait_until(goodbye) or "no goodbye"


def pop3_alive(client):
    try:
        return client.noop().startswith(b"+OK")
    except (poplib.error_proto, OSError):
        return False


# --- anvil-proxy ---------------------------------------------------------

def make_tls_pair(directory):
    """A self-signed certificate for 127.0.0.1 and localhost, made with the
    openssl command; returns (cert path, key path)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return cert, key


def start_proxy(stack, settings):
    """Runs anvil-proxy with `settings` (a dict) in a config file; every
    listen address not given is off. Returns the process, with .ports
    mapping "imap", "imaps", "pop3", "pop3s" to the bound ports."""
    values = {"imap_listen": "", "imaps_listen": "", "pop3_listen": "", "pop3s_listen": ""}
    if "anvil_socket" not in settings:
        values["anvil_socket"] = stack.service_socket
    values.update(settings)
    index = len(stack.processes)
    conf = os.path.join(stack.dir, f"proxy-{index}.conf")
    with open(conf, "w") as f:
        f.writelines(f"{key} = {value}\n" for key, value in values.items())
    with open(os.path.join(stack.dir, f"proxy-{index}.log"), "ab") as log:
        proc = stack.spawn([os.path.join(BIN, "anvil-proxy"), "-c", conf],
                           stdout=subprocess.PIPE, stderr=log, text=True)
    proc.log_path = os.path.join(stack.dir, f"proxy-{index}.log")
    expected = sum(1 for key in ("imap_listen", "imaps_listen", "pop3_listen", "pop3s_listen")
                   if values[key])
    proc.ports = {}
    while len(proc.ports) < expected:
        line = proc.stdout.readline()
        stack.assertTrue(line, "anvil-proxy exited: " + proxy_log(proc))
        _, name, address = line.split()
        proc.ports[name] = int(address.rsplit(":", 1)[1])
    return proc


def proxy_log(proc):
    with open(proc.log_path, encoding="utf-8", errors="replace") as f:
        return f.read()


class ScriptedImapBackend:
    """A one-connection IMAP backend for what no real server does on
    purpose: it greets, accepts any LOGIN, then hands the connection and
    its line reader to after_login(conn, lines) in a thread of its own.
    .port is where it listens; .thread ends when after_login returns."""

    def __init__(self, stack, after_login):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        stack.addCleanup(self.listener.close)
        self.port = self.listener.getsockname()[1]

        def serve():
            conn, _ = self.listener.accept()
            with conn:
                lines = conn.makefile("rb")
                conn.sendall(b"* OK scripted backend\r\n")
                conn.sendall(lines.readline().split()[0] + b" OK Logged in\r\n")
                after_login(conn, lines)

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
