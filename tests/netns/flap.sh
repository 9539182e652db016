#!/usr/bin/env bash
# flap.sh — link flaps under loss and delay: 5 nodes in network namespaces,
# each behind a delay proxy, random loss on every host; while n1 streams
# numbered asks to an echo actor on n3 and n2 streams numbered sends to n4,
# the n1<->n3 and n2<->n4 TCP connections are reset again and again.
# Checks: every ask gets exactly one answer (a reply or an error), the echo
# on n3 sees no ask twice and in order, n4 sees every send once and in order.
#
# usage: flap.sh BIN_DIR   (BIN_DIR: where tnode and delay_proxy are)
# Exit 0 passed, 1 a failure, 77 skipped (not root, no `ip netns`, no
# working iptables). Environment: TROUPE_REQUIRE_NETNS=1 (CI: fail instead
# of skipping), TROUPE_NETNS_PREFIX (default trn<pid>-),
# TROUPE_NETNS_SUBNET (default 10.79.0), TR_FLAP_COUNT (asks and sends per
# stream, default 1000), TR_FLAP_INTERVAL_MS (between them, default 50),
# TR_FLAP_DELAY_MS (proxy delay each way, default 30), TR_FLAP_LOSS (default
# 0.03), TR_FLAP_DOWN_MS (how long each flap lasts, default 1000),
# TR_FLAP_EVERY_MS (from one flap to the next, default 5000), TNODE_ARGS,
# TR_NETNS_KEEP=1 (keep every node's output).
set -uo pipefail

NET=${TROUPE_NETNS_SUBNET:-10.79.0}
N=5
ONLY=""
BIN=${1:-}
[ -n "$BIN" ] || { echo "usage: flap.sh BIN_DIR" >&2; exit 2; }

COUNT=${TR_FLAP_COUNT:-1000}
INTERVAL=${TR_FLAP_INTERVAL_MS:-50}
DELAY=${TR_FLAP_DELAY_MS:-30}
LOSS=${TR_FLAP_LOSS:-0.03}
DOWN_MS=${TR_FLAP_DOWN_MS:-1000}
EVERY_MS=${TR_FLAP_EVERY_MS:-5000}

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ "$HAVE_IPTABLES" = 1 ] || skip "$NO_IPTABLES"

# A flap of the pair A<->B: every TCP segment from the other host is
# answered with a reset (both directions, whoever dialled), and `ss -K`
# destroys the open sockets at once where the kernel allows it. Then the
# rules go and the link layer reconnects.
flap_rule() {  # flap_rule -I|-D A B
  nsx "$2" iptables -w "$1" INPUT -s "$NET.$3" -p tcp -j REJECT --reject-with tcp-reset
  nsx "$3" iptables -w "$1" INPUT -s "$NET.$2" -p tcp -j REJECT --reject-with tcp-reset
}
SS_KILL=0
flap_down() {  # flap_down A B
  flap_rule -I "$1" "$2" || return 1
  if [ "$SS_KILL" = 1 ]; then
    nsx "$1" ss -K dst "$NET.$2" >/dev/null 2>&1
    nsx "$2" ss -K dst "$NET.$1" >/dev/null 2>&1
  fi
  return 0
}
flap_up() { flap_rule -D "$1" "$2"; }

stat_of() {  # stat_of I FIELD
  query "$1" stats "stats " | grep -o " $2=[0-9]*" | cut -d= -f2
}

# Lines of node I's output after line FROM that match REGEX.
since() { tail -n +"$(($2 + 1))" "$(out "$1")" | grep -E "^[0-9]+ ($3)"; }

# Numbers (one a line, in arrival order) -> "dups=D disorder=O missing=M".
# missing counts 1..COUNT not present.
seq_check() {
  awk -v n="$COUNT" '
    { if (seen[$1]++) d++; else { if ($1 <= last) o++; last = $1 } }
    END { m = 0; for (k = 1; k <= n; k++) if (!(k in seen)) m++;
          printf "dups=%d disorder=%d missing=%d", d, o, m }'
}

