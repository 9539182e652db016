#!/usr/bin/env bash
# ops.sh — the operator verbs (members, actors, groups, send, ask, sub,
# stats, health) of the real `troupe` binary. `ops.sh` (case "nodes"):
# against a 3-node cluster of ops_node processes (tests/daemon/ops_node.c)
# on loopback: answers across nodes, streams, exit codes and the messages
# of each failure. `ops.sh run`: the same verbs against 4 `troupe run`
# daemons with the example plugins, every certificate from `troupe cert`,
# a group spread over three of them, ending with one daemon killed (dead in
# members, its actors gone, its group member gone and group asks answered
# by the survivors). Every wait is
# bounded (tries x 100 ms). Environment (tests/daemon/CMakeLists.txt):
# TROUPE_BIN, OPS_NODE, PLUGIN_DIR (for "run").
set -u

: "${TROUPE_BIN:?}" "${OPS_NODE:?}"
# shellcheck source=tests/daemon/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
daemon_test_init ops-test 20

# Free ports below the ephemeral range (lib.sh): four nodes, and one that
# nobody listens on.
read -r PA PB PC PD PDOWN <<<"$(free_ports 5)"
A=127.0.0.1:$PA
B=127.0.0.1:$PB
C=127.0.0.1:$PC
D=127.0.0.1:$PD
DOWN=127.0.0.1:$PDOWN

PKI=$WORK/pki
mkdir -p "$PKI"
"$OPS_NODE" pki "$PKI" a b c d || fail "ops_node pki"
export TROUPE_OPS_CA=$PKI/ca.pem TROUPE_OPS_CERT=$PKI/client.pem
export TROUPE_OPS_KEY=$PKI/client.key TROUPE_OPS_NODE=$A

members_alive() { # members_alive N NODE: NODE sees N members alive
  "$TROUPE_BIN" members --json --node "$2" 2>/dev/null |
    python3 -c 'import json,sys; m=json.load(sys.stdin);
sys.exit(0 if sum(x["state"]=="alive" for x in m)=='"$1"' else 1)'
}
lines() { [ "$(grep -c "$2" "$1")" -ge "$3" ]; } # FILE REGEX N

start() { # start NAME ADDR SEED...
  local name=$1
  shift
  "$OPS_NODE" run "$name" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
  eval "PID_$name=$!"
}

# ops VERB ARGS...: runs troupe, output in $WORK/o.out / o.err, status in RC.
ops() {
  "$TROUPE_BIN" "$@" >"$WORK/o.out" 2>"$WORK/o.err"
  RC=$?
}
expect_rc() { # expect_rc WANT WHAT
  [ "$RC" = "$1" ] || fail "$2: exit $RC, want $1: $(cat "$WORK/o.err")"
}
json_ok() { python3 -c 'import json,sys; json.load(sys.stdin)' <"$WORK/o.out"; }
py() { python3 -c "$1" <"$WORK/o.out"; }

