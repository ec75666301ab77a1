#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: once in a normal
# build, then again with AddressSanitizer and UndefinedBehaviorSanitizer.
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

run_suite build -DANVIL_TESTS=ON
echo "== fuzz (each target briefly, from its seed corpus)"
bash scripts/fuzz.sh 5
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_suite build-asan -DANVIL_TESTS=ON -DANVIL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
