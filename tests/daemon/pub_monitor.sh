#!/usr/bin/env bash
# pub_monitor.sh — `troupe pub` and `troupe monitor` (issue 19) against two
# `troupe run` daemons with the example plugins, certificates from `troupe
# cert`. pub: an operator publisher made by the first publish, registered
# (a subscriber on the other node gets what is published), named by --as,
# refusing an id held by another actor here or on another node, and
# viewers. monitor: the node's log up to the level asked while the node's
# own log stays at warn, its cluster events (a killed member), JSON lines,
# viewers refused, a bad level a usage error, SIGINT ends it with 0.
# Every wait is bounded. Environment: TROUPE_BIN, PLUGIN_DIR.
set -u
: "${TROUPE_BIN:?}" "${PLUGIN_DIR:?}"
# shellcheck source=tests/daemon/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
daemon_test_init pubmon-test 20
T=$TROUPE_BIN

read -r PA PB <<<"$(free_ports 2)"
A=127.0.0.1:$PA
B=127.0.0.1:$PB
PKI=$WORK/certs
"$T" cert ca --dir "$PKI" >/dev/null || fail "troupe cert ca"
for n in n1 n2; do "$T" cert node $n --dir "$PKI" >/dev/null || fail "cert $n"; done
"$T" cert client op1 --dir "$PKI" >/dev/null || fail "cert client op1"
"$T" cert client v1 --role viewer --dir "$PKI" >/dev/null || fail "cert client v1"
export TROUPE_OPS_CA=$PKI/ca.pem TROUPE_OPS_CERT=$PKI/op1.pem
export TROUPE_OPS_KEY=$PKI/op1.key TROUPE_OPS_NODE=$A
VIEWER=(--cert "$PKI/v1.pem" --key "$PKI/v1.key")

run_node() { # run_node NAME ADDR ARGS...
  local name=$1 addr=$2
  shift 2
  "$T" run --name "$name" --listen "$addr" --ca "$PKI/ca.pem" \
    --cert "$PKI/$name.pem" --key "$PKI/$name.key" \
    --plugin "$PLUGIN_DIR/echo.so" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
}
ops() { "$T" "$@" >"$WORK/o.out" 2>"$WORK/o.err"; RC=$?; }
expect_rc() { [ "$RC" = "$1" ] || fail "$2: exit $RC, want $1: $(cat "$WORK/o.err")"; }
lines() { [ "$(grep -c "$2" "$1")" -ge "$3" ]; } # FILE REGEX N

