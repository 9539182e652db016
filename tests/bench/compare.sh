#!/usr/bin/env bash
# compare.sh — a change's effect on the hot paths, like for like: the
# engine's one-way, ping-pong and fan-out figures and remote send by id
# between two processes, from two builds (before and after), run
# alternately so the machine's load weighs on both alike. Prints each run's
# JSON lines, then one line per figure with both medians and their ratio:
#   {"name":"compare_local_oneway","before":4.1e7,"after":4.0e7,"ratio":0.98,...}
# and, with --callgrind, instructions per message of the local one-way (a
# count, not a time: the same on a busy or a quiet machine).
#
# Usage: tests/bench/compare.sh [--runs N] [--callgrind] BEFORE_BUILD AFTER_BUILD
#   BUILD: a Release build directory with tests/bench/bench_engine and
#   bench_remote built (e.g. from `git worktree add` of the old commit).
#   --runs N  alternated runs of each [5]
set -euo pipefail

runs=5 callgrind=0 dirs=()
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=${2:?}; shift 2 ;;
    --callgrind) callgrind=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    *) dirs+=("$1"); shift ;;
  esac
done
[ ${#dirs[@]} -eq 2 ] || { sed -n '14,17p' "$0" >&2; exit 2; }
for d in "${dirs[@]}"; do
  for b in bench_engine bench_remote; do
    [ -x "$d/tests/bench/$b" ] || { echo "compare.sh: no $d/tests/bench/$b" >&2; exit 2; }
  done
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ((i = 0; i < runs; i++)); do
  for side in 0 1; do
    d=${dirs[$side]}
    out=$tmp/$side.jsonl
    "$d/tests/bench/bench_engine" --only oneway,pingpong,fanout --reps 1 \
      --messages 4000000 | tee -a "$out"
    timeout 300 "$d/tests/bench/bench_remote" --reps 1 --messages 2000000 |
      tee -a "$out"
  done
done

if [ "$callgrind" = 1 ] && command -v valgrind >/dev/null; then
  # Instructions per one-way message: the difference between two run sizes
  # over the difference in messages, so set-up and tear-down cancel out.
  for side in 0 1; do
    d=${dirs[$side]}
    for n in 200000 400000; do
      valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$side.$n" \
        "$d/tests/bench/bench_engine" --only oneway --reps 1 --messages "$n" \
        >/dev/null 2>"$tmp/cg.$side.$n.err"
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/cg.$side.$n.err" \
        >"$tmp/ir.$side.$n"
    done
    python3 - "$side" "$(cat "$tmp/ir.$side.200000")" \
      "$(cat "$tmp/ir.$side.400000")" <<'EOF' | tee -a "$tmp/$side.jsonl"
import json, sys
side, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print(json.dumps({"name": "local_oneway_instructions", "value": round((b - a) / 200000, 1),
                  "unit": "instructions/message", "side": ["before", "after"][int(side)]}))
EOF
  done
fi

python3 - "$tmp/0.jsonl" "$tmp/1.jsonl" <<'EOF'
import json, statistics, sys
def load(p):
    rows = {}
    for line in open(p):
        if line.startswith("{"):
            r = json.loads(line)
            rows.setdefault(r["name"], []).append(r["value"])
    return rows
before, after = load(sys.argv[1]), load(sys.argv[2])
for name in ["local_oneway", "local_pingpong", "local_fanout", "remote_oneway_64",
             "remote_cpu_64_total", "local_oneway_instructions"]:
    if name not in before or name not in after:
        continue
    b, a = statistics.median(before[name]), statistics.median(after[name])
    print(json.dumps({"name": "compare_" + name, "before": b, "after": a,
                      "ratio": round(a / b, 3) if b else None,
                      "runs": len(after[name]),
                      "before_all": before[name], "after_all": after[name]}))
EOF
