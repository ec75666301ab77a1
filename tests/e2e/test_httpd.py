"""anvil-httpd's APIs against a real anvild and real anvil-echod clients,
driven with curl: credentials in every form doveadm's clients use, the
doveadm-compatible endpoint with doveadm's own request bodies, the JSON
API (sessions, kick, bans, audit), /metrics, and who asked for each kick
as anvild records it."""

import json
import os
import subprocess
import time
import unittest

from harness import RawLineSocket, wait_until
from httpd_harness import HttpdStack


def b64(text):
    import base64
    return base64.b64encode(text.encode()).decode()


class Credentials(HttpdStack):

    def test_every_doveadm_form_works_and_anything_else_gets_a_bare_401(self):
        for args in (["-H", f"Authorization: Bearer {self.read_key}"],
                     ["-H", f"Authorization: X-Dovecot-API {b64(self.read_key)}"],
                     ["-u", f"doveadm:{self.read_key}"],
                     ["-u", f"grafana:{self.read_key}"]):
            code, _, body = self.curl("/api/v1/whoami", *args)
            self.assertEqual(code, 200, args)
            self.assertEqual(json.loads(body), {"name": "grafana", "role": "read"})
        for args in ([],
                     ["-H", "Authorization: Bearer wrong"],
                     ["-H", f"Authorization: X-Dovecot-API {self.read_key}"],  # not base64
                     ["-u", f"ops:{self.read_key}"],  # another key's name
                     ["-H", f"Authorization: Digest {self.read_key}"]):
            for path in ("/api/v1/sessions", "/doveadm/v1", "/metrics", "/api/v1/bans"):
                code, headers, body = self.curl(path, *args)
                self.assertEqual((code, body), (401, ""), (path, args))
                self.assertIn(("www-authenticate", 'Basic realm="anvil"'), headers)
                self.assertIn(("www-authenticate", "X-Dovecot-API"), headers)
                self.assertNotIn("content-type", dict(headers))
        # The web view asks for no Basic challenge (a browser would put up
        # its login box over the page's key field).
        code, headers, body = self.curl("/api/v1/sessions", "-H", "X-Anvil-Web: 1")
        self.assertEqual((code, body), (401, ""))
        self.assertEqual([v for n, v in headers if n == "www-authenticate"], ["X-Dovecot-API"])
        # The page itself needs no key: it holds no data.
        code, headers, body = self.curl("/")
        self.assertEqual(code, 200)
        self.assertIn("<title>anvil", body)
        self.assertIn("default-src 'self'", dict(headers)["content-security-policy"])
        self.assertEqual(self.curl("/app.js")[0], 200)

    def test_the_openapi_file_describes_exactly_what_is_served(self):
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                               "anvil-httpd-openapi.json")) as f:
            described = json.load(f)["paths"]
        bodies = {"/doveadm/v1": '[["who",{},"t"]]', "/api/v1/kick": '{"q":"nobody","dry_run":true}',
                  "/api/v1/bans": '{"user":"nobody","duration":1}'}
        for path, methods in described.items():
            for method in methods:
                real = path.replace("{id}", "1")
                data = bodies.get(path) if method == "post" else None
                code, _, text = self.curl(real, key=self.kick_key, method=method.upper(), data=data)
                self.assertIn(str(code), methods[method]["responses"], (method, path, text))
                self.assertNotIn(code, (404, 405), (method, path, text))
        # And nothing else is: an undescribed path under the API is 404.
        code, _, text = self.curl("/api/v1/session", key=self.kick_key)
        self.assertEqual(code, 404)

    def test_sighup_rereads_the_keys_file(self):
        late = self.new_key("late", "read")
        self.assertEqual(self.curl("/api/v1/whoami", key=late)[0], 401)
        self.httpd.send_signal(1)
        self.assertTrue(wait_until(lambda: self.curl("/api/v1/whoami", key=late)[0] == 200))
        # A broken file keeps the keys loaded before.
        with open(self.keys_file, "a") as f:
            f.write("broken line\n")
        self.httpd.send_signal(1)
        time.sleep(0.5)
        self.assertEqual(self.curl("/api/v1/whoami", key=late)[0], 200)
        self.assertEqual(self.httpd.poll(), None)


