#!/usr/bin/env bash
# Builds anvil the ways its users do: every build type with g++ 12 and
# clang 14, warnings as errors, into build-matrix/<compiler>-<type>:
#   scripts/build-matrix.sh [TYPE...]   (default: Debug RelWithDebInfo Release)
# The tests run elsewhere (scripts/test.sh); this only proves each builds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(Debug RelWithDebInfo Release)
for compiler in gcc clang; do
  if [ "$compiler" = clang ]; then cc=clang-14 cxx=clang++-14; else cc=gcc cxx=g++; fi
  for type in "${types[@]}"; do
    dir=build-matrix/$compiler-$type
    echo "== $compiler $type"
    CC=$cc CXX=$cxx bash scripts/build.sh "$dir" -DCMAKE_BUILD_TYPE="$type" -DANVIL_TESTS=ON
  done
done
echo "build-matrix: every build type built with g++ and clang"
