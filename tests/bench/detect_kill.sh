#!/usr/bin/env bash
# detect_kill.sh — kill -9 detection with `troupe run` nodes on loopback
# (issue #21, target 5): for each cluster size, KILLS times a random
# non-seed node is killed with SIGKILL and started again; the figure is
# the time from the kill to the last survivor's `node_down NAME dead`
# event, as a `troupe monitor` on each node receives it (its "at"; the
# nodes' own log lines are rate-limited, so cannot time a fast series),
# its median and p99 over the kills (a kill not seen within 30 s counts as
# 30 s). The nodes and the kill series are in nodes_lib.sh.
# One JSON line per size:
#   {"name":"detect_kill9_ms","nodes":N,"kills":K,"median":..,"p99":..,
#    "max":..,"target_median_ms":1000,"target_p99_ms":1500,"pass":..}
# A benchmark, not a test: figures depend on the machine; the test suite
# runs it with --quick (a size of 3, 3 kills) only to keep it working.
#
# Usage: tests/bench/detect_kill.sh [--quick] [--sizes "2 3 5"] [--kills N]
#                                   TROUPE_BIN
set -uo pipefail

sizes="2 3 5"
kills=20
while [ $# -gt 1 ]; do
  case $1 in
    --quick) sizes=3; kills=3; shift ;;
    --sizes) sizes=$2; shift 2 ;;
    --kills) kills=$2; shift 2 ;;
    *) echo "detect_kill.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
T=${1:?usage: detect_kill.sh [--quick] [--sizes LIST] [--kills N] TROUPE_BIN}
BENCH=detect_kill.sh
# shellcheck source=nodes_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/nodes_lib.sh"
nodes_setup troupe-detect

for n in $sizes; do
  PORT=() i=0
  # shellcheck disable=SC2321 # PORT is associative: $((...)) counts
  while read -r p; do PORT[$((++i))]=$p; done < <(free_ports "$n")
  for i in $(seq 1 "$n"); do start "$i"; done
  wait_until 60 alive_everywhere "$n" ||
    { echo "detect_kill.sh: $n nodes never formed" >&2; exit 1; }
  kill_series "$n" "$kills"
  kill_report "$n" "$kills" || exit 1
  stop_all
done
