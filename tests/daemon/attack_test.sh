#!/usr/bin/env bash
# attack_test.sh — issue "trust" against real processes: 3 `troupe run`
# daemons over mTLS (n1..n3, each running echo-n<i>), certificates from
# `troupe cert`, and evil (tests/daemon/evil.c), a holder of a good node
# certificate that crafts frames about n2. After each attack n2 is alive at
# its epoch and address on every node, echo-n2 is listed as n2's on every
# node and answers asks through it, and the attacked node's /metrics show
# the attempt. Then: an operator certificate named n2 cannot link as n2
# (finding 4), a node does not start with an operator certificate
# (finding 7), the policy stops evil's stop (finding 3), a revoked evil can
# no longer link (finding 6). Every wait is bounded (tries x 100 ms).
# Environment (tests/daemon/CMakeLists.txt): TROUPE_BIN, EVIL_BIN,
# PLUGIN_DIR.
set -u

: "${TROUPE_BIN:?}" "${EVIL_BIN:?}" "${PLUGIN_DIR:?}"
# shellcheck source=tests/daemon/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
daemon_test_init attack-test 20

T=$TROUPE_BIN
CERTS=$WORK/certs

# ---- certificates, policy, ports --------------------------------------------
# An operator client named like a node (finding 4) first, moved aside, then
# the node certificates (evil's is as good as theirs), the operator "ops",
# and an empty revocation list.
(
  "$T" cert ca --dir "$CERTS" &&
    "$T" cert client n2 --dir "$CERTS" &&
    mv "$CERTS/n2.pem" "$CERTS/n2-client.pem" &&
    mv "$CERTS/n2.key" "$CERTS/n2-client.key" &&
    for n in n1 n2 n3 evil; do "$T" cert node $n --dir "$CERTS" || exit 1; done &&
    "$T" cert client ops --dir "$CERTS" &&
    "$T" cert crl --dir "$CERTS"
) >"$WORK/cert.out" 2>&1 || fail "troupe cert: $(cat "$WORK/cert.out")"
export TROUPE_OPS_CA=$CERTS/ca.pem TROUPE_OPS_CERT=$CERTS/ops.pem
export TROUPE_OPS_KEY=$CERTS/ops.key

# The policy of finding 3: evil may do nothing a policy governs (register,
# send, ask, stop, subscribe); everyone else everything.
printf '# evil holds a node certificate: trust it with nothing\ndeny node:evil * *\n' \
  >"$WORK/policy"

NODES="n1 n2 n3"

# ---- the cluster ---------------------------------------------------------------
run_node() { # run_node NAME ARGS...
  local name=$1 addr metrics
  shift
  eval "addr=\$ADDR_$name metrics=\$METRICS_$name"
  "$T" run --name "$name" --listen "$addr" --ca "$CERTS/ca.pem" \
    --cert "$CERTS/$name.pem" --key "$CERTS/$name.key" \
    --crl "$CERTS/crl.pem" --policy "$WORK/policy" --metrics "$metrics" \
    --log-level info --plugin "$PLUGIN_DIR/echo.so" --spawn "echo:echo-$name" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
  eval "PID_$name=$!"
}
start_node n1
start_node n2 --seed "$ADDR_n1"
start_node n3 --seed "$ADDR_n1"

# ops VERB ARGS...: runs troupe, output in $WORK/o.out / o.err, status in RC.
ops() {
  timeout 20 "$T" "$@" >"$WORK/o.out" 2>"$WORK/o.err"
  RC=$?
}
three_alive() { # three_alive NODE
  [ "$(timeout 20 "$T" members --node "$1" 2>/dev/null | grep -Ec '^n[123] +alive ')" = 3 ]
}
resolves_all() { # resolves_all NODE: every echo-n<i> listed as n<i>'s
  local out
  out=$(timeout 20 "$T" actors --node "$1" 2>/dev/null) || return 1
  for n in $NODES; do grep -Eq "^echo-$n +$n\$" <<<"$out" || return 1; done
}
for n in $NODES; do
  eval "a=\$ADDR_$n"
  wait_for 150 three_alive "$a" || fail "$n never saw n1, n2, n3 alive"
  wait_for 150 resolves_all "$a" || fail "$n never resolved every echo-n<i>"
done
# n2 as n2 itself says: the epoch and address nobody may change.
ops members --node "$ADDR_n2"
N2_LINE=$(grep -E '^n2 +alive .*\(this node\)' "$WORK/o.out") ||
  fail "n2 does not list itself: $(cat "$WORK/o.out")"
N2_EPOCH=$(sed -n 's/.* epoch=\([0-9]*\) .*/\1/p' <<<"$N2_LINE")
[ -n "$N2_EPOCH" ] || fail "no epoch in '$N2_LINE'"
ok "3 nodes up; n2 at $ADDR_n2 epoch=$N2_EPOCH"