# ---- case "run": troupe cert + troupe run ------------------------------------
if [ "${1:-nodes}" = run ]; then
  : "${PLUGIN_DIR:?}"
  T=$TROUPE_BIN
  PKI=$WORK/certs
  export TROUPE_OPS_CA=$PKI/ca.pem
  "$T" cert ca --dir "$PKI" >/dev/null || fail "troupe cert ca"
  for n in n1 n2 n3 n4 n5; do "$T" cert node $n --dir "$PKI" >/dev/null || fail "cert $n"; done
  "$T" cert client op1 --dir "$PKI" >/dev/null || fail "troupe cert client"
  "$T" cert client v1 --role viewer --dir "$PKI" >/dev/null || fail "cert client v1"
  export TROUPE_OPS_CERT=$PKI/op1.pem TROUPE_OPS_KEY=$PKI/op1.key
  run_node() { # run_node NAME ADDR ARGS...
    local name=$1 addr=$2
    shift 2
    "$T" run --name "$name" --listen "$addr" --ca "$PKI/ca.pem" \
      --cert "$PKI/$name.pem" --key "$PKI/$name.key" \
      --plugin "$PLUGIN_DIR/echo.so" --plugin "$PLUGIN_DIR/ticker.so" "$@" \
      >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS+=($!)
  }
  run_node n1 "$A" --spawn echo:echo-n1 --spawn ticker:t1:100
  run_node n2 "$B" --seed "$A" --spawn echo:echo-n2 \
    --spawn echo:w-n2:groups=workers,all
  run_node n3 "$C" --seed "$A" --spawn echo:echo-n3 \
    --spawn echo:w-n3:groups=workers
  PID_n3=${PIDS[-1]}
  run_node n4 "$D" --seed "$A" --spawn echo:w-n4:groups=workers
  wait_for 100 members_alive 4 "$A" || fail "n1 never saw 4 members alive"
  wait_for 50 "$T" health --node "$B" || fail "n2 never became healthy"
  has_echo_n2() { "$T" actors --on n2 | grep -Eq '^echo-n2 +n2$'; }
  wait_for 100 has_echo_n2 || fail "actors never listed echo-n2 on n2"
  ops ask echo-n2 ping # asked at n1, answered by n2
  expect_rc 0 "ask echo-n2"
  [ "$(cat "$WORK/o.out")" = ping ] || fail "ask echo-n2: '$(cat "$WORK/o.out")'"
  ops send echo-n2 x --node "$B"
  expect_rc 0 "send echo-n2"
  ops send echo-n2 y
  expect_rc 0 "send echo-n2 via n1"
  two_sent() { [ "$("$T" ask echo-n2 count)" = 2 ]; }
  wait_for 30 two_sent || fail "echo-n2 never counted 2 sends"
  "$T" sub t1 prices --node "$B" --json >"$WORK/sub.out" 2>"$WORK/sub.err" &
  SUB=$!
  PIDS+=($SUB)
  wait_for 100 lines "$WORK/sub.out" '"from":"t1","node":"n1"' 3 ||
    fail "sub t1 prices via n2 printed nothing"
  kill -INT $SUB
  for ((i = 0; i < 50; i++)); do kill -0 $SUB 2>/dev/null || break; sleep 0.1; done
  kill -0 $SUB 2>/dev/null && fail "sub did not exit on SIGINT"
  wait $SUB
  [ $? = 0 ] || fail "sub after SIGINT: $(cat "$WORK/sub.err")"
  ops stats --json --node "$B"
  expect_rc 0 "stats --json"
  json_ok || fail "stats --json: $(cat "$WORK/o.out")"
  ops members --cert "$PKI/n1.pem" --key "$PKI/n1.key"
  expect_rc 2 "a node's own certificate as the client's"
  # Groups: "workers" spread over n2, n3 and n4, seen from n1 (no member
  # of its own), asked there: all three answer in turn.
  three_workers() { [ "$("$T" groups workers | grep -c '^workers ')" = 3 ]; }
  wait_for 100 three_workers || fail "n1 never listed 3 members of workers: $("$T" groups)"
  ops groups --json
  expect_rc 0 "groups --json"
  py 'import json,sys; g=json.load(sys.stdin)
