#!/usr/bin/env bash
# idle_nodes.sh — what an idle node costs (issue #21, target 6): N
# `troupe run` nodes on loopback, all started at once, each seeded by n1
# (nodes_lib.sh). Figures, one JSON line each:
#   idle_converge_ms       cold start to every node listing all N alive
#                          (asked through each node's admin socket)
#   idle_rss_kb            resident memory per node at the end of the idle
#                          window (median, max)
#   idle_fds               open descriptors per node, then (median, max)
#   idle_cpu_pct_per_node  utime + stime (/proc/PID/stat) over the idle
#                          window, summed over the nodes, / N / window, in %
#                          of one core; target 0.1
#   detect_kill9_ms        kill -9 detection at that size (nodes_lib.sh's
#                          kill_series): median and p99 over the kills
# The idle window starts SETTLE seconds after convergence (the join's
# registry and membership exchanges are done) and nothing asks the nodes
# during it. A benchmark, not a test: the test suite runs it with --quick
# only to keep it working, and it exits 1 when a figure is missing or the
# nodes never converge.
#
# Usage: tests/bench/idle_nodes.sh [--quick] [--nodes N] [--idle-seconds S]
#                                  [--kills K] TROUPE_BIN
set -uo pipefail

n=40 idle=60 kills=10 settle=10
while [ $# -gt 1 ]; do
  case $1 in
    --quick) n=5; idle=10; kills=2; settle=2; shift ;;
    --nodes) n=$2; shift 2 ;;
    --idle-seconds) idle=$2; shift 2 ;;
    --kills) kills=$2; shift 2 ;;
    *) echo "idle_nodes.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
T=${1:?usage: idle_nodes.sh [--quick] [--nodes N] [--idle-seconds S] [--kills K] TROUPE_BIN}
BENCH=idle_nodes.sh
[ "$n" -ge 2 ] || { echo "idle_nodes.sh: --nodes must be 2 or more" >&2; exit 2; }
# shellcheck source=nodes_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/nodes_lib.sh"
nodes_setup troupe-idle
node_certs "$n" # before the clock starts
i=0
# shellcheck disable=SC2321 # PORT is associative: $((...)) counts
while read -r p; do PORT[$((++i))]=$p; done < <(free_ports "$n")

# ---- cold start --------------------------------------------------------
t0=$(date +%s%3N)
for i in $(seq 1 "$n"); do start "$i"; done
pending=$(seq 1 "$n")
t_conv=
for ((round = 0; round < 600; round++)); do # 120 s at most
  left=
  for i in $pending; do node_alive "$i" "$n" || left="$left $i"; done
  pending=$left
  [ -z "$pending" ] && { t_conv=$(date +%s%3N); break; }
  [ $(($(date +%s%3N) - t0)) -gt 120000 ] && break
  sleep 0.2
done
if [ -z "$t_conv" ]; then
  echo "idle_nodes.sh: $n nodes never converged (not yet:$pending)" >&2
  exit 1
fi
echo "{\"name\":\"idle_converge_ms\",\"nodes\":$n,\"value\":$((t_conv - t0))}"

# ---- the idle window ---------------------------------------------------
pids() { local i; for i in $(seq 1 "$n"); do echo "${PID[$i]}"; done; }
nap "$settle"
cpu_ticks() { # the nodes' utime + stime, in clock ticks
  local p s=0 f
  for p in $(pids); do
    [ -r "/proc/$p/stat" ] || return 1
    # Fields after the ")" of comm: utime and stime are the 12th and 13th.
    read -ra f < <(sed 's/.*) //' "/proc/$p/stat")
    s=$((s + f[11] + f[12]))
  done
  echo "$s"
}
c0=$(cpu_ticks) || { echo "idle_nodes.sh: a node died" >&2; exit 1; }
w0=$(date +%s%3N)
nap "$idle"
c1=$(cpu_ticks) || { echo "idle_nodes.sh: a node died" >&2; exit 1; }
w1=$(date +%s%3N)
for p in $(pids); do
  echo "$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status") $(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 | wc -l)"
done >"$work/res"
python3 - "$n" "$work/res" "$c0" "$c1" "$w0" "$w1" "$(getconf CLK_TCK)" <<'PY' ||
import json, sys
n, res = int(sys.argv[1]), sys.argv[2]
c0, c1, w0, w1, hz = (int(x) for x in sys.argv[3:8])
rows = [tuple(int(x) for x in l.split()) for l in open(res)]
def med(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
rss, fds = [r[0] for r in rows], [r[1] for r in rows]
print(json.dumps({"name": "idle_rss_kb", "nodes": n, "median": med(rss), "max": max(rss)}))
print(json.dumps({"name": "idle_fds", "nodes": n, "median": med(fds), "max": max(fds)}))
pct = (c1 - c0) / hz / n / ((w1 - w0) / 1000) * 100
print(json.dumps({"name": "idle_cpu_pct_per_node", "nodes": n,
                  "value": round(pct, 3), "window_s": round((w1 - w0) / 1000, 1),
                  "target": 0.1, "pass": pct <= 0.1}))
PY
  exit 1

# ---- kill -9 detection at this size ------------------------------------
kill_series "$n" "$kills"
kill_report "$n" "$kills" || exit 1
stop_all
