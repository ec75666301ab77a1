#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. g++ Release build: unit and end-to-end tests (warnings are errors);
#   2. the Debian packages: built with debhelper, installed, checked, purged;
#   3. clang 14: the libFuzzer targets, built and run briefly;
#   4. g++ Debug build with AddressSanitizer and UndefinedBehaviorSanitizer:
#      the unit and end-to-end tests again, with line tables only (-g1: the
#      reports name files and lines, and the build takes a third less).
#      clang 14 cannot compile Asio's coroutines with ASan and -g ("Cannot
#      represent a difference across sections"), so this build is g++'s.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

run_suite() {
  local build_dir=$1
  shift
  echo "== build $build_dir"
  bash scripts/build.sh "$build_dir" "$@"
  echo "== test $build_dir"
  (cd "$build_dir" && ctest --output-on-failure -j2 --timeout 300)
}

echo "== build build"
bash scripts/build.sh build -DANVIL_TESTS=ON -DCMAKE_BUILD_TYPE=Release
# The packages build while the tests run: the end-to-end tests spend most
# of their time waiting on sockets and processes.
echo "== package (building in the background; log: build/package.log)"
bash scripts/package.sh build-deb >build/package.log 2>&1 &
package_job=$!
trap 'kill "$package_job" 2>/dev/null || true' EXIT
echo "== test build"
(cd build && ctest --output-on-failure -j2 --timeout 300)
if ! wait "$package_job"; then
  cat build/package.log
  exit 1
fi
trap - EXIT
echo "== test the packages"
python3 tests/package/test_package.py build-deb
echo "== fuzz (each target briefly, from its seed corpus)"
bash scripts/fuzz.sh 5
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_suite build-asan -DANVIL_TESTS=ON -DANVIL_BENCH=OFF -DANVIL_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_C_FLAGS_DEBUG=-g1
