#!/usr/bin/env bash
# run.sh — builds the fuzz targets with clang (libFuzzer; the whole project
# compiled with -fsanitize=fuzzer-no-link,address,undefined) and runs each
# for a bounded time on a copy of its corpus (tests/fuzz/corpus/<target>).
# Prints per target the inputs run, the edges covered (libFuzzer's "cov:")
# and the corpus it ended with; fails when a target crashes (the input is
# kept: see the artifact path printed) or covers fewer edges than its
# minimum below.
#   bash tests/fuzz/run.sh [SECONDS] [TARGET...]   default 30 s, every target
# Longer runs: bash tests/fuzz/run.sh 3600 swim. FUZZ_BUILD_DIR (default
# build-fuzz in the repository) and FUZZ_ARTIFACTS (default
# $FUZZ_BUILD_DIR/artifacts) move the build and the crash inputs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
secs=${1:-30}
shift || true
build=${FUZZ_BUILD_DIR:-$repo/build-fuzz}
artifacts=${FUZZ_ARTIFACTS:-$build/artifacts}
jobs=$(nproc 2>/dev/null || echo 2)

# Edges each target must reach in a run: about 70% of what a 30 s run
# from the committed corpus covered on a 2-core machine with clang 14
# (wire 59, link 229, swim 572, registry 764, op_request 627, op_reply 88,
# http 133, config 142, spawn 133, policy 122), so a target that stops
# reaching its code (a seed no longer decodes, the instrumentation fell
# off) fails, while run-to-run noise and shorter runs do not. nanopb is
# Debian's prebuilt library, not instrumented: its edges are not counted.
declare -A min_cov=(
  [wire]=41 [link]=160 [swim]=400 [registry]=535 [op_request]=440
  [op_reply]=62 [http]=93 [config]=100 [spawn]=93 [policy]=85
)
all=(wire link swim registry op_request op_reply http config spawn policy)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -n "${min_cov[$t]:-}" ] || { echo "run.sh: no target '$t' (${all[*]})" >&2; exit 2; }
done
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
  echo "run.sh: SECONDS must be a positive integer" >&2
  exit 2
fi

command -v clang >/dev/null || { echo "run.sh: clang is needed (apt-get install clang)" >&2; exit 1; }
echo "== fuzz build (clang, libFuzzer, ASan+UBSan) in $build =="
# No -Werror here: the plain gcc build enforces warnings; clang's own set
# differs and is no reason to skip fuzzing.
cmake -S "$repo" -B "$build" -DCMAKE_C_COMPILER=clang -DTR_FUZZ=ON \
  -DTR_WERROR=OFF -DTR_BUILD_TESTS=OFF -DTR_BUILD_BENCH=OFF \
  -DTR_BUILD_EXAMPLES=OFF -DTR_BUILD_DAEMON=OFF >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]/#/fuzz_}" >/dev/null

mkdir -p "$artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/troupe-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=()
printf '%-11s %10s %7s %6s %9s  %s\n' target runs edges min corpus result
for t in "${targets[@]}"; do
  corpus=$work/$t
  mkdir -p "$corpus"
  cp "$here/corpus/$t/"* "$corpus/" 2>/dev/null || true
  log=$work/$t.log
  rc=0
  # libFuzzer stops itself at max_total_time; timeout is the backstop.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    timeout $((secs + 120)) "$build/tests/fuzz/fuzz_$t" \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
      "$corpus" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\) .*/\1/p' <<<"$last")
  result=ok
  if [ "$rc" -ne 0 ]; then
    result="CRASH (exit $rc)"
  elif [ "${cov:-0}" -lt "${min_cov[$t]}" ]; then
    result="TOO FEW EDGES"
  fi
  printf '%-11s %10s %7s %6s %9s  %s\n' "$t" "${runs:-?}" "${cov:-?}" \
    "${min_cov[$t]}" "${corp:-?}" "$result"
  if [ "$result" != ok ]; then
    failed+=("$t")
    echo "---- fuzz_$t: the end of its log ----"
    tail -40 "$log"
    echo "---- crash inputs, if any: $artifacts/$t-* ----"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "run.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "run.sh: ${#targets[@]} targets, ${secs} s each: no crash"
