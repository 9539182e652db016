#!/usr/bin/env bash
# dev.sh — the project's one entry point for a developer machine (Debian
# bookworm): installs the build dependencies, then builds and runs the demo,
# the test suite (plain and with ASan+UBSan) or the benchmarks.
#   bash deploy/dev.sh demo    build, then a 3-node cluster on 127.0.0.1:
#                              send, subscribe, a node killed (demo.sh)
#   bash deploy/dev.sh test    build and run every test, twice: plain -Werror
#                              build, then AddressSanitizer+UBSan build; then
#                              the ThreadSanitizer tests and every fuzz
#                              target for 20 s (TROUPE_FUZZ_SECONDS)
#   bash deploy/dev.sh bench [--quick] [--netns] [--report]
#                              build (Release) and run tests/bench: the engine,
#                              the TLS link, the cluster beside Erlang, the
#                              simulator, the inspector, kill -9 detection,
#                              idle nodes and instruction counts (cachegrind);
#                              the JSON lines go to
#                              build-bench/results/bench-<UTC>.jsonl, the
#                              whole output beside it (.log). --report then
#                              writes docs/benchmarks.md and docs/bench/*.svg
#                              from that run (tests/bench/report.py, gnuplot).
#                              --netns adds the netns bench (root, ~15 min:
#                              10 minutes under 5% loss and 100 ms delay)
#   bash deploy/dev.sh bench --report-only [FILE]
#                              only that report, from FILE (default: the
#                              newest build-bench/results/bench-*.jsonl)
#   bash deploy/dev.sh soak [--seconds N] [--kill-every S]
#                              the soak benchmark (tests/bench/soak.sh)
#   bash deploy/dev.sh deps    only install the Debian packages
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

# Debian packages the build and the tests need; erlang only for benchmarks.
build_pkgs=(build-essential cmake pkg-config libuv1-dev libmbedtls-dev
            libnanopb-dev nanopb libcmocka-dev uthash-dev)
# The tests also need network namespaces and iptables (tests/netns),
# promtool and prometheus to check the daemon's /metrics (tests/daemon),
# the tools shellcheck and systemd-analyze for the deployment files
# (tests/deploy), clang with its libFuzzer runtime (only recommended
# by clang, so named) for the fuzz targets (tests/fuzz), and headless
# Chromium driven over the DevTools protocol for the inspector (tests/ui);
# gnuplot and valgrind for the smoke runs of the benchmark report and of
# the instruction counts (tests/bench).
test_pkgs=(iproute2 iptables prometheus curl python3 python3-yaml shellcheck
           systemd clang libclang-rt-14-dev chromium python3-websocket
           gnuplot-nox valgrind)
# gnuplot draws the benchmark report's plots (tests/bench/report.py).
bench_pkgs=(erlang-nox valgrind python3 gnuplot-nox)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "dev.sh: need root (or sudo) to install: ${*: -1}" >&2; exit 1
  fi
}

# Installs only what is missing, so a second run costs one dpkg query.
install_pkgs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null \
      || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "dev.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

configure_build() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S "$here" -B "$dir" -DTR_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

# tests/docker needs an engine and debian:bookworm-slim. Where the project's
# CI environment sits beside the checkout (../shared/env) and we are root,
# its scripts provide both without a registry; elsewhere (or with
# TROUPE_DOCKER_TESTS=0) the test skips visibly. In CI (CI=true) that
# preparation is required: TROUPE_REQUIRE_DOCKER makes docker.cluster fail,
# not skip, when it did not work.
prepare_docker() {
  local env=$here/../shared/env
  [ "$(id -u)" -eq 0 ] || return 0
  [ "${TROUPE_DOCKER_TESTS:-1}" != 0 ] || return 0
  [ -x "$env/docker-ready.sh" ] && [ -x "$env/base-image.sh" ] || return 0
  [ "${CI:-}" = true ] && export TROUPE_REQUIRE_DOCKER=1
  "$env/docker-ready.sh" && "$env/base-image.sh" ||
    echo "dev.sh: docker not prepared; tests/docker will skip (fail in CI)" >&2
}

