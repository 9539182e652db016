#!/usr/bin/env bash
# pubsub.sh — pub/sub across 3 troupe nodes as separate processes in network
# namespaces: topics and order, one crossing per link per publish, interest
# withdrawn on unsubscribe / stop / node death, resumed when the publisher's
# node restarts, subscribing before the publisher exists, drops counted for
# a tiny mailbox. One fresh cluster per scenario; publisher P is on n1.
#
# usage: pubsub.sh BIN_DIR [--only NAME[,NAME...]]
#   BIN_DIR   where tnode and delay_proxy are (build/tests/netns)
#   --only    run these scenarios: order fanout withdraw subdead pubrestart
#             slow respawn frozen2 frozen1
# Prints PASS/FAIL per scenario. Exit 0 all passed, 1 a failure, 77 skipped
# (not root, no `ip netns`). Environment as for cluster.sh
# (TROUPE_REQUIRE_NETNS, TROUPE_NETNS_PREFIX, TROUPE_NETNS_SUBNET,
# TNODE_ARGS, TR_NETNS_KEEP).
set -uo pipefail

NET=${TROUPE_NETNS_SUBNET:-10.79.0}
N=3

BIN=${1:-}
shift || true
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=${2:-}; shift ;;
    *) echo "usage: pubsub.sh BIN_DIR [--only NAME,...]" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---- helpers --------------------------------------------------------------

# subs I: node I's `sub ...` lines (tr_node_subscriptions), without times.
subs() {
  local m l
  m=$(lines "$1")
  cmd "$1" subs
  l=$(wait_line "$1" "subs_end " 5 "$m") || return 1
  tail -n +"$((m + 1))" "$(out "$1")" | sed -n '/ subs_end /q;p' |
    grep -E '^[0-9]+ sub ' | cut -d' ' -f2-
}

