"""anvil-proxy in front of a real Dovecot 2.3: real IMAP and POP3 clients
(imaplib, poplib, curl) over plain, STARTTLS and implicit TLS connections;
`who` shows the proxied sessions, and kicks by user, address and
destination drop exactly the right ones with the protocol's goodbye."""

import base64
import hashlib
import imaplib
import json
import os
import poplib
import signal
import socket
import ssl
import subprocess
import time
import unittest

from harness import (DovecotServer, ScriptedImapBackend, Stack, imap_alive, mail_client, make_tls_pair,
                     pop3_alive, proxy_log, start_proxy, wait_until)

MESSAGE = (b"From: sender@example.com\r\nTo: jane@example.com\r\nSubject: through the proxy\r\n"
           b"\r\nHello from behind anvil-proxy.\r\n")


def imap_client(port, **kwargs):
    return mail_client("imap", port, **kwargs)


def pop3_client(port, **kwargs):
    return mail_client("pop3", port, **kwargs)


class ProxyStack(Stack):
    """anvild, a Dovecot listening on 127.0.0.1 and 127.0.0.5, and
    anvil-proxy in front of it with every listener and STARTTLS. bob is
    routed to 127.0.0.5 by the user map, with a user_team field."""

    def setUp(self):
        super().setUp()
        self.cert, self.key = make_tls_pair(self.dir)
        self.context = ssl.create_default_context(cafile=self.cert)
        masters = os.path.join(self.dir, "masters")
        with open(masters, "w") as f:
            f.write("admin:{PLAIN}master-secret\n")
        self.dovecot = DovecotServer(self, listen="127.0.0.1, 127.0.0.5", extra_config=f"""
login_trusted_networks = 127.0.0.0/8
passdb {{
  driver = passwd-file
  master = yes
  args = scheme=PLAIN {masters}
}}
""")
        user_map = os.path.join(self.dir, "user_map")
        self.user_map = user_map
        with open(user_map, "w") as f:
            f.write("bob 127.0.0.5 user_team=sales\n*@example.com 127.0.0.1 user_team=example\n")
        self.proxy = start_proxy(self, {
            "imap_listen": "127.0.0.1:0", "imaps_listen": "127.0.0.1:0",
            "pop3_listen": "127.0.0.1:0", "pop3s_listen": "127.0.0.1:0",
            "backend_imap": f"127.0.0.1:{self.dovecot.imap_port}",
            "backend_pop3": f"127.0.0.1:{self.dovecot.pop3_port}",
            "tls_cert": self.cert, "tls_key": self.key, "user_map": user_map,
            "require_tls_for_login": "no", "backend_forward_client": "yes"})
        self.ports = self.proxy.ports

    def sessions(self, *args):
        """`who -1` rows as dicts (json formatter)."""
        code, out, err = self.anvilctl("who", "-1", *args, global_args=("-f", "json"))
        self.assertEqual(code, 0, err)
        return json.loads(out)

    def wait_for(self, expected, key=None):
        """Waits until key(`who -1` rows) is expected; key defaults to the
        sorted user names ("" before login). The proxy tells anvild of a
        login as the client gets its OK, and anvild reads that on another
        connection than the test's, so a test waits for it to show."""
        key = key or (lambda rows: sorted(row["username"] or "" for row in rows))
        self.assertTrue(wait_until(lambda: key(self.sessions()) == expected), self.sessions())

    def kick(self, *args):
        """Runs kick with the json formatter; returns (exit code, rows)."""
        code, out, err = self.anvilctl("kick", *args, global_args=("-f", "json"))
        self.assertIn(code, (0, 68), err)
        return code, json.loads(out) if out.strip() else []

    def login_imap(self, user, **kwargs):
        client = imap_client(self.ports["imaps" if kwargs.get("tls") == "implicit" else "imap"],
                             context=self.context, **kwargs)
        self.addCleanup(close_quietly, client)
        client.login(user, "secret")
        return client

    def login_pop3(self, user, **kwargs):
        client = pop3_client(self.ports["pop3s" if kwargs.get("tls") == "implicit" else "pop3"],
                             context=self.context, **kwargs)
        self.addCleanup(client.close)
        client.user(user)
        client.pass_("secret")
        return client