# ---- what every attack must leave alone ------------------------------------------
# n2_alive_on NODE: 0 alive at its epoch and address; 3 suspect (a rumour
# being checked: retried); 1 anything else.
n2_alive_on() {
  local out
  out=$(timeout 20 "$T" members --node "$1" 2>&1) || { echo "$out"; return 1; }
  if grep -Eq "^n2 +alive +$ADDR_n2 .* epoch=$N2_EPOCH " <<<"$out"; then return 0; fi
  if grep -Eq "^n2 +suspect +$ADDR_n2 .* epoch=$N2_EPOCH " <<<"$out"; then return 3; fi
  echo "$out"
  return 1
}

# unharmed WHAT: on every node, n2 alive (suspect for at most 5 s), echo-n2
# n2's and nothing else of n2's made up, and an ask through it answered.
unharmed() {
  local what=$1 n addr rc out
  for n in $NODES; do
    eval "addr=\$ADDR_$n"
    for ((k = 0; k < 50; k++)); do
      out=$(n2_alive_on "$addr")
      rc=$?
      [ $rc = 3 ] || break
      sleep 0.1
    done
    [ $rc = 0 ] || fail "after $what: $n does not hold n2 alive at epoch $N2_EPOCH, $ADDR_n2:
$out"
    ops actors --node "$addr"
    [ $RC = 0 ] || fail "after $what: actors at $n: $(cat "$WORK/o.err")"
    grep -Eq '^echo-n2 +n2$' "$WORK/o.out" ||
      fail "after $what: $n does not list echo-n2 as n2's: $(cat "$WORK/o.out")"
    grep -q 'fake' "$WORK/o.out" && fail "after $what: $n lists a made-up id: $(cat "$WORK/o.out")"
    ops ask echo-n2 "$what" --node "$addr"
    [ $RC = 0 ] || fail "after $what: ask echo-n2 at $n: $(cat "$WORK/o.err")"
    [ "$(cat "$WORK/o.out")" = "$what" ] ||
      fail "after $what: ask echo-n2 at $n answered '$(cat "$WORK/o.out")'"
  done
}

# counter NODE FAMILY [LABELS]: the sum of FAMILY's samples on NODE's
# /metrics whose labels match the regex LABELS.
counter() {
  local port
  eval "port=\$METRICS_$1"
  metric_sum "$port" "$2" "${3:-}"
}
grew() { [ "$(counter "$1" "$2" "${4:-}")" -gt "$3" ]; } # NODE FAMILY BEFORE [LABELS]

# evil NODE CERT ATTACK ARGS...: runs evil as CERT against NODE; its
# output in $WORK/evil.out / evil.err, status in RC.
evil() {
  local node=$1 cert=$2 addr
  shift 2
  eval "addr=\$ADDR_$node"
  timeout 30 "$EVIL_BIN" --node "$addr" --ca "$CERTS/ca.pem" \
    --cert "$CERTS/$cert.pem" --key "$CERTS/$cert.key" "$@" \
    >"$WORK/evil.out" 2>"$WORK/evil.err"
  RC=$?
  cat "$WORK/evil.err" >>"$WORK/evil.log"
}

# attack NODE "FAMILY..." ATTACK ARGS...: evil's attack on NODE is read
# there (exit 0), every FAMILY grows on NODE, and n2 is unharmed.
attack() {
  local node=$1 fams=$2 f
  shift 2
  local -A before
  for f in $fams; do before[$f]=$(counter "$node" "$f"); done
  evil "$node" evil "$@"
  [ $RC = 0 ] || fail "evil $* at $node: exit $RC: $(cat "$WORK/evil.err")"
  for f in $fams; do
    wait_for 50 grew "$node" "$f" "${before[$f]}" ||
      fail "evil $* at $node: $f stayed at ${before[$f]}"
  done
  unharmed "$* at $node"
  ok "$* at $node: refused${fams:+, counted in $fams}"
}

# ---- finding 1: claims only n2 may make, and rumours -------------------------
FORGED=troupe_swim_forged_claims_total
for node in n1 n3; do
  attack $node "$FORGED" swim-dead n2
  attack $node "$FORGED" swim-left n2
  attack $node "$FORGED" swim-restart n2
  attack $node "$FORGED" swim-suspect n2
  attack $node troupe_swim_death_checks_total swim-rumour n2
  attack $node "$FORGED troupe_proofs_refused_total" swim-forged-proof n2
done

# ---- finding 2: only the owner speaks for its registry set -------------------
ENTRIES=troupe_registry_forged_entries_total
for node in n1 n3; do
  attack $node "$ENTRIES" reg-set n2 fake-n2
  attack $node "$ENTRIES" reg-empty n2
  attack $node "$ENTRIES troupe_proofs_refused_total" reg-batch n2 echo-n2
  attack $node "" reg-inflate n2 # nothing to count: the node asks n2
done
# A set for n1 claiming echo-n2, to n2 itself (it would stop its echo-n2 if
# it believed n1 holds the id) and to n3.
attack n2 "$ENTRIES" reg-set n1 echo-n2
attack n3 "$ENTRIES" reg-set n1 echo-n2

