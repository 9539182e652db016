# shellcheck shell=bash
# nodes_lib.sh — shared by the benchmarks that run `troupe run` nodes on
# loopback (detect_kill.sh, idle_nodes.sh): a work directory with a CA,
# an operator certificate and a runtime directory for the admin sockets;
# starting node I (seeded by node 1), a `troupe monitor` per node, waiting
# for every node to list all alive, and a series of kill -9s or SIGSTOPs
# timed by the survivors' node_down events. Sourced, not run; the caller sets
# `set -uo pipefail`, T (the troupe binary) and BENCH (its name, for messages), then
# calls nodes_setup. Every wait is bounded; nodes_cleanup (on EXIT, INT and
# TERM) kills every process started here.

declare -A PID=() PORT=() MON=()
work=

nodes_cleanup() {
  local p
  for p in "${PID[@]}" "${MON[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ -n "$work" ] && rm -rf "$work"
}

nodes_setup() { # nodes_setup PREFIX
  work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
  trap nodes_cleanup EXIT
  trap 'exit 130' INT TERM # through the EXIT trap
  export XDG_RUNTIME_DIR=$work/run
  mkdir -m 0700 "$XDG_RUNTIME_DIR"
  "$T" cert ca --dir "$work/certs" >/dev/null || exit 1
  "$T" cert client ops --dir "$work/certs" >/dev/null || exit 1
  export TROUPE_OPS_CA=$work/certs/ca.pem TROUPE_OPS_CERT=$work/certs/ops.pem
  export TROUPE_OPS_KEY=$work/certs/ops.key
}

free_ports() { # free_ports N: N ports free on loopback now, one a line
  python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
for s in ss: print(s.getsockname()[1])' "$1"
}

node_certs() { # node_certs N: certificates for n1..nN, made once
  local i
  for i in $(seq 1 "$1"); do
    [ -f "$work/certs/n$i.pem" ] ||
      "$T" cert node "n$i" --dir "$work/certs" >/dev/null || exit 1
  done
}

node_admin() { echo "$XDG_RUNTIME_DIR/troupe/n$1.sock"; } # node I's admin socket

start() { # start I: node nI on PORT[I], seeded by n1
  local i=$1 name=n$1
  node_certs "$i"
  local seed=()
  [ "$i" != 1 ] && seed=(--seed "127.0.0.1:${PORT[1]}")
  "$T" run --name "$name" --listen "127.0.0.1:${PORT[$i]}" --log-level info \
    --ca "$work/certs/ca.pem" --cert "$work/certs/$name.pem" \
    --key "$work/certs/$name.key" "${seed[@]}" \
    >"$work/$name.out" 2>>"$work/$name.err" &
  PID[$i]=$!
}

monitor() { # monitor I: a monitor of node I's cluster events, in mon.I
  [ -n "${MON[$1]:-}" ] && kill "${MON[$1]}" 2>/dev/null
  "$T" monitor --json --level error --node "127.0.0.1:${PORT[$1]}" \
    >>"$work/mon.$1" 2>/dev/null &
  MON[$1]=$!
}

node_alive() { # node_alive I N: node I lists N members alive
  [ "$("$T" members --json --node "$(node_admin "$1")" 2>/dev/null |
       grep -o '"state":"alive"' | wc -l)" = "$2" ]
}

alive_everywhere() { # alive_everywhere N: every node lists all alive
  local n=$1 i
  for i in $(seq 1 "$n"); do node_alive "$i" "$n" || return 1; done
}

# A long sleep that a signal cuts short (bash runs a trap only once the
# command in the foreground has ended).
nap() { sleep "$1" & wait $!; }

wait_until() { # wait_until SECONDS CMD...
  local i
  for ((i = 0; i < $1 * 10; i++)); do "${@:2}" && return 0; sleep 0.1; done
  return 1
}

stop_all() { # stop_all: monitors and nodes, gracefully, then forgotten
  local p
  for p in "${MON[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PID[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PID[@]}" "${MON[@]}"; do wait "$p" 2>/dev/null; done
  MON=() PID=()
}

