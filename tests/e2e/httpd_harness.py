"""anvil-httpd beside anvild for end-to-end tests: keys made with
--new-key, the server on a free loopback port, and requests made with curl
(a real client) or, for what curl will not send, a raw socket."""

import os
import socket
import subprocess

from harness import BIN, Stack


class HttpdStack(Stack):
    """anvild, plus anvil-httpd with a `kick` key (ops) and a `read` key
    (grafana)."""

    httpd_options = []

    def setUp(self):
        super().setUp()
        self.keys_file = os.path.join(self.dir, "http-keys")
        self.kick_key = self.new_key("ops", "kick")
        self.read_key = self.new_key("grafana", "read")
        self.httpd = self.start_httpd()

    def new_key(self, name, role):
        proc = subprocess.run([os.path.join(BIN, "anvil-httpd"), "-o", f"keys_file={self.keys_file}",
                               "--new-key", name, role],
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout.strip()

    def start_httpd(self, *extra, listeners=1):
        log = open(os.path.join(self.dir, f"httpd-{len(self.processes)}.log"), "ab")
        proc = self.spawn([os.path.join(BIN, "anvil-httpd"), "-o", "listen=127.0.0.1:0",
                           "-o", f"keys_file={self.keys_file}",
                           "-o", f"admin_socket={self.admin_socket}",
                           *self.httpd_options, *extra],
                          stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        proc.urls = []
        for _ in range(listeners):
            line = proc.stdout.readline().strip()
            self.assertTrue(line.startswith("listening "), f"anvil-httpd said {line!r}")
            scheme, address = line.split()[1:3]
            proc.urls.append(f"{scheme}://{address}")
        proc.port = int(proc.urls[0].rsplit(":", 1)[1])
        self.url = proc.urls[0]
        return proc

    def curl(self, path, *args, key=None, data=None, method=None, url=None):
        """Runs curl; returns (status, headers as a list of (name, value)
        in lower case names, body text)."""
        command = ["curl", "-sS", "--max-time", "60", "-D", "-", "-w", "\n%{http_code}"]
        if key is not None:
            command += ["-H", f"Authorization: Bearer {key}"]
        if data is not None:
            command += ["-H", "Content-Type: application/json", "--data-binary", data]
        if method:
            command += ["-X", method]
        command += [*args, (url or self.url) + path]
        # Bytes, not text: text mode would turn the headers' CRLF into LF.
        proc = subprocess.run(command, capture_output=True, timeout=90, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        text, _, code = proc.stdout.decode("utf-8", "replace").rpartition("\n")
        # Header blocks (a 100 Continue may come first), then the body.
        headers = []
        while text.startswith("HTTP/"):
            block, _, text = text.partition("\r\n\r\n")
            headers = [tuple(part.strip() for part in line.split(":", 1))
                       for line in block.split("\r\n")[1:]]
            headers = [(name.lower(), value) for name, value in headers]
        return int(code), headers, text

    def raw(self, data, read_timeout=10):
        """Sends bytes on a fresh connection; returns everything the server
        writes before it closes the connection (or read_timeout passes)."""
        with socket.create_connection(("127.0.0.1", self.httpd.port), timeout=read_timeout) as s:
            s.sendall(data)
            chunks = []
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except socket.timeout:
                chunks.append(b"<timeout>")
            return b"".join(chunks)