def bye_text(client):
    """The next line an idle imaplib client gets: after a kick, the BYE."""
    return client.readline().decode()


def close_quietly(client):
    try:
        client.shutdown()
    except OSError:
        pass


class ProxyClients(ProxyStack):

    def test_imap_plain_starttls_and_implicit_tls_select_and_fetch(self):
        for tls in (None, "starttls", "implicit"):
            with self.subTest(tls=tls):
                client = self.login_imap("jane", tls=tls)
                self.assertEqual(client.append("INBOX", None, None, MESSAGE)[0], "OK")
                typ, data = client.select("INBOX")
                self.assertEqual(typ, "OK")
                count = int(data[0])
                typ, data = client.fetch(str(count), "(BODY[])")
                self.assertEqual(typ, "OK")
                self.assertEqual(data[0][1], MESSAGE)
                self.assertEqual(client.logout()[0], "BYE")
        self.assertTrue(wait_until(lambda: self.sessions() == []), self.sessions())

    def test_pop3_plain_stls_and_implicit_tls_retr(self):
        imap = self.login_imap("jano")
        imap.append("INBOX", None, None, MESSAGE)
        imap.logout()
        for tls in (None, "starttls", "implicit"):
            with self.subTest(tls=tls):
                client = self.login_pop3("jano", tls=tls)
                count, _ = client.stat()
                self.assertEqual(count, 1)
                response, lines, _ = client.retr(1)
                self.assertTrue(response.startswith(b"+OK"), response)
                self.assertEqual(b"\r\n".join(lines) + b"\r\n", MESSAGE)
                self.assertTrue(client.quit().startswith(b"+OK"))

    def test_who_shows_destination_user_fields_and_pre_login_connections(self):
        jane = self.login_imap("jane")
        bob = self.login_pop3("bob")
        raw = socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=10,
                                       source_address=("127.0.0.9", 0))
        self.addCleanup(raw.close)
        self.assertTrue(raw.recv(1024).startswith(b"* OK"))
        self.wait_for(["", "bob", "jane"])
        rows = self.sessions()
        by_user = {row["username"] or "": row for row in rows}
        self.assertEqual(set(by_user), {"jane", "bob", ""})
        self.assertEqual(by_user["jane"]["service"], "imap")
        self.assertEqual(by_user["jane"]["dest_ip"], "127.0.0.1")
        self.assertEqual(by_user["jane"]["dest_port"], self.dovecot.imap_port)
        self.assertEqual(by_user["bob"]["service"], "pop3")
        self.assertEqual(by_user["bob"]["dest_ip"], "127.0.0.5")
        self.assertEqual(by_user[""]["ip"], "127.0.0.9")
        self.assertIsNone(by_user[""]["dest_ip"])
        self.assertIsNone(by_user[""]["dest_port"])
        code, out, err = self.anvilctl("who", "-f", "user_team", "sales")
        self.assertEqual(code, 0, err)
        self.assertIn("bob", out)
        self.assertNotIn("jane", out)
        self.assertTrue(imap_alive(jane) and pop3_alive(bob))

    def test_the_backend_learns_the_real_client_address(self):
        self.login_imap("jane", source="127.0.0.7")
        self.login_pop3("james", source="127.0.0.8")

        # A mail process may answer the login before it registers with
        # Dovecot's anvil.
        def backend_sessions():
            code, out, err = self.dovecot.doveadm("who", "-1")
            self.assertEqual(code, 0, err)
            return sorted(tuple(line.split()[:4:3]) for line in out.splitlines()[1:])

        expected = [("james", "127.0.0.8"), ("jane", "127.0.0.7")]
        wait_until(lambda: backend_sessions() == expected)
        self.assertEqual(backend_sessions(), expected)

    def test_curl_imap_and_pop3(self):
        imap = self.login_imap("foo")
        imap.append("INBOX", None, None, MESSAGE)
        imap.logout()
        imap_url = f"imap://127.0.0.1:{self.ports['imap']}/INBOX;UID=1"
        pop3_url = f"pop3://127.0.0.1:{self.ports['pop3']}/1"
        imaps_url = f"imaps://127.0.0.1:{self.ports['imaps']}/INBOX;UID=1"
        for url in (imap_url, pop3_url, imaps_url):
            with self.subTest(url=url):
                proc = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", self.cert,
                                       "-u", "foo:secret", url],
                                      capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(proc.stdout.replace(b"\r\n", b"\n"),
                                 MESSAGE.replace(b"\r\n", b"\n"))
        proc = subprocess.run(["curl", "-sS", "--max-time", "20", "-u", "foo:wrong", imap_url],
                              capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertNotEqual(proc.returncode, 0)

    def test_failed_login_shows_backend_text_and_session_goes_on(self):
        client = imap_client(self.ports["imap"])
        self.addCleanup(close_quietly, client)
        with self.assertRaises(imaplib.IMAP4.error) as failure:
            client.login("jane", "wrong")
        self.assertIn("AUTHENTICATIONFAILED", str(failure.exception))
        self.assertEqual(client.login("jane", "secret")[0], "OK")
        self.assertEqual(client.select("INBOX")[0], "OK")

    def test_authenticate_plain_and_literal_login(self):
        client = imap_client(self.ports["imap"])
        self.addCleanup(close_quietly, client)
        typ, _ = client.authenticate("PLAIN", lambda _: b"\0james\0secret")
        self.assertEqual(typ, "OK")
        raw = socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=10)
        self.addCleanup(raw.close)
        reader = raw.makefile("rb")
        reader.readline()
        raw.sendall(b"a LOGIN {4+}\r\njane {6}\r\n")
        self.assertTrue(reader.readline().startswith(b"+ "))
        raw.sendall(b"secret\r\n")
        self.assertTrue(reader.readline().startswith(b"a OK"))
        raw.sendall(b"b SELECT INBOX\r\n")
        while not (line := reader.readline()).startswith(b"b "):
            self.assertTrue(line)
        self.assertTrue(line.startswith(b"b OK"), line)

    def test_authorization_identity_reaches_the_backend(self):
        client = imap_client(self.ports["imap"])
        self.addCleanup(close_quietly, client)
        typ, _ = client.authenticate("PLAIN", lambda _: b"jane\0admin\0master-secret")
        self.assertEqual(typ, "OK")
        self.wait_for(["jane"])
        pop3 = pop3_client(self.ports["pop3"])
        self.addCleanup(pop3.close)
        pop3._shortcmd("AUTH PLAIN " + base64.b64encode(b"bob\0admin\0master-secret").decode())
        self.wait_for(["bob", "jane"])

    def test_sighup_rereads_the_user_map(self):
        with open(self.user_map, "w") as f:
            f.write("jane 127.0.0.5\n")
        self.proxy.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "user map reloaded" in proxy_log(self.proxy)),
                        proxy_log(self.proxy))
        self.login_imap("jane")
        dest_ips = lambda rows: [row["dest_ip"] for row in rows]
        self.wait_for(["127.0.0.5"], dest_ips)
        with open(self.user_map, "w") as f:
            f.write("jane\n")  # an error: the map in use stays
        self.proxy.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: "user map not reloaded" in proxy_log(self.proxy)))
        self.login_imap("jane")
        self.wait_for(["127.0.0.5", "127.0.0.5"], dest_ips)

    def test_sigterm_says_goodbye_to_everyone_and_exits(self):
        jane = self.login_imap("jane")
        bob = self.login_pop3("bob")
        waiting = socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=10)
        self.addCleanup(waiting.close)
        self.assertTrue(waiting.recv(1024).startswith(b"* OK"))
        self.proxy.terminate()
        self.assertEqual(self.proxy.wait(20), 0)
        self.assertEqual(bye_text(jane), "* BYE [UNAVAILABLE] Server shutting down.\r\n")
        self.assertEqual(bob.file.readline(), b"-ERR [SYS/TEMP] Server shutting down.\r\n")
        self.assertEqual(waiting.recv(1024), b"* BYE [UNAVAILABLE] Server shutting down.\r\n")
        self.assertTrue(wait_until(lambda: self.sessions() == []))


    def test_megabytes_both_ways_over_tls_through_a_slow_reader(self):
        upload, download = os.urandom(6 << 20), os.urandom(12 << 20)
        seen = {}

        def exchange(conn, lines):
            command = lines.readline()  # b UPLOAD {n}
            size = int(command.split(b"{")[1].split(b"}")[0])
            seen["upload"] = hashlib.sha256(lines.read(size)).hexdigest()
            lines.readline()  # the CRLF that ends the command
            conn.sendall(b"* 1 FETCH (BODY[] {%d}\r\n" % len(download) + download
                         + b")\r\nb OK done\r\n")
            lines.read()  # until the proxy closes

        backend = ScriptedImapBackend(self, exchange)
        proxy = start_proxy(self, {"imaps_listen": "127.0.0.1:0", "tls_cert": self.cert,
                                   "tls_key": self.key,
                                   "backend_imap": f"127.0.0.1:{backend.port}"})
        sock = socket.create_connection(("127.0.0.1", proxy.ports["imaps"]), timeout=30)
        sock = self.context.wrap_socket(sock, server_hostname="127.0.0.1")
        self.addCleanup(sock.close)
        reader = sock.makefile("rb")
        self.assertTrue(reader.readline().startswith(b"* OK"))
        sock.sendall(b"a LOGIN jane secret\r\n")
        self.assertEqual(reader.readline(), b"a OK Logged in\r\n")
        sock.sendall(b"b UPLOAD {%d}\r\n" % len(upload) + upload + b"\r\n")
        # Read nothing for a while, then slowly: the proxy's TLS writes to
        # this client stall and must resume where they stopped.
        wait_until(lambda: False, timeout=1)
        self.assertEqual(reader.readline(), b"* 1 FETCH (BODY[] {%d}\r\n" % len(download))
        pieces = []
        for _ in range(0, len(download), 256 << 10):
            pieces.append(reader.read(min(256 << 10, len(download) - sum(map(len, pieces)))))
            time.sleep(0.01)
        received = b"".join(pieces)
        self.assertEqual(hashlib.sha256(received).hexdigest(),
                         hashlib.sha256(download).hexdigest())
        self.assertEqual(reader.readline(), b")\r\n")
        self.assertEqual(reader.readline(), b"b OK done\r\n")
        self.assertEqual(seen["upload"], hashlib.sha256(upload).hexdigest())


