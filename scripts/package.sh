#!/usr/bin/env bash
# Builds the Debian packages (anvild, anvil-proxy, libanvil1, libanvil-dev)
# from the working tree with debhelper: scripts/package.sh [OUT_DIR]
# (default build-deb). The .deb files end up in OUT_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
out=$(realpath -m "${1:-build-deb}")
rm -rf "$out"
mkdir -p "$out/source"
# dpkg-buildpackage writes next to the source tree: build from a copy of the
# tracked and new files (no build directories), inside OUT_DIR.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    grep -zv -e '^build' |
    tar --null -T - -cf - | tar -xf - -C "$out/source"
else  # an unpacked tarball
  tar --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$out/source"
fi
(cd "$out/source" && dpkg-buildpackage -b -us -uc -j"$(nproc)" >"$out/build.log" 2>&1) || {
  tail -n 60 "$out/build.log" >&2
  echo "package.sh: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
  exit 1
}
rm -rf "$out/source"
ls "$out"/*.deb