# wait_interest I TOPIC NODE yes|no SECS: publisher P on node I holds (or no
# longer holds) NODE's interest in TOPIC.
wait_interest() {
  local i=$1 topic=$2 node=$3 want=$4 secs=$5 deadline have
  deadline=$(( $(now_ms) + secs * 1000 ))
  while :; do
    if subs "$i" | grep "^sub pub=P topic=$topic subscriber=- node=$node " >/dev/null; then
      have=yes
    else
      have=no
    fi
    [ "$have" = "$want" ] && return 0
    [ "$(now_ms)" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# received I SUB TOPIC FROM: the data SUB on node I got on TOPIC after line
# FROM, space-separated.
received() {
  tail -n +"$(($4 + 1))" "$(out "$1")" |
    grep -E "^[0-9]+ pub $2 from=P node=n1 topic=$3 data=" |
    sed 's/.* data=//' | tr '\n' ' ' | sed 's/ $//'
}
other_topics() {  # other_topics I SUB FROM "T1 T2": lines of any other topic
  local re
  re=$(echo "$4" | sed 's/ /|/g')
  tail -n +"$(($3 + 1))" "$(out "$1")" | grep -E "^[0-9]+ pub $2 " |
    grep -vE " topic=($re) data=" || true
}
pseq() { seq -f 'p%g' 0 $(($1 - 1)) | tr '\n' ' ' | sed 's/ $//'; }

# wait_received I SUB TOPIC FROM N SECS: SUB got N publishes on TOPIC.
wait_received() {
  local deadline got
  deadline=$(( $(now_ms) + $6 * 1000 ))
  while :; do
    got=$(received "$1" "$2" "$3" "$4" | wc -w)
    [ "$got" -ge "$5" ] && return 0
    [ "$(now_ms)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}

# pubn I TOPIC N: P on node I publishes N times; prints the `published` line.
pubn() { query "$1" "pubn P $2 $3" "published P topic=$2 n=$3 " 10; }
out_to() { echo "$1" | grep -oE " $2=[0-9]+" | cut -d= -f2; }  # out_to LINE n2

count_of() {  # count_of I SUB: how many publishes a quiet subscriber got
  query "$1" "count $2" "count $2 n=" 5 | sed 's/.* n=//'
}

# barrier I ACTOR: n1 sends "barrier" to ACTOR (an echo or a subscriber) on
# node I and waits until ACTOR has it. It leaves n1 after everything n1
# queued for node I before, on the same link, and enters ACTOR's mailbox
# after whatever that brought for ACTOR: once it is handled, anything sent
# earlier has been too. Prints the reason and returns 1 if it fails.
barrier() {
  local i=$1 a=$2 m l
  l=$(query 1 "waitloc $a n$i 5000" "waitloc_(ok|timeout) $a ")
  [[ "$l" == *waitloc_ok* ]] || { echo "n1 does not resolve $a: ${l:-no answer}"; return 1; }
  m=$(lines "$i")
  l=$(query 1 "send $a barrier" "sent $a ")
  [[ "$l" == *rc=TR_OK* ]] || { echo "send $a from n1: ${l:-no answer}"; return 1; }
  wait_line "$i" "other $a type=|recv $a from=- node=n1 n=[0-9]+ barrier" 5 "$m" >/dev/null ||
    { echo "the barrier from n1 did not reach $a on n$i"; return 1; }
}

spawn_ok() {  # spawn_ok I COMMAND ID: run a spawning command, check rc=TR_OK
  local l; l=$(query "$1" "$2" "spawned $3 ")
  [[ "$l" == *rc=TR_OK* ]] || { echo "n$1: $2: ${l:-no answer}"; return 1; }
}

# ---- scenarios ------------------------------------------------------------

# Subscribers first (the publisher does not exist yet), then P on n1; each
# subscriber gets exactly its topics, each in publish order.
scenario_order() {
  begin order "subscribe before P exists; A, B, C get exactly their topics, in order"
  start_cluster 0 || { fail "no cluster"; return; }
  local e
  e=$(spawn_ok 1 "subscriber sA P -" sA) || { fail "$e"; return; }
  e=$(spawn_ok 2 "subscriber sB1 P t1" sB1) || { fail "$e"; return; }
  e=$(spawn_ok 2 "subscriber sB2 P -" sB2) || { fail "$e"; return; }
  query 2 "sub sB2 P t2" "subscribed sB2 P topic=t2 rc=TR_OK" >/dev/null ||
    { fail "sB2 could not add t2"; return; }
  e=$(spawn_ok 3 "subscriber sC1 P t2" sC1) || { fail "$e"; return; }
  e=$(spawn_ok 3 "subscriber sC2 P t1" sC2) || { fail "$e"; return; }
  query 3 "sub sC2 P -" "subscribed sC2 P topic=- rc=TR_OK" >/dev/null ||
    { fail "sC2 could not add the default topic"; return; }
  # Every subscription is in (each answered rc=TR_OK) while no node knows
  # P: they wait for it.
  local i l
  for i in 1 2 3; do
    l=$(query "$i" "locate P" "locate P ")
    [[ "$l" == *rc=TR_ENOTFOUND* ]] || { fail "n$i resolves P before it exists: $l"; return; }
  done
  e=$(spawn_ok 1 "publisher P" P) || { fail "$e"; return; }
  local t n
  for t in - t1 t2; do for n in n2 n3; do
    wait_interest 1 "$t" "$n" yes 10 || { fail "n1 never got $n's interest in P/$t"; return; }
  done; done
  declare -A m=()
  for n in 1 2 3; do m[$n]=$(lines "$n"); done
  local k=50 l
  for t in - t1 t2 - t2 t1; do  # two rounds per topic: p0..p49 twice
    l=$(pubn 1 "$t" "$k") || { fail "no answer to pubn $t"; return; }
  done
  # Then "end" on each topic, a barrier: from P to one subscriber publishes
  # arrive in order, so once a subscriber has the "end" of each of its
  # topics, anything published before (an extra copy, another topic) is in.
  for t in - t1 t2; do
    query 1 "pub P $t end" "published P topic=$t n=1 " >/dev/null ||
      { fail "no answer to pub $t end"; return; }
  done
  local want; want="$(pseq $k) $(pseq $k) end"
  local spec sub node topics got # spec: "SUB NODE TOPIC..."
  for spec in "sA 1 -" "sB1 2 t1" "sB2 2 - t2" "sC1 3 t2" "sC2 3 t1 -"; do
    read -r sub node topics <<<"$spec"
    for t in $topics; do
      wait_received "$node" "$sub" "$t" "${m[$node]}" $((2 * k + 1)) 10 ||
        { fail "$sub on n$node: only $(received "$node" "$sub" "$t" "${m[$node]}" | wc -w) of $((2 * k + 1)) on $t"; return; }
      got=$(received "$node" "$sub" "$t" "${m[$node]}")
      [ "$got" = "$want" ] || { fail "$sub on n$node, topic $t, not exactly 2x p0..p$((k - 1)) then end: $got"; return; }
    done
    l=$(other_topics "$node" "$sub" "${m[$node]}" "$topics")
    [ -z "$l" ] || { fail "$sub on n$node got another topic: $(echo "$l" | head -3)"; return; }
  done
  pass "5 subscribers on 3 nodes, 3 topics, 2x$k publishes each, exact and in order"
}

# 100 quiet subscribers on n2: each publish crosses the n1->n2 link once.
scenario_fanout() {
  local subs_n=100 k=200
  begin fanout "$subs_n subscribers on n2, $k publishes: the n1->n2 link carries exactly $k"
  start_cluster 0 || { fail "no cluster"; return; }
  local e i l o2 o3 p0 p1 in0 in1
  e=$(spawn_ok 1 "publisher P" P) || { fail "$e"; return; }
  for i in $(seq 1 $subs_n); do cmd 2 "subscriber q$i P - 100000 quiet"; done
  e=$(spawn_ok 3 "subscriber sC P -" sC) || { fail "$e"; return; }
  wait_interest 1 - n2 yes 10 || { fail "n1 never got n2's interest"; return; }
  wait_interest 1 - n3 yes 10 || { fail "n1 never got n3's interest"; return; }
  l=$(subs 2 | grep -c '^sub pub=P topic=- subscriber=q')
  [ "$l" = "$subs_n" ] || { fail "n2 holds $l subscriptions, want $subs_n"; return; }
  l=$(subs 1 | grep -c 'subscriber=- node=n2 ')
  [ "$l" = 1 ] || { fail "n1 holds $l interests from n2, want 1"; return; }
  p0=$(query 1 "peer n2" "peer n2 " | grep -oE 'out=[0-9]+' | cut -d= -f2)
  in0=$(query 2 "peer n1" "peer n1 " | grep -oE 'in=[0-9]+' | cut -d= -f2)
  l=$(pubn 1 - "$k") || { fail "no answer to pubn"; return; }
  p1=$(query 1 "peer n2" "peer n2 " | grep -oE 'out=[0-9]+' | cut -d= -f2)
  o2=$(out_to "$l" n2); o3=$(out_to "$l" n3)
  log "  n1 over the publishing turn: ${l#* out}; \`peer n2\` out $p0 -> $p1 (around it, other traffic included)"
  [ "$o2" = "$k" ] || { fail "n1->n2 envelopes over the publishes: ${o2:-none}, want $k"; return; }
  [ "$o3" = "$k" ] || { fail "n1->n3 envelopes over the publishes: ${o3:-none}, want $k"; return; }
  local deadline=$(( $(now_ms) + 15000 )) bad
  while :; do
    bad=$(subs 2 | grep '^sub pub=P topic=- subscriber=q' | grep -vc " delivered=$k dropped=0\$")
    [ "$bad" = 0 ] && break
    [ "$(now_ms)" -ge "$deadline" ] && { fail "$bad of n2's subscribers short of $k: $(subs 2 | grep -v " delivered=$k " | head -3)"; return; }
    sleep 0.2
  done
  for i in 1 50 100; do
    l=$(count_of 2 "q$i")
    [ "$l" = "$k" ] || { fail "q$i counted $l publishes, want $k"; return; }
  done
  in1=$(query 2 "peer n1" "peer n1 " | grep -oE 'in=[0-9]+' | cut -d= -f2)
  log "  n2 \`peer n1\` in $in0 -> $in1"
  pass "n1->n2 +$o2 envelopes for $k publishes to $subs_n subscribers; each got $k"
}

# Unsubscribe and stop withdraw interest: nothing more crosses.
scenario_withdraw() {
  begin withdraw "unsubscribe and subscriber stop withdraw the node's interest"
  start_cluster 0 || { fail "no cluster"; return; }
  local e l m2 m3
  e=$(spawn_ok 1 "publisher P" P) || { fail "$e"; return; }
  e=$(spawn_ok 2 "subscriber sB P -" sB) || { fail "$e"; return; }
  e=$(spawn_ok 2 "subscriber sB2 P -" sB2) || { fail "$e"; return; }
  e=$(spawn_ok 3 "subscriber sC P -" sC) || { fail "$e"; return; }
  e=$(spawn_ok 3 "spawn x3" x3) || { fail "$e"; return; } # for a barrier
  wait_interest 1 - n2 yes 10 && wait_interest 1 - n3 yes 10 || { fail "interest not established"; return; }
  # One of two local subscribers goes: n2 still wants P.
  l=$(query 2 "unsub sB P -" "unsubscribed sB ")
  [[ "$l" == *rc=TR_OK* ]] || { fail "unsub sB: $l"; return; }
  m2=$(lines 2)
  l=$(pubn 1 - 10)
  [ "$(out_to "$l" n2)" = 10 ] || { fail "with sB2 left, n1->n2 should carry 10: $l"; return; }
  wait_received 2 sB2 - "$m2" 10 5 || { fail "sB2 did not get the 10"; return; }
  e=$(barrier 2 sB) || { fail "$e"; return; }
  [ -z "$(received 2 sB - "$m2")" ] || { fail "sB got publishes after unsubscribing: $(received 2 sB - "$m2")"; return; }
  # The last subscriber on n2 unsubscribes; the one on n3 is stopped.
  l=$(query 2 "unsub sB2 P -" "unsubscribed sB2 ")
  [[ "$l" == *rc=TR_OK* ]] || { fail "unsub sB2: $l"; return; }
  wait_interest 1 - n2 no 10 || { fail "n1 still holds n2's interest after its last unsubscribe"; return; }
  l=$(query 3 "stop sC" "stopping sC ")
  [[ "$l" == *rc=TR_OK* ]] || { fail "stop sC: $l"; return; }
  wait_interest 1 - n3 no 10 || { fail "n1 still holds n3's interest after sC stopped"; return; }
  m2=$(lines 2); m3=$(lines 3)
  local p2a p3a p2b p3b
  p2a=$(query 1 "peer n2" "peer n2 " | grep -oE 'out=[0-9]+')
  p3a=$(query 1 "peer n3" "peer n3 " | grep -oE 'out=[0-9]+')
  l=$(pubn 1 - 20)
  p2b=$(query 1 "peer n2" "peer n2 " | grep -oE 'out=[0-9]+')
  p3b=$(query 1 "peer n3" "peer n3 " | grep -oE 'out=[0-9]+')
  log "  after withdrawal: ${l#* out}; peer n2 $p2a -> $p2b, n3 $p3a -> $p3b"
  [[ "$l" == *"reached=0 "* ]] || { fail "P still reaches someone: $l"; return; }
  [ "$(out_to "$l" n2)" = 0 ] && [ "$(out_to "$l" n3)" = 0 ] || { fail "publishes still cross: $l"; return; }
  e=$(barrier 2 sB2) && e=$(barrier 3 x3) || { fail "$e"; return; }
  l=$(tail -n +"$((m2 + 1))" "$(out 2)" | grep -c ' pub ')
  [ "$l" = 0 ] || { fail "n2 printed $l publishes after withdrawal"; return; }
  l=$(tail -n +"$((m3 + 1))" "$(out 3)" | grep -c ' pub ')
  [ "$l" = 0 ] || { fail "n3 printed $l publishes after withdrawal"; return; }
  pass "unsub of 1 of 2 keeps the interest; last unsub and stop withdraw it; 0 crossings after"
}

# kill -9 of a subscriber's node: once it is dead, n1 forgets its interest
# and sends it nothing while publishing goes on.
scenario_subdead() {
  begin subdead "kill -9 of subscriber node n3: n1 stops sending to it"
  start_cluster 0 || { fail "no cluster"; return; }
  local e l m1 m2 pa pb
  e=$(spawn_ok 1 "publisher P" P) || { fail "$e"; return; }
  e=$(spawn_ok 2 "subscriber sB P -" sB) || { fail "$e"; return; }
  e=$(spawn_ok 3 "subscriber sC P -" sC) || { fail "$e"; return; }
  wait_interest 1 - n2 yes 10 && wait_interest 1 - n3 yes 10 || { fail "interest not established"; return; }
  l=$(pubn 1 - 5)
  [ "$(out_to "$l" n3)" = 5 ] || { fail "before the kill n1->n3 should carry 5: $l"; return; }
  m1=$(lines 1)
  kill -9 "${PID[3]}"
  wait_line 1 "node_down n3 " 15 "$m1" >/dev/null || { fail "n1 did not declare n3 dead in 15 s"; return; }
  wait_interest 1 - n3 no 2 || { fail "n1 still holds dead n3's interest: $(subs 1 | grep node=n3)"; return; }
  m2=$(lines 2)
  pa=$(query 1 "peer n3" "peer n3 ")
  l=$(pubn 1 - 30)
  # envelopes_out grows as an envelope is queued to the link: the
  # `published` line, printed after the publishing turn, already counts
  # whatever those 30 sent. The link's counter is read once they reached
  # n2, as a check of its own.
  wait_received 2 sB - "$m2" 30 5 || { fail "sB on n2 did not get the 30"; return; }
  pb=$(query 1 "peer n3" "peer n3 ")
  log "  n1 after n3 died: ${l#* out}; ${pa#* } -> ${pb#* }"
  [ -z "$(out_to "$l" n3)" ] || [ "$(out_to "$l" n3)" = 0 ] || { fail "publishes still sent to dead n3: $l"; return; }
  # No link (rc=TR_ENOTFOUND: it was closed at n3's death) counts as 0; a
  # link made again since (SWIM's partition-heal pass asks a dead member
  # now and then) starts from 0 and must carry no envelope.
  local oa ob
  oa=$(grep -oE 'out=[0-9]+' <<<"$pa" | cut -d= -f2); oa=${oa:-0}
  ob=$(grep -oE 'out=[0-9]+' <<<"$pb" | cut -d= -f2); ob=${ob:-0}
  [ "$ob" = "$oa" ] || [ "$ob" = 0 ] ||
    { fail "n1->n3 envelopes_out still grows: $pa -> $pb"; return; }
  [ "$(out_to "$l" n2)" = 30 ] || { fail "n1->n2 should carry 30: $l"; return; }
  [ "$(received 2 sB - "$m2")" = "$(pseq 30)" ] || { fail "sB: $(received 2 sB - "$m2")"; return; }
  pass "n3's interest gone at its death; n1->n3 flat, n2 got all 30"
}

# kill -9 of the publisher's node, restart with the same name and respawn P:
# subscribers elsewhere get its new publishes without a call of their own.
scenario_pubrestart() {
  begin pubrestart "publisher node n1 killed and restarted with P: subscriptions resume"
  start_cluster 0 || { fail "no cluster"; return; }
  local e l m n i
  e=$(spawn_ok 1 "publisher P" P) || { fail "$e"; return; }
  e=$(spawn_ok 2 "subscriber sB P -" sB) || { fail "$e"; return; }
  query 2 "sub sB P t1" "subscribed sB P topic=t1 rc=TR_OK" >/dev/null || { fail "sB t1"; return; }
  e=$(spawn_ok 3 "subscriber sC P t1" sC) || { fail "$e"; return; }
  wait_interest 1 t1 n2 yes 10 && wait_interest 1 t1 n3 yes 10 && wait_interest 1 - n2 yes 10 ||
    { fail "interest not established"; return; }
  declare -A mark=()
  for i in 2 3; do mark[$i]=$(lines "$i"); done
  kill -9 "${PID[1]}"; gone "${PID[1]}"
  m=$(lines 1)
  start_node 1
  l=$(wait_line 1 "ready |error " 10 "$m")
  [[ "$l" == *" ready "* ]] || { fail "n1 did not restart: ${l:-no ready line}"; return; }
  for i in 2 3; do
    wait_line "$i" "node_up n1 " 20 "${mark[$i]}" >/dev/null || { fail "n$i never saw the new n1 up"; return; }
  done
  e=$(spawn_ok 1 "publisher P" P) || { fail "$e"; return; }
  wait_interest 1 t1 n2 yes 15 && wait_interest 1 t1 n3 yes 15 && wait_interest 1 - n2 yes 15 ||
    { fail "the new n1 never got the interest back: $(subs 1)"; return; }
  for i in 2 3; do mark[$i]=$(lines "$i"); done
  pubn 1 t1 20 >/dev/null; pubn 1 - 20 >/dev/null
  wait_received 2 sB t1 "${mark[2]}" 20 5 && wait_received 2 sB - "${mark[2]}" 20 5 &&
    wait_received 3 sC t1 "${mark[3]}" 20 5 || { fail "publishes of the new P did not arrive"; return; }
  for n in "2 sB t1" "2 sB -" "3 sC t1"; do
    read -r i e l <<<"$n"
    [ "$(received "$i" "$e" "$l" "${mark[$i]}")" = "$(pseq 20)" ] || { fail "$e on n$i topic $l: $(received "$i" "$e" "$l" "${mark[$i]}")"; return; }
  done
  # No command reached a subscriber node since the kill.
  pass "sB (2 topics) and sC got the new P's publishes in order"
}

# A subscriber with a 4-slot mailbox that is slow, next to one with room,
# both on n2: the small one's misses are counted, the other gets all.
scenario_slow() {
  local k=2000
  begin slow "tiny-mailbox slow subscriber next to a normal one on n2, $k publishes"
  start_cluster 0 || { fail "no cluster"; return; }
  local e l m deadline s_tiny s_big d t c
  e=$(spawn_ok 1 "publisher P" P) || { fail "$e"; return; }
  e=$(spawn_ok 2 "subscriber tiny P - 4 quiet slow" tiny) || { fail "$e"; return; }
  e=$(spawn_ok 2 "subscriber big P - 100000 quiet" big) || { fail "$e"; return; }
  wait_interest 1 - n2 yes 10 || { fail "interest not established"; return; }
  l=$(pubn 1 - "$k")
  [ "$(out_to "$l" n2)" = "$k" ] || { fail "n1->n2 should carry $k: $l"; return; }
  deadline=$(( $(now_ms) + 20000 ))
  while :; do
    s_big=$(subs 2 | grep 'subscriber=big ')
    s_tiny=$(subs 2 | grep 'subscriber=tiny ')
    d=$(echo "$s_tiny" | grep -oE 'delivered=[0-9]+' | cut -d= -f2)
    t=$(echo "$s_tiny" | grep -oE 'dropped=[0-9]+' | cut -d= -f2)
    [ "$(( ${d:-0} + ${t:-0} ))" = "$k" ] && [[ "$s_big" == *" delivered=$k dropped=0" ]] && break
    [ "$(now_ms)" -ge "$deadline" ] && { fail "not settled: big: $s_big; tiny: $s_tiny"; return; }
    sleep 0.2
  done
  log "  n2: $s_tiny"
  log "  n2: $s_big"
  [ "${t:-0}" -gt 0 ] || { fail "the tiny mailbox dropped nothing"; return; }
  c=$(count_of 2 big)
  [ "$c" = "$k" ] || { fail "big counted $c, want $k"; return; }
  deadline=$(( $(now_ms) + 10000 ))
  while c=$(count_of 2 tiny); [ "$c" != "$d" ]; do
    [ "$(now_ms)" -ge "$deadline" ] && { fail "tiny counted $c, subs says delivered=$d"; return; }
    sleep 0.2
  done
  pass "tiny: $d delivered, $t dropped (counted); big: all $k"
}

# P stopped and respawned on its node at once, then moved to n3: the
# interest follows the registry without any call by the subscribers.
scenario_respawn() {
  begin respawn "P stopped and respawned on n1, then moved to n3: subscribers follow"
  start_cluster 0 || { fail "no cluster"; return; }
  local e l i m deadline
  declare -A mark=()
  e=$(spawn_ok 1 "publisher P" P) || { fail "$e"; return; }
  e=$(spawn_ok 1 "subscriber sA P -" sA) || { fail "$e"; return; }
  e=$(spawn_ok 2 "subscriber sB P -" sB) || { fail "$e"; return; }
  wait_interest 1 - n2 yes 10 || { fail "interest not established"; return; }
  m=$(lines 1)
  cmd 1 "stop P"
  wait_line 1 "actor_stop P" 5 "$m" >/dev/null || { fail "P did not stop"; return; }
  e=$(spawn_ok 1 "publisher P" P) || { fail "respawn on n1: $e"; return; }
  for i in 1 2; do mark[$i]=$(lines "$i"); done
  l=$(pubn 1 - 10)
  log "  respawned on n1 at once: ${l#* out}"
  wait_received 2 sB - "${mark[2]}" 10 5 && wait_received 1 sA - "${mark[1]}" 10 5 ||
    { fail "after the respawn on n1: sB got '$(received 2 sB - "${mark[2]}")', sA '$(received 1 sA - "${mark[1]}")' ($l)"; return; }
  # Move: stop on n1, spawn on n3 (once n3's registry has let the id go).
  m=$(lines 1)
  cmd 1 "stop P"
  wait_line 1 "actor_stop P" 5 "$m" >/dev/null || { fail "P did not stop"; return; }
  deadline=$(( $(now_ms) + 8000 ))
  until l=$(query 3 "publisher P" "spawned P "); [[ "$l" == *rc=TR_OK* ]]; do
    [ "$(now_ms)" -ge "$deadline" ] && { fail "P cannot be spawned on n3: $l"; return; }
    sleep 0.1
  done
  wait_interest 3 - n2 yes 10 || { fail "n3 never got n2's interest: $(subs 3)"; return; }
  wait_interest 3 - n1 yes 10 || { fail "n3 never got n1's interest (sA): $(subs 3)"; return; }
  wait_interest 1 - n2 no 10 || { fail "n1 still holds n2's interest in the departed P: $(subs 1)"; return; }
  for i in 1 2; do mark[$i]=$(lines "$i"); done
  l=$(query 3 "pubn P - 10" "published P topic=- n=10 " 10)
  log "  moved to n3: ${l#* out}"
  [ "$(out_to "$l" n1)" = 10 ] && [ "$(out_to "$l" n2)" = 10 ] || { fail "n3 should send 10 to n1 and n2: $l"; return; }
  for e in "2 sB" "1 sA"; do
    read -r i e <<<"$e"
    tail -n +"$((mark[$i] + 1))" "$(out "$i")" | grep -E "^[0-9]+ pub $e from=P node=n3 " >/dev/null ||
      { fail "$e on n$i got nothing from P on n3"; return; }
    l=$(tail -n +"$((mark[$i] + 1))" "$(out "$i")" | grep -E "^[0-9]+ pub $e " | sed 's/.* data=//' | tr '\n' ' ' | sed 's/ $//')
    deadline=$(( $(now_ms) + 5000 ))
    while [ "$l" != "$(pseq 10)" ] && [ "$(now_ms)" -lt "$deadline" ]; do
      sleep 0.1
      l=$(tail -n +"$((mark[$i] + 1))" "$(out "$i")" | grep -E "^[0-9]+ pub $e " | sed 's/.* data=//' | tr '\n' ' ' | sed 's/ $//')
    done
    [ "$l" = "$(pseq 10)" ] || { fail "$e on n$i from P on n3: $l"; return; }
  done
  pass "respawn in place and move to n3 both reached sA and sB"
}

# SIGSTOP node WHO until the others declare it dead, then SIGCONT: the same
# process comes back (no restart, same epoch). Publishes must reach sB and
# sC again without any call by them. WHO 2: a subscriber's node; 1: the
# publisher's node.
scenario_frozen() {
  local who=$1 e l i m
  begin "frozen$who" "n$who frozen until declared dead, then resumed: publishes reach sB, sC again"
  start_cluster 0 || { fail "no cluster"; return; }
  declare -A mark=()
  e=$(spawn_ok 1 "publisher P" P) || { fail "$e"; return; }
  e=$(spawn_ok 2 "subscriber sB P -" sB) || { fail "$e"; return; }
  e=$(spawn_ok 3 "subscriber sC P -" sC) || { fail "$e"; return; }
  wait_interest 1 - n2 yes 10 && wait_interest 1 - n3 yes 10 || { fail "interest not established"; return; }
  for i in 1 2 3; do mark[$i]=$(lines "$i"); done
  kill -STOP "${PID[$who]}"
  for i in 1 2 3; do
    [ "$i" = "$who" ] && continue
    wait_line "$i" "node_down n$who " 15 "${mark[$i]}" >/dev/null ||
      { kill -CONT "${PID[$who]}"; fail "n$i did not declare the frozen n$who dead"; return; }
  done
  kill -CONT "${PID[$who]}"
  for i in 1 2 3; do
    [ "$i" = "$who" ] && continue
    wait_line "$i" "node_up n$who " 20 "${mark[$i]}" >/dev/null || { fail "n$i never saw n$who back"; return; }
  done
  # The resumed node may still hold another member dead (its own timers
  # ran out while it was frozen) until that one refutes: a publish then
  # skips it. Every view whole first.
  wait_view "1 2 3" "$(all_alive)" 20 || { fail "views never whole after n$who resumed"; return; }
  if ! wait_interest 1 - n2 yes 15 || ! wait_interest 1 - n3 yes 5; then
    fail "after n$who was frozen and resumed, n1 lacks interest: $(subs 1 | grep 'subscriber=-' | tr '\n' ';')"
    for i in 1 2 3; do log "  n$i members: $(query "$i" members "members ")"; done
    return
  fi
  for i in 2 3; do mark[$i]=$(lines "$i"); done
  l=$(pubn 1 - 10)
  log "  after n$who resumed: ${l#* out}"
  wait_received 2 sB - "${mark[2]}" 10 5 && wait_received 3 sC - "${mark[3]}" 10 5 ||
    { fail "after n$who resumed: sB got '$(received 2 sB - "${mark[2]}")', sC '$(received 3 sC - "${mark[3]}")' ($l)"; return; }
  m=$(received 2 sB - "${mark[2]}")
  [ "$m" = "$(pseq 10)" ] || { fail "sB after n$who resumed: $m"; return; }
  pass "the interest came back without any call by the subscribers"
}

# ---- main -----------------------------------------------------------------

hosts_up "netns pubsub"

want order && scenario_order
want fanout && scenario_fanout
want withdraw && scenario_withdraw
want subdead && scenario_subdead
want pubrestart && scenario_pubrestart
want slow && scenario_slow
want respawn && scenario_respawn
# A node held dead while only frozen: what others dropped comes back.
want frozen2 && scenario_frozen 2
want frozen1 && scenario_frozen 1

finish "netns pubsub"