class WithClients(HttpdStack):
    """Three logged-in clients of one anvil-echod."""

    def setUp(self):
        super().setUp()
        self.echod = self.start_echod(service="imap")
        self.jane = self.connect(self.echod, "127.0.0.2", "jane", "user_email=jane@example.com")
        self.john = self.connect(self.echod, "127.0.0.3", "john")
        self.alice = self.connect(self.echod, "127.0.0.4", "alice")
        self.wait_for_sessions(3)

    def doveadm(self, body, key=None, auth=None):
        args = auth or ["-u", f"doveadm:{key or self.kick_key}"]
        code, _, text = self.curl("/doveadm/v1", *args, data=json.dumps(body))
        return code, text

    def assert_only_kicked(self, *kicked):
        for client in (self.jane, self.john, self.alice):
            if client in kicked:
                self.assertIsNotNone(client.read_bye(), client.user)
            else:
                self.assertTrue(client.alive(), client.user)


class Doveadm(WithClients):

    def test_who_grouped_and_per_connection_as_doveadm_answers(self):
        code, text = self.doveadm([["who", {"mask": ["j*"]}, "t1"],
                                   ["who", {"mask": ["127.0.0.4"], "separateConnections": True}, "t2"],
                                   ["who", {"mask": ["jane"], "separateConnections": True,
                                            "passdbField": "user_email"}, "t3"]],
                                  key=self.read_key)
        self.assertEqual(code, 200)
        pid = str(self.echod.pid)
        self.assertEqual(json.loads(text), [
            ["doveadmResponse", [
                {"username": "jane", "connections": "1", "service": "imap",
                 "pids": f"({pid})", "ips": "(127.0.0.2)"},
                {"username": "john", "connections": "1", "service": "imap",
                 "pids": f"({pid})", "ips": "(127.0.0.3)"}], "t1"],
            ["doveadmResponse", [
                {"username": "alice", "service": "imap", "pid": pid, "ip": "127.0.0.4",
                 "dest_ip": ""}], "t2"],
            ["doveadmResponse", [], "t3"],  # masks match user_email's values
        ])
        code, text = self.doveadm([["who", {"mask": ["jane@example.com"], "separateConnections": True,
                                            "passdbField": "user_email"}, "t4"]])
        self.assertEqual(json.loads(text)[0][1],
                         [{"username": "jane", "service": "imap", "pid": pid, "ip": "127.0.0.2",
                           "dest_ip": "", "user_email": "jane@example.com"}])

    def test_kick_drops_exactly_the_masked_users_as_dovecot_23_answers(self):
        # The bodies doveadm's HTTP clients send: X-Dovecot-API and Basic.
        code, text = self.doveadm([["kick", {"mask": ["jane"]}, "k1"]],
                                  auth=["-H", f"Authorization: X-Dovecot-API {b64(self.kick_key)}"])
        self.assertEqual((code, json.loads(text)), (200, [["doveadmResponse", [{"result": "jane"}], "k1"]]))
        self.assert_only_kicked(self.jane)
        code, text = self.doveadm([["kick", {"mask": ["127.0.0.3"], "force": False}, "k2"],
                                   ["kick", {"mask": ["nobody*"]}, "k3"],
                                   ["kick", {"mask": ["127.0.0.0/33"]}, "k4"],
                                   ["fetch", {"mask": ["alice"]}, "k5"]])
        self.assertEqual(json.loads(text), [
            ["doveadmResponse", [{"result": "john"}], "k2"],
            ["error", {"type": "exitCode", "exitCode": 68}, "k3"],
            ["error", {"type": "exitCode", "exitCode": 64}, "k4"],
            ["error", {"type": "unknownMethod"}, "k5"],
        ])
        self.assertIsNotNone(self.john.read_bye())
        self.assertTrue(self.alice.alive())
        self.assertEqual(self.who_users(), ["alice"])

    def test_a_read_key_may_not_kick_and_bad_bodies_are_400(self):
        code, text = self.doveadm([["kick", {"mask": ["*"]}, "k"], ["who", {}, "w"]],
                                  key=self.read_key)
        answer = json.loads(text)
        self.assertEqual(answer[0], ["error", {"type": "unAuthorized"}, "k"])
        self.assertEqual(answer[1][0], "doveadmResponse")
        self.assert_only_kicked()
        for body in ("", "{", "{}", '[["who"]]', '[["who", [], "t"]]', '[["who", {}, 1]]',
                     '"who"', "[1]"):
            code, _, text = self.curl("/doveadm/v1", "-u", f"doveadm:{self.kick_key}", data=body)
            self.assertEqual((code, text), (400, "Invalid request\n"), body)
        # What doveadm's HTTP client reads first: each command's parameter
        # names and types, to build its requests from.
        code, _, text = self.curl("/doveadm/v1", key=self.read_key)
        self.assertEqual(code, 200)
        commands = {c["command"]: {p["name"]: p["type"] for p in c["parameters"]}
                    for c in json.loads(text)}
        self.assertEqual(commands["who"], {"mask": "array", "separateConnections": "boolean",
                                           "passdbField": "string"})
        self.assertEqual(commands["kick"]["mask"], "array")
        self.assertEqual(commands["kick"]["destHost"], "string")