class ProxyKicks(ProxyStack):

    def test_kick_by_user_drops_exactly_that_users_connections(self):
        jane_imap = self.login_imap("jane", tls="starttls")
        jane_pop3 = self.login_pop3("jane")
        bob = self.login_imap("bob", tls="implicit")
        james = self.login_imap("james")
        self.wait_for(["bob", "james", "jane", "jane"])
        code, rows = self.kick("jane")
        self.assertEqual(code, 0)
        self.assertEqual(sorted((r["username"], r["result"]) for r in rows),
                         [("jane", "kicked"), ("jane", "kicked")])
        self.assertEqual(bye_text(jane_imap), "* BYE [UNAVAILABLE] Disconnected by administrator\r\n")
        with self.assertRaises(poplib.error_proto) as goodbye:
            jane_pop3.noop()
        self.assertIn(b"-ERR [SYS/TEMP] Disconnected by administrator", goodbye.exception.args[0])
        self.assertTrue(imap_alive(bob) and imap_alive(james))
        self.assertTrue(wait_until(lambda: sorted(r["username"] for r in self.sessions())
                                   == ["bob", "james"]))
        self.assertIn("kicked user=jane", proxy_log(self.proxy))

    def test_kick_by_address_includes_connections_that_never_logged_in(self):
        idle = socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=10,
                                        source_address=("127.0.0.2", 0))
        self.addCleanup(idle.close)
        self.assertTrue(idle.recv(1024).startswith(b"* OK"))
        idle_pop3 = socket.create_connection(("127.0.0.1", self.ports["pop3s"]), timeout=10,
                                             source_address=("127.0.0.2", 0))
        idle_pop3 = self.context.wrap_socket(idle_pop3, server_hostname="127.0.0.1")
        self.addCleanup(idle_pop3.close)
        self.assertTrue(idle_pop3.recv(1024).startswith(b"+OK"))
        jane = self.login_imap("jane", source="127.0.0.2")
        bob = self.login_imap("bob", source="127.0.0.3")
        self.wait_for(["", "", "bob", "jane"])
        code, rows = self.kick("--reason", "Address blocked", "127.0.0.2/32")
        self.assertEqual(code, 0)
        self.assertEqual(sorted(r["username"] or "" for r in rows if r["result"] == "kicked"),
                         ["", "", "jane"])
        self.assertEqual(idle.recv(1024), b"* BYE [UNAVAILABLE] Address blocked\r\n")
        self.assertEqual(idle_pop3.recv(1024), b"-ERR [SYS/TEMP] Address blocked\r\n")
        self.assertEqual(bye_text(jane), "* BYE [UNAVAILABLE] Address blocked\r\n")
        self.assertTrue(imap_alive(bob))
        self.assertTrue(wait_until(lambda: [r["username"] for r in self.sessions()] == ["bob"]))

    def test_a_restarted_anvild_learns_every_proxied_session_again(self):
        jane = self.login_imap("jane")
        idle = socket.create_connection(("127.0.0.1", self.ports["pop3"]), timeout=10,
                                        source_address=("127.0.0.4", 0))
        self.addCleanup(idle.close)
        self.assertTrue(idle.recv(1024).startswith(b"+OK"))
        self.wait_for(["", "jane"])
        before = sorted((r["username"] or "", r["ip"], r["dest_ip"] or "") for r in self.sessions())
        self.assertEqual(len(before), 2)
        self.anvild.kill()
        self.anvild.wait()
        self.start_anvild()
        self.assertTrue(wait_until(lambda: sorted(
            (r["username"] or "", r["ip"], r["dest_ip"] or "") for r in self.sessions()) == before,
            timeout=20), self.sessions())
        code, rows = self.kick("jane")
        self.assertEqual([r["result"] for r in rows], ["kicked"])
        self.assertEqual(bye_text(jane), "* BYE [UNAVAILABLE] Disconnected by administrator\r\n")

    def test_kick_by_destination_host(self):
        bob = self.login_imap("bob")  # routed to 127.0.0.5
        bob_pop3 = self.login_pop3("bob")
        jane = self.login_imap("jane")  # the default backend, 127.0.0.1
        self.wait_for(["bob", "bob", "jane"])
        code, rows = self.kick("-h", "127.0.0.5")
        self.assertEqual(code, 0)
        self.assertEqual(sorted((r["username"], r["service"]) for r in rows),
                         [("bob", "imap"), ("bob", "pop3")])
        self.assertEqual(bye_text(bob), "* BYE [UNAVAILABLE] Disconnected by administrator\r\n")
        self.assertFalse(pop3_alive(bob_pop3))
        self.assertTrue(imap_alive(jane))
        code, rows = self.kick("-h", "127.0.0.5")
        self.assertEqual(code, 68)  # nothing left there

    def test_kick_in_the_middle_of_a_line_starts_a_new_line(self):
        # A backend that stops in the middle of a response line, so the kick
        # surely lands there.
        def stall(conn, lines):
            lines.readline()
            conn.sendall(b"* 1 FETCH (BODY[] {100}\r\npartial")
            lines.read()  # until the proxy closes

        backend = ScriptedImapBackend(self, stall)
        proxy = start_proxy(self, {"imap_listen": "127.0.0.1:0",
                                   "backend_imap": f"127.0.0.1:{backend.port}"})
        sock = socket.create_connection(("127.0.0.1", proxy.ports["imap"]), timeout=10)
        self.addCleanup(sock.close)
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(b"a LOGIN jane secret\r\nb FETCH 1 BODY[]\r\n")
        self.assertEqual(reader.readline(), b"a OK Logged in\r\n")
        self.assertEqual(reader.readline(), b"* 1 FETCH (BODY[] {100}\r\n")
        self.assertEqual(reader.read(7), b"partial")
        self.wait_for(["jane"])
        code, rows = self.kick("jane")
        self.assertEqual(code, 0)
        self.assertEqual(reader.read(), b"\r\n* BYE [UNAVAILABLE] Disconnected by administrator\r\n")
        backend.thread.join(10)