# The benchmark report: docs/benchmarks.md and docs/bench/*.svg from one
# run's JSON lines (tests/bench/report.py).
bench_report() { # results.jsonl
  echo "dev.sh: report from $1"
  /usr/bin/python3 "$here/tests/bench/report.py" "$1" "$here/docs"
}

# One benchmark script, its output on the console as ever and appended to
# the run's log (stderr too: the log is the whole run). A script that fails
# is reported and the others still run, so one run gives every figure it
# can; the status says whether all ran.
bench_failed=()
bench_step() { # name command...
  local name=$1; shift
  echo "== $name ==" | tee -a "$bench_log"
  local rc=0
  { "$@" 2>&1 | tee -a "$bench_log"; } || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "dev.sh: $name exited $rc" | tee -a "$bench_log" >&2
    bench_failed+=("$name")
  fi
}

bench() { # [--quick] [--netns] [--report] | --report-only [FILE]
  local quick=() netns=() report=0 only=0 file=""
  local results=$here/build-bench/results
  while [ $# -gt 0 ]; do
    case $1 in
      --quick) quick=(--quick) ;;
      --netns) netns=(--netns) ;;
      --report) report=1 ;;
      --report-only)
        only=1
        if [ $# -gt 1 ] && [ "${2#-}" = "$2" ]; then file=$2; shift; fi ;;
      *) echo "usage: bash deploy/dev.sh bench [--quick] [--netns] [--report] |" \
           "--report-only [FILE]" >&2; exit 2 ;;
    esac
    shift
  done
  if [ "$only" = 1 ]; then
    install_pkgs python3 gnuplot-nox
    if [ -z "$file" ]; then
      file=$(find "$results" -maxdepth 1 -name 'bench-*.jsonl' 2>/dev/null |
        sort | tail -n 1)
      [ -n "$file" ] || { echo "dev.sh: no results in $results" >&2; exit 1; }
    fi
    bench_report "$file"
    return
  fi

  install_pkgs "${build_pkgs[@]}" "${bench_pkgs[@]}"
  configure_build "$here/build-bench" -DCMAKE_BUILD_TYPE=Release \
    -DTR_BUILD_EXAMPLES=OFF
  local b=$here/build-bench stamp troupe_bin=$here/build-bench/node/daemon/troupe
  mkdir -p "$results"
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  bench_log=$results/bench-$stamp.log
  local jsonl=$results/bench-$stamp.jsonl
  : >"$bench_log"
  bench_step run_engine bash "$here/tests/bench/run_engine.sh" "${quick[@]}" \
    "$b/tests/bench/bench_engine"
  bench_step run_link bash "$here/tests/bench/run_link.sh" "${quick[@]}" \
    "$b/tests/bench/bench_link"
  bench_step run_cluster bash "$here/tests/bench/run_cluster.sh" "${quick[@]}" \
    "${netns[@]}" "$b"
  bench_step run_sim bash "$here/tests/bench/run_sim.sh" "${quick[@]}" "$b"
  bench_step bench_inspector /usr/bin/python3 \
    "$here/tests/bench/bench_inspector.py" "$b"
  # kill -9 and SIGSTOP detection (2, 3, 5 nodes) and idle nodes (40) take
  # the troupe binary; the instruction counts the build.
  bench_step detect_kill bash "$here/tests/bench/detect_kill.sh" \
    "${quick[@]}" "$troupe_bin"
  bench_step idle_nodes bash "$here/tests/bench/idle_nodes.sh" \
    "${quick[@]}" "$troupe_bin"
  bench_step cachegrind bash "$here/tests/bench/cachegrind.sh" \
    "${quick[@]}" "$b"

  # The results: the run's own line (when, where, which commit), then every
  # line of the log that is a JSON object.
  /usr/bin/python3 "$here/tests/bench/collect.py" "$bench_log" "$stamp" \
    "${#quick[@]}" >"$jsonl"
  echo "dev.sh: results in $jsonl ($(wc -l <"$jsonl") lines), log $bench_log"
  [ "$report" = 1 ] && bench_report "$jsonl"
  if [ ${#bench_failed[@]} -gt 0 ]; then
    echo "dev.sh: these benchmarks failed: ${bench_failed[*]}" >&2
    exit 1
  fi
}

cmd=${1:-}
case "$cmd" in
  deps)
    install_pkgs "${build_pkgs[@]}" ;;
  demo)
    # A 3-node cluster on this machine (deploy/demo.sh), from its own build
    # directory; the single-node example stays: build-demo/examples/ticker.
    install_pkgs "${build_pkgs[@]}" python3
    configure_build "$here/build-demo" -DTR_BUILD_TESTS=OFF -DTR_BUILD_BENCH=OFF
    bash "$here/deploy/demo.sh" "$here/build-demo" ;;
  test)
    install_pkgs "${build_pkgs[@]}" "${test_pkgs[@]}"
    # In CI, as root, with iproute2 and iptables just installed, the
    # network-namespace tests must run: a missing prerequisite fails them.
    if [ "${CI:-}" = true ] && [ "$(id -u)" -eq 0 ]; then
      export TROUPE_REQUIRE_NETNS=1
    fi
    prepare_docker
    echo "== plain build (-Werror) =="
    configure_build "$here/build" -DTR_BUILD_BENCH=ON
    (cd "$here/build" && ctest --output-on-failure -j"$jobs")
    echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
    configure_build "$here/build-asan" -DTR_SANITIZE=address,undefined \
      -DTR_BUILD_BENCH=OFF
    (cd "$here/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --output-on-failure -j"$jobs")
    # The calls other threads make (tr_node_send_threadsafe,
    # tr_node_wait_writable, tr_node_stop) and the loop's side of them.
    echo "== ThreadSanitizer build (the thread-safe entry) =="
    cmake -S "$here" -B "$here/build-tsan" -DTR_WERROR=ON \
      -DTR_SANITIZE=thread -DTR_BUILD_BENCH=OFF -DTR_BUILD_EXAMPLES=OFF >/dev/null
    cmake --build "$here/build-tsan" -j"$jobs" \
      --target test_threadsafe test_threadsafe_flow
    (cd "$here/build-tsan" && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
      ctest --output-on-failure -R '^unit[.]threadsafe')
    # libFuzzer on every decoder of bytes from outside (tests/fuzz), each
    # from its committed corpus for a bounded time: a crash, or a target
    # that no longer reaches its code, fails. About 4 minutes on 2 cores.
    echo "== libFuzzer targets (clang, ASan+UBSan), ${TROUPE_FUZZ_SECONDS:-20} s each =="
    FUZZ_BUILD_DIR="$here/build-fuzz" \
      bash "$here/tests/fuzz/run.sh" "${TROUPE_FUZZ_SECONDS:-20}" ;;
  bench)
    shift
    bench "$@" ;;
  soak)
    # 3 nodes under mixed load, one killed every 30 s, for 10 minutes (or
    # --seconds N): losses, duplicates and reorders by sequence number,
    # RSS and descriptors over time (tests/bench/soak.sh).
    install_pkgs "${build_pkgs[@]}" python3
    configure_build "$here/build-bench" -DCMAKE_BUILD_TYPE=Release \
      -DTR_BUILD_EXAMPLES=OFF
    shift
    bash "$here/tests/bench/soak.sh" "$here/build-bench" --out "$here/build-bench/soak" "$@" ;;
  *)
    echo "usage: bash deploy/dev.sh demo|test|bench|soak|deps" >&2
    exit 2 ;;
esac
