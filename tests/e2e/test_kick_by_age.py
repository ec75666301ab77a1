"""kick and who by a session's age: after a password reset at T, only the
sessions opened before T go, with real anvil-echod processes and clients."""

import datetime
import json
import time
import unittest

from harness import Stack


class KickByAge(Stack):

    def setUp(self):
        super().setUp()
        self.imap = self.start_echod("imap")
        self.jane_old = self.connect(self.imap, "127.0.0.2", "jane")
        self.john_old = self.connect(self.imap, "127.0.0.3", "john")
        self.wait_for_sessions(2)
        # Start times are whole seconds and the filter is strict: the reset
        # is the next second, and the new session opens after it.
        self.reset = int(time.time()) + 1
        while time.time() < self.reset + 0.1:
            time.sleep(0.05)
        self.jane_new = self.connect(self.imap, "127.0.0.4", "jane")
        self.wait_for_sessions(3)

    def rows(self, *args):
        code, out, err = self.anvilctl("who", "-1", *args, global_args=("-f", "json"))
        self.assertEqual(code, 0, err)
        return json.loads(out)

    def test_who_shows_start_times_and_filters_by_them(self):
        rows = {row["ip"]: row for row in self.rows()}
        for ip, row in rows.items():
            started = datetime.datetime.strptime(row["started"], "%Y-%m-%dT%H:%M:%SZ")
            self.assertEqual(started.replace(tzinfo=datetime.timezone.utc).timestamp(),
                             row["start"], ip)
        self.assertLess(rows["127.0.0.2"]["start"], self.reset)
        self.assertGreaterEqual(rows["127.0.0.4"]["start"], self.reset)
        old = self.rows("--started-before", str(self.reset))
        self.assertEqual(sorted(r["ip"] for r in old), ["127.0.0.2", "127.0.0.3"])
        iso = datetime.datetime.fromtimestamp(self.reset, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(sorted(r["ip"] for r in self.rows("--started-before", iso, "jane")),
                         ["127.0.0.2"])
        self.assertEqual(self.rows("--older-than", "1d"), [])

    def test_kick_started_before_drops_only_the_old_sessions_of_the_user(self):
        code, out, err = self.anvilctl("kick", "--started-before", str(self.reset), "jane",
                                       "--reason", "password changed")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "kicked connections from the following users:\njane\n")
        self.assertEqual(self.jane_old.read_bye(), "BYE password changed")
        self.assertTrue(self.jane_new.alive(), "jane's new session must stay")
        self.assertTrue(self.john_old.alive(), "john was not named")
        self.assertEqual(self.who_users(), ["jane", "john"])
        with open(self.audit_log) as trail:
            record = json.loads(trail.readlines()[-1])
        self.assertEqual(record["filter"]["started_before"], [str(self.reset)])
        self.assertEqual([c["ip"] for c in record["connections"]], ["127.0.0.2"])

    def test_older_than_alone_kicks_every_old_session(self):
        time.sleep(2.1)  # the new session is more than a second old too now
        code, out, err = self.anvilctl("kick", "--older-than", "1h")
        self.assertEqual(code, 68, err)  # nothing is an hour old
        self.assertEqual(out, "no users kicked\n")
        code, out, err = self.anvilctl("kick", "--older-than", "1s", "--dry-run")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "would kick connections from the following users:\njane john\n")
        for client in (self.jane_old, self.john_old, self.jane_new):
            self.assertTrue(client.alive())

    def test_bad_times_and_durations_are_usage_errors(self):
        for args in (("--started-before", "yesterday"), ("--started-before", "2026-02-30T10:00"),
                     ("--older-than", "-5m"), ("--older-than", "1h30"), ("--older-than",)):
            code, out, err = self.anvilctl("kick", *args, "jane")
            self.assertEqual(code, 64, args)
            self.assertIn("anvilctl:", err)
        self.assertEqual(self.who_users(), ["jane", "jane", "john"])


if __name__ == "__main__":
    unittest.main()