run_node n1 "$A" --spawn echo:echo-n1 --log-level warn
run_node n2 "$B" --seed "$A" --spawn echo:echo-n2
PID_n2=${PIDS[-1]}
two_alive() { "$T" members --json 2>/dev/null | python3 -c 'import json,sys
sys.exit(0 if sum(m["state"]=="alive" for m in json.load(sys.stdin))==2 else 1)'; }
wait_for 100 two_alive || fail "n1 never saw n2 alive"
has_echo_n2() { "$T" actors --on n2 | grep -Eq '^echo-n2 +n2$'; }
wait_for 100 has_echo_n2 || fail "n1 never listed echo-n2"

# ---- monitor: started first, so it sees what follows ----------------------
"$T" monitor --level info --json >"$WORK/mon.out" 2>"$WORK/mon.err" &
MON=$!
PIDS+=($MON)
mon_on() { grep -q '^troupe monitor: watching ' "$WORK/mon.err"; }
wait_for 50 mon_on || fail "monitor never began: $(cat "$WORK/mon.err")"

# ---- pub ------------------------------------------------------------------
ops pub prices 1.0
expect_rc 0 "the first pub"
grep -Eq '^published as ops\.op1 on n1, topic prices: reached 0 subscribers there$' \
  "$WORK/o.out" || fail "pub: $(cat "$WORK/o.out")"
has_pub() { "$T" actors --on n1 --node "$B" | grep -Eq '^ops\.op1 +n1$'; }
wait_for 100 has_pub || fail "n2 never learned the operator publisher ops.op1"
ok "pub made the registered publisher ops.op1 on n1"
# A subscriber on n2: what is published at n1 reaches it.
"$T" sub ops.op1 prices --node "$B" --json >"$WORK/sub.out" 2>"$WORK/sub.err" &
SUB=$!
PIDS+=($SUB)
sub_on() { grep -q '^troupe sub: subscribed to ops.op1 topic prices' "$WORK/sub.err"; }
wait_for 50 sub_on || fail "sub never began: $(cat "$WORK/sub.err")"
got_it() { "$T" pub prices 2.5 >/dev/null 2>&1; grep -q '"data":"2.5"' "$WORK/sub.out"; }
wait_for 50 got_it || fail "the subscriber on n2 never got a publish: $(cat "$WORK/sub.out")"
grep -q '"from":"ops.op1","node":"n1"' "$WORK/sub.out" ||
  fail "publish not from ops.op1 on n1: $(cat "$WORK/sub.out")"
kill -INT $SUB
ok "a subscriber on n2 got what troupe pub published at n1"
ops pub --as feed ticks x --json
expect_rc 0 "pub --as feed --json"
python3 -c 'import json,sys; p=json.load(sys.stdin)
assert p=={"publisher":"feed","node":"n1","topic":"ticks","reached":0}, p' <"$WORK/o.out" ||
  fail "pub --json: $(cat "$WORK/o.out")"
ops pub --as echo-n1 x
expect_rc 1 "pub as an actor of this node that is not an operator publisher"
grep -q TR_EPERM "$WORK/o.err" || fail "pub --as echo-n1: $(cat "$WORK/o.err")"
ops pub --as echo-n2 x
expect_rc 1 "pub as an id another node holds"
grep -q TR_EEXIST "$WORK/o.err" || fail "pub --as echo-n2: $(cat "$WORK/o.err")"
ops pub x "${VIEWER[@]}"
expect_rc 1 "pub by a viewer"
grep -q TR_EPERM "$WORK/o.err" || fail "pub by a viewer: $(cat "$WORK/o.err")"
ops pub x --json "${VIEWER[@]}"
expect_rc 1 "pub --json by a viewer"
python3 -c 'import json,sys; e=json.load(sys.stdin); assert e["code"]=="TR_EPERM", e' \
  <"$WORK/o.out" || fail "pub --json error: $(cat "$WORK/o.out")"
ops pub
expect_rc 2 "pub without data"
ok "pub --as, --json; refused as echo-n1 (EPERM), echo-n2 (EEXIST), by a viewer"

# ---- monitor ----------------------------------------------------------------
# info lines of n1 (operator requests, the publisher made) reach the
# monitor while n1's own log, at warn, has none of them.
mon_has() { grep -q "$1" "$WORK/mon.out"; }
wait_for 50 mon_has '"kind":"log","level":"info","event":"operator_publisher","fields":"client=op1#[^ ]* id=feed"' ||
  fail "monitor: no operator_publisher line: $(tail -n 5 "$WORK/mon.out")"
mon_has '"event":"op_request","fields":"client=op1#[^ ]* verb=pub ' ||
  fail "monitor: no op_request line: $(tail -n 5 "$WORK/mon.out")"
grep -q 'level=info' "$WORK/n1.err" &&
  fail "n1's own log (warn) has info lines: $(grep -m1 level=info "$WORK/n1.err")"
mon_has '"level":"debug"' && fail "monitor at info sent a debug line"
python3 -c 'import json,sys
for l in sys.stdin: json.loads(l)' <"$WORK/mon.out" || fail "monitor --json: a line is not JSON"
ops monitor "${VIEWER[@]}" --timeout 3000
expect_rc 1 "monitor by a viewer"
grep -q TR_EPERM "$WORK/o.err" || fail "monitor by a viewer: $(cat "$WORK/o.err")"
ops monitor --json "${VIEWER[@]}" --timeout 3000
expect_rc 1 "monitor --json by a viewer"
python3 -c 'import json,sys; e=json.load(sys.stdin); assert e["code"]=="TR_EPERM" and e["reason"]=="refused", e' \
  <"$WORK/o.out" || fail "monitor --json error: $(cat "$WORK/o.out")"
ops monitor --level loud
expect_rc 2 "monitor --level loud"
# A member killed: the cluster event in the stream.
kill -KILL "$PID_n2"
wait_for 100 mon_has '"kind":"event","event":"node_down n2 dead"' ||
  fail "monitor: no node_down n2: $(tail -n 5 "$WORK/mon.out")"
kill -INT $MON
for ((i = 0; i < 50; i++)); do kill -0 $MON 2>/dev/null || break; sleep 0.1; done
kill -0 $MON 2>/dev/null && fail "monitor did not exit on SIGINT"
wait $MON
RC=$?
[ $RC = 0 ] || fail "monitor after SIGINT exited $RC: $(cat "$WORK/mon.err")"
ok "monitor: n1's info lines (its own log at warn), node_down n2 dead, viewer refused, SIGINT exit 0"
# Text form, debug: a line with time, node, level, event.
"$T" monitor --level debug >"$WORK/mon2.out" 2>"$WORK/mon2.err" &
MON2=$!
PIDS+=($MON2)
wait_for 50 grep -q '^troupe monitor: watching ' "$WORK/mon2.err" || fail "monitor 2 never began"
mon2() { "$T" health >/dev/null 2>&1; grep -Eq '^20[0-9-]{8}T[0-9:.]{12}Z n1 info +op_request client=op1#' "$WORK/mon2.out"; }
wait_for 50 mon2 || fail "monitor text: $(tail -n 3 "$WORK/mon2.out")"
kill -INT $MON2
ok "monitor text lines: time, node, level, event, fields"
echo ok
