# shellcheck shell=bash
# lib.sh — what the daemon test scripts share (sourced): a clean TROUPE_*
# environment, a work directory kept on failure, the processes they start
# killed on exit, fail/ok, and free loopback ports.
#
#   daemon_test_init NAME TAIL: WORK=/tmp/troupe-NAME.XXXXXX; fail() shows
#   the last TAIL lines of every WORK/*.out and *.err.

daemon_test_init() {
  for v in $(env | sed -n 's/^\(TROUPE_[A-Z_]*\)=.*/\1/p'); do
    [ "$v" = TROUPE_BIN ] || unset "$v"
  done
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/troupe-$1.XXXXXX")
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
