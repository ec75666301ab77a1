"""The Debian packages, installed as an administrator would: apt installs
the five .deb files of scripts/package.sh; the programs, manual pages,
pkg-config file, user, conffiles and units are where they belong; the
installed anvild serves a C program built against the installed libanvil
and kicks it; the units pass `systemd-analyze verify` as shipped; a bad
setting stops anvild with one line; purging leaves nothing behind.

Run as root by scripts/test.sh: python3 tests/package/test_package.py DEB_DIR.
It changes the system (packages, the user anvil), so it refuses to run
where the anvild package is already installed."""

import glob
import os
import pwd
import subprocess
import sys
import tempfile
import time
import unittest

SOURCE_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
PACKAGES = ["anvild", "anvil-proxy", "anvil-httpd", "libanvil1", "libanvil-dev"]
# What installing and running may create, and purging must remove.
LEFTOVERS = {"/etc/anvil", "/etc/anvil/http-keys", "/var/lib/anvil", "/var/log/anvil", "/run/anvil",
             "/etc/systemd/system/multi-user.target.wants/anvild.service",
             "/etc/systemd/system/multi-user.target.wants/anvil-proxy.service",
             "/etc/systemd/system/multi-user.target.wants/anvil-httpd.service"}
DEB_DIR = os.environ.get("ANVIL_DEB_DIR", os.path.join(SOURCE_DIR, "build-deb"))


def run(command, check=True, **kwargs):
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def installed(package):
    proc = run(["dpkg-query", "-W", "-f=${Status}", package], check=False)
    return proc.returncode == 0 and "install ok installed" in proc.stdout


def known(package):
    """True if dpkg has anything of the package: installed, or its conffiles."""
    proc = run(["dpkg-query", "-W", "-f=${Status}", package], check=False)
    return proc.returncode == 0 and not proc.stdout.endswith("not-installed")


def version():
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("project(anvil VERSION "):
                return line.split()[2]
    raise AssertionError("no version in CMakeLists.txt")


def apt(*args):
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return run(["apt-get", "-y", "-q", "-o", "Dpkg::Options::=--force-confdef",
                "-o", "Dpkg::Options::=--force-confold", *args], env=env)


