"""anvilctl who and kick against real processes: formatters, exit codes,
and every kind of filter."""

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import termios
import unittest

from harness import BIN, RawLineSocket, Stack, wait_until


class WhoAndKick(Stack):

    def setUp(self):
        super().setUp()
        self.imap = self.start_echod("imap")
        self.pop3 = self.start_echod("pop3")
        self.v6 = self.start_echod("imap", "[::1]:0")
        self.jane1 = self.connect(self.imap, "127.0.0.2", "jane",
                                  "user_email=jane@example.com dest_ip=127.0.0.50 dest_port=143")
        self.jane2 = self.connect(self.imap, "127.0.0.3", "jane")
        self.jane_pop3 = self.connect(self.pop3, "127.0.0.2", "jane")
        self.john = self.connect(self.imap, "127.0.0.4", "john.longer.name@example.com",
                                 "user_email=john@example.org dest_ip=127.0.0.1")
        self.digits = self.connect(self.pop3, "127.0.0.5", "12345")
        self.six = self.connect(self.v6, "::1", "sixer")
        self.anonymous = self.connect(self.imap, "127.0.0.6")  # never logs in: not registered
        self.wait_for_sessions(6)

    # --- who ----------------------------------------------------------------

    def test_grouped_table_sorted_with_widths_from_all_rows(self):
        code, out, err = self.anvilctl("who")
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual([line.split()[0] for line in lines[1:]],
                         ["12345", "jane", "jane", "john.longer.name@example.com", "sixer"])
        # Every row's right-aligned '#' ends where the header's does, however
        # long the user name: widths come from all rows.
        header_hash = lines[0].index("#")
        for line in lines[1:]:
            count = line.split()[1]
            self.assertEqual(line[header_hash - len(count) + 1:header_hash + 1], count, line)
        jane_imap = [line for line in lines if line.startswith("jane ") and " imap " in line][0]
        self.assertEqual(jane_imap.split()[1:],
                         ["2", "imap", f"({self.imap.pid})", "(127.0.0.2", "127.0.0.3)"])

    def test_json_is_valid_and_typed(self):
        code, out, err = self.anvilctl("who", global_args=("-f", "json"))
        self.assertEqual(code, 0, err)
        rows = json.loads(out)
        jane = [r for r in rows if r["username"] == "jane" and r["service"] == "imap"][0]
        self.assertEqual(jane["connections"], 2)
        self.assertEqual(jane["pids"], [self.imap.pid])
        self.assertEqual(jane["ips"], ["127.0.0.2", "127.0.0.3"])

        code, out, err = self.anvilctl("who", "-1", "-f", "user_email", "*@example.*",
                                       global_args=("-f", "json"))
        self.assertEqual(code, 0, err)
        rows = json.loads(out)
        self.assertEqual(sorted(r["user_email"] for r in rows),
                         ["jane@example.com", "john@example.org"])
        jane = [r for r in rows if r["username"] == "jane"][0]
        self.assertEqual(jane["pid"], self.imap.pid)
        self.assertEqual(jane["dest_ip"], "127.0.0.50")
        self.assertEqual(jane["dest_port"], 143)
        self.assertEqual(len(jane["conn_id"]), 32)

    def test_other_formatters(self):
        code, out, _ = self.anvilctl("who", "sixer", global_args=("-f", "tab"))
        self.assertEqual(out, f"username\t#\tservice\t(pids)\t(ips)\nsixer\t1\timap\t({self.v6.pid})\t(::1)\n")
        code, out, _ = self.anvilctl("who", "sixer", global_args=("-f", "flow"))
        self.assertEqual(out, f"username=sixer #=1 service=imap (pids)=({self.v6.pid}) (ips)=(::1)\n")
        code, out, _ = self.anvilctl("who", "sixer", global_args=("-f", "pager"))
        self.assertEqual(out, f"username: sixer\n#: 1\nservice: imap\n(pids): ({self.v6.pid})\n(ips): (::1)\n")

    def test_no_match_prints_the_header_only(self):
        code, out, err = self.anvilctl("who", "nobody*")
        self.assertEqual((code, out.split()), (0, ["username", "#", "service", "(pids)", "(ips)"]))
        code, out, err = self.anvilctl("who", "nobody*", global_args=("-f", "json"))
        self.assertEqual((code, out), (0, "[]\n"))

    def test_filters_combine(self):
        self.assertEqual(self.who_users("127.0.0.0/29"), ["12345", "jane", "jane", "jane",
                                                          "john.longer.name@example.com"])
        self.assertEqual(self.who_users("jane", "127.0.0.2"), ["jane", "jane"])
        self.assertEqual(self.who_users("jane", "127.0.0.2", "--service", "pop3"), ["jane"])
        self.assertEqual(self.who_users("jane", "john*", "127.0.0.3", "127.0.0.4"),
                         ["jane", "john.longer.name@example.com"])
        self.assertEqual(self.who_users("::/0"), ["sixer"])
        self.assertEqual(self.who_users("JANE", "--service", "IMAP"), ["jane", "jane"])

    # --- kick ---------------------------------------------------------------

    def test_digits_are_a_user_name(self):
        code, out, err = self.anvilctl("kick", "12345")
        self.assertEqual((code, out), (0, "kicked connections from the following users:\n12345\n"), err)
        self.assertIsNotNone(self.digits.read_bye())
        self.assertTrue(self.jane_pop3.alive())

    def test_dry_run_drops_nothing(self):
        code, out, err = self.anvilctl("kick", "--dry-run", "-v", "jane")
        self.assertEqual(code, 0, err)
        self.assertTrue(out.endswith("would kick connections from the following users:\njane\n"), out)
        self.assertEqual(out.count("would-kick: jane"), 3)
        for client in (self.jane1, self.jane2, self.jane_pop3):
            self.assertTrue(client.alive())
        self.assertEqual(self.who_users("jane"), ["jane", "jane", "jane"])

    def test_reason_and_verbose(self):
        code, out, err = self.anvilctl("kick", "-v", "--reason", "password changed", "sixer")
        self.assertEqual(code, 0, err)
        self.assertIn(f"kicked: sixer imap pid {self.v6.pid} ip ::1 id ", out)
        self.assertEqual(self.six.read_bye(), "BYE password changed")

    def test_kick_one_connection_by_id(self):
        code, out, _ = self.anvilctl("who", "-1", "jane", "127.0.0.3", global_args=("-f", "json"))
        conn_id = json.loads(out)[0]["conn_id"]
        code, out, err = self.anvilctl("kick", "--id", conn_id)
        self.assertEqual(code, 0, err)
        self.assertIsNotNone(self.jane2.read_bye())
        self.assertTrue(self.jane1.alive())
        self.assertTrue(self.jane_pop3.alive())

    def test_kick_by_service(self):
        code, out, err = self.anvilctl("kick", "--service", "pop3")
        self.assertEqual((code, out), (0, "kicked connections from the following users:\n12345 jane\n"))
        self.assertIsNotNone(self.jane_pop3.read_bye())
        self.assertTrue(self.jane1.alive())

    def test_kick_by_alternative_name(self):
        code, out, err = self.anvilctl("kick", "-f", "user_email", "*@EXAMPLE.COM")
        self.assertEqual((code, out), (0, "kicked connections from the following users:\njane\n"), err)
        self.assertIsNotNone(self.jane1.read_bye())
        self.assertTrue(self.jane2.alive())
        self.assertTrue(self.john.alive())

    def test_kick_by_destination_address_and_host_name(self):
        code, out, err = self.anvilctl("kick", "-h", "127.0.0.50")
        self.assertEqual((code, out), (0, "kicked connections from the following users:\njane\n"), err)
        self.assertIsNotNone(self.jane1.read_bye())
        # localhost resolves to 127.0.0.1 (and ::1): john's destination.
        code, out, err = self.anvilctl("kick", "-h", "localhost")
        self.assertEqual(code, 0, err)
        self.assertIsNotNone(self.john.read_bye())
        self.assertTrue(self.jane2.alive())

    def test_zero_prefix_is_every_ipv4_session_only(self):
        code, out, err = self.anvilctl("kick", "0.0.0.0/0")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.who_users(), ["sixer"])
        self.assertTrue(self.six.alive())

    def test_kick_json_gives_a_result_per_connection(self):
        code, out, err = self.anvilctl("kick", "jane", global_args=("-f", "json"))
        self.assertEqual(code, 0, err)
        rows = json.loads(out)
        self.assertEqual(len(rows), 3)
        self.assertEqual({r["result"] for r in rows}, {"kicked"})
        self.assertEqual(sorted(r["service"] for r in rows), ["imap", "imap", "pop3"])

    def test_nothing_matched_is_68(self):
        code, out, err = self.anvilctl("kick", "nosuchuser")
        self.assertEqual((code, out), (68, "no users kicked\n"))
        code, out, err = self.anvilctl("kick", "jane", "10.0.0.0/8")
        self.assertEqual((code, out), (68, "no users kicked\n"))

    def test_usage_errors_are_64_and_nothing_is_kicked(self):
        for args in (("kick",), ("kick", "--frobnicate", "jane"), ("kick", "127.0.0.0/33"),
                     ("kick", "999.1.1.1"), ("kick", "-f", "user_email"),
                     ("kick", "-f", "user_email", "127.0.0.2"), ("who", "-h", "127.0.0.1"),
                     ("kick", "-h", "no-such-host.invalid"), ("kick", "--id", "abc")):
            code, out, err = self.anvilctl(*args)
            self.assertEqual(code, 64, f"{args}: {err}")
            self.assertIn("usage:", err)
        code, out, err = self.anvilctl("who", global_args=("-f", "xml"))
        self.assertEqual(code, 64)
        self.assertEqual(len(self.who_users()), 6)

    def test_unreachable_anvild_is_75_and_names_the_socket(self):
        missing = os.path.join(self.dir, "missing-socket")
        code, out, err = self.anvilctl("who", socket_path=missing)
        self.assertEqual(code, 75)
        self.assertIn(missing, err)
        code, out, err = self.anvilctl("kick", "jane", socket_path=missing)
        self.assertEqual(code, 75)

    def test_default_socket_comes_from_run_dir_setting(self):
        import subprocess
        from harness import BIN
        proc = subprocess.run([os.path.join(BIN, "anvilctl"), "-o", f"run_dir={self.dir}", "who"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("sixer", proc.stdout)

    def test_dead_process_leaves_no_sessions(self):
        os.kill(self.pop3.pid, signal.SIGKILL)
        self.assertTrue(wait_until(lambda: "12345" not in self.who_users()))
        self.assertEqual(self.who_users(), ["jane", "jane", "john.longer.name@example.com", "sixer"])


class TerminalWidth(Stack):
    """The table takes the terminal's width; 80 columns when not a terminal."""

    def header_under_terminal(self, columns):
        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        proc = subprocess.run([os.path.join(BIN, "anvilctl"), "who", "-a", self.admin_socket],
                              stdout=follower, stderr=subprocess.PIPE, timeout=30)
        os.close(follower)
        output = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        os.close(leader)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return output.decode().splitlines()[0]

    def test_width_follows_the_terminal(self):
        echod = self.start_echod("imap")
        self.connect(echod, "127.0.0.2", "jane")
        self.wait_for_sessions(1)
        # Widths: username 8, # 1, service 7, (pids), (ips) 11 ("(127.0.0.2)"),
        # and 4 separating spaces; the user column gets half of what is left.
        used = 8 + 1 + 7 + max(6, len(f"({echod.pid})")) + 11 + 4

        def hash_column(columns):
            return 8 + (columns - used) // 2 + 1

        code, out, _ = self.anvilctl("who")
        self.assertEqual(out.splitlines()[0].index("#"), hash_column(80))
        self.assertEqual(self.header_under_terminal(120).index("#"), hash_column(120))
        self.assertEqual(self.header_under_terminal(50).index("#"), hash_column(50))


class MappedAddresses(Stack):

    def test_ipv4_mapped_ipv6_is_ipv4(self):
        peer = RawLineSocket(self.service_socket)
        self.clients.append(peer)
        peer.send(f"VERSION\tanvil-service\t1\t0\nHELLO\traw\t{os.getpid()}\n"
                  f"CONNECT\t{'c' * 32}\tuser=mapped\tip=::ffff:127.0.0.7\n")
        self.assertTrue(wait_until(lambda: self.who_users("127.0.0.0/24") == ["mapped"]))
        code, out, err = self.anvilctl("who", "-1", global_args=("-f", "json"))
        self.assertEqual(json.loads(out)[0]["ip"], "127.0.0.7")
        self.assertEqual(self.who_users("::/0"), [])


if __name__ == "__main__":
    unittest.main()
