#!/usr/bin/env bash
# run_engine.sh — the local engine's benchmarks against Erlang, in one command.
#
# Runs bench_engine and erlang_engine.escript (one Erlang scheduler), prints
# every figure line of both as it comes, then ratio and target lines as JSON:
#   {"name":"ratio_local_oneway_vs_erlang","value":4.2,"target":">=3","pass":true}
# Targets: local one-way >= 3x Erlang's; <= 512 heap bytes per idle actor;
# 0 heap allocations per message (one-way and publish). The one-way ratio is
# against Erlang's unpaced one-way, its best case; the like-for-like ratio
# (Erlang with bench_engine's credit pacing) and the ping-pong, fan-out,
# spawn and idle-bytes ratios are printed without a target.
#
# Usage: tests/bench/run_engine.sh [--quick] [PATH_TO_BENCH_ENGINE]
#   --quick  small counts (a smoke run; figures are not meaningful)
#   The binary is PATH_TO_BENCH_ENGINE, else $BENCH_ENGINE, else
#   build/tests/bench/bench_engine under the repository root. When that default
#   binary is missing it is built there: build/ is (re)configured, as Release
#   if it has never been configured, else keeping its settings; a missing
#   explicit path is an error. Build with -DCMAKE_BUILD_TYPE=Release for
#   figures worth comparing.
#   $ESCRIPT overrides the escript interpreter (default: escript on PATH).
#
# Exit status: 0 whether or not the targets are met (benchmarks are not
# pass/fail; look for "pass":false); 1 if a benchmark program failed or
# a figure is missing; 2 for bad usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

quick=()
bin=${BENCH_ENGINE:-}
for arg in "$@"; do
  case $arg in
    --quick) quick=(--quick) ;;
    -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "run_engine.sh: unknown option $arg" >&2; exit 2 ;;
    *) bin=$arg ;;
  esac
done

if [[ -z $bin ]]; then
  bin=$root/build/tests/bench/bench_engine
  if [[ ! -x $bin ]]; then
    echo "run_engine.sh: $bin missing, building it" >&2
    if [[ -f $root/build/CMakeCache.txt ]]; then
      cmake -S "$root" -B "$root/build" >&2 # keeps that build's settings
    else
      cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >&2
    fi
    cmake --build "$root/build" -j"$(nproc)" --target bench_engine >&2
  fi
fi
if [[ ! -x $bin ]]; then
  echo "run_engine.sh: no bench_engine at $bin" >&2
  exit 1
fi
escript_bin=${ESCRIPT:-escript}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

status=0
"$bin" "${quick[@]}" | tee "$tmp/c.jsonl" || status=1
if command -v "$escript_bin" >/dev/null 2>&1; then
  "$escript_bin" "$here/erlang_engine.escript" "${quick[@]}" \
    | tee "$tmp/erl.jsonl" || status=1
else
  echo '{"name":"erlang","runtime":"erlang","error":"escript not found"}'
  : >"$tmp/erl.jsonl"
  status=1
fi

python3 - "$tmp/c.jsonl" "$tmp/erl.jsonl" <<'EOF' || status=1
import json
import sys


def load(path):
    figs = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if "value" in row:
                figs[row["name"]] = row["value"]
    return figs


c, erl = load(sys.argv[1]), load(sys.argv[2])
missing = []
failed = []


def out(row):
    print(json.dumps(row, separators=(",", ":")), flush=True)


def ratio(name, num, den, target=None, check=None):
    if num is None or den is None or den == 0:
        missing.append(name)
        row = {"name": name, "value": None, "error": "figure missing"}
        if target:
            row.update({"target": target, "pass": False})
        out(row)
        return
    v = round(num / den, 3)
    row = {"name": name, "value": v}
    if target:
        ok = check(v)
        row.update({"target": target, "pass": ok})
        if not ok:
            failed.append(name)
    out(row)


def target(name, fig, tgt, check):
    v = c.get(fig)
    if v is None:
        missing.append(name)
        out({"name": name, "value": None, "target": tgt, "pass": False,
             "error": "figure missing"})
        return
    ok = check(v)
    if not ok:
        failed.append(name)
    out({"name": name, "value": v, "target": tgt, "pass": ok})


ratio("ratio_local_oneway_vs_erlang", c.get("local_oneway"),
      erl.get("local_oneway"), ">=3", lambda v: v >= 3)
# Like for like: Erlang with the same credit pacing as bench_engine.
ratio("ratio_local_oneway_vs_erlang_credit", c.get("local_oneway"),
      erl.get("local_oneway_credit"))
ratio("ratio_local_pingpong_vs_erlang", c.get("local_pingpong"),
      erl.get("local_pingpong"))
ratio("ratio_local_fanout_vs_erlang", c.get("local_fanout"),
      erl.get("local_fanout"))
ratio("ratio_spawn_stop_vs_erlang", c.get("spawn_stop"), erl.get("spawn_stop"))
# Bytes: lower is better, so this is troupe's share of Erlang's.
ratio("ratio_idle_actor_bytes_vs_erlang", c.get("idle_actor_bytes"),
      erl.get("idle_actor_bytes"))
target("target_idle_actor_bytes", "idle_actor_bytes", "<=512",
       lambda v: v <= 512)
target("target_allocs_per_msg_oneway", "allocs_per_msg_oneway", "==0",
       lambda v: v == 0)
target("target_allocs_per_msg_publish", "allocs_per_msg_publish", "==0",
       lambda v: v == 0)
out({"name": "targets_summary", "pass": not failed and not missing,
     "failed": failed, "missing": missing})
sys.exit(1 if missing else 0)
EOF
exit $status
