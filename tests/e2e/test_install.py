"""What `cmake --install` puts in place, tried as a user of it would: the
build is installed into a scratch DESTDIR; a C program is built against it
through pkg-config and a C++ program through find_package(anvil), each
linked to libanvil.so and to libanvil.a; every one registers a session with
a running anvild and is kicked. The manual pages render without warnings
and the systemd units pass `systemd-analyze verify`."""

import glob
import os
import re
import shutil
import subprocess
import unittest

import harness

SOURCE_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.path.dirname(os.path.abspath(harness.BIN))


def cache_value(name):
    with open(os.path.join(BUILD_DIR, "CMakeCache.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].strip()
    return ""


def run(command, **kwargs):
    proc = subprocess.run(command, capture_output=True, text=True, timeout=240,
                          stdin=subprocess.DEVNULL, **kwargs)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


class Installed(harness.Stack):
    """One DESTDIR install per test class; anvild from the build tree."""

    @classmethod
    def setUpClass(cls):
        cls.root = harness.tempfile.mkdtemp(prefix="anvil-install-")
        cls.prefix = cache_value("CMAKE_INSTALL_PREFIX")
        run(["cmake", "--install", BUILD_DIR], env={**os.environ, "DESTDIR": cls.root})
        cls.installed = cls.root + cls.prefix
        # The programs are built with the build's own compilers; against a
        # sanitized libanvil, with the same sanitizers (their runtime).
        cls.cc = cache_value("CMAKE_C_COMPILER")
        cls.cxx = cache_value("CMAKE_CXX_COMPILER")
        cls.flags = ["-fsanitize=address,undefined"] if cache_value("ANVIL_SANITIZE") == "ON" else []

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def library_path(self):
        (pc,) = glob.glob(f"{self.installed}/lib*/**/anvil.pc", recursive=True)
        return os.path.dirname(os.path.dirname(pc))

    def pkg_config(self, *args):
        env = {**os.environ, "PKG_CONFIG_PATH": os.path.join(self.library_path(), "pkgconfig"),
               "PKG_CONFIG_SYSROOT_DIR": self.root}
        return run(["pkg-config", *args, "anvil"], env=env).split()

    def build_c(self, static):
        output = os.path.join(self.dir, "register_c_static" if static else "register_c")
        if static:
            # pkg-config's way to a static libanvil: its private libraries
            # too, and libanvil.a picked over libanvil.so.
            libs = [arg if arg != "-lanvil" else "-l:libanvil.a"
                    for arg in self.pkg_config("--static", "--libs")]
        else:
            libs = self.pkg_config("--libs")
        run([self.cc, "-std=c11", "-Wall", "-Werror", *self.flags, *self.pkg_config("--cflags"),
             os.path.join(SOURCE_DIR, "tests", "install", "register.c"), "-o", output, *libs])
        return output

    def build_cmake(self, target):
        build = os.path.join(self.dir, "consumer-" + target.replace("::", "-"))
        flags = " ".join(self.flags)
        run(["cmake", "-S", os.path.join(SOURCE_DIR, "tests", "install"), "-B", build,
             "-G", "Ninja", f"-DCMAKE_PREFIX_PATH={self.installed}", f"-DANVIL_LINK={target}",
             f"-DCMAKE_C_COMPILER={self.cc}", f"-DCMAKE_CXX_COMPILER={self.cxx}",
             f"-DCMAKE_C_FLAGS={flags}", f"-DCMAKE_CXX_FLAGS={flags}"])
        run(["cmake", "--build", build])
        return os.path.join(build, "register_c"), os.path.join(build, "register_cxx")

    def needed_libraries(self, program):
        return re.findall(r"NEEDED\s+(\S+)", run(["objdump", "-p", program]))

    def kick_each(self, programs):
        """Starts every program as a service of its own user; kicks them one
        by one and checks that each kick ends exactly that program."""
        env = {**os.environ, "LD_LIBRARY_PATH": self.library_path()}
        running = {}
        for number, program in enumerate(programs):
            user = f"linked{number}"
            proc = self.spawn([program, self.service_socket, user], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
            line = proc.stdout.readline()
            self.assertTrue(line.startswith("registered "), (program, line, proc.stderr.read()
                                                            if proc.poll() is not None else ""))
            running[user] = (proc, line.split()[1])
        self.wait_for_sessions(len(programs))
        remaining = sorted(running)
        for user, (proc, session) in running.items():
            code, out, err = self.anvilctl("kick", "--reason", f"bye {user}", user)
            self.assertEqual(code, 0, err)
            self.assertIn(user, out)
            self.assertEqual(proc.wait(30), 0, proc.stderr.read())
            self.assertEqual(proc.stdout.readline().strip(), f"kicked {session} bye {user}")
            # Only that one went: the others are still registered and running.
            remaining.remove(user)
            self.assertEqual(self.who_users(), remaining)
            for other in remaining:
                self.assertIsNone(running[other][0].poll(), other)

    def test_c_through_pkg_config_shared_and_static(self):
        shared = self.build_c(static=False)
        static = self.build_c(static=True)
        self.assertIn("libanvil.so.1", self.needed_libraries(shared))
        self.assertNotIn("libanvil.so.1", self.needed_libraries(static))
        self.kick_each([shared, static])

    def test_cxx_and_c_through_the_cmake_package(self):
        shared_c, shared_cxx = self.build_cmake("anvil::anvil")
        static_c, static_cxx = self.build_cmake("anvil::anvil_static")
        for program in (shared_c, shared_cxx):
            self.assertIn("libanvil.so.1", self.needed_libraries(program))
        for program in (static_c, static_cxx):
            self.assertNotIn("libanvil.so.1", self.needed_libraries(program))
        self.kick_each([shared_c, shared_cxx, static_c, static_cxx])

    def test_shared_library_has_its_soname_and_exports_only_the_api(self):
        (library,) = glob.glob(f"{self.library_path()}/libanvil.so.1.*")
        self.assertEqual(re.findall(r"SONAME\s+(\S+)", run(["objdump", "-p", library])),
                         ["libanvil.so.1"])
        symbols = run(["nm", "-D", "--defined-only", "-C", library]).splitlines()
        names = [line.split(" ", 2)[2] for line in symbols if line.count(" ") >= 2]
        exported = [name for name in names if name != "ANVIL_1"]
        self.assertIn("anvil_client_new@@ANVIL_1", exported)
        self.assertTrue(any(name.startswith("anvil::Client::register_session(") for name in exported))
        # Nothing of the internals: no line codec, no socket helpers, no Impl.
        stray = [name for name in exported
                 if not re.match(r"(anvil_|anvil::(Client|ConnectionId|SessionInfo)::)", name)
                 or "::Impl::" in name]
        self.assertEqual(stray, [])

    def test_manual_pages_render_without_warnings(self):
        pages = sorted(glob.glob(f"{self.installed}/share/man/man[18]/*.[18]"))
        names = [os.path.basename(page) for page in pages]
        for expected in ("anvilctl.1", "anvilctl-who.1", "anvilctl-kick.1", "anvilctl-ban.1",
                         "anvilctl-audit.1", "anvil-echod.1", "anvild.8", "anvil-proxy.8",
                         "anvil-httpd.8"):
            self.assertIn(expected, names)
        env = {**os.environ, "LC_ALL": "C.UTF-8", "MANWIDTH": "80"}
        for page in pages:
            proc = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page],
                                  capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(proc.stderr, "", page)
            self.assertIn("SYNOPSIS", proc.stdout, page)
            name = os.path.basename(page).rsplit(".", 1)[0]
            whatis = run(["lexgrog", page])
            self.assertIn(f'"{name} - ', whatis)

    def test_dovecot_snippet_runs_the_installed_anvild(self):
        with open(f"{self.installed}/share/anvil/dovecot/90-anvil.conf", encoding="utf-8") as f:
            text = f.read()
        self.assertIn(f"executable = {self.prefix}/sbin/anvild --dovecot-service", text)
        self.assertTrue(os.access(f"{self.installed}/sbin/anvild", os.X_OK))

    def test_systemd_units_verify(self):
        """systemd-analyze verify checks that ExecStart's program exists, so
        the units are checked as installed with their programs' paths moved
        into DESTDIR; the package test checks them as shipped."""
        units_dir = glob.glob(f"{self.root}/**/systemd/system", recursive=True)[0]
        checked = os.path.join(self.dir, "units")
        os.makedirs(checked)
        units = []
        for name in ("anvild.service", "anvil-proxy.service", "anvil-httpd.service"):
            with open(os.path.join(units_dir, name), encoding="utf-8") as f:
                text = f.read()
            self.assertIn(f"ExecStart={self.prefix}/sbin/", text)
            self.assertRegex(text, r"(?m)^Type=(notify|exec)$")
            for directive in ("User=anvil", "NoNewPrivileges=yes", "ProtectSystem=strict",
                              "PrivateTmp=yes", "CapabilityBoundingSet="):
                self.assertIn(directive, text)
            path = os.path.join(checked, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace(f"ExecStart={self.prefix}/", f"ExecStart={self.installed}/"))
            units.append(path)
        env = {**os.environ, "MANPATH": f"{self.installed}/share/man", "SYSTEMD_LOG_LEVEL": "notice"}
        proc = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True,
                              text=True, env=env, timeout=60)
        self.assertEqual((proc.returncode, proc.stderr.strip()), (0, ""))


if __name__ == "__main__":
    unittest.main()