# kill_series N COUNT [SIG]: with n1..nN up and alive everywhere, COUNT
# times a random non-seed node is sent SIG, KILL (the default) or STOP, and
# started again; the time from each signal to the last survivor's
# `node_down NAME dead` event (the "at" its `troupe monitor` received; the
# nodes' own log lines are rate-limited, so cannot time a fast series) goes
# to $work/times, one not seen within 30 s at 30 s (a stall is a result,
# not dropped). A stopped node keeps its sockets open, so only missed
# probes can tell; once it is declared dead (or the 30 s are up) it is
# killed with SIGKILL, which a stopped process still obeys, and started
# again like a killed one.
kill_series() {
  local n=$1 kills=$2 sig=${3:-KILL} after="" i v t0
  case $sig in
    KILL) ;;
    STOP) after=" of SIGSTOP" ;;
    *) echo "$BENCH: kill_series: SIG is KILL or STOP, not $sig" >&2; exit 2 ;;
  esac
  for i in $(seq 1 "$n"); do : >"$work/mon.$i"; monitor "$i"; done
  sleep 1 # the monitors' streams begin
  : >"$work/times"
  for _ in $(seq 1 "$kills"); do
    v=$((2 + RANDOM % (n - 1)))
    [ "$n" = 2 ] && v=2
    : >"$work/marks"
    for i in $(seq 1 "$n"); do
      echo "$work/mon.$i $(wc -l <"$work/mon.$i")" >>"$work/marks"
    done
    t0=$(date +%s%3N)
    kill -"$sig" "${PID[$v]}"
    # Not a stopped one: bash without job control waits for it to end.
    [ "$sig" = KILL ] && wait "${PID[$v]}" 2>/dev/null
    if wait_until 30 dead_all "$n" "$v"; then
      dead_times "$t0" "$v" "$n" >>"$work/times"
    else
      echo "$BENCH: n$v not dead everywhere within 30 s$after" >&2
      echo 30000 >>"$work/times"
    fi
    if [ "$sig" = STOP ]; then
      kill -KILL "${PID[$v]}"
      wait "${PID[$v]}" 2>/dev/null
    fi
    start "$v"
    wait_until 60 alive_everywhere "$n" ||
      { echo "$BENCH: n$v never came back" >&2; exit 1; }
    monitor "$v"
    sleep 0.3 # its stream begins
  done
}

dead_all() { # dead_all N V: every survivor's monitor saw nV dead since its mark
  local files=() i
  for i in $(seq 1 "$1"); do files+=("$work/mon.$i"); done
  awk -v ev="\"event\":\"node_down n$2 dead\"" -v want=$(($1 - 1)) \
    -v skip="$work/mon.$2" '
    FILENAME == marks { mark[$1] = $2; next }
    FILENAME != skip && FNR > mark[FILENAME] && index($0, ev) { seen[FILENAME] = 1 }
    END { for (f in seen) c++; exit c == want ? 0 : 1 }' \
    marks="$work/marks" "$work/marks" "${files[@]}"
}

dead_times() { # dead_times T0 V N: ms from T0 to the last survivor's event
  python3 - "$1" "$2" "$3" "$work" <<'PY'
import sys, datetime, json
t0, v, n, work = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
marks = dict(l.split() for l in open(work + "/marks"))
worst = 0
for i in range(1, n + 1):
    if str(i) == v: continue
    f = "%s/mon.%d" % (work, i)
    for l in open(f).read().splitlines()[int(marks[f]):]:
        if '"event":"node_down n%s dead"' % v in l:
            ts = json.loads(l)["at"]
            t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp() * 1000
            worst = max(worst, t - t0)
            break
print(int(worst))
PY
}

# kill_report N COUNT [SIG]: the JSON line of a kill_series with SIG:
# detect_kill9_ms (KILL, the default; targets median <= 1 s, p99 <= 1.5 s)
# or detect_sigstop_ms (STOP; target median and max <= 5 s).
kill_report() {
  python3 - "$1" "$2" "${3:-KILL}" "$work/times" <<'PY'
import json, sys
n, count, sig = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t = sorted(int(x) for x in open(sys.argv[4]).read().split())
med = t[len(t) // 2] if len(t) % 2 else (t[len(t) // 2 - 1] + t[len(t) // 2]) / 2
p99 = t[min(len(t) - 1, int(round(0.99 * (len(t) - 1))))]
name, unit = {"KILL": ("detect_kill9_ms", "kills"),
              "STOP": ("detect_sigstop_ms", "stops")}[sig]
line = {"name": name, "nodes": n, unit: count,
        "median": med, "p99": p99, "max": t[-1], "all": t}
if sig == "KILL":
    line.update(target_median_ms=1000, target_p99_ms=1500)
    line["pass"] = med <= 1000 and p99 <= 1500
else:
    line["target_ms"] = 5000
    line["pass"] = med <= 5000 and t[-1] <= 5000
print(json.dumps(line))
PY
}
