#!/usr/bin/env bash
# abuse_test.sh — issue "bounded under abuse" against real processes: 3
# `troupe run` daemons over mTLS (n1..n3, each running echo-n<i>); n2, the
# victim, runs with small limits. A prober on n1 asks echo-n2 every 20 ms
# and prints each second's p50/p99 (prober_plugin.c). Then, one at a time:
#   1. 500 silent TCP connections, 2. 500 stalled ClientHellos (finding 2),
#   3. 12 operator connections each stalling 3 MiB into a 4 MiB frame
#      (finding 2: the operator cap, the idle timeout, the memory budget),
#   4. one SWIM frame with 65,000 invented members (finding 1),
#   5. 20 registry digests of 65,536 copies of n2's own entry (finding 4),
#   6. 200 silent connections to n2's metrics port from 8 addresses while
#      /healthz is probed (finding 3),
#   7. an operator target that tries to add log fields (finding 5).
# After each: n2's RSS growth stays under a bound, its limit counters show
# the attack, every prober second answered every ask (none failed: no
# false death), and n2 is alive on every node. Figures go to stdout.
# Environment (tests/daemon/CMakeLists.txt): TROUPE_BIN, EVIL_BIN,
# PLUGIN_DIR, PROBER, ABUSE_PY; ABUSE_SANITIZED non-empty: RSS is reported,
# not bounded (a sanitizer's quarantine keeps freed memory).
set -u

: "${TROUPE_BIN:?}" "${EVIL_BIN:?}" "${PLUGIN_DIR:?}" "${PROBER:?}" "${ABUSE_PY:?}"
# shellcheck source=tests/daemon/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
daemon_test_init abuse-test 20

T=$TROUPE_BIN
CERTS=$WORK/certs
(
  "$T" cert ca --dir "$CERTS" &&
    for n in n1 n2 n3 evil; do "$T" cert node $n --dir "$CERTS" || exit 1; done &&
    "$T" cert client ops --dir "$CERTS"
) >"$WORK/cert.out" 2>&1 || fail "troupe cert: $(cat "$WORK/cert.out")"
export TROUPE_OPS_CA=$CERTS/ca.pem TROUPE_OPS_CERT=$CERTS/ops.pem
export TROUPE_OPS_KEY=$CERTS/ops.key

# n2's limits: small enough that each attack reaches them.
N2_LIMITS=(--max-pending-connections 32 --max-operator-connections 8
  --operator-idle-timeout-ms 3000 --memory-budget-mib 16 --max-members 100)

run_node() { # run_node NAME ARGS...
  local name=$1 addr metrics
  shift
  eval "addr=\$ADDR_$name metrics=\$METRICS_$name"
  "$T" run --name "$name" --listen "$addr" --ca "$CERTS/ca.pem" \
    --cert "$CERTS/$name.pem" --key "$CERTS/$name.key" --metrics "$metrics" \
    --log-level info --plugin "$PLUGIN_DIR/echo.so" --spawn "echo:echo-$name" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
  eval "PID_$name=$!"
}
# n1 runs the prober (its asks fail until n2 and echo-n2 are known).
start_node n1 --plugin "$PROBER" --spawn prober:p1:echo-n2:20
start_node n2 --seed "$ADDR_n1" "${N2_LIMITS[@]}"
start_node n3 --seed "$ADDR_n1"

alive_on() { # alive_on NODE: n1, n2, n3 alive there
  [ "$(timeout 20 "$T" members --node "$1" 2>/dev/null | grep -Ec '^n[123] +alive ')" = 3 ]
}
for n in n1 n2 n3; do
  eval "a=\$ADDR_$n"
  wait_for 150 alive_on "$a" || fail "$n never saw n1, n2, n3 alive"
done
resolves() { timeout 20 "$T" actors --node "$ADDR_n1" 2>/dev/null | grep -Eq '^echo-n2 +n2$'; }
wait_for 150 resolves || fail "n1 never resolved echo-n2"
ok "3 nodes up; n2 at $ADDR_n2 with ${N2_LIMITS[*]}"

