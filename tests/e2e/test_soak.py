"""A soak: thousands of anvil-echod sessions log in and go while a random
kick runs every second. Each kick must drop exactly the sessions that match
it, reported and felt by the clients; at every step `who` must equal the
connections that are really open. Bounded: ANVIL_SOAK_SECONDS (default 20;
a few minutes for a long run) and a fixed number of connections."""

import collections
import fnmatch
import json
import os
import random
import resource
import time
import unittest

from harness import EchoClient, Stack, wait_until

SOURCES = [f"127.0.0.{i}" for i in range(2, 42)]
USERS = [f"user{i}" for i in range(150)]
TARGET = int(os.environ.get("ANVIL_SOAK_CONNECTIONS", "1500"))


def mask_matches(mask, name):
    return fnmatch.fnmatchcase(name.lower(), mask.lower())


class Soak(Stack):

    def setUp(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        super().setUp()
        self.services = [self.start_echod(name) for name in ("imap", "pop3", "imap")]
        self.live = {}  # EchoClient -> (user, source, service)
        self.rng = random.Random(int(os.environ.get("ANVIL_SOAK_SEED", "0")) or None)

    def open_one(self):
        echod = self.rng.choice(self.services)
        user, source = self.rng.choice(USERS), self.rng.choice(SOURCES)
        client = EchoClient(echod.port, source, user)
        self.live[client] = (user, source, "pop3" if echod is self.services[1] else "imap")

    def close_one(self):
        client = self.rng.choice(list(self.live))
        del self.live[client]
        client.close()

    def registry(self):
        code, out, err = self.anvilctl("who", "-1", global_args=("-f", "json"))
        self.assertEqual(code, 0, err)
        return collections.Counter((row["username"], row["ip"], row["service"])
                                   for row in json.loads(out))

    def model(self):
        return collections.Counter((u, s, svc) for u, s, svc in self.live.values())

    def random_filter(self):
        kind = self.rng.randrange(4)
        if kind == 0:
            user = self.rng.choice(USERS)
            return [user], lambda u, s, svc: u == user
        if kind == 1:
            mask = f"user{self.rng.randrange(1, 15)}?"
            return [mask], lambda u, s, svc: mask_matches(mask, u)
        if kind == 2:
            source = self.rng.choice(SOURCES)
            return [source], lambda u, s, svc: s == source
        mask = f"user{self.rng.randrange(10)}*"
        return ["--service", "pop3", mask], lambda u, s, svc: svc == "pop3" and mask_matches(mask, u)

    def kick_round(self):
        args, matches = self.random_filter()
        expected = [c for c, (u, s, svc) in self.live.items() if matches(u, s, svc)]
        code, out, err = self.anvilctl("kick", *args, global_args=("-f", "json"))
        rows = json.loads(out)
        self.assertEqual(code, 0 if expected else 68, (args, err))
        self.assertTrue(all(row["result"] == "kicked" for row in rows), (args, rows))
        self.assertEqual(collections.Counter((r["username"], r["ip"], r["service"]) for r in rows),
                         collections.Counter(self.live[c] for c in expected), args)
        for client in expected:
            self.assertIsNotNone(client.read_bye(), (args, self.live[client]))
            del self.live[client]
        # Bystanders of this kick are still served.
        for client in self.rng.sample(list(self.live), min(20, len(self.live))):
            self.assertTrue(client.alive(), (args, self.live[client]))
        return len(expected)

    def test_who_stays_exact_and_kicks_drop_exactly_their_matches(self):
        seconds = float(os.environ.get("ANVIL_SOAK_SECONDS", "20"))
        deadline = time.monotonic() + seconds
        while len(self.live) < TARGET:
            self.open_one()
        kicks = kicked = churned = 0
        next_kick = time.monotonic()
        while time.monotonic() < deadline:
            for _ in range(self.rng.randrange(20, 60)):
                self.close_one()
                churned += 1
            while len(self.live) < TARGET:
                self.open_one()
                churned += 1
            if time.monotonic() >= next_kick:
                # The registry has caught up with every login and goodbye
                # (they reach anvild on the services' connections).
                self.assertTrue(wait_until(lambda: self.registry() == self.model()),
                                "who differs from the open connections")
                kicked += self.kick_round()
                kicks += 1
                next_kick += 1.0
        self.assertTrue(wait_until(lambda: self.registry() == self.model()),
                        "who differs from the open connections at the end")
        self.assertGreater(kicks, 0)
        print(f"\nsoak: {seconds:.0f} s, {TARGET} connections, {churned} opened or closed, "
              f"{kicks} kicks dropped {kicked} connections", flush=True)
        while self.live:
            self.close_one()
        self.assertTrue(wait_until(lambda: self.registry() == collections.Counter()),
                        f"left behind: {self.registry()}")


if __name__ == "__main__":
    unittest.main()
