"""The registry under volume, in Dovecot 2.3's protocol: a process that
exits with 100,000 sessions takes exactly its own; answers streamed in
parts (WHO, CONNECT-DUMP) while registrations go on list only sessions
that existed when they began and skip those gone since; a client that
stops reading a large answer is dropped, and nobody else waits."""

import os
import subprocess
import time

from harness import RawLineSocket, Stack, sanitized, wait_until

DOVECOT_VERSION = "VERSION\tanvil\t1\t0\n"


def ident(i, prefix="u"):
    return f"imap/10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}/{prefix}{i}"


class Registry(Stack):

    def sleeper(self):
        return self.spawn(["sleep", "600"])

    def dovecot_peer(self):
        peer = RawLineSocket(self.admin_socket)
        self.clients.append(peer)
        peer.send(DOVECOT_VERSION)
        return peer

    def lookup(self, peer, text):
        peer.send(f"LOOKUP\t{text}\n")
        return int(peer.line())

    def connect(self, peer, pid, first, count, prefix="u"):
        """CONNECTs, then a LOOKUP: once it is answered, anvild has them."""
        peer.send("".join(f"CONNECT\t{pid}\t{ident(i, prefix)}\n"
                          for i in range(first, first + count)))
        self.assertEqual(self.lookup(peer, ident(first, prefix)), 1)


class Volume(Registry):

    anvild_options = ["-o", "max_sessions_per_process=200000"]

    def test_a_process_exiting_with_100k_sessions_takes_exactly_its_own(self):
        big, small = self.sleeper(), self.sleeper()
        peer = self.dovecot_peer()
        self.connect(peer, big.pid, 0, 100_000)
        self.connect(peer, small.pid, 0, 10, prefix="bystander")
        self.assertEqual(self.lookup(peer, ident(99_999)), 1)
        big.kill()
        big.wait()
        self.assertTrue(wait_until(lambda: self.lookup(peer, ident(99_999)) == 0))
        self.assertEqual(self.lookup(peer, ident(0)), 0)
        self.assertEqual(sorted(self.who_users()), sorted(f"bystander{i}" for i in range(10)))

    def streamed_rows(self, request, greeting, end):
        """Sends a request whose answer is large, reads one line, lets the
        caller change the registry, then reads the rest."""
        reader = RawLineSocket(self.admin_socket)
        self.clients.append(reader)
        reader.sock.settimeout(30)
        lines = reader.sock.makefile("rb")
        self.addCleanup(lines.close)
        reader.send(greeting + request)

        def line():
            return lines.readline().decode().rstrip("\n")
        if greeting.startswith("VERSION\tanvil-admin"):
            self.assertEqual(line(), "VERSION\tanvil-admin\t1\t1")
        rows = [line()]
        yield
        while not end(rows[-1]):
            rows.append(line())
        yield rows

    def test_answers_streamed_while_registrations_go_on(self):
        process = self.sleeper()
        writer = self.dovecot_peer()
        self.connect(writer, process.pid, 0, 50_000)
        who = self.streamed_rows("WHO\n", "VERSION\tanvil-admin\t1\t0\n",
                                 lambda line: line.startswith("END"))
        dump = self.streamed_rows("CONNECT-DUMP\n", DOVECOT_VERSION, lambda line: line == "")
        next(who)
        next(dump)
        # While both answers are under way: half the sessions go, new ones come.
        writer.send("".join(f"DISCONNECT\t{process.pid}\t{ident(i)}\n"
                            for i in range(0, 50_000, 2)))
        self.connect(writer, process.pid, 50_000, 20_000)
        who_rows, dump_rows = next(who), next(dump)

        sessions = [line for line in who_rows if line.startswith("SESSION")]
        users = [field[5:] for line in sessions for field in line.split("\t")
                 if field.startswith("user=")]
        ids = [field for line in sessions for field in line.split("\t") if field.startswith("id=")]
        self.assertEqual(who_rows[-1], f"END\tcount={len(sessions)}")
        self.assertEqual(len(set(ids)), len(ids))
        # Every session that stayed is there; none that came later is.
        self.assertTrue({f"u{i}" for i in range(1, 50_000, 2)} <= set(users))
        self.assertTrue(set(users) <= {f"u{i}" for i in range(50_000)})

        idents = [line.split("\t")[0] for line in dump_rows[:-1]]
        self.assertTrue(all(line.split("\t")[1:] == [str(process.pid), "1"]
                            for line in dump_rows[:-1]))
        self.assertEqual(len(set(idents)), len(idents))
        self.assertTrue({ident(i) for i in range(1, 50_000, 2)} <= set(idents))
        self.assertTrue(set(idents) <= {ident(i) for i in range(50_000)})
        # And the registry is what it should be now.
        self.assertEqual(len(self.who_users()), 25_000 + 20_000)


class SlowReader(Registry):

    anvild_options = ["-o", "max_output_bytes=262144", "-o", "admin_idle_timeout_ms=1000"]

    def test_a_dump_reader_that_stops_reading_is_dropped(self):
        process = self.sleeper()
        writer = self.dovecot_peer()
        self.connect(writer, process.pid, 0, 50_000)
        before = self.rss_kib()
        greedy = RawLineSocket(self.admin_socket)
        self.clients.append(greedy)
        greedy.send(DOVECOT_VERSION + "CONNECT-DUMP\n" * 50)
        # Others are served meanwhile (the writer itself has been idle too
        # long by now: a fresh peer asks).
        self.assertEqual(self.lookup(self.dovecot_peer(), ident(7)), 1)
        self.assertTrue(wait_until(lambda: "read nothing for admin_idle_timeout_ms; dropping it"
                                   in self.anvild_log()))
        self.assertTrue(greedy.closed())
        # The answers were never held whole.
        self.assertLess(self.rss_kib() - before, (256 if sanitized("anvild") else 32) * 1024)

    def rss_kib(self):
        with open(f"/proc/{self.anvild.pid}/status") as f:
            return int(f.read().split("VmRSS:")[1].split()[0])


if __name__ == "__main__":
    import unittest
    unittest.main()
