#!/usr/bin/env bash
# erlang_detect.sh — Erlang distribution's own failure detection on this
# machine, the counterpart of troupe's SWIM detection figures.
#
# Five Erlang nodes (`erl -noshell`, -sname NAME@localhost, distribution
# bound to 127.0.0.1, a private cookie and HOME in a temporary directory),
# fully connected with net_kernel:connect_node, each subscribed with
# net_kernel:monitor_nodes(true, [nodedown_reason]) and logging a
# timestamped line per nodedown (erlang_detect_node.erl beside this script,
# compiled into the temporary directory). A fresh cluster per scenario:
#   kill9  SIGKILL one node: the kernel closes its sockets, the survivors
#          see the TCP connection close;
#   stop   SIGSTOP one node: hung, its sockets stay open, only the
#          distribution tick (net_ticktime) notices; the node is then
#          SIGCONTed and killed.
# Each with the default net_ticktime (60) and with -kernel net_ticktime 4.
# The figure is the time from the signal (bash $EPOCHREALTIME, just before
# kill) until ALL four survivors have logged nodedown for it (their
# os:system_time(millisecond), the same clock). One JSON line per figure:
#   {"bench":"erlang_detect","scenario":"kill9","net_ticktime":60,"nodes":5,
#    "detect_ms":12,"first_ms":9,"status":"ok","detected":4,
#    "reasons":["connection_closed"],"global_pop":true,"run":1}
# detect_ms: the last survivor; first_ms: the first. A wait is capped (120 s
# by default): when not every survivor has logged nodedown by then, the line
# has "status":"timeout","detect_ms":null (first_ms is the first survivor's
# figure if one did). "reasons" are the nodedown reasons the survivors got
# (net_tick_timeout, connection_closed, or disconnect when OTP's global,
# with prevent_overlapping_partitions — the default since OTP 25 —, took the
# connection down after another survivor lost the node).
#
# Usage: tests/bench/erlang_detect.sh [--quick] [--reps N] [--cap SECONDS]
#                                     [--no-pop]
#   --quick   only net_ticktime=4 (about 20 s)
#   --reps N  each scenario N times (default 1), one line each ("run")
#   --cap S   the longest wait for detection, seconds (default 120)
#   --no-pop  -kernel prevent_overlapping_partitions false (nodes detect on
#             their own; global does not disconnect on their behalf)
# epmd: the nodes use a private epmd on 127.0.0.1 and a free port
# (ERL_EPMD_PORT) that this script starts and stops; with ERL_EPMD_PORT set
# in the environment and an epmd already answering there, that one is used
# and left running. Needs erl, erlc and epmd (Debian: erlang-nox, listed in
# `deploy/dev.sh deps` for the benchmarks). A full run takes about 2 min.
#
# Exit status: 0 when every scenario ran (a "timeout" figure is a result,
# not a failure); 1 when the cluster could not be set up; 2 for bad usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

ticktimes=(60 4)
reps=1
cap=120
pop=true
while (($#)); do
  case $1 in
    --quick) ticktimes=(4) ;;
    --reps) reps=${2:-}; shift ;;
    --cap) cap=${2:-}; shift ;;
    --no-pop) pop=false ;;
    -h|--help) sed -n '2,45p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "erlang_detect.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ $reps =~ ^[1-9][0-9]*$ ]] || { echo "erlang_detect.sh: bad --reps" >&2; exit 2; }
[[ $cap =~ ^[1-9][0-9]*$ ]] || { echo "erlang_detect.sh: bad --cap" >&2; exit 2; }

fail() {
  printf '{"bench":"erlang_detect","error":"%s"}\n' "$1"
  exit 1
}
for tool in erl erlc epmd; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (apt-get install erlang-nox)"
done

nodes=5
ready_s=30           # the longest a cluster may take to come up
limit_s=$((cap + 180)) # each node halts by itself after this
tmp=$(mktemp -d /tmp/erlang_detect.XXXXXX)
mkdir -p "$tmp/home"
export HOME=$tmp/home  # no ~/.erlang.cookie of the user is read or written
cookie=detect$$$RANDOM
epmd_pid=
pids=()       # every node started (the erl pid is the beam's: erl execs it)

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

kill_nodes() {
  local p
  for p in "${pids[@]}"; do
    kill -CONT "$p" 2>/dev/null || true
    kill -KILL "$p" 2>/dev/null || true
  done
  # Disowned, so not wait-able: bash still reaps them; poll, bounded.
  local i
  for p in "${pids[@]}"; do
    for ((i = 0; i < 100; i++)); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.05
    done
  done
  pids=()
}