class ProxyBehindBalancer(ProxyStack):
    """Connections from haproxy_trusted_networks start with a PROXY protocol
    header, and the proxy registers, logs in and kicks by the client it
    names. 127.0.0.10 plays the load balancer."""

    BALANCER = "127.0.0.10"

    def setUp(self):
        super().setUp()
        self.balanced = start_proxy(self, {
            "imap_listen": "127.0.0.1:0", "imaps_listen": "127.0.0.1:0",
            "backend_imap": f"127.0.0.1:{self.dovecot.imap_port}",
            "tls_cert": self.cert, "tls_key": self.key, "require_tls_for_login": "no",
            "backend_forward_client": "yes", "haproxy_trusted_networks": f"{self.BALANCER}/32",
            "login_timeout": "3s"})

    def through_balancer(self, header, name="imap", tls=False):
        """A raw client, from the balancer's address, that has sent `header`."""
        sock = socket.create_connection(("127.0.0.1", self.balanced.ports[name]), timeout=10,
                                        source_address=(self.BALANCER, 0))
        self.addCleanup(sock.close)
        sock.sendall(header)
        if tls:
            sock = self.context.wrap_socket(sock, server_hostname="127.0.0.1")
            self.addCleanup(sock.close)
        return sock, sock.makefile("rb")

    def test_version_1_and_2_headers_name_the_client_for_who_kick_and_the_backend(self):
        jane, jane_lines = self.through_balancer(
            b"PROXY TCP4 203.0.113.9 192.0.2.1 40001 143\r\n")
        self.assertTrue(jane_lines.readline().startswith(b"* OK"))
        jane.sendall(b"a LOGIN jane secret\r\n")
        self.assertTrue(jane_lines.readline().startswith(b"a OK"))
        # Version 2, IPv6 client, then implicit TLS straight after the header.
        address = bytes.fromhex("20010db8000000000000000000000007") + bytes(15) + b"\x01"
        v2 = (b"\r\n\r\n\x00\r\nQUIT\n\x21\x21\x00\x24" + address
              + (40002).to_bytes(2, "big") + (993).to_bytes(2, "big"))
        bob, bob_lines = self.through_balancer(v2, "imaps", tls=True)
        self.assertTrue(bob_lines.readline().startswith(b"* OK"))
        bob.sendall(b"a LOGIN james secret\r\n")
        self.assertTrue(bob_lines.readline().startswith(b"a OK"))
        # Not from the balancer: no header expected, the peer's own address.
        direct = imap_client(self.balanced.ports["imap"], source="127.0.0.2")
        self.addCleanup(close_quietly, direct)
        direct.login("bob", "secret")

        ips = lambda rows: sorted((row["username"], row["ip"]) for row in rows)
        self.wait_for([("bob", "127.0.0.2"), ("james", "2001:db8::7"), ("jane", "203.0.113.9")],
                      ips)
        # The backend, told by backend_forward_client, sees the same clients.
        def backend_view():
            code, out, _ = self.dovecot.doveadm("who", "-1")
            return sorted(tuple(line.split()[:4:3]) for line in out.splitlines()[1:])
        self.assertTrue(wait_until(lambda: ("jane", "203.0.113.9") in backend_view()),
                        backend_view())

        code, rows = self.kick("203.0.113.0/24")
        self.assertEqual([(r["username"], r["result"]) for r in rows], [("jane", "kicked")])
        self.assertEqual(jane_lines.readline(),
                         b"* BYE [UNAVAILABLE] Disconnected by administrator\r\n")
        code, rows = self.kick(self.BALANCER)  # the balancer's own address names no one
        self.assertEqual(code, 68)
        self.assertTrue(imap_alive(direct))
        bob.sendall(b"b NOOP\r\n")
        self.assertTrue(bob_lines.readline().startswith(b"b OK"))

    def test_a_bad_or_missing_header_ends_the_connection_unregistered(self):
        for header in (b"a LOGIN jane secret\r\n",
                       b"PROXY TCP4 999.0.0.1 192.0.2.1 1 2\r\n",
                       b"PROXY TCP4 " + b"1" * 200,
                       b"\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c" + bytes(12),
                       b""):  # nothing at all: the login timeout ends it
            with self.subTest(header=header[:20]):
                sock, lines = self.through_balancer(header)
                self.assertEqual(lines.read(), b"")  # closed, no greeting
        self.assertEqual(self.sessions(), [])
        self.assertEqual(proxy_log(self.balanced).count("invalid PROXY header"), 4)
        self.assertIsNone(self.balanced.poll())


