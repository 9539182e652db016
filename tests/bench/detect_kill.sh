#!/usr/bin/env bash
# detect_kill.sh — kill -9 detection with `troupe run` nodes on loopback
# (issue #21, target 5): for each cluster size, KILLS times a random
# non-seed node is killed with SIGKILL and started again; the figure is
# the time from the kill to the last survivor's `node_down NAME dead`
# event, as a `troupe monitor` on each node receives it (its "at"; the
# nodes' own log lines are rate-limited, so cannot time a fast series),
# its median and p99 over the kills (a kill not seen within 30 s counts as
# 30 s).
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
work=$(mktemp -d "${TMPDIR:-/tmp}/troupe-detect.XXXXXX")
export XDG_RUNTIME_DIR=$work/run
mkdir -m 0700 "$XDG_RUNTIME_DIR"
declare -A PID=() PORT=()
cleanup() {
  for p in "${PID[@]}" "${MON[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

"$T" cert ca --dir "$work/certs" >/dev/null || exit 1
"$T" cert client ops --dir "$work/certs" >/dev/null || exit 1
export TROUPE_OPS_CA=$work/certs/ca.pem TROUPE_OPS_CERT=$work/certs/ops.pem
export TROUPE_OPS_KEY=$work/certs/ops.key
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
start() { # start I SEED_PORT
  local i=$1 name=n$1
  [ -f "$work/certs/$name.pem" ] || "$T" cert node "$name" --dir "$work/certs" >/dev/null
  local seed=()
  [ "$i" != 1 ] && seed=(--seed "127.0.0.1:${PORT[1]}")
  "$T" run --name "$name" --listen "127.0.0.1:${PORT[$i]}" --log-level info \
    --ca "$work/certs/ca.pem" --cert "$work/certs/$name.pem" \
    --key "$work/certs/$name.key" "${seed[@]}" \
    >"$work/$name.out" 2>>"$work/$name.err" &
  PID[$i]=$!
}
declare -A MON=()
monitor() { # monitor I: a monitor of node I's cluster events, in mon.I
  [ -n "${MON[$1]:-}" ] && kill "${MON[$1]}" 2>/dev/null
  "$T" monitor --json --level error --node "127.0.0.1:${PORT[$1]}" \
    >>"$work/mon.$1" 2>/dev/null &
  MON[$1]=$!
}
alive_everywhere() { # alive_everywhere N: every node lists all alive
  local n=$1 i
  for i in $(seq 1 "$n"); do
    "$T" members --json --node "127.0.0.1:${PORT[$i]}" 2>/dev/null |
      python3 -c 'import json,sys; m=json.load(sys.stdin)
sys.exit(0 if sum(x["state"]=="alive" for x in m)=='"$n"' else 1)' || return 1
  done
}
wait_until() { # wait_until SECONDS CMD...
  local i
  for ((i = 0; i < $1 * 10; i++)); do "${@:2}" && return 0; sleep 0.1; done
  return 1
}

for n in $sizes; do
  PID=() PORT=()
  for i in $(seq 1 "$n"); do PORT[$i]=$(free_port); done
  for i in $(seq 1 "$n"); do start "$i"; done
  wait_until 60 alive_everywhere "$n" || { echo "detect_kill.sh: $n nodes never formed" >&2; exit 1; }
  for i in $(seq 1 "$n"); do : >"$work/mon.$i"; monitor "$i"; done
  sleep 1 # the monitors' streams begin
  : >"$work/times"
  for k in $(seq 1 "$kills"); do
    v=$((2 + RANDOM % (n - 1)))
    [ "$n" = 2 ] && v=2
    for i in $(seq 1 "$n"); do wc -l <"$work/mon.$i" >"$work/mark.$i"; done
    t0=$(date +%s%3N)
    kill -KILL "${PID[$v]}"
    wait "${PID[$v]}" 2>/dev/null
    dead_all() {
      local i
      for i in $(seq 1 "$n"); do
        [ "$i" = "$v" ] && continue
        tail -n +"$(($(cat "$work/mark.$i") + 1))" "$work/mon.$i" |
          grep -q "\"event\":\"node_down n$v dead\"" || return 1
      done
    }
    if ! wait_until 30 dead_all; then
      # Counted at the bound, not dropped: a stall is a result.
      echo "detect_kill.sh: n$v not dead everywhere within 30 s" >&2
      echo 30000 >>"$work/times"
      start "$v"
      wait_until 60 alive_everywhere "$n" || { echo "detect_kill.sh: n$v never came back" >&2; exit 1; }
      monitor "$v"
      sleep 0.3
      continue
    fi
    python3 - "$t0" "$v" "$n" "$work" >>"$work/times" <<'PY'
import sys, datetime, json
t0, v, n, work = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
worst = 0
for i in range(1, n + 1):
    if str(i) == v: continue
    lines = open("%s/mon.%d" % (work, i)).read().splitlines()
    mark = int(open("%s/mark.%d" % (work, i)).read())
    for l in lines[mark:]:
        if '"event":"node_down n%s dead"' % v in l:
            ts = json.loads(l)["at"]
            t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp() * 1000
            worst = max(worst, t - t0)
            break
print(int(worst))
PY
    start "$v"
    wait_until 60 alive_everywhere "$n" || { echo "detect_kill.sh: n$v never came back" >&2; exit 1; }
    monitor "$v"
    sleep 0.3 # its stream begins
  done
  python3 - "$n" "$kills" "$work/times" <<'PY'
import json, sys
n, kills = int(sys.argv[1]), int(sys.argv[2])
t = sorted(int(x) for x in open(sys.argv[3]).read().split())
med = t[len(t) // 2] if len(t) % 2 else (t[len(t) // 2 - 1] + t[len(t) // 2]) / 2
p99 = t[min(len(t) - 1, int(round(0.99 * (len(t) - 1))))]
print(json.dumps({"name": "detect_kill9_ms", "nodes": n, "kills": kills,
                  "median": med, "p99": p99, "max": t[-1], "all": t,
                  "target_median_ms": 1000, "target_p99_ms": 1500,
                  "pass": med <= 1000 and p99 <= 1500}))
PY
  for p in "${MON[@]}"; do kill "$p" 2>/dev/null; done
  MON=()
  for p in "${PID[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PID[@]}"; do wait "$p" 2>/dev/null; done
done
