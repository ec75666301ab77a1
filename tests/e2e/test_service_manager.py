"""What systemd sees of anvild, anvil-proxy and anvil-httpd: the readiness protocol of
Type=notify units (READY=1 once every socket listens, RELOADING=1 and
READY=1 around a SIGHUP, STOPPING=1), received here on a real datagram
socket as $NOTIFY_SOCKET; and bad settings, which stop a program before it
opens anything, with one line and exit status 78."""

import os
import signal
import socket
import subprocess
import tempfile
import unittest

import harness


class NotifySocket:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify")
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(self.path)
        self.socket.settimeout(30)

    def next(self):
        return self.socket.recv(4096).decode()

    def close(self):
        self.socket.close()


class Readiness(harness.Stack):
    def setUp(self):
        super().setUp()
        self.notify = NotifySocket(self.dir)
        self.addCleanup(self.notify.close)

    def start_with_notify(self, command):
        with open(os.path.join(self.dir, "notified.log"), "ab") as log:
            return self.spawn(command, env={**os.environ, "NOTIFY_SOCKET": self.notify.path},
                              stdout=subprocess.DEVNULL, stderr=log)

    def test_anvild_is_ready_when_its_sockets_listen(self):
        run_dir = os.path.join(self.dir, "second")
        anvild = self.start_with_notify(
            [os.path.join(harness.BIN, "anvild"), "--run-dir", run_dir,
             "-o", f"audit_log={run_dir}/audit.log", "-o", f"ban_file={run_dir}/bans"])
        self.assertEqual(self.notify.next(), "READY=1")
        # Ready means usable: both sockets accept at once, no waiting.
        self.assertTrue(harness.accepts(os.path.join(run_dir, "anvil")))
        self.assertTrue(harness.accepts(os.path.join(run_dir, "anvil-service")))
        anvild.send_signal(signal.SIGHUP)
        self.assertEqual(self.notify.next(), "RELOADING=1")
        self.assertEqual(self.notify.next(), "READY=1")
        anvild.terminate()
        self.assertEqual(self.notify.next(), "STOPPING=1")
        self.assertEqual(anvild.wait(10), 0)

    def test_anvil_proxy_is_ready_when_it_listens(self):
        imap, pop3 = harness.free_ports(2)
        proxy = self.start_with_notify(
            [os.path.join(harness.BIN, "anvil-proxy"), "-o", f"imap_listen=127.0.0.1:{imap}",
             "-o", f"pop3_listen=127.0.0.1:{pop3}", "-o", f"anvil_socket={self.service_socket}"])
        self.assertEqual(self.notify.next(), "READY=1")
        for port in (imap, pop3):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                self.assertTrue(client.recv(100))  # the greeting
        proxy.send_signal(signal.SIGHUP)
        self.assertEqual(self.notify.next(), "RELOADING=1")
        self.assertEqual(self.notify.next(), "READY=1")
        proxy.terminate()
        self.assertEqual(self.notify.next(), "STOPPING=1")
        self.assertEqual(proxy.wait(10), 0)

    def test_anvil_httpd_is_ready_when_it_listens(self):
        port = harness.free_port()
        keys = os.path.join(self.dir, "keys")
        with open(keys, "w") as f:
            f.write("")
        httpd = self.start_with_notify(
            [os.path.join(harness.BIN, "anvil-httpd"), "-o", f"listen=127.0.0.1:{port}",
             "-o", f"keys_file={keys}", "-o", f"admin_socket={self.admin_socket}"])
        self.assertEqual(self.notify.next(), "READY=1")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.0\r\n\r\n")
            self.assertTrue(client.recv(100).startswith(b"HTTP/1.0 200"))
        httpd.send_signal(signal.SIGHUP)
        self.assertEqual(self.notify.next(), "RELOADING=1")
        self.assertEqual(self.notify.next(), "READY=1")
        httpd.terminate()
        self.assertEqual(self.notify.next(), "STOPPING=1")
        self.assertEqual(httpd.wait(10), 0)


class BadSettings(unittest.TestCase):
    """Each program, each kind of mistake: exit 78, one line naming it, and
    nothing opened (no socket, no port), so a unit fails rather than
    half-starts."""

    MISTAKES = (("no_such_key = 1\n", "unknown setting: no_such_key"),
                (None, "cannot read config file"))

    def check(self, program, wrong_type, extra=()):
        with tempfile.TemporaryDirectory(prefix="anvil-settings-") as scratch:
            config = os.path.join(scratch, "settings.conf")
            for text, message in (*self.MISTAKES, wrong_type):
                if text is not None:
                    with open(config, "w", encoding="utf-8") as f:
                        f.write(text)
                elif os.path.exists(config):
                    os.remove(config)
                proc = subprocess.run([os.path.join(harness.BIN, program), "-c", config, *extra],
                                      capture_output=True, text=True, timeout=60,
                                      stdin=subprocess.DEVNULL)
                self.assertEqual(proc.returncode, 78, proc.stderr)
                self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
                self.assertIn(message, proc.stderr)
                self.assertTrue(proc.stderr.startswith(f"{program}: error: "), proc.stderr)
                self.assertEqual(sorted(os.listdir(scratch)),
                                 ["settings.conf"] if text is not None else [])

    def test_anvild(self):
        with tempfile.TemporaryDirectory() as run_dir:
            self.check("anvild", ("kick_timeout_ms = soon\n", "invalid value for kick_timeout_ms"),
                       ("--run-dir", os.path.join(run_dir, "never")))
            self.assertEqual(os.listdir(run_dir), [])

    def test_anvil_proxy(self):
        port = harness.free_port()
        self.check("anvil-proxy", (f"imap_listen = 127.0.0.1:{port}\nmax_sessions = many\n",
                                   "max_sessions"))
        # Nothing listened on the port, even for a moment it could be seen.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))

    def test_anvil_httpd(self):
        port = harness.free_port()
        self.check("anvil-httpd", (f"listen = 127.0.0.1:{port}\nmax_clients = lots\n",
                                   "max_clients"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))


if __name__ == "__main__":
    unittest.main()