assert {(x["group"],x["id"],x["node"]) for x in g} == {("workers","w-n2","n2"),("workers","w-n3","n3"),("workers","w-n4","n4"),("all","w-n2","n2")}, g' ||
    fail "groups --json: $(cat "$WORK/o.out")"
  : >"$WORK/gask.out"
  for k in 1 2 3 4 5 6; do
    ops ask --group workers "g$k" --json
    expect_rc 0 "ask --group workers"
    cat "$WORK/o.out" >>"$WORK/gask.out"
  done
  for w in w-n2 w-n3 w-n4; do
    grep -q "\"from\":\"$w\"" "$WORK/gask.out" ||
      fail "ask --group did not reach $w: $(cat "$WORK/gask.out")"
  done
  ops send --group workers hello
  expect_rc 0 "send --group workers"
  ops ask --group nobody x
  expect_rc 1 "ask --group with no member"
  grep -q TR_ENOTFOUND "$WORK/o.err" || fail "ask --group nobody: $(cat "$WORK/o.err")"
  ops send --group workers
  expect_rc 2 "send --group without data"
  ops send w-n2 x --group workers
  expect_rc 2 "send --group with an id too"
  # The third daemon: asked through another, then killed: dead in members,
  # its actors gone from the registry.
  has_echo_n3() { "$T" actors --on n3 --node "$B" | grep -Eq '^echo-n3 +n3$'; }
  wait_for 100 has_echo_n3 || fail "actors never listed echo-n3 on n3"
  ops ask echo-n3 pong --node "$B"
  expect_rc 0 "ask echo-n3 via n2"
  [ "$(cat "$WORK/o.out")" = pong ] || fail "ask echo-n3: '$(cat "$WORK/o.out")'"
  T0=$(date +%s%N)
  kill -KILL "$PID_n3"
  n3_dead() {
    "$T" members --json 2>/dev/null | python3 -c 'import json,sys
sys.exit(0 if any(x["name"]=="n3" and x["state"]=="dead" for x in json.load(sys.stdin)) else 1)'
  }
  wait_for 100 n3_dead || fail "n1 never saw n3 dead: $("$T" members 2>&1)"
  no_echo_n3() { ! "$T" actors | grep -q 'echo-n3'; }
  wait_for 50 no_echo_n3 || fail "echo-n3 still in the registry after n3 died"
  # Its group member went with it: every ask to the group now reaches
  # w-n2 or w-n4, each answered well within its bound.
  two_workers() { [ "$("$T" groups workers | grep -c '^workers ')" = 2 ]; }
  wait_for 50 two_workers || fail "w-n3 still in workers after n3 died: $("$T" groups)"
  echo "ok: w-n3 gone from workers $((($(date +%s%N) - T0) / 1000000)) ms after kill -9 of n3"
  : >"$WORK/gask.out"
  for k in 1 2 3 4; do
    ops ask --group workers "after$k" --json --timeout 3000
    expect_rc 0 "ask --group workers after n3 died"
    grep -Eq '"from":"w-n[24]"' "$WORK/o.out" || fail "ask --group after n3 died: $(cat "$WORK/o.out")"
    cat "$WORK/o.out" >>"$WORK/gask.out"
  done
  grep -q '"from":"w-n2"' "$WORK/gask.out" && grep -q '"from":"w-n4"' "$WORK/gask.out" ||
    fail "asks after n3 died did not spread over the survivors: $(cat "$WORK/gask.out")"
  # force-leave: n1 forgets the dead n3 now; an alive member or itself is
  # refused, and so is a viewer.
  ops force-leave n2
  expect_rc 1 "force-leave of an alive member"
  grep -q TR_ESTATE "$WORK/o.err" || fail "force-leave n2: $(cat "$WORK/o.err")"
  ops force-leave n3 --cert "$PKI/v1.pem" --key "$PKI/v1.key"
  expect_rc 1 "force-leave by a viewer"
  ops force-leave n3 --json
  expect_rc 0 "force-leave of dead n3"
  [ "$(cat "$WORK/o.out")" = '{"status":"ok"}' ] || fail "force-leave --json: $(cat "$WORK/o.out")"
  "$T" members | grep -q '^n3 ' && fail "n3 still listed after force-leave"
  echo "ok: force-leave n3 (dead) forgotten at n1; n2 (alive) and a viewer refused"
  # The log after all those CLI calls (issue 19, finding 5): requests by
  # verb name, a client's goodbye not a warning, a new member not "alive
  # was alive".
  grep -Eq 'event=op_request client=op1#[^ ]+ verb=members ' "$WORK/n1.err" ||
    fail "no op_request line naming its verb: $(grep op_request "$WORK/n1.err" | head -n 2)"
  if grep -E 'level=warn event=conn_closed peer=op1' "$WORK/n1.err" | head -n 1 | grep .; then
    fail "a CLI connection's close logged as a warning"
  fi
  grep -q 'event=member name=n2 state=alive was=new ' "$WORK/n1.err" ||
    fail "n2's arrival not logged was=new: $(grep 'event=member name=n2' "$WORK/n1.err" | head -n 1)"
  grep -q 'was=alive' <(grep 'event=member .*state=alive' "$WORK/n1.err") &&
    fail "a member logged state=alive was=alive"
  echo "ok: n1's log: verbs by name, CLI closes at debug, members was=new"

  # info, join, leave (issue 19): n5 starts alone; an operator has it join
  # through n1, then leave; a viewer may do neither.
  ops info --json
  expect_rc 0 "info --json"
  py 'import json,sys,time; i=json.load(sys.stdin)
