# shellcheck shell=bash
# lib.sh — what the daemon test scripts share (sourced): a clean TROUPE_*
# environment, a work directory kept on failure, the processes they start
# killed on exit, fail/ok, and free loopback ports.
#
#   daemon_test_init NAME TAIL: WORK=/tmp/troupe-NAME.XXXXXX (admin sockets
#   in WORK/run); fail() shows the last TAIL lines of every WORK/*.out and
#   *.err.

daemon_test_init() {
  for v in $(env | sed -n 's/^\(TROUPE_[A-Z_]*\)=.*/\1/p'); do
    [ "$v" = TROUPE_BIN ] || unset "$v"
  done
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/troupe-$1.XXXXXX")
  # The daemons' admin sockets go in the test's own directory, so tests
  # running at once never share one (nodes of the same name) and the
  # operator verbs find only this test's nodes.
  export XDG_RUNTIME_DIR=$WORK/run
  mkdir -m 0700 "$XDG_RUNTIME_DIR"
  FAIL_TAIL=$2
  PIDS=()
  FAILED=0
  trap daemon_test_cleanup EXIT
}

daemon_test_cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  if [ "$FAILED" = 0 ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}

fail() {
  FAILED=1
  echo "FAIL: $*"
  for f in "$WORK"/*.out "$WORK"/*.err; do
    [ -s "$f" ] && { echo "--- $f"; tail -n "$FAIL_TAIL" "$f"; }
  done
  exit 1
}
ok() { echo "ok: $*"; }

# free_ports N: N ports free on 127.0.0.1 now, below the kernel's
# ephemeral range (so no outgoing connection takes one before the node
# listens on it) and picked at random (so parallel tests rarely meet).
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
try:
    hi = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    hi = 32768
got = []
while len(got) < int(sys.argv[1]):
    s = socket.socket()
    try:
        if hi > 11000:
            s.bind(("127.0.0.1", random.randrange(10000, hi)))
        else:  # no room below it: let the kernel pick
            s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        if p not in got:
            got.append(p)
    except OSError:
        pass
    finally:
        s.close()
print(*got)
PY
}

# wait_for TRIES CMD...: runs CMD every 100 ms until it succeeds.
wait_for() {
  local tries=$1 i
  shift
  for ((i = 0; i < tries; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# start_node NAME ARGS...: picks two free ports (ADDR_<NAME>=127.0.0.1:P,
# METRICS_<NAME>=M), calls the script's run_node NAME ARGS... (which starts
# the daemon, its output in $WORK/NAME.out and .err, and sets PID_<NAME>),
# and waits for its start line; a port taken meanwhile: again, on others.
start_node() {
  local name=$1 pid k p m i
  for ((k = 0; k < 3; k++)); do
    read -r p m < <(free_ports 2)
    eval "ADDR_$name=127.0.0.1:$p METRICS_$name=$m"
    run_node "$@"
    eval "pid=\$PID_$name"
    for ((i = 0; i < 100; i++)); do
      node_started "$name" && return 0
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    node_started "$name" && return 0
    kill -0 "$pid" 2>/dev/null && fail "$name did not start within 10 s"
    grep -Eq 'listen_failed|metrics: ' "$WORK/$name.err" ||
      fail "$name did not start: $(tail -n 3 "$WORK/$name.err")"
    echo "note: $name found a port taken; again on others"
  done
  fail "$name found its ports taken 3 times"
}
node_started() { grep -q "^troupe run: name=$1 " "$WORK/$1.out"; }

# metric_sum PORT FAMILY [LABEL_REGEX]: the sum of FAMILY's samples on the
# /metrics at 127.0.0.1:PORT whose line matches LABEL_REGEX; -1 when it
# does not answer.
metric_sum() {
  local body
  body=$(python3 -c 'import sys,urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
    "http://127.0.0.1:$1/metrics") || { echo "-1"; return 1; }
  awk -v fam="$2" -v re="${3:-}" '
    index($0, fam "{") == 1 && $0 ~ re { s += $NF }
    END { printf "%d\n", s }' <<<"$body"
}