scenario_flap() {
  begin flap "$COUNT asks n1->n3 and sends n2->n4 every ${INTERVAL} ms, ${DELAY} ms delay, loss $LOSS, link resets of ${DOWN_MS} ms every ${EVERY_MS} ms"
  start_cluster "$DELAY" || { fail "no cluster"; return; }
  local i l
  cmd 1 "spawn e1"; cmd 2 "spawn e2"; cmd 3 "spawn e3"; cmd 4 "spawn e4"
  for i in 1 2; do
    l=$(query "$i" "waitloc e$((i + 2)) n$((i + 2)) 8000" "waitloc_(ok|timeout) e$((i + 2)) " 10)
    [[ "$l" == *waitloc_ok* ]] || { fail "e$((i + 2)) not resolvable on n$i: $l"; return; }
  done
  # ss -K needs CONFIG_INET_DIAG_DESTROY; the resets do the job without it.
  if nsx 1 ss -K dst 192.0.2.1 >/dev/null 2>&1; then SS_KILL=1; fi
  log "  ss -K available: $SS_KILL"

  declare -A mark=() und0=()
  for i in $(seq 1 $N); do mark[$i]=$(lines "$i"); und0[$i]=$(stat_of "$i" undeliverable); done
  loss_all "$LOSS" || { fail "iptables statistic match unavailable"; return; }
  cmd 1 "askstream e1 e3 $COUNT $INTERVAL"
  cmd 2 "sendstream e2 e4 $COUNT $INTERVAL"

  # Flap while the streams run (their length, less the last stretch, so the
  # tail of each stream crosses a healed link).
  local run_ms=$(( COUNT * INTERVAL )) t0 flaps=0
  t0=$(now_ms)
  sleep 2
  while [ $(( $(now_ms) - t0 + EVERY_MS )) -lt "$run_ms" ]; do
    if ! flap_down 1 3 || ! flap_down 2 4; then
      heal_all_rules; fail "iptables REJECT unavailable"; return
    fi
    sleep "$(awk -v m="$DOWN_MS" 'BEGIN { printf "%.3f", m / 1000 }')"
    flap_up 1 3; flap_up 2 4
    flaps=$((flaps + 1))
    sleep "$(awk -v m="$((EVERY_MS - DOWN_MS))" 'BEGIN { printf "%.3f", m / 1000 }')"
  done
  log "  $flaps flaps; waiting for the streams to end"
  wait_line 1 "stream_done e1 " 60 "${mark[1]}" >/dev/null || { fail "askstream on n1 never ended"; return; }
  wait_line 2 "stream_done e2 " 60 "${mark[2]}" >/dev/null || { fail "sendstream on n2 never ended"; return; }
  # Every ask is answered within the ask timeout (5 s) plus the delays.
  local deadline=$(( $(now_ms) + 15000 )) answers=0 recvs=0
  while [ "$(now_ms)" -lt "$deadline" ]; do
    answers=$(since 1 "${mark[1]}" "askres e1 " | wc -l)
    recvs=$(since 4 "${mark[4]}" "recv e4 from=e2 " | wc -l)
    [ "$answers" -ge "$COUNT" ] && [ "$recvs" -ge "$COUNT" ] && break
    sleep 0.5
  done
  # Anything answered or delivered twice is in before these two barriers.
  # First the ask timeout (5 s, tnode asks with the default) passes since
  # the last ask left, so a timer that fires after its reply has fired; no
  # event shows that, the stream_done line dates it. Then an ask e1 -> e3,
  # answered after every reply n3 sent before on the same link, and a send
  # n2 -> e4 after the stream's, have arrived.
  local last m1 m4
  last=$(ts "$(since 1 "${mark[1]}" "stream_done e1 " | head -1)")
  while [ "$(now_ms)" -le $((last + 5000 + 100)) ]; do sleep 0.1; done
  m1=$(lines 1); m4=$(lines 4)
  cmd 1 "ask e1 e3 barrier"
  wait_line 1 "reply e1 e3 status=TR_OK node=n3 barrier" 15 "$m1" >/dev/null ||
    { fail "the barrier ask e1 -> e3 was not answered"; return; }
  l=$(query 2 "send e4 barrier" "sent e4 ")
  [[ "$l" == *rc=TR_OK* ]] || { fail "the barrier send to e4: ${l:-no answer}"; return; }
  wait_line 4 "recv e4 from=- node=n2 n=[0-9]+ barrier" 15 "$m4" >/dev/null ||
    { fail "the barrier send did not reach e4"; return; }
  heal_all_rules

  local ask_nums asked_nums recv_nums ask_chk asked_chk recv_chk statuses downs=0 und=0 bad=0 ok_unseen
  ask_nums=$(since 1 "${mark[1]}" "askres e1 " | awk '{print $4}')
  asked_nums=$(since 3 "${mark[3]}" "asked e3 from=e1 " | awk '$NF ~ /^[0-9]+$/ {print $NF}')
  recv_nums=$(since 4 "${mark[4]}" "recv e4 from=e2 " | awk '{print substr($NF, 2)}')
  ask_chk=$(echo "$ask_nums" | grep . | seq_check)
  asked_chk=$(echo "$asked_nums" | grep . | seq_check)
  recv_chk=$(echo "$recv_nums" | grep . | seq_check)
  statuses=$(since 1 "${mark[1]}" "askres e1 " | grep -o 'status=[A-Z_]*' | sort | uniq -c |
    awk '{printf "%s%s:%s", sep, substr($2, 8), $1; sep=","}')
  # A reply with status 0 must have been asked on n3.
  ok_unseen=$(comm -23 <(since 1 "${mark[1]}" "askres e1 [0-9]+ status=TR_OK " | awk '{print $4}' | sort -u) \
    <(echo "$asked_nums" | sort -u) | wc -l)
  for i in $(seq 1 $N); do
    downs=$(( downs + $(since "$i" "${mark[$i]}" "node_down " | wc -l) ))
    l=$(stat_of "$i" undeliverable)
    und=$(( und + ${l:-0} - ${und0[$i]:-0} ))
  done
  log "  asks answered on n1: $answers lines, $ask_chk, statuses $statuses"
  log "  asks seen by e3 on n3: $(echo "$asked_nums" | grep -c .) lines, $asked_chk"
  log "  sends seen by e4 on n4: $recvs lines, $recv_chk; undeliverable +$und"
  log "  node_down events during the run: $downs; n1 sees: $(view 1)"
  [ "$flaps" -ge 3 ] || { log "  only $flaps flaps"; bad=1; }
  [ "$ask_chk" = "dups=0 disorder=0 missing=0" ] ||
    { log "  FAIL: an ask without exactly one answer ($ask_chk)"; bad=1; }
  [[ "$asked_chk" == "dups=0 disorder=0 "* ]] ||
    { log "  FAIL: e3 got an ask twice or out of order ($asked_chk)"; bad=1; }
  [ "$ok_unseen" = 0 ] || { log "  FAIL: $ok_unseen TR_OK replies to asks e3 never saw"; bad=1; }
  [[ "$recv_chk" == "dups=0 disorder=0 "* ]] ||
    { log "  FAIL: e4 got a send twice or out of order ($recv_chk)"; bad=1; }
  local missing=${recv_chk##*missing=}
  [ "$missing" -le "$und" ] ||
    { log "  FAIL: $missing sends lost, only $und counted undeliverable"; bad=1; }
  [ "$downs" = 0 ] || log "  NOTE: $downs node_down events (flaps are shorter than the suspicion timeout)"
  figure netns.flap_ask_errors "$(( COUNT - $(since 1 "${mark[1]}" "askres e1 [0-9]+ status=TR_OK " | wc -l) ))" count \
    "{\"asks\":$COUNT,\"flaps\":$flaps,\"down_ms\":$DOWN_MS,\"loss\":$LOSS,\"delay_ms_each_way\":$DELAY,\"statuses\":\"$statuses\",\"sends_missing\":$missing,\"node_downs\":$downs}"
  [ "$bad" = 0 ] || { fail "see above"; return; }
  pass "$flaps flaps; asks $statuses; sends all in order"
}

# ---- main -----------------------------------------------------------------

hosts_up "netns flap"
scenario_flap
finish "netns flap"