# ---- finding 5: a node certificate makes no operator requests ----------------
for node in n1 n3; do
  attack $node troupe_operator_denied_total op-verb send echo-n2
  grep -qx TR_EPERM "$WORK/evil.out" || fail "op-verb send: '$(cat "$WORK/evil.out")'"
  attack $node troupe_operator_denied_total op-verb ask echo-n2
done

# ---- finding 3: the policy refuses evil's stop on the node holding echo-n2 ----
attack n2 troupe_policy_denied_total stop echo-n2
[ "$(counter n2 troupe_policy_denied_total 'who="evil",role="node",action="stop"')" -ge 1 ] ||
  fail "n2 did not count evil's stop by who, role and action"
ok "the policy's denial of evil's stop is counted as who=evil action=stop"
# Nothing evil sent was delivered: echo-n2 counted no send.
ops ask echo-n2 count --node "$ADDR_n1"
[ "$(cat "$WORK/o.out")" = 0 ] || fail "echo-n2 counted sends: '$(cat "$WORK/o.out")'"

# ---- finding 4: an operator certificate named n2 is an operator, not n2 -------
ops members --node "$ADDR_n1" --cert "$CERTS/n2-client.pem" --key "$CERTS/n2-client.key"
[ $RC = 0 ] || fail "members as the operator n2: exit $RC: $(cat "$WORK/o.err")"
grep -Eq '^n2 +alive ' "$WORK/o.out" || fail "members as the operator n2: $(cat "$WORK/o.out")"
before=$(counter n1 troupe_connections_closed_total 'reason="bad_hello"')
evil n1 n2-client swim-dead n3
[ $RC = 1 ] || fail "the operator certificate n2 linked as node n2: exit $RC: $(cat "$WORK/evil.err")"
grep -q 'refused the link as n2: bad_hello' "$WORK/evil.err" ||
  fail "refusal of the operator certificate n2: $(cat "$WORK/evil.err")"
wait_for 50 grew n1 troupe_connections_closed_total "$before" 'reason="bad_hello"' ||
  fail "n1 did not count the refused hello"
unharmed "the operator certificate n2 linking as n2"
ok "an operator certificate named n2 opens operator sessions but cannot link as n2"

# ---- finding 7: a node does not start with an operator's certificate ------------
for c in ops n2-client; do
  name=${c%-client}
  timeout 20 "$T" run --name "$name" --listen "127.0.0.1:$(free_ports 1)" --ca "$CERTS/ca.pem" \
    --cert "$CERTS/$c.pem" --key "$CERTS/$c.key" >"$WORK/f7.out" 2>"$WORK/f7.err"
  RC=$?
  [ $RC = 2 ] || fail "troupe run with $c.pem: exit $RC, want 2: $(cat "$WORK/f7.err")"
  grep -q "an operator certificate for $name" "$WORK/f7.err" ||
    fail "troupe run with $c.pem: $(cat "$WORK/f7.err")"
  ok "troupe run --name $name with $c.pem: exit 2: $(head -n 1 "$WORK/f7.err")"
done

# ---- finding 6: evil revoked, the nodes reload, evil cannot link ----------------
"$T" cert revoke evil --dir "$CERTS" >"$WORK/revoke.out" 2>&1 ||
  fail "troupe cert revoke evil: $(cat "$WORK/revoke.out")"
reloaded() { [ "$(grep -c 'event=run_reloaded tls=reloaded' "$WORK/$1.err")" -ge 1 ]; }
for n in $NODES; do
  eval "kill -HUP \$PID_$n"
done
for n in $NODES; do
  wait_for 50 reloaded "$n" || fail "$n did not reload its certificates and list"
done
for node in n1 n3; do
  before=$(counter $node troupe_tls_refused_total 'reason="revoked"')
  evil $node evil swim-dead n2
  [ $RC = 1 ] || fail "revoked evil at $node: exit $RC: $(cat "$WORK/evil.err")"
  grep -q 'certificate_revoked' "$WORK/evil.err" ||
    fail "revoked evil at $node, not told why: $(cat "$WORK/evil.err")"
  wait_for 50 grew $node troupe_tls_refused_total "$before" 'reason="revoked"' ||
    fail "$node did not count evil's handshake as revoked: $(cat "$WORK/evil.err")"
  unharmed "revoked evil at $node"
  ok "revoked evil refused at $node: $(grep -o 'refused the link.*' "$WORK/evil.err" | head -n 1)"
done

# ---- n2 never went down anywhere ---------------------------------------------------
for n in n1 n3; do
  grep -E 'event=member name=n2 state=(dead|left)|event=member name=n2 .*restarted=1' \
    "$WORK/$n.err" && fail "$n logged n2 down or restarted"
done
# All still running, and each stops cleanly: exit 0 on SIGTERM.
for n in $NODES; do
  eval "pid=\$PID_$n"
  kill -TERM "$pid" 2>/dev/null || fail "$n is no longer running"
done
for n in $NODES; do
  eval "pid=\$PID_$n"
  for ((i = 0; i < 70; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "$n still running 7 s after SIGTERM"
  wait "$pid"
  RC=$?
  [ $RC = 0 ] || fail "$n: exit $RC after SIGTERM"
done
echo "PASS: attack ($SECONDS s)"
