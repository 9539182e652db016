#!/usr/bin/env bash
# run_sim.sh — the cluster simulator's figures (tests/sim/bench_sim.c): crash
# detection, membership and registry convergence (ms and probe rounds),
# messages per node per second and false deaths at 10% loss, for 100 and
# 1,000 simulated nodes in virtual time, with members signing their own
# records (the simulator's stand-in signature: the sim_*verifies* figures
# count the checks a real node would make), then again without signing
# ("trust":false, the before of a before/after); then bench_proof, what one
# real P-256 sign and check cost here. One JSON line per figure.
#
# Usage: tests/bench/run_sim.sh [--quick] [BUILD_DIR]
#   BUILD_DIR defaults to ./build-bench; it is configured (Release, the first
#   time; later runs keep its settings) and bench_sim is built there.
#   --quick  100 nodes only, a short 10% loss run.
#
# Exit status: 0 when every figure was printed (benchmarks are not
# pass/fail), 1 if the build or bench_sim failed, 2 for bad usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

quick=()
build=./build-bench
for arg in "$@"; do
  case $arg in
    --quick) quick=(--quick) ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "run_sim.sh: unknown option $arg" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done

if [[ -f $build/CMakeCache.txt ]]; then
  cmake -S "$root" -B "$build" >&2 || exit 1
else
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >&2 || exit 1
fi
cmake --build "$build" -j2 --target bench_sim bench_proof >&2 || exit 1

bin=$build/tests/sim/bench_sim
if [[ ! -x $bin ]]; then
  echo "run_sim.sh: no bench_sim at $bin" >&2
  exit 1
fi
# The full run takes a few minutes (1,000 nodes, 5 virtual minutes at 10%).
timeout 1800 "$bin" "${quick[@]}" || exit 1
# The same with members that do not sign ("trust":false): what speaking
# only for oneself costs, as a before/after in one run.
timeout 1800 "$bin" --plain "${quick[@]}" || exit 1
timeout 600 "$build/tests/bench/bench_proof" "${quick[@]}" || exit 1