class ProxyBackendTls(Stack):
    """The proxy's own connection to the backend over STARTTLS or TLS, with
    the backend's certificate checked."""

    def setUp(self):
        super().setUp()
        self.cert, self.key = make_tls_pair(self.dir)
        self.dovecot = DovecotServer(self, tls_pair=(self.cert, self.key))

    def proxy(self, mode, ca=None):
        imap_port = self.dovecot.imaps_port if mode == "tls" else self.dovecot.imap_port
        pop3_port = self.dovecot.pop3s_port if mode == "tls" else self.dovecot.pop3_port
        return start_proxy(self, {"imap_listen": "127.0.0.1:0", "pop3_listen": "127.0.0.1:0",
                                  "backend_imap": f"127.0.0.1:{imap_port}",
                                  "backend_pop3": f"127.0.0.1:{pop3_port}",
                                  "backend_tls": mode, "backend_tls_ca": ca or self.cert})

    def test_starttls_and_tls_to_the_backend(self):
        for mode in ("starttls", "tls"):
            with self.subTest(mode=mode):
                proxy = self.proxy(mode)
                imap = imap_client(proxy.ports["imap"])
                self.assertEqual(imap.login("jane", "secret")[0], "OK")
                self.assertEqual(imap.select("INBOX")[0], "OK")
                imap.logout()
                pop3 = pop3_client(proxy.ports["pop3"])
                pop3.user("jane")
                self.assertTrue(pop3.pass_("secret").startswith(b"+OK"))
                pop3.quit()

    def test_a_backend_certificate_that_does_not_verify_is_refused(self):
        other_dir = os.path.join(self.dir, "other")
        os.mkdir(other_dir)
        other_cert, _ = make_tls_pair(other_dir)
        proxy = self.proxy("tls", ca=other_cert)
        imap = imap_client(proxy.ports["imap"])
        self.addCleanup(close_quietly, imap)
        with self.assertRaises(imaplib.IMAP4.error) as failure:
            imap.login("jane", "secret")
        self.assertIn("[UNAVAILABLE]", str(failure.exception))
        self.assertIn("TLS handshake with backend failed", proxy_log(proxy))