cleanup() {
  set +e
  kill_nodes
  if [[ -n $epmd_pid ]]; then
    kill "$epmd_pid" 2>/dev/null
    wait "$epmd_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

erlc -o "$tmp" "$here/erlang_detect_node.erl" >&2 ||
  fail "could not compile erlang_detect_node.erl"

# ---- epmd ------------------------------------------------------------------
if [[ -n ${ERL_EPMD_PORT:-} ]] && epmd -port "$ERL_EPMD_PORT" -names >/dev/null 2>&1; then
  echo "erlang_detect.sh: using the epmd already on port $ERL_EPMD_PORT" >&2
else
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  export ERL_EPMD_PORT=$port
  epmd -address 127.0.0.1 -port "$port" >"$tmp/epmd.log" 2>&1 &
  epmd_pid=$!
  for ((i = 0; i < 100; i++)); do
    epmd -port "$port" -names >/dev/null 2>&1 && break
    sleep 0.05
  done
  epmd -port "$port" -names >/dev/null 2>&1 || fail "epmd did not start"
fi
export ERL_EPMD_ADDRESS=127.0.0.1

# ---- one scenario ----------------------------------------------------------
# run_one SCENARIO TICKTIME RUN: starts the cluster, signals the last node,
# waits, prints the JSON line, tears the cluster down.
run_one() {
  local scen=$1 tt=$2 run=$3 i j
  local dir=$tmp/$scen-$tt-$run
  mkdir -p "$dir"
  local names=()
  for ((i = 1; i <= nodes; i++)); do names+=("ed${i}_${tt}_${run}_$$@localhost"); done
  local popargs=()
  [[ $pop == false ]] && popargs=(-kernel prevent_overlapping_partitions false)
  for ((i = 1; i <= nodes; i++)); do
    local peers=()
    for ((j = 1; j <= nodes; j++)); do ((j != i)) && peers+=("${names[j-1]}"); done
    : >"$dir/n$i.log"
    erl -noshell -noinput -sname "${names[i-1]}" -setcookie "$cookie" \
      -kernel net_ticktime "$tt" -kernel inet_dist_use_interface '{127,0,0,1}' \
      "${popargs[@]}" -pa "$tmp" \
      -run erlang_detect_node start "$dir/n$i.log" "$limit_s" "${peers[@]}" \
      >"$dir/n$i.out" 2>&1 &
    pids+=($!)
    disown $! # no "Killed" job report on stderr; kill_nodes polls instead
  done

  # Every node connected to the four others.
  local deadline=$(($(now_ms) + ready_s * 1000)) up
  while :; do
    up=0
    for ((i = 1; i <= nodes; i++)); do
      grep -q ' ready ' "$dir/n$i.log" && up=$((up + 1))
      if grep -q ' error ' "$dir/n$i.log"; then
        cat "$dir/n$i.log" "$dir/n$i.out" >&2
        fail "node $i could not connect ($scen, net_ticktime $tt)"
      fi
    done
    ((up == nodes)) && break
    if (($(now_ms) > deadline)); then
      tail -n 5 "$dir"/n*.out "$dir"/n*.log >&2
      fail "cluster not connected within ${ready_s}s ($scen, net_ticktime $tt)"
    fi
    sleep 0.05
  done
  sleep 1 # let global's name-server sync after the connects settle

  local vpid victim=${names[nodes-1]}
  vpid=$(awk '$2 == "pid" { print $3; exit }' "$dir/n$nodes.log")
  [[ -n $vpid ]] || fail "no pid for the victim node"
  local sig=KILL
  [[ $scen == stop ]] && sig=STOP
  local t0
  t0=$(now_ms)
  kill -"$sig" "$vpid"

  # Every survivor logged nodedown for the victim, or the cap.
  deadline=$((t0 + cap * 1000))
  local seen
  while :; do
    seen=0
    for ((i = 1; i < nodes; i++)); do
      grep -q " nodedown $victim " "$dir/n$i.log" && seen=$((seen + 1))
    done
    ((seen == nodes - 1)) && break
    (($(now_ms) > deadline)) && break
    sleep 0.02
  done

  local ts=() reasons=()
  for ((i = 1; i < nodes; i++)); do
    local line
    line=$(grep -m1 " nodedown $victim " "$dir/n$i.log" || true)
    [[ -n $line ]] || continue
    ts+=("${line%% *}")
    reasons+=("${line#* nodedown $victim }")
  done
  local status=ok detect=null first=null
  if ((${#ts[@]})); then
    local min=${ts[0]} max=${ts[0]} t
    for t in "${ts[@]}"; do
      ((t < min)) && min=$t
      ((t > max)) && max=$t
    done
    first=$((min - t0))
    detect=$((max - t0))
  fi
  ((${#ts[@]} == nodes - 1)) || { status=timeout; detect=null; }
  local rjson
  rjson=$(printf '%s\n' "${reasons[@]}" | sort -u | awk 'NF {
      gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); printf "%s\"%s\"", (n++ ? "," : ""), $0 }')
  printf '{"bench":"erlang_detect","scenario":"%s","net_ticktime":%d,"nodes":%d,"detect_ms":%s,"first_ms":%s,"status":"%s","detected":%d,"cap_ms":%d,"reasons":[%s],"global_pop":%s,"run":%d}\n' \
    "$scen" "$tt" "$nodes" "$detect" "$first" "$status" "${#ts[@]}" \
    $((cap * 1000)) "$rjson" "$pop" "$run"

  kill_nodes
}

for tt in "${ticktimes[@]}"; do
  for scen in kill9 stop; do
    for ((r = 1; r <= reps; r++)); do
      run_one "$scen" "$tt" "$r"
    done
  done
done