# ---- measuring -------------------------------------------------------------------
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$PID_n2/status"; }
# counter FAMILY [LABEL_REGEX]: the sum of n2's FAMILY samples.
counter() { metric_sum "$METRICS_n2" "$@"; }
# prober_since LINE: over n1's prober lines after line LINE of n1.out:
# "asks ok failed worst_p99_us worst_max_us".
prober_since() {
  tail -n +"$(($1 + 1))" "$WORK/n1.out" | awk '
    /^prober p1 / { for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      asks += v["asks"]; okk += v["ok"]; failed += v["failed"]
      if (v["p99_us"] > p99) p99 = v["p99_us"]
      if (v["max_us"] > mx) mx = v["max_us"] }
    END { printf "%d %d %d %d %d\n", asks, okk, failed, p99, mx }'
}
lines_n1() { wc -l <"$WORK/n1.out"; }
# sample_rss SECS: n2's peak RSS (kB) over SECS seconds, into PEAK.
sample_rss() {
  local end=$((SECONDS + $1)) r
  PEAK=$(rss_kb)
  while [ $SECONDS -lt $end ]; do
    r=$(rss_kb)
    [ "$r" -gt "$PEAK" ] && PEAK=$r
    sleep 0.2
  done
}

# The prober must be answered before any attack.
have_prober() { grep -Eq '^prober p1 asks=[1-9][0-9]* ok=[1-9][0-9]* failed=0 ' "$WORK/n1.out"; }
wait_for 100 have_prober || fail "the prober never got echo-n2's answers"
BASE_RSS=$(rss_kb)
ok "prober answered; n2 RSS ${BASE_RSS} kB"

# check WHAT START_LINE BEFORE_RSS MAX_GROWTH_KB: the prober saw every ask
# answered since START_LINE, n2's peak RSS grew at most MAX_GROWTH_KB, and
# n2 is alive on n1 and n3.
check() {
  local what=$1 from=$2 before=$3 bound=$4 asks okk failed p99 mx n a
  read -r asks okk failed p99 mx < <(prober_since "$from")
  [ "$asks" -gt 0 ] || fail "$what: the prober asked nothing meanwhile"
  [ "$failed" = 0 ] || fail "$what: $failed of $asks asks to echo-n2 failed"
  # Under a sanitizer freed memory sits in quarantine: RSS says nothing.
  [ -n "${ABUSE_SANITIZED:-}" ] || [ $((PEAK - before)) -le "$bound" ] ||
    fail "$what: n2's RSS grew $((PEAK - before)) kB (bound $bound kB)"
  for n in n1 n3; do
    eval "a=\$ADDR_$n"
    wait_for 50 alive_on "$a" || fail "$what: $n does not hold n1..n3 alive"
  done
  echo "figure: $what: asks=$asks failed=0 p99_us=$p99 max_us=$mx" \
    "rss_kb=$before->$PEAK (+$((PEAK - before)))"
}

# ---- 1, 2: connections that never authenticate ----------------------------------
for kind in conns hellos; do
  from=$(lines_n1) before=$(rss_kb)
  dropped=$(counter troupe_limit_refused_total 'limit="pending_connections"')
  python3 "$ABUSE_PY" "$kind" 127.0.0.1 "${ADDR_n2##*:}" 500 4 >"$WORK/abuse.out" &
  ap=$!
  sample_rss 4
  wait $ap || fail "abuse.py $kind: $(cat "$WORK/abuse.out")"
  res=$(cat "$WORK/abuse.out")
  now=$(counter troupe_limit_refused_total 'limit="pending_connections"')
  [ "$now" -gt "$dropped" ] || fail "$kind: no pending connection dropped ($res)"
  check "500 $kind" "$from" "$before" 20000
  ok "500 $kind: $res; n2 dropped $((now - dropped)) at the cap of 32"
done