class ProxyBans(ProxyStack):
    """Bans set in anvild keep clients out at the proxy, in the protocol's
    own words, before the backend hears of them; others get in."""

    def ban(self, *args):
        code, out, err = self.anvilctl("ban", "add", *args)
        self.assertEqual(code, 0, err)

    def test_a_banned_address_is_refused_at_connect(self):
        self.ban("--reason", "abuse from your network", "127.0.0.9/32")
        with self.assertRaises(imaplib.IMAP4.error) as refused:
            imap_client(self.ports["imap"], source="127.0.0.9")
        self.assertEqual(refused.exception.args[0], b"* BYE [UNAVAILABLE] abuse from your network")
        with self.assertRaises(poplib.error_proto) as refused:
            pop3_client(self.ports["pop3"], source="127.0.0.9")
        self.assertEqual(refused.exception.args[0], b"-ERR [SYS/PERM] abuse from your network")
        self.assertIn("refused 127.0.0.9:", proxy_log(self.proxy))
        # Another address gets in and logs in.
        client = imap_client(self.ports["imap"], source="127.0.0.10")
        self.assertEqual(client.login("jane", "secret")[0], "OK")
        self.wait_for(["jane"])
        self.assertEqual([r["ip"] for r in self.sessions()], ["127.0.0.10"])
        client.logout()

    def test_a_banned_user_is_refused_at_login_and_never_reaches_the_backend(self):
        self.ban("--reason", "account locked", "jane")
        client = imap_client(self.ports["imap"], source="127.0.0.11")
        with self.assertRaises(imaplib.IMAP4.error) as refused:
            client.login("jane", "secret")
        self.assertIn("[UNAVAILABLE] account locked", str(refused.exception))
        pop = pop3_client(self.ports["pop3"], source="127.0.0.11")
        pop.user("jane")
        with self.assertRaises(poplib.error_proto) as refused:
            pop.pass_("secret")
        self.assertEqual(refused.exception.args[0], b"-ERR [SYS/PERM] account locked")
        self.assertIn("login of user=jane from 127.0.0.11:", proxy_log(self.proxy))
        # Nobody logged in as jane: the sessions left are the two refused
        # connections, still before login.
        self.assertEqual([r["username"] for r in self.sessions()], [None, None])
        # bob is not banned.
        other = imap_client(self.ports["imap"], source="127.0.0.12")
        self.assertEqual(other.login("bob", "secret")[0], "OK")
        other.logout()
        # Dovecot saw bob's login, and never jane's password.
        with open(os.path.join(self.dir, "dovecot.log"), errors="replace") as log:
            text = log.read()
        self.assertIn("user=<bob>", text)
        self.assertNotIn("user=<jane>", text)

    def test_kick_ban_ends_the_live_sessions_and_keeps_the_user_out(self):
        jane = imap_client(self.ports["imap"], source="127.0.0.15")
        self.assertEqual(jane.login("jane", "secret")[0], "OK")
        bob = imap_client(self.ports["imap"], source="127.0.0.16")
        self.assertEqual(bob.login("bob", "secret")[0], "OK")
        self.wait_for(["bob", "jane"])
        code, out, err = self.anvilctl("kick", "--ban", "1h", "--reason", "compromised", "jane")
        self.assertEqual(code, 0, err)
        self.assertEqual(bye_text(jane), "* BYE [UNAVAILABLE] compromised\r\n")
        self.assertTrue(imap_alive(bob))
        again = imap_client(self.ports["imap"], source="127.0.0.15")
        with self.assertRaises(imaplib.IMAP4.error) as refused:
            again.login("jane", "secret")
        self.assertIn("[UNAVAILABLE] compromised", str(refused.exception))

    def test_a_user_banned_from_one_network_gets_in_from_another(self):
        self.ban("jane", "127.0.0.13/32")
        client = imap_client(self.ports["imap"], source="127.0.0.13")
        with self.assertRaises(imaplib.IMAP4.error):
            client.login("jane", "secret")
        other = imap_client(self.ports["imap"], source="127.0.0.14")
        self.assertEqual(other.login("jane", "secret")[0], "OK")
        other.logout()


if __name__ == "__main__":
    unittest.main()