assert i["name"]=="n1" and i["version"] and i["cert_cn"]=="n1" and i["cert_role"]=="node", i
assert i["cert_not_after"] > time.time() + 86400*800 and i["members_alive"] >= 3, i
assert i["uptime_ms"] > 0 and i["actors"] >= 2 and i["links"] >= 2, i' ||
    fail "info --json: $(cat "$WORK/o.out")"
  ops info
  grep -Eq '^certificate +CN=n1, role node, expires 20[0-9]{2}-' "$WORK/o.out" ||
    fail "info: $(cat "$WORK/o.out")"
  ops sub nosuch prices --timeout 3000
  expect_rc 1 "sub to a publisher no node has"
  grep -q TR_ENOTFOUND "$WORK/o.err" || fail "sub nosuch: $(cat "$WORK/o.err")"
  # The system publisher's events, streamed as lines, while n5 comes and
  # goes below.
  "$T" sub '$system' >"$WORK/system.out" 2>"$WORK/system.err" &
  SUB_PID=$!
  PIDS+=("$SUB_PID")
  sub_on() { grep -q '^troupe sub: subscribed to \$system at ' "$WORK/system.err"; }
  wait_for 50 sub_on || fail "the \$system subscription never began: $(cat "$WORK/system.err")"
  E=127.0.0.1:$(free_ports 1)
  run_node n5 "$E"
  PID_n5=${PIDS[-1]}
  wait_for 50 "$T" info --node "$E" || fail "n5 never answered"
  ops join "$A" --node "$E" --cert "$PKI/v1.pem" --key "$PKI/v1.key"
  expect_rc 1 "join by a viewer"
  grep -q TR_EPERM "$WORK/o.err" || fail "join by a viewer: $(cat "$WORK/o.err")"
  ops join nowhere --node "$E"
  expect_rc 1 "join to a bad address"
  ops join "$A" --node "$E" --json
  expect_rc 0 "join"
  n5_in() { "$T" members --json 2>/dev/null | python3 -c 'import json,sys
sys.exit(0 if any(m["name"]=="n5" and m["state"]=="alive" for m in json.load(sys.stdin)) else 1)'; }
  wait_for 100 n5_in || fail "n1 never saw n5 after troupe join"
  ops leave --node "$E" --cert "$PKI/v1.pem" --key "$PKI/v1.key"
  expect_rc 1 "leave by a viewer"
  ops leave --node "$E"
  expect_rc 0 "leave"
  for ((i = 0; i < 50; i++)); do kill -0 "$PID_n5" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$PID_n5" 2>/dev/null && fail "n5 still runs 5 s after troupe leave"
  wait "$PID_n5"
  RC=$?
  [ $RC = 0 ] || fail "n5 exited $RC after troupe leave"
  n5_left() { "$T" members --json 2>/dev/null | python3 -c 'import json,sys
sys.exit(0 if any(m["name"]=="n5" and m["state"]=="left" for m in json.load(sys.stdin)) else 1)'; }
  wait_for 50 n5_left || fail "n1 never saw n5 left"
  sys_events() { grep -qx 'node_up n5' "$WORK/system.out" &&
    grep -qx 'node_down n5 left' "$WORK/system.out"; }
  wait_for 50 sys_events || fail "sub \$system: $(cat "$WORK/system.out" "$WORK/system.err")"
  kill "$SUB_PID" 2>/dev/null
  echo "ok: sub to an unknown publisher refused; sub \$system streamed node_up n5, node_down n5 left"
  echo "ok: info (certificate n1, role node, expiry); join and leave by an operator, not a viewer; n5 left and exited 0"
  echo "ok"
  exit 0
fi

start a "$A" "$PKI"
start b "$B" "$PKI" "$A"
start c "$C" "$PKI" "$A"

# ---- members, health: all three alive ---------------------------------------
wait_for 100 members_alive 3 "$A" || fail "a never saw 3 members alive"
wait_for 100 members_alive 3 "$B" || fail "b never saw 3 members alive"
wait_for 50 "$TROUPE_BIN" health --node "$C" || fail "c never became healthy"

ops members
expect_rc 0 members
for n in a b c; do
  grep -Eq "^$n +alive " "$WORK/o.out" || fail "members text lacks $n alive"
done
# A header, the answering node marked, start times for people (issue 19).
head -n 1 "$WORK/o.out" | grep -Eq '^NAME +STATE +ADDRESS +TAGS +STARTED \(UTC\)' ||
  fail "members: no header: $(head -n 1 "$WORK/o.out")"
grep -Eq '^a +alive +127\.0\.0\.1:[0-9]+ +- +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} +epoch=[0-9]+ inc=[0-9]+ \(this node\)$' \
  "$WORK/o.out" || fail "members: a's row: $(grep '^a ' "$WORK/o.out")"
echo "ok: members text: header, start times, the answering node marked"
ops health --json --node "$B"
expect_rc 0 "health --json"
py 'import json,sys; h=json.load(sys.stdin); assert h["node"]=="b" and h["ready"] is True' ||
  fail "health --json: $(cat "$WORK/o.out")"

# ---- actors ------------------------------------------------------------------
registry_full() { # registry_full NODE: NODE resolves every actor
  "$TROUPE_BIN" actors --json --node "$1" 2>/dev/null | python3 -c 'import json,sys
got={(x["id"],x["node"]) for x in json.load(sys.stdin)}
want={(k+"."+n,n) for k in ("echo","pub") for n in "abc"}
sys.exit(0 if want<=got else 1)'
}
# Every node, not only a: the asks below start at b as well.
for node in "$A" "$B" "$C"; do
  wait_for 100 registry_full "$node" || fail "actors at $node never listed every actor with its node"
done
ops actors --on b
expect_rc 0 "actors --on b"
grep -Eq '^echo\.b +b$' "$WORK/o.out" || fail "actors --on b lacks echo.b"
grep -q '\.a ' "$WORK/o.out" && fail "actors --on b lists a's actors"
grep -q '\.c ' "$WORK/o.out" && fail "actors --on b lists c's actors"

# ---- send and ask across nodes -------------------------------------------------
ops ask echo.b hello # asked at a, answered by b
expect_rc 0 ask
[ "$(cat "$WORK/o.out")" = "b:hello" ] || fail "ask echo.b: '$(cat "$WORK/o.out")'"
ops ask echo.c hi --json --node "$B"
expect_rc 0 "ask --json"
py 'import json,sys; r=json.load(sys.stdin)
assert r=={"from":"echo.c","node":"c","data":"c:hi"}, r' || fail "ask --json: $(cat "$WORK/o.out")"
ops send echo.b "sent via a"
expect_rc 0 send
got_sent() { [ "$("$TROUPE_BIN" ask echo.b last --node "$C")" = "sent via a" ]; }
wait_for 30 got_sent || fail "echo.b never got what send sent"
ops ask nosuch x
expect_rc 1 "ask nosuch"
grep -q "TR_ENOTFOUND" "$WORK/o.err" || fail "ask nosuch: $(cat "$WORK/o.err")"
# --json answers and errors on stdout, the exit codes unchanged (issue 19).
ops send echo.b "json" --json
expect_rc 0 "send --json"
[ "$(cat "$WORK/o.out")" = '{"status":"ok"}' ] || fail "send --json: '$(cat "$WORK/o.out")'"
ops send nosuch x --json
expect_rc 1 "send --json to no actor"
py 'import json,sys; r=json.load(sys.stdin)
assert r["code"]=="TR_ENOTFOUND" and r["reason"]=="refused" and r["error"], r' ||
  fail "send --json error: $(cat "$WORK/o.out")"
ops members --json --node "$DOWN" --timeout 1000
expect_rc 1 "members --json at a node that is down"
py 'import json,sys; r=json.load(sys.stdin)
assert r["reason"]=="unreachable" and r["code"].startswith("TR_E"), r' ||
  fail "members --json unreachable: $(cat "$WORK/o.out")"
ops actors --on nosuchnode
expect_rc 1 "actors --on a node that is not a member"
grep -q "TR_ENOTFOUND" "$WORK/o.err" || fail "actors --on nosuchnode: $(cat "$WORK/o.err")"
echo "ok: --json errors on stdout with code and reason; actors --on an unknown node refused"
# The node's own operator actors (the asks above ran as '$op.*') are not
# the user's: not in stats.
ops stats --json --node "$B"
expect_rc 0 "stats --json"
py 'import json,sys; s=json.load(sys.stdin)
assert s["actors"]==2 and s["spawned"]==2 and s["stopped"]==0, s' ||
  fail "stats counts internal actors: $(cat "$WORK/o.out")"
"$TROUPE_BIN" version --json | python3 -c 'import json,sys; assert json.load(sys.stdin)["version"]' ||
  fail "version --json"
"$TROUPE_BIN" --help | grep -q '^  version ' || fail "version not in troupe --help"
echo "ok: stats without the node's internal actors; version --json, in --help"
ops send nosuch x
expect_rc 1 "send nosuch"

# ---- sub: publishes from b and c, streamed through a ----------------------------
# Two sessions at once need two client names: the node keys operator links
# by certificate name, so a second session as "ops" would take over the
# first one's link.
"$TROUPE_BIN" sub pub.b >"$WORK/sub1.out" 2>"$WORK/sub1.err" &
SUB1=$!
PIDS+=($SUB1)
"$TROUPE_BIN" sub pub.c alerts --json --cert "$PKI/client2.pem" \
  --key "$PKI/client2.key" >"$WORK/sub2.out" 2>"$WORK/sub2.err" &
SUB2=$!
PIDS+=($SUB2)
wait_for 100 lines "$WORK/sub1.out" '^tick [0-9]*$' 3 || fail "sub pub.b printed no ticks"
wait_for 100 lines "$WORK/sub2.out" '"alert' 3 || fail "sub pub.c alerts printed no alerts"
kill -INT $SUB1
kill -TERM $SUB2
for ((i = 0; i < 50; i++)); do
  kill -0 $SUB1 2>/dev/null || kill -0 $SUB2 2>/dev/null || break
  sleep 0.1
done
kill -0 $SUB1 2>/dev/null && fail "sub did not exit on SIGINT"
kill -0 $SUB2 2>/dev/null && fail "sub did not exit on SIGTERM"
wait $SUB1
[ $? = 0 ] || fail "sub after SIGINT: exit not 0: $(cat "$WORK/sub1.err")"
wait $SUB2
[ $? = 0 ] || fail "sub after SIGTERM: exit not 0: $(cat "$WORK/sub2.err")"
head -n 3 "$WORK/sub2.out" | python3 -c 'import json,sys
for l in sys.stdin:
  r=json.loads(l); assert r["from"]=="pub.c" and r["node"]=="c" and r["data"].startswith("alert "), r' ||
  fail "sub --json lines: $(head -n 3 "$WORK/sub2.out")"

# ---- stats ----------------------------------------------------------------------
ops stats --json
expect_rc 0 "stats --json"
py 'import json,sys; s=json.load(sys.stdin); assert s["node"]=="a" and s["members_alive"]==3 and s["actors"]>=2, s' ||
  fail "stats --json: $(cat "$WORK/o.out")"
ops stats
expect_rc 0 stats
grep -Eq '^members_alive +3$' "$WORK/o.out" || fail "stats text: $(cat "$WORK/o.out")"

# ---- failures: exit 1 with a message that says which ----------------------------
ops members --node "$DOWN"
expect_rc 1 "members of a node that is down"
grep -q "is down or unreachable" "$WORK/o.err" || fail "down: $(cat "$WORK/o.err")"
ops members --cert "$PKI/rogue.pem" --key "$PKI/rogue.key"
expect_rc 1 "a client cert from another CA"
grep -q "refused the client certificate" "$WORK/o.err" || fail "rogue: $(cat "$WORK/o.err")"
ops members --ca "$PKI/rogue.pem"
expect_rc 1 "a CA that is not the cluster's"
grep -q "refused the certificate of the node" "$WORK/o.err" || fail "wrong ca: $(cat "$WORK/o.err")"

# A node whose only seed is down is alive but not ready.
start d "$D" "$PKI" "$DOWN"
wait_for 50 "$TROUPE_BIN" stats --node "$D" || fail "d never answered"
ops health --node "$D"
expect_rc 1 "health of a node that has not joined"
grep -q "not ready" "$WORK/o.out" || fail "health not ready: $(cat "$WORK/o.out")"
grep -q "TR_ESTATE" "$WORK/o.err" || fail "health not ready: $(cat "$WORK/o.err")"

# ---- bad flags and files: exit 2 -------------------------------------------------
ops members --bogus
expect_rc 2 "unknown flag"
ops actors --timeout x
expect_rc 2 "bad --timeout"
ops ask echo.a
expect_rc 2 "ask without data"
ops send echo.a x y
expect_rc 2 "send with an extra argument"
ops members --cert "$WORK/nonexistent.pem"
expect_rc 2 "missing certificate file"
ops members --key "$PKI/a.key"
expect_rc 2 "a key that is not the certificate's"
TROUPE_OPS_CA= ops members
expect_rc 2 "no CA"
ops sub --on a pub.a
expect_rc 2 "--on outside actors"
ops ask --help
expect_rc 0 "ask --help"
grep -q "usage: troupe ask" "$WORK/o.out" || fail "ask --help"

# ---- a node killed: dead in members; a sub through it ends with exit 1 ----------
"$TROUPE_BIN" sub pub.a --node "$C" >"$WORK/sub3.out" 2>"$WORK/sub3.err" &
SUB3=$!
PIDS+=($SUB3)
wait_for 100 lines "$WORK/sub3.out" '^tick' 1 || fail "sub through c printed nothing"
kill -KILL "$PID_c"
member_dead() {
  "$TROUPE_BIN" members --json 2>/dev/null | python3 -c 'import json,sys
sys.exit(0 if any(x["name"]=="c" and x["state"]=="dead" for x in json.load(sys.stdin)) else 1)'
}
wait_for 100 member_dead || fail "a never saw c dead: $("$TROUPE_BIN" members 2>&1)"
for ((i = 0; i < 100; i++)); do kill -0 $SUB3 2>/dev/null || break; sleep 0.1; done
kill -0 $SUB3 2>/dev/null && fail "sub through a killed node did not end"
wait $SUB3
RC=$?
[ $RC = 1 ] || fail "sub through a killed node: exit $RC"
grep -q "closed the connection" "$WORK/sub3.err" || fail "sub3: $(cat "$WORK/sub3.err")"

echo "ok"