class Doveadm24(WithClients):
    httpd_options = ["-o", "doveadm_dialect=2.4"]

    def test_kick_answers_a_count_as_dovecot_24_does(self):
        code, _, text = self.curl("/doveadm/v1", "-u", f"doveadm:{self.kick_key}",
                                  data=json.dumps([["kick", {"mask": ["j*"]}, "a"],
                                                   ["kick", {"mask": ["nobody"]}, "b"]]))
        self.assertEqual(json.loads(text), [["doveadmResponse", [{"count": "2"}], "a"],
                                            ["doveadmResponse", [{"count": "0"}], "b"]])
        self.assert_only_kicked(self.jane, self.john)


class NativeApi(WithClients):

    def sessions(self, query="", key=None):
        code, _, text = self.curl("/api/v1/sessions" + query, key=key or self.read_key)
        self.assertEqual(code, 200, text)
        return json.loads(text)

    def test_sessions_are_typed_and_filtered_like_who(self):
        answer = self.sessions()
        self.assertEqual(answer["total"], 3)
        rows = {row["user"]: row for row in answer["sessions"]}
        jane = rows["jane"]
        self.assertEqual((jane["ip"], jane["service"], jane["pid"], jane["uid"], jane["alt"]),
                         ("127.0.0.2", "imap", self.echod.pid, os.getuid(),
                          {"user_email": "jane@example.com"}))
        self.assertIsInstance(jane["port"], int)
        self.assertEqual(jane["local_port"], self.echod.port)
        self.assertRegex(jane["start_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIsNone(jane["dest_ip"])
        self.assertRegex(jane["id"], "^[0-9a-f]{32}$")
        users = lambda q: sorted(r["user"] for r in self.sessions(q)["sessions"])
        self.assertEqual(users("?user=j*"), ["jane", "john"])
        self.assertEqual(users("?net=127.0.0.4/32&net=127.0.0.3"), ["alice", "john"])
        self.assertEqual(users("?user=j*&net=127.0.0.3"), ["john"])
        self.assertEqual(users("?q=" + "j%2A+127.0.0.2"), ["jane"])
        self.assertEqual(users("?field=user_email&user=jane%40example.com"), ["jane"])
        self.assertEqual(users("?service=imap&id=" + jane["id"]), ["jane"])
        self.assertEqual(users("?service=pop3"), [])
        self.assertEqual(users("?dest=192.0.2.1"), [])
        self.assertEqual(users("?older_than=1h"), [])
        # Pages, in who's order (by user name).
        names = [r["user"] for r in self.sessions()["sessions"]]
        self.assertEqual(names, ["alice", "jane", "john"])
        page = self.sessions("?limit=2&offset=1")
        self.assertEqual((page["total"], [r["user"] for r in page["sessions"]]), (3, ["jane", "john"]))

    def test_an_invalid_filter_is_400_with_anvilctls_message(self):
        code, _, err = self.anvilctl("who", "127.0.0.0/33")
        self.assertEqual(code, 64)
        message = err.splitlines()[0].removeprefix("anvilctl: ")
        code, _, text = self.curl("/api/v1/sessions?net=127.0.0.0/33", key=self.read_key)
        self.assertEqual((code, json.loads(text)), (400, {"error": message}))
        code, _, text = self.curl("/api/v1/kick", key=self.kick_key,
                                  data=json.dumps({"filter": {"net": "127.0.0.0/33"}}))
        self.assertEqual((code, json.loads(text)), (400, {"error": message}))
        for query, error in (("?user=-1", "invalid user mask or network: '-1'"),
                             ("?limit=0", "limit must be 1 to 10000"),
                             ("?colour=red", "unknown parameter: colour"),
                             ("?dest=mail.example.com", "invalid destination address: mail.example.com"),
                             ("?older_than=soon", None)):
            code, _, text = self.curl("/api/v1/sessions" + query, key=self.read_key)
            self.assertEqual(code, 400, query)
            if error:
                self.assertEqual(json.loads(text)["error"], error)
        self.assert_only_kicked()

    def test_kick_dry_run_kick_ban_and_audit_name_the_key(self):
        kick = lambda body, key=None: self.curl("/api/v1/kick", key=key or self.kick_key,
                                               data=json.dumps(body))
        code, _, text = kick({"filter": {"user": ["j*"]}, "dry_run": True})
        preview = json.loads(text)
        self.assertEqual((code, preview["matched"], preview["kicked"]), (200, 2, 0))
        self.assertEqual(sorted(r["session"]["user"] for r in preview["results"]), ["jane", "john"])
        self.assertEqual({r["status"] for r in preview["results"]}, {"would-kick"})
        self.assert_only_kicked()

        code, _, text = kick({"q": "jane", "reason": "password changed", "ban": 600})
        done = json.loads(text)
        self.assertEqual((code, done["matched"], done["kicked"]), (200, 1, 1))
        self.assertEqual([(r["status"], r["session"]["user"]) for r in done["results"]],
                         [("kicked", "jane")])
        self.assertEqual(self.jane.read_bye(), "BYE password changed")
        self.assertTrue(self.john.alive() and self.alice.alive())
        ban = done["bans"][0]
        self.assertEqual((ban["user"], ban["net"], ban["reason"]), ("jane", None, "password changed"))
        self.assertEqual(ban["expires"] - ban["created"], 600)
        self.assertTrue(ban["by"].endswith(" for anvil-httpd key ops from 127.0.0.1"), ban["by"])

        # anvild recorded who asked: the key, beside anvil-httpd's own uid.
        with open(self.audit_log) as f:
            records = [json.loads(line) for line in f]
        self.assertEqual([r["action"] for r in records], ["dry-run", "kick"])
        self.assertEqual({r["on_behalf"] for r in records}, {"anvil-httpd key ops from 127.0.0.1"})
        self.assertEqual(records[1]["peer"]["program"], "anvil-httpd")
        code, _, text = self.curl("/api/v1/audit?count=1", key=self.read_key)
        self.assertEqual(json.loads(text)["records"][0]["reason"], "password changed")

        # A read key may look, not kick.
        code, _, text = kick({"q": "john"}, key=self.read_key)
        self.assertEqual((code, json.loads(text)), (403, {"error": "key grafana may only read (role read)"}))
        self.assertTrue(self.john.alive())
        for body, error in (({"reason": "x"}, "kick needs a user mask"),
                            ({"q": "john", "colour": 1}, "unknown field: colour"),
                            ({"q": "john", "dry_run": "yes"}, "dry_run must be true or false"),
                            ({"filter": {"who": "john"}}, "unknown filter key: who"),
                            ({"q": "john", "ban": -1}, "ban must be a number of seconds")):
            code, _, text = kick(body)
            self.assertEqual(code, 400, body)
            self.assertTrue(json.loads(text)["error"].startswith(error), text)
        self.assertTrue(self.john.alive())

    def test_bans_are_set_listed_and_lifted(self):
        ban = lambda body, key=None: self.curl("/api/v1/bans", key=key or self.kick_key,
                                              data=json.dumps(body))
        code, _, text = ban({"user": ["mallory"], "net": ["192.0.2.0/24"], "duration": 3600,
                             "reason": "abuse"})
        self.assertEqual(code, 201, text)
        (added,) = json.loads(text)["bans"]
        self.assertEqual((added["user"], added["net"], added["reason"]), ("mallory", "192.0.2.0/24", "abuse"))
        self.assertRegex(added["expires_time"], r"Z$")
        code, _, text = ban({"net": ["0.0.0.0/0"]})
        self.assertEqual(code, 400, text)
        self.assertIn("force", json.loads(text)["error"])
        code, _, text = ban({"user": ["x"]}, key=self.read_key)
        self.assertEqual(code, 403)
        code, _, text = self.curl("/api/v1/bans", key=self.read_key)
        self.assertEqual([b["id"] for b in json.loads(text)["bans"]], [added["id"]])
        self.assertEqual(self.curl(f"/api/v1/bans/{added['id']}", key=self.read_key,
                                   method="DELETE")[0], 403)
        code, _, text = self.curl(f"/api/v1/bans/{added['id']}", key=self.kick_key, method="DELETE")
        self.assertEqual((code, json.loads(text)), (200, {"removed": added["id"]}))
        code, _, text = self.curl(f"/api/v1/bans/{added['id']}", key=self.kick_key, method="DELETE")
        self.assertEqual(code, 404, text)
        self.assertEqual(json.loads(self.curl("/api/v1/bans", key=self.read_key)[2])["bans"], [])


class Metrics(WithClients):

    def metrics(self):
        code, headers, text = self.curl("/metrics", key=self.read_key)
        self.assertEqual(code, 200)
        self.assertTrue(dict(headers)["content-type"].startswith("text/plain; version=0.0.4"))
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = int(value)
        return samples, text

    def test_prometheus_figures_follow_what_happens(self):
        # A session not logged in yet, straight on the service socket.
        raw = RawLineSocket(self.service_socket)
        self.addCleanup(raw.close)
        raw.send(f"VERSION\tanvil-service\t1\t0\nHELLO\tpop3\t{os.getpid()}\n"
                 f"CONNECT\t{'ab' * 16}\tip=127.0.0.9\n")
        self.assertEqual(raw.line(), "VERSION\tanvil-service\t1\t0")
        self.assertTrue(wait_until(lambda: len(self.who_users()) == 4))
        samples, text = self.metrics()
        self.assertEqual(samples['anvil_sessions{service="pop3",state="prelogin"}'], 1)
        self.assertEqual(samples["anvil_service_processes"], 2)
        self.assertEqual(samples['anvil_sessions{service="imap",state="logged_in"}'], 3)
        self.assertEqual(samples['anvil_sessions{service="imap",state="prelogin"}'], 0)
        self.assertEqual(samples['anvil_sessions{service="imap",state="proxied"}'], 0)
        self.assertEqual(samples["anvil_registrations_total"], 4)
        self.assertEqual(samples["anvil_bans"], 0)
        self.assertEqual(samples["anvil_up"], 1)
        self.assertIn("# TYPE anvil_kick_outcomes_total counter", text)
        # Every family is described once, before its samples.
        families = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
        self.assertEqual(len(families), len(set(families)))

        self.anvilctl("kick", "--dry-run", "alice")
        self.curl("/api/v1/kick", key=self.kick_key, data='{"q": "jane", "ban": 60}')
        self.jane.read_bye()
        samples, _ = self.metrics()
        self.assertEqual(samples['anvil_kick_outcomes_total{outcome="kicked"}'], 1)
        self.assertEqual(samples['anvil_kick_outcomes_total{outcome="would-kick"}'], 1)
        self.assertEqual(samples["anvil_kicks_total"], 2)
        self.assertEqual(samples["anvil_bans"], 1)
        self.assertEqual(samples['anvil_sessions{service="imap",state="logged_in"}'], 2)
        self.assertEqual(samples["anvil_removals_total"], 1)
        self.assertEqual(samples['anvil_admin_requests_total{command="KICK"}'], 2)
        self.assertGreaterEqual(samples['anvil_admin_requests_total{command="STATS"}'], 2)


if __name__ == "__main__":
    unittest.main()
