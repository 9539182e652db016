#!/usr/bin/env bash
# admin_socket.sh — the admin socket (issue 19): every operator verb
# against a node on this host without a certificate, a local-mode node's
# included. A local node (the README's first daemon example): its socket
# (0600, in a 0700 directory) in the start line; the verbs found with no
# flag and no TROUPE_OPS_* at all, text and --json, ask/sub/pub/monitor
# streams, errors (a cluster's verb on a local node, a path nobody
# answers on, another user refused); a socket file left by kill -9 taken
# over; a second node of the same name going without (default place) or
# refused (configured path); several nodes: say which. A cluster node:
# its cluster view and leave through the socket. Every wait is bounded.
# Environment: TROUPE_BIN, PLUGIN_DIR.
set -u
: "${TROUPE_BIN:?}" "${PLUGIN_DIR:?}"
# shellcheck source=tests/daemon/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
daemon_test_init admin-test 20
T=$TROUPE_BIN
DIR=$XDG_RUNTIME_DIR/troupe
SOCK=$DIR/solo.sock

ops() { "$T" "$@" >"$WORK/o.out" 2>"$WORK/o.err"; RC=$?; }
expect_rc() { [ "$RC" = "$1" ] || fail "$2: exit $RC, want $1: $(cat "$WORK/o.err" "$WORK/o.out")"; }
py() { python3 -c "$1" <"$WORK/o.out"; }
started() { grep -q "^troupe run: name=$1 " "$WORK/$1.out"; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# ---- a local node -------------------------------------------------------------
"$T" run --name solo --plugin "$PLUGIN_DIR/echo.so" --spawn echo:echo1 \
  --plugin "$PLUGIN_DIR/ticker.so" --spawn ticker:t1:100 \
  >"$WORK/solo.out" 2>"$WORK/solo.err" &
SOLO=$!
PIDS+=($SOLO)
wait_for 100 started solo || fail "solo never started"
grep -q "^troupe run: name=solo mode=local .* admin=$SOCK\$" "$WORK/solo.out" ||
  fail "start line: $(cat "$WORK/solo.out")"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "socket mode $(stat -c %a "$SOCK")"
[ "$(stat -c %a "$DIR")" = 700 ] || fail "directory mode $(stat -c %a "$DIR")"
ok "a local node's admin socket $SOCK, 0600 in a 0700 directory"

ops members
expect_rc 0 "members with no flag and no TROUPE_OPS_*"
grep -Eq '^solo +alive .*\(this node\)$' "$WORK/o.out" || fail "members: $(cat "$WORK/o.out")"
ops members --json
expect_rc 0 "members --json"
py 'import json,sys; m=json.load(sys.stdin); assert [x["name"] for x in m]==["solo"] and m[0]["self"], m' ||
  fail "members --json: $(cat "$WORK/o.out")"
ops actors --json
py 'import json,sys; a={(x["id"],x["node"]) for x in json.load(sys.stdin)}
assert {("echo1","solo"),("t1","solo")} <= a, a' || fail "actors: $(cat "$WORK/o.out")"
ops ask echo1 hello
expect_rc 0 ask
[ "$(cat "$WORK/o.out")" = hello ] || fail "ask: $(cat "$WORK/o.out")"
ops send echo1 x --json
expect_rc 0 send
[ "$(cat "$WORK/o.out")" = '{"status":"ok"}' ] || fail "send --json: $(cat "$WORK/o.out")"
ops info --json
expect_rc 0 info
py 'import json,sys; i=json.load(sys.stdin)
assert i["name"]=="solo" and i["members_alive"]==1 and i["actors"]>=2 and i["links"]==0, i' ||
  fail "info: $(cat "$WORK/o.out")"
ops health
expect_rc 0 health
ops stats --json
expect_rc 0 stats
py 'import json,sys; s=json.load(sys.stdin); assert s["node"]=="solo" and s["actors"]==2 and s["members_alive"]==1, s' ||
  fail "stats: $(cat "$WORK/o.out")"
ops groups
expect_rc 0 groups
ok "members, actors, ask, send, info, health, stats, groups on a local node, no certificate"

# Streams: sub to the local ticker, monitor the node's log.
"$T" sub t1 prices >"$WORK/sub.out" 2>"$WORK/sub.err" &
SUB=$!
PIDS+=($SUB)
"$T" monitor --level debug --json >"$WORK/mon.out" 2>"$WORK/mon.err" &
MON=$!
PIDS+=($MON)
ticks() { [ "$(grep -c . "$WORK/sub.out")" -ge 3 ]; }
wait_for 50 ticks || fail "sub t1 printed nothing: $(cat "$WORK/sub.err")"
mon_on() { grep -q '^troupe monitor: watching ' "$WORK/mon.err"; }
wait_for 50 mon_on || fail "monitor never began: $(cat "$WORK/mon.err")"
ops pub prices 1.5 --json
expect_rc 0 pub
py 'import json,sys; p=json.load(sys.stdin); assert p["publisher"]=="ops.admin" and p["node"]=="solo", p' ||
  fail "pub: $(cat "$WORK/o.out")"
mon_pub() { grep -q '"event":"op_request","fields":"client=admin#[0-9]* verb=pub ' "$WORK/mon.out"; }
wait_for 50 mon_pub || fail "monitor: no op_request verb=pub: $(tail -n 3 "$WORK/mon.out")"
kill -INT $SUB $MON
wait_for 50 gone $SUB || fail "sub did not end on SIGINT"
wait_for 50 gone $MON || fail "monitor did not end on SIGINT"
ok "sub t1 prices, pub as ops.admin, monitor --level debug through the socket"

# Errors: a cluster's verb, a socket nobody answers on, another user.
ops join 127.0.0.1:1 --json
expect_rc 1 "join on a local node"
py 'import json,sys; e=json.load(sys.stdin); assert e["code"]=="TR_ESTATE", e' ||
  fail "join --json: $(cat "$WORK/o.out")"
ops members --node "$WORK/nobody.sock"
expect_rc 1 "a socket path nobody answers on"
grep -q 'no node answers on the admin socket' "$WORK/o.err" || fail "nobody.sock: $(cat "$WORK/o.err")"
ops members --node "unix:$SOCK"
expect_rc 0 "--node unix:PATH"
if command -v setpriv >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  chmod 0755 "$WORK" "$XDG_RUNTIME_DIR" "$DIR" # the directories, not the socket
  setpriv --reuid=65534 --regid=65534 --clear-groups "$T" members --node "$SOCK" \
    >"$WORK/o.out" 2>"$WORK/o.err"
  RC=$?
  chmod 0700 "$DIR" "$XDG_RUNTIME_DIR"
  expect_rc 1 "another user on the socket"
  grep -q 'permission denied' "$WORK/o.err" || fail "another user: $(cat "$WORK/o.err")"
  ok "another user is refused by the socket's mode"
else
  echo "note: not root or no setpriv: the other-user case not run"
fi
ok "join on a local node TR_ESTATE (JSON), a dead path, unix:PATH"

# A second node named solo: the default place is the first's (it goes
# without); a configured path another node answers on is refused.
"$T" run --name solo >"$WORK/solo2.out" 2>"$WORK/solo2.err" &
S2=$!
PIDS+=($S2)
s2_started() { grep -q '^troupe run: name=solo .* admin=off$' "$WORK/solo2.out"; }
wait_for 100 s2_started || fail "the second solo: $(cat "$WORK/solo2.out" "$WORK/solo2.err")"
grep -q 'event=admin_socket_off' "$WORK/solo2.err" || fail "no admin_socket_off line"
kill -TERM $S2
"$T" run --name other --admin-socket "$SOCK" >"$WORK/o.out" 2>"$WORK/o.err"
RC=$?
expect_rc 2 "a configured admin socket another node answers on"
grep -q 'another node answers there' "$WORK/o.err" || fail "taken path: $(cat "$WORK/o.err")"
# Two nodes with sockets: the verbs ask which.
"$T" run --name two >"$WORK/two.out" 2>"$WORK/two.err" &
TWO=$!
PIDS+=($TWO)
wait_for 100 started two || fail "two never started"
ops members
expect_rc 2 "members with two nodes here"
grep -q 'several nodes run on this host' "$WORK/o.err" || fail "two nodes: $(cat "$WORK/o.err")"
ops leave --node "$DIR/two.sock" --json
expect_rc 0 "leave through the socket"
[ "$(cat "$WORK/o.out")" = '{"status":"ok"}' ] || fail "leave --json: $(cat "$WORK/o.out")"
wait_for 50 gone $TWO || fail "two still runs after leave"
[ ! -e "$DIR/two.sock" ] || fail "two's socket left behind after it stopped"
ok "same name: the default place kept by the first; a taken path refused; two nodes: say which; leave"

# A node killed leaves its socket file: the next one takes it over.
kill -KILL $SOLO
wait_for 50 gone $SOLO || fail "solo survived kill -9"
[ -S "$SOCK" ] || fail "no socket file after kill -9 (expected one left behind)"
ops members
expect_rc 2 "members when the only socket is a dead node's"
grep -q 'nor does a node answer on an admin socket' "$WORK/o.err" ||
  fail "members with a dead socket only: $(cat "$WORK/o.err")"
"$T" run --name solo >"$WORK/solo.out" 2>"$WORK/solo.err" &
SOLO=$!
PIDS+=($SOLO)
wait_for 100 started solo || fail "solo never restarted"
grep -q "admin=$SOCK\$" "$WORK/solo.out" || fail "restart did not take the socket over: $(cat "$WORK/solo.out")"
ops members
expect_rc 0 "members after the restart"
kill -TERM $SOLO
wait_for 50 gone $SOLO || fail "solo did not stop on SIGTERM"
[ ! -e "$SOCK" ] || fail "socket left behind after SIGTERM"
ok "a dead node's socket file taken over; removed on a clean stop"

# ---- a cluster node ---------------------------------------------------------------
PKI=$WORK/certs
"$T" cert ca --dir "$PKI" >/dev/null || fail "cert ca"
for n in c1 c2; do "$T" cert node $n --dir "$PKI" >/dev/null || fail "cert $n"; done
read -r P1 P2 <<<"$(free_ports 2)"
run_c() { # run_c NAME PORT ARGS...
  local name=$1 port=$2
  shift 2
  "$T" run --name "$name" --listen "127.0.0.1:$port" --ca "$PKI/ca.pem" \
    --cert "$PKI/$name.pem" --key "$PKI/$name.key" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
}
run_c c1 "$P1"
C1=${PIDS[-1]}
run_c c2 "$P2" --seed "127.0.0.1:$P1" --admin-socket off
wait_for 100 started c2 || fail "c2 never started"
grep -q ' admin=off$' "$WORK/c2.out" || fail "c2 --admin-socket off: $(cat "$WORK/c2.out")"
two_alive() { "$T" members --json --node "$DIR/c1.sock" 2>/dev/null | python3 -c 'import json,sys
sys.exit(0 if sorted(m["name"] for m in json.load(sys.stdin) if m["state"]=="alive")==["c1","c2"] else 1)'; }
wait_for 100 two_alive || fail "c1's socket never listed c1 and c2 alive: $("$T" members --node "$DIR/c1.sock" 2>&1)"
ops members
expect_rc 0 "members at the only socket, a cluster node's"
grep -Eq '^c2 +alive ' "$WORK/o.out" || fail "members via c1's socket: $(cat "$WORK/o.out")"
ops leave
expect_rc 0 "leave through a cluster node's socket"
wait_for 50 gone "$C1" || fail "c1 still runs after leave"
ok "a cluster node through its socket: the cluster's members, leave"
echo ok