class InstalledPackages(unittest.TestCase):
    """Installs once for all the checks, and purges at the end (the purge
    is itself checked)."""

    @classmethod
    def setUpClass(cls):
        if installed("anvild"):
            raise unittest.SkipTest("the anvild package is installed here already; "
                                    "this test would remove it")
        # What was there before (e.g. scripts/start.sh's files in /etc/anvil)
        # is not the packages' to remove.
        cls.before = {path for path in LEFTOVERS if os.path.lexists(path)}
        cls.group_before = run(["getent", "group", "anvil"], check=False).returncode == 0
        cls.debs = {}
        for package in PACKAGES:
            found = glob.glob(os.path.join(DEB_DIR, f"{package}_*_*.deb"))
            if len(found) != 1:
                raise AssertionError(f"expected one {package} .deb in {DEB_DIR}, found {found}")
            cls.debs[package] = os.path.abspath(found[0])
        apt("install", *cls.debs.values())
        cls.files = {package: run(["dpkg", "-L", package]).stdout.split()
                     for package in PACKAGES}

    @classmethod
    def tearDownClass(cls):
        # Whatever a failed test left: installed, or removed with its
        # conffiles still there.
        left = [package for package in PACKAGES if known(package)]
        if left:
            apt("purge", *left)

    def test_files_are_named_for_the_version(self):
        for package, path in self.debs.items():
            self.assertEqual(os.path.basename(path), f"{package}_{version()}_amd64.deb")

    def test_programs_report_the_version(self):
        for program, path in (("anvilctl", "/usr/bin/anvilctl"), ("anvild", "/usr/sbin/anvild"),
                              ("anvil-proxy", "/usr/sbin/anvil-proxy"),
                              ("anvil-httpd", "/usr/sbin/anvil-httpd")):
            self.assertEqual(run([path, "--version"]).stdout.strip(), f"{program} {version()}")

    def test_manual_pages_are_found_by_name(self):
        for page, section in (("anvilctl", 1), ("anvilctl-who", 1), ("anvilctl-kick", 1),
                              ("anvilctl-ban", 1), ("anvilctl-audit", 1), ("anvil-echod", 1),
                              ("anvild", 8), ("anvil-proxy", 8), ("anvil-httpd", 8)):
            # The packaged pages (a build installed under /usr/local would
            # come first in man's own search).
            path = run(["man", "-M", "/usr/share/man", "-w", page]).stdout.strip()
            self.assertEqual(path, f"/usr/share/man/man{section}/{page}.{section}.gz")
            env = {**os.environ, "LC_ALL": "C.UTF-8", "MANWIDTH": "80"}
            proc = run(["man", "-M", "/usr/share/man", "--warnings", page], env=env)
            self.assertEqual(proc.stderr, "", page)

    def test_pkg_config_and_cmake_package(self):
        # The packaged anvil.pc (a build installed under /usr/local would
        # come first in pkg-config's own search).
        env = self.packaged_pkg_config()
        self.assertEqual(run(["pkg-config", "--modversion", "anvil"], env=env).stdout.strip(),
                         version())
        self.assertEqual(run(["pkg-config", "--libs", "anvil"], env=env).stdout.strip(), "-lanvil")
        self.assertTrue(glob.glob("/usr/lib/*/cmake/anvil/anvilConfig.cmake"))
        (library,) = glob.glob("/usr/lib/*/libanvil.so.1")
        self.assertIn(library, self.files["libanvil1"])

    def packaged_library_dir(self):
        (library,) = glob.glob("/usr/lib/*/libanvil.so.1")
        return os.path.dirname(library)

    def packaged_pkg_config(self):
        """pkg-config's environment that finds only the system's .pc files."""
        return {**os.environ, "PKG_CONFIG_LIBDIR": ":".join(
            [os.path.join(self.packaged_library_dir(), "pkgconfig"), "/usr/share/pkgconfig"])}

    def test_user_group_conffiles_and_enabled_units(self):
        user = pwd.getpwnam("anvil")
        self.assertLess(user.pw_uid, 1000)  # a system user
        self.assertEqual(user.pw_dir, "/nonexistent")
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "anvild", "anvil-proxy",
                         "anvil-httpd"]).stdout
        self.assertIn("/etc/anvil/anvild.conf", conffiles)
        self.assertIn("/etc/anvil/anvil-proxy.conf", conffiles)
        self.assertIn("/etc/anvil/anvil-httpd.conf", conffiles)
        # anvil-httpd's keys: readable by its user, by no one else.
        keys = os.stat("/etc/anvil/http-keys")
        self.assertEqual((keys.st_uid, keys.st_gid, keys.st_mode & 0o777), (0, user.pw_gid, 0o640))
        for unit in ("anvild.service", "anvil-proxy.service", "anvil-httpd.service"):
            self.assertTrue(os.path.islink(f"/etc/systemd/system/multi-user.target.wants/{unit}"),
                            f"{unit} is not enabled")

    def test_units_verify_as_shipped(self):
        proc = run(["systemd-analyze", "verify", "/lib/systemd/system/anvild.service",
                    "/lib/systemd/system/anvil-proxy.service",
                    "/lib/systemd/system/anvil-httpd.service"], check=False,
                   env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"})
        self.assertEqual((proc.returncode, proc.stderr.strip()), (0, ""))

    def test_installed_anvild_kicks_a_program_built_against_installed_libanvil(self):
        with tempfile.TemporaryDirectory(prefix="anvil-package-") as scratch:
            program = os.path.join(scratch, "register")
            flags = run(["pkg-config", "--cflags", "--libs", "anvil"],
                        env=self.packaged_pkg_config()).stdout.split()
            # The packaged library, even where a build installed under
            # /usr/local (searched first) has one too.
            library_dir = self.packaged_library_dir()
            run(["cc", "-std=c11", "-Wall", "-Werror", f"-L{library_dir}",
                 os.path.join(SOURCE_DIR, "tests", "install", "register.c"), "-o", program, *flags])
            client_env = {**os.environ, "LD_LIBRARY_PATH": library_dir}
            self.assertIn(f"{library_dir}/libanvil.so.1",
                          run(["ldd", program], env=client_env).stdout)
            anvild = subprocess.Popen(
                ["/usr/sbin/anvild", "-c", "/etc/anvil/anvild.conf", "--run-dir", scratch,
                 "-o", f"audit_log={scratch}/audit.log", "-o", f"ban_file={scratch}/bans"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True)
            try:
                deadline = time.monotonic() + 30
                while not os.path.exists(f"{scratch}/anvil-service") and time.monotonic() < deadline:
                    time.sleep(0.05)
                client = subprocess.Popen([program, f"{scratch}/anvil-service", "packaged"],
                                          stdout=subprocess.PIPE, text=True,
                                          stdin=subprocess.DEVNULL, env=client_env)
                line = client.stdout.readline()
                self.assertTrue(line.startswith("registered "), line)
                session = line.split()[1]
                who = ""
                while "packaged" not in who and time.monotonic() < deadline:
                    who = run(["/usr/bin/anvilctl", "-f", "tab", "who", "-1", "-a", f"{scratch}/anvil"]).stdout
                self.assertIn(session, who)
                kick = run(["/usr/bin/anvilctl", "kick", "-a", f"{scratch}/anvil", "--reason", "packaged",
                            "packaged"])
                self.assertIn("packaged", kick.stdout)
                self.assertEqual(client.wait(30), 0)
                self.assertEqual(client.stdout.read().strip(), f"kicked {session} packaged")
                client.stdout.close()
            finally:
                anvild.terminate()
                anvild.wait(10)
                anvild.stderr.close()

    def test_installed_anvil_httpd_makes_keys_and_serves_its_page(self):
        with tempfile.TemporaryDirectory(prefix="anvil-package-") as scratch:
            keys = os.path.join(scratch, "keys")
            key = run(["/usr/sbin/anvil-httpd", "-o", f"keys_file={keys}", "--new-key", "ops",
                       "kick"]).stdout.strip()
            self.assertEqual(len(key), 43)
            proc = subprocess.Popen(["/usr/sbin/anvil-httpd", "-o", "listen=127.0.0.1:0",
                                     "-o", f"keys_file={keys}", "-o", f"admin_socket={scratch}/none"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                url = "http://" + proc.stdout.readline().split()[2]
                page = run(["curl", "-sS", url + "/"]).stdout
                self.assertIn("<title>anvil", page)
                whoami = run(["curl", "-sS", "-H", f"Authorization: Bearer {key}",
                              url + "/api/v1/whoami"]).stdout
                self.assertEqual(whoami.strip(), '{"name":"ops","role":"kick"}')
                # No anvild there: 503, not a hang.
                code = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                            f"Authorization: Bearer {key}", url + "/api/v1/sessions"]).stdout
                self.assertEqual(code, "503")
            finally:
                proc.terminate()
                proc.wait(10)
                proc.stdout.close()
                proc.stderr.close()

    def test_dovecot_takes_the_shipped_anvil_service_snippet(self):
        """docs/install.md: Dovecot's master runs the installed anvild as its
        anvil (the snippet as shipped; test_dovecot_service runs it so)."""
        snippet = "/usr/share/anvil/dovecot/90-anvil.conf"
        self.assertIn(snippet, self.files["anvild"])
        with tempfile.TemporaryDirectory(prefix="anvil-package-") as scratch:
            config = os.path.join(scratch, "dovecot.conf")
            with open(config, "w", encoding="utf-8") as f:
                f.write(f"protocols = imap\nssl = no\n!include {snippet}\n")
            executable = run(["doveconf", "-c", config, "-h", "service/anvil/executable"])
            self.assertEqual(executable.stdout.split()[:2], ["/usr/sbin/anvild", "--dovecot-service"])
        with open("/usr/share/anvil/dovecot/dovecot-service-anvil.conf", encoding="utf-8") as f:
            self.assertIn("Conflicts=anvild.service", f.read())

    def test_a_bad_setting_stops_anvild_with_one_line(self):
        with tempfile.TemporaryDirectory(prefix="anvil-package-") as scratch:
            config = os.path.join(scratch, "anvild.conf")
            for text, message in (("no_such_key = 1\n", "unknown setting: no_such_key"),
                                  ("kick_timeout_ms = soon\n", "invalid value for kick_timeout_ms"),
                                  (None, "cannot read config file")):
                if text is None:
                    os.remove(config)
                else:
                    with open(config, "w", encoding="utf-8") as f:
                        f.write(text)
                proc = run(["/usr/sbin/anvild", "-c", config, "--run-dir", scratch], check=False)
                self.assertEqual(proc.returncode, 78)
                self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
                self.assertIn(message, proc.stderr)
                self.assertFalse(os.path.exists(os.path.join(scratch, "anvil")), "half started")

    def test_z_purge_leaves_nothing_behind(self):
        """Runs last (unittest sorts by name): purges and looks."""
        apt("purge", *PACKAGES)
        for package in PACKAGES:
            self.assertFalse(known(package), package)
        # Every file the packages had is gone (directories such as /usr/bin
        # stay, of course).
        left = [path for files in self.files.values() for path in files
                if os.path.lexists(path) and not os.path.isdir(path)]
        self.assertEqual(left, [])
        self.assertIn("/usr/sbin/anvild", self.files["anvild"])
        for path in LEFTOVERS - self.before:
            self.assertFalse(os.path.lexists(path), path)
        self.assertNotIn("anvil", [entry.pw_name for entry in pwd.getpwall()])
        self.assertEqual(run(["getent", "group", "anvil"], check=False).returncode, 2)
        if self.group_before:  # scripts/start.sh's group, for its services
            run(["groupadd", "--system", "anvil"])


if __name__ == "__main__":
    if len(sys.argv) > 1 and os.path.isdir(sys.argv[1]):
        DEB_DIR = sys.argv.pop(1)
    unittest.main(verbosity=2)