# ---- 3: operators stalling inside a large frame ----------------------------------
# 3a: 12 operators each 64 KiB into a 4 MiB frame: 8 are let in (the cap),
# and closed idle after 3 s; 3b: 6 operators each 3 MiB into one: the 16
# MiB budget closes those that would pass it.
op_stall() { # op_stall N BYTES SECS: abuse.py op-stall as ops, into $res
  python3 "$ABUSE_PY" op-stall 127.0.0.1 "${ADDR_n2##*:}" "$CERTS/ca.pem" \
    "$CERTS/ops.pem" "$CERTS/ops.key" ops "$1" "$2" "$3" >"$WORK/abuse.out" &
  local ap=$!
  sample_rss "$3"
  wait $ap || fail "abuse.py op-stall: $(cat "$WORK/abuse.out")"
  res=$(cat "$WORK/abuse.out")
}
from=$(lines_n1) before=$(rss_kb)
refused=$(counter troupe_limit_refused_total 'limit="operator_connections"')
idle=$(counter troupe_connections_closed_total 'reason="idle"')
op_stall 12 65536 6
r2=$(counter troupe_limit_refused_total 'limit="operator_connections"')
i2=$(counter troupe_connections_closed_total 'reason="idle"')
[ $((r2 - refused)) = 4 ] || fail "op-stall: $((r2 - refused)) refused, want 4 past the cap of 8 ($res)"
[ $((i2 - idle)) = 8 ] || fail "op-stall: $((i2 - idle)) closed idle, want 8 ($res)"
# The refused ones may fail already in the client's writes (not opened).
[ "$(sed -n 's/^opened=\([0-9]*\) .*/\1/p' <<<"$res")" = \
  "$(sed -n 's/.* closed=\([0-9]*\) .*/\1/p' <<<"$res")" ] ||
  fail "op-stall: n2 did not close every one within 6 s ($res)"
check "12 operators stalling inside a frame" "$from" "$before" 20000
ok "op-stall: $res; refused $((r2 - refused)) at the cap of 8, $((i2 - idle)) closed idle"

from=$(lines_n1) before=$(rss_kb)
memclosed=$(counter troupe_limit_refused_total 'limit="memory_connections"')
op_stall 6 $((3 << 20)) 5
m2=$(counter troupe_limit_refused_total 'limit="memory_connections"')
[ "$m2" -gt "$memclosed" ] || fail "op-stall: none closed at the memory budget ($res)"
check "6 operators stalling 3 MiB into a frame" "$from" "$before" 30000
ok "op-stall: $res; $((m2 - memclosed)) closed at the 16 MiB budget"

# ---- 4, 5: membership and registry floods from a node certificate ---------------
evil() {
  timeout 60 "$EVIL_BIN" --node "$ADDR_n2" --ca "$CERTS/ca.pem" \
    --cert "$CERTS/evil.pem" --key "$CERTS/evil.key" "$@" \
    >"$WORK/evil.out" 2>"$WORK/evil.err"
}
# More members than n2's cap (100) in one frame: refused whole, before any
# is decoded past the cap; 50 (under it): each refused, none has a proof.
from=$(lines_n1) before=$(rss_kb)
rejected=$(counter troupe_cluster_rejected_total)
forged=$(counter troupe_swim_forged_claims_total)
evil swim-flood 65000 &
ap=$!
sample_rss 3
wait $ap || fail "evil swim-flood 65000: $(cat "$WORK/evil.err")"
evil swim-flood 50 || fail "evil swim-flood 50: $(cat "$WORK/evil.err")"
r2=$(counter troupe_cluster_rejected_total)
f2=$(counter troupe_swim_forged_claims_total)
[ "$r2" -gt "$rejected" ] || fail "swim-flood: the 65,000-member frame was not refused"
[ $((f2 - forged)) -ge 50 ] || fail "swim-flood: $((f2 - forged)) of 50 invented members refused"
members=$(timeout 20 "$T" members --node "$ADDR_n2" 2>/dev/null | grep -c ' epoch=')
[ "$members" -le 4 ] || fail "swim-flood: n2 lists $members members"
check "SWIM frames with 65,000 and 50 invented members" "$from" "$before" 20000
ok "swim-flood: the large frame refused, $((f2 - forged)) claims refused, n2 lists $members members"

