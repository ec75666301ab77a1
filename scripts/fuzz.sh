#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang and ASan+UBSan, and runs
# each from its seed corpus: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...].
# Exits non-zero if any target finds a crash, a leak or undefined
# behaviour, or an input that takes over 25 seconds; the input that did it
# is left in build-fuzz/findings/. The targets run one per core at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
shift || true
build_dir=build-fuzz
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build_dir" -G Ninja -DANVIL_FUZZ=ON \
  -DANVIL_TESTS=OFF -DANVIL_BENCH=OFF -DANVIL_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -gline-tables-only -DNDEBUG" >/dev/null
cmake --build "$build_dir" --target fuzzers
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for binary in "$build_dir"/fuzz/fuzz_*; do targets+=("$(basename "$binary" | sed 's/^fuzz_//')"); done
fi
mkdir -p "$build_dir/findings"
failed=()
fuzz_one() {  # target: runs it; its exit status says whether it found anything
  local target=$1 work
  # New inputs go to a scratch corpus; the seeds in the tree stay as they are.
  work=$(mktemp -d)
  mkdir -p "fuzz/corpus/$target"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$build_dir/fuzz/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$build_dir/findings/$target-" -max_len=4096 -timeout=25 \
    "$work" "fuzz/corpus/$target" >"$build_dir/findings/$target.log" 2>&1
  local status=$?
  rm -rf "$work"
  return $status
}
# One target per core at a time; the reports come in the targets' order.
jobs_at_once=$(nproc)
declare -A job_of
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_at_once" ]; do wait -n || true; done
  fuzz_one "$target" &
  job_of[$target]=$!
done
for target in "${targets[@]}"; do
  if wait "${job_of[$target]}"; then
    runs=$(grep -m1 'stat::number_of_executed_units' "$build_dir/findings/$target.log" | awk '{print $2}')
    echo "fuzz $target: ${runs:-?} runs in ${seconds}s, no crash"
  else
    echo "fuzz $target: FAILED"
    tail -40 "$build_dir/findings/$target.log"
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs in $build_dir/findings/)"
  exit 1
fi
