#!/usr/bin/env bash
# detect_kill.sh — kill -9 and SIGSTOP detection with `troupe run` nodes on
# loopback (issue #21, target 5): for each cluster size, KILLS times a
# random non-seed node is killed with SIGKILL and started again, then STOPS
# times one is stopped with SIGSTOP (hung: its sockets stay open, only
# missed probes tell), killed once declared dead and started again. The
# figure is the time from the signal to the last survivor's
# `node_down NAME dead` event, as a `troupe monitor` on each node receives
# it (its "at"; the nodes' own log lines are rate-limited, so cannot time a
# fast series), its median, p99 and max over the series (one not seen
# within 30 s counts as 30 s). The nodes and the series are in nodes_lib.sh;
# Erlang's figures for the same two signals are erlang_detect.sh's.
# Two JSON lines per size:
#   {"name":"detect_kill9_ms","nodes":N,"kills":K,"median":..,"p99":..,
#    "max":..,"all":[..],"target_median_ms":1000,"target_p99_ms":1500,
#    "pass":..}
#   {"name":"detect_sigstop_ms","nodes":N,"stops":S,"median":..,"p99":..,
#    "max":..,"all":[..],"target_ms":5000,"pass":..}
# (pass: median and max within target_ms, at the default timing.)
# A benchmark, not a test: figures depend on the machine; the test suite
# runs it with --quick (a size of 3, 3 kills, 1 stop) only to keep it
# working.
#
# Usage: tests/bench/detect_kill.sh [--quick] [--sizes "2 3 5"] [--kills N]
#                                   [--stops N] TROUPE_BIN
#   --kills N  kill -9s per size (default 20)
#   --stops N  SIGSTOPs per size (default 5; 0: none)
set -uo pipefail

sizes="2 3 5"
kills=20
stops=5
usage="usage: detect_kill.sh [--quick] [--sizes LIST] [--kills N]"
usage+=" [--stops N] TROUPE_BIN"
while [ $# -gt 1 ]; do
  case $1 in
    --quick) sizes=3; kills=3; stops=1; shift ;;
    --sizes) sizes=$2; shift 2 ;;
    --kills) kills=$2; shift 2 ;;
    --stops) stops=$2; shift 2 ;;
    *) echo "detect_kill.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
T=${1:?$usage}
[[ $stops =~ ^[0-9]+$ ]] || { echo "detect_kill.sh: bad --stops" >&2; exit 2; }
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
  if [ "$stops" -gt 0 ]; then
    kill_series "$n" "$stops" STOP
    kill_report "$n" "$stops" STOP || exit 1
  fi
  stop_all
done