# Digests with 65,536 copies of n2's own entry (past the cap: refused
# whole), then 2,000 with 90 copies each (each copy asks for n2's set): one
# answer per message and per asker per 100 ms, the rest held back.
from=$(lines_n1) before=$(rss_kb)
rejected=$(counter troupe_cluster_rejected_total)
limited=$(counter troupe_limit_refused_total 'limit="registry_answers"')
evil reg-digest-flood n2 65536 20 &
ap=$!
sample_rss 3
wait $ap || fail "evil reg-digest-flood 65536: $(cat "$WORK/evil.err")"
evil reg-digest-flood n2 90 2000 &
ap=$!
sample_rss 3
wait $ap || fail "evil reg-digest-flood 90: $(cat "$WORK/evil.err")"
r2=$(counter troupe_cluster_rejected_total)
l2=$(counter troupe_limit_refused_total 'limit="registry_answers"')
[ $((r2 - rejected)) -ge 20 ] || fail "digest flood: $((r2 - rejected)) of the 20 large digests refused"
[ $((l2 - limited)) -ge 1000 ] || fail "digest flood: only $((l2 - limited)) answers held back of 2,000"
check "digest floods (20 x 65,536 and 2,000 x 90 copies)" "$from" "$before" 20000
ok "digest flood: 20 large digests refused, $((l2 - limited)) of 2,000 answers held back"

# ---- 6: the metrics port held ----------------------------------------------------
from=$(lines_n1) before=$(rss_kb)
python3 "$ABUSE_PY" http-hold 127.0.0.1 "$METRICS_n2" 200 4 127.0.0.2 127.0.0.3 \
  127.0.0.4 127.0.0.5 127.0.0.6 127.0.0.7 127.0.0.8 127.0.0.9 >"$WORK/abuse.out" &
ap=$!
sample_rss 4
wait $ap || fail "abuse.py http-hold: $(cat "$WORK/abuse.out")"
res=$(cat "$WORK/abuse.out")
probes=$(sed -n 's/.* probes=\([0-9]*\).*/\1/p' <<<"$res")
probes_ok=$(sed -n 's/.* probes_ok=\([0-9]*\).*/\1/p' <<<"$res")
[ -n "$probes" ] && [ "$probes" -gt 0 ] && [ "$probes" = "$probes_ok" ] ||
  fail "http-hold: /healthz answered $probes_ok of $probes probes ($res)"
check "200 held metrics connections" "$from" "$before" 20000
ok "http-hold: $res"

# ---- 7: a log field smuggled in an operator's target -----------------------------
timeout 20 "$T" ask 'x level=error event=forged' hi --node "$ADDR_n2" >/dev/null 2>&1
grep -q 'target="x level=error event=forged"' "$WORK/n2.err" ||
  fail "the target was not logged as one quoted value: $(grep op_request "$WORK/n2.err" | tail -n 2)"
# Outside quoted values, each op_request line has one level and one event.
grep -E 'event=op_request' "$WORK/n2.err" | sed 's/"\([^"\\]\|\\.\)*"//g' |
  grep -E ' level=.* level=| event=.* event=' >/dev/null &&
  fail "an op_request line carries a second level or event field"
ok "an operator target is logged as one value"

# Finding 1: operator connections never took a peer entry (only nodes do):
# n1, n3 and evil, whatever connected meanwhile.
peers=$(counter troupe_peers)
[ "$peers" -le 3 ] || fail "n2's peer table holds $peers entries after the attacks"
ok "n2's peer table holds $peers entries (n1, n3, evil) after every operator connection"

END_RSS=$(rss_kb)
echo "figure: n2 RSS start=${BASE_RSS} kB end=${END_RSS} kB"
ok "n2 stayed bounded and answered its peers through every attack"
