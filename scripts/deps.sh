#!/usr/bin/env bash
# Installs the Debian 12 packages anvil needs to build and test, if any is
# missing. Runs as root (or through sudo when it is there).
set -euo pipefail

packages=(
  g++ cmake ninja-build make pkg-config
  # readiness notices to systemd; the manual pages from docs/*.md
  libsystemd-dev go-md2man
  # the Debian packages (scripts/package.sh) and what their tests use:
  # systemd-analyze for the units, man and lexgrog for the pages, adduser
  # and procps for the package's own scripts and units
  debhelper dpkg-dev systemd man-db adduser procps git
  libasio-dev libfmt-dev nlohmann-json3-dev libssl-dev libsodium-dev
  # anvil-httpd's HTTP: Boost.Beast, header-only in libboost-dev
  libboost-dev
  # The cluster (docs/cluster.md): the NATS C client, and the server the
  # cluster tests start on loopback ports (never as a system service).
  libnats-dev nats-server
  libgtest-dev libbenchmark-dev libabsl-dev
  # libFuzzer targets (scripts/fuzz.sh): clang 14 with its runtime libraries.
  clang-14 libclang-rt-14-dev
  python3
  # TLS material and a second real client for anvil-proxy's tests.
  openssl curl ca-certificates
  # The web view's tests: a real browser, headless, driven by Selenium.
  chromium chromium-driver python3-selenium
  # Dovecot 2.3, for the compatibility tests; they run it from a scratch
  # directory, never as a system service.
  dovecot-core dovecot-imapd dovecot-pop3d
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi

# Installing dovecot-core would start a system Dovecot on every interface.
# A policy-rc.d that says no prevents that; one that is already there is
# left as it is.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod 755 "$policy"
  made_policy=1
fi
cleanup() { if [ -n "$made_policy" ]; then "${as_root[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# The packaged Dovecot service is installed for its programs only. Left
# enabled, it would start at the next boot on every interface and take the
# ports anvil-proxy listens on. Disable it if this run installed it.
if [[ " ${missing[*]} " == *" dovecot-core "* ]] && command -v systemctl >/dev/null; then
  "${as_root[@]}" systemctl disable dovecot.service >/dev/null 2>&1 || true
fi
# The same for the packaged NATS server: the tests start their own.
if [[ " ${missing[*]} " == *" nats-server "* ]] && command -v systemctl >/dev/null; then
  "${as_root[@]}" systemctl disable nats-server.service >/dev/null 2>&1 || true
fi
