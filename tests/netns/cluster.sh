#!/usr/bin/env bash
# cluster.sh — a 5-node troupe cluster as separate processes in network
# namespaces: kill -9, SIGSTOP/SIGCONT, partition 2|3 and heal, restart with
# the same name, 5% loss plus 100 ms delay. One fresh cluster per scenario.
#
# usage: cluster.sh BIN_DIR [--bench] [--only NAME[,NAME...]]
#   BIN_DIR   where tnode and delay_proxy are (build/tests/netns)
#   --bench   the figures only (kill9, resolve, lossdelay) with the long
#             loss run (TR_NETNS_BENCH_SECS, default 600 s)
#   --only    run these scenarios: form remote resolve kill9 stop
#             partition restart lossdelay
# Prints PASS/FAIL per scenario and the figures as JSON lines (one object per
# figure: name, value, unit, params). Exit 0 all passed, 1 a failure, 77
# skipped, the reason printed: not root, no `ip netns`, or (after the other
# scenarios ran) no working iptables for partition and lossdelay.
# Environment: TROUPE_REQUIRE_NETNS=1 (CI: fail wherever this would skip),
# TROUPE_NETNS_PREFIX (default trn<pid>-), TROUPE_NETNS_SUBNET
# (default 10.78.0, a /24), TR_NETNS_LOSS_SECS (CI loss run, default 60),
# TNODE_ARGS (extra tnode flags, e.g. "--log-level 3"), TR_NETNS_KEEP=1
# (keep the work directory with every node's output).
set -uo pipefail

NET=${TROUPE_NETNS_SUBNET:-10.78.0}
N=5

BIN=${1:-}
shift || true
MODE=ci
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bench) MODE=bench ;;
    --only) ONLY=${2:-}; shift ;;
    *) echo "usage: cluster.sh BIN_DIR [--bench] [--only NAME,...]" >&2; exit 2 ;;
  esac
  shift
done

# The namespace, node and reporting helpers (and the root / ip netns checks).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Partition: each side drops what comes from the other (INPUT), both ways.
partition() {  # partition "1 2" "3 4 5"
  local a b
  for a in $1; do for b in $2; do
    nsx "$a" iptables -w -A INPUT -s "$NET.$b" -j DROP
    nsx "$b" iptables -w -A INPUT -s "$NET.$a" -j DROP
  done; done
}
heal() { local i; for i in $(seq 1 $N); do nsx "$i" iptables -w -F INPUT; done; }

# ---- scenarios ------------------------------------------------------------

scenario_form() {
  begin form "5 nodes form a cluster, each sees the others come up; n5 quits (leave)"
  start_cluster 0 || { fail "no cluster"; return; }
  local i j
  for i in $(seq 1 $N); do for j in $(seq 1 $N); do
    [ "$i" = "$j" ] && continue
    wait_line "$i" "node_up n$j " 5 >/dev/null || { fail "n$i never printed node_up n$j"; return; }
  done; done
  # A graceful leave: the others are told at once, with TR_ECLOSED.
  declare -A mark=()
  for i in 1 2 3 4; do mark[$i]=$(lines "$i"); done
  cmd 5 quit
  for i in 1 2 3 4; do
    wait_line "$i" "node_down n5 reason=TR_ECLOSED" 5 "${mark[$i]}" >/dev/null ||
      { fail "n$i was not told that n5 left (node_down n5 reason=TR_ECLOSED)"; return; }
  done
  wait_view "1 2 3 4" "$(view_with n5 left)" 5 || { fail "n5 not listed as left"; return; }
  wait_line 5 "bye " 5 >/dev/null || { fail "n5 did not exit after quit"; return; }
  pass "formed; n5 left gracefully"
}

# Remote send, ask/reply, monitor and stop by actor id, across nodes.
scenario_remote() {
  begin remote "send, ask, monitor and stop an actor on another node"
  start_cluster 0 || { fail "no cluster"; return; }
  local i l m3 m1
  cmd 1 "spawn e1"; cmd 3 "spawn e3"
  for i in $(seq 1 $N); do
    l=$(query "$i" "waitloc e3 n3 8000" "waitloc_(ok|timeout) e3 " 10)
    [[ "$l" == *waitloc_ok* ]] || { fail "e3 not resolvable on n$i: $l"; return; }
  done
  m3=$(lines 3); m1=$(lines 1)
  l=$(query 2 "send e3 hello from n2" "sent e3 ")
  [[ "$l" == *rc=TR_OK* ]] || { fail "send from n2 to e3: $l"; return; }
  wait_line 3 "recv e3 from=- node=n2 n=1 hello from n2" 5 "$m3" >/dev/null || { fail "e3 did not get the send from n2"; return; }
  cmd 1 "ask e1 e3 ping"
  l=$(wait_line 1 "reply e1 " 10 "$m1") || { fail "no reply to e1's ask"; return; }
  [[ "$l" == *"reply e1 e3 status=TR_OK node=n3 ping" ]] || { fail "ask e1 -> e3: $l"; return; }
  l=$(query 1 "monitor e1 e3" "monitoring e1 e3 ")
  [[ "$l" == *rc=TR_OK* ]] || { fail "monitor e1 e3: $l"; return; }
  l=$(query 2 "stop e3" "stopping e3 ")
  [[ "$l" == *rc=TR_OK* ]] || { fail "stop e3 from n2: $l"; return; }
  wait_line 3 "actor_stop e3" 5 "$m3" >/dev/null || { fail "e3 was not stopped on n3"; return; }
  l=$(wait_line 1 "down e1 e3 " 5 "$m1") || { fail "e1's monitor of e3 did not fire"; return; }
  for i in $(seq 1 $N); do
    l=$(query "$i" "waitloc e3 - 8000" "waitloc_(ok|timeout) e3 " 10)
    [[ "$l" == *waitloc_ok* ]] || { fail "stopped e3 still resolvable on n$i: $l"; return; }
  done
  pass
}

# Spawns rK on a rotating node after every node has started polling the
# registry for it; the time until the last node resolves it is the figure.
scenario_resolve() {
  local samples=$1 k owner i m l worst=0 t0 t1 d all=""
  begin resolve "a new actor is resolvable on every node ($samples samples)"
  start_cluster 0 || { fail "no cluster"; return; }
  for k in $(seq 1 "$samples"); do
    owner=$(( (k - 1) % N + 1 ))
    declare -A mark=()
    for i in $(seq 1 $N); do
      mark[$i]=$(lines "$i")
      [ "$i" = "$owner" ] || cmd "$i" "waitloc r$k n$owner 8000"
    done
    for i in $(seq 1 $N); do  # the polls are running before the spawn
      [ "$i" = "$owner" ] || wait_line "$i" "waitloc_start r$k " 5 "${mark[$i]}" >/dev/null ||
        { fail "n$i did not start polling for r$k"; return; }
    done
    cmd "$owner" "spawn r$k"
    l=$(wait_line "$owner" "spawned r$k " 5 "${mark[$owner]}") || { fail "no spawn r$k"; return; }
    t0=$(ts "$l")
    worst=0
    for i in $(seq 1 $N); do
      [ "$i" = "$owner" ] && continue
      l=$(wait_line "$i" "waitloc_(ok|timeout) r$k " 10 "${mark[$i]}")
      case "$l" in
        *waitloc_ok*) t1=$(ts "$l"); d=$((t1 - t0)); [ "$d" -gt "$worst" ] && worst=$d ;;
        *) fail "r$k (on n$owner) not resolvable on n$i in 8 s: $l"; return ;;
      esac
    done
    all="$all $worst"
  done
  local sorted p50 max
  sorted=$(echo "$all" | tr ' ' '\n' | grep . | sort -n)
  p50=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}')
  max=$(echo "$sorted" | tail -1)
  figure netns.resolvable_ms "$max" ms \
    "{\"nodes\":$N,\"samples\":$samples,\"p50_ms\":$p50,\"target_ms\":250}"
  over_target "$max" 250 "resolvable time"
  pass "max ${max} ms, p50 ${p50} ms"
}

scenario_kill9() {
  begin kill9 "kill -9 of n5: all see it dead, its actors vanish, monitors fire"
  start_cluster 0 || { fail "no cluster"; return; }
  local i l t0 worst=0 d
  cmd 5 "spawn a5"
  for i in 1 2 3 4; do
    l=$(query "$i" "waitloc a5 n5 8000" "waitloc_(ok|timeout) a5 " 10) || true
    [[ "$l" == *waitloc_ok* ]] || { fail "a5 never resolvable on n$i: $l"; return; }
  done
  for i in 1 2; do
    cmd "$i" "spawn w$i"
    l=$(query "$i" "monitor w$i a5" "monitoring w$i a5 ") || true
    [[ "$l" == *rc=TR_OK* ]] || { fail "monitor on n$i: $l"; return; }
  done
  declare -A mark=()
  for i in 1 2 3 4; do mark[$i]=$(lines "$i"); done
  t0=$(now_ms)
  kill -9 "${PID[5]}"
  for i in 1 2 3 4; do
    l=$(wait_line "$i" "node_down n5 " 15 "${mark[$i]}") || { fail "n$i did not see n5 die in 15 s"; return; }
    d=$(( $(ts "$l") - t0 ))
    [ "$d" -gt "$worst" ] && worst=$d
  done
  figure netns.detect_kill9_ms "$worst" ms "{\"nodes\":$N,\"target_ms\":3000}"
  for i in 1 2; do
    l=$(wait_line "$i" "down w$i a5 " 10 "${mark[$i]}") || { fail "monitor w$i on n$i never fired"; return; }
  done
  for i in 1 2 3 4; do
    l=$(query "$i" "waitloc a5 - 8000" "waitloc_(ok|timeout) a5 " 10) || true
    [[ "$l" == *waitloc_ok* ]] || { fail "a5 still in n$i's registry: $l"; return; }
  done
  wait_view "1 2 3 4" "$(view_with n5 dead)" 10 || { fail "views disagree"; return; }
  over_target "$worst" 3000 "kill -9 detection"
  pass "detected by all in ${worst} ms"
}

scenario_stop() {
  begin stop "SIGSTOP n3 until suspected, SIGCONT; then SIGSTOP until dead, SIGCONT"
  start_cluster 0 || { fail "no cluster"; return; }
  local i l deadline seen="" m1 downs
  m1=$(lines 1)
  kill -STOP "${PID[3]}"
  deadline=$(( $(now_ms) + 10000 ))
  while [ -z "$seen" ] && [ "$(now_ms)" -lt "$deadline" ]; do
    for i in 1 2 4 5; do
      case "$(view "$i")" in *n3=suspect*|*n3=dead*) seen=n$i; break ;; esac
    done
  done
  kill -CONT "${PID[3]}"
  [ -n "$seen" ] || { fail "nobody suspected the stopped n3 in 10 s"; return; }
  wait_view "1 2 3 4 5" "$(all_alive)" 20 || { fail "n3 not alive everywhere after SIGCONT"; return; }
  downs=$(tail -n +"$((m1 + 1))" "$(out 1)" | grep -c ' node_down n3 ')
  log "  short stop: suspected (first seen by $seen), then $([ "$downs" = 0 ] && echo refuted || echo 'declared dead and back')"

  declare -A mark=()
  for i in 1 2 4 5; do mark[$i]=$(lines "$i"); done
  kill -STOP "${PID[3]}"
  for i in 1 2 4 5; do
    wait_line "$i" "node_down n3 " 15 "${mark[$i]}" >/dev/null || {
      kill -CONT "${PID[3]}"; fail "n$i did not declare the stopped n3 dead in 15 s"; return; }
  done
  kill -CONT "${PID[3]}"
  for i in 1 2 4 5; do
    wait_line "$i" "node_up n3 " 20 "${mark[$i]}" >/dev/null || { fail "n$i never saw n3 back up"; return; }
  done
  wait_view "1 2 3 4 5" "$(all_alive)" 20 || { fail "views disagree after the long stop"; return; }
  pass "short: first suspected by $seen; long: dead, then back"
}

scenario_partition() {
  begin partition "partition {1,2}|{3,4,5}, same id on both sides, heal"
  [ "$HAVE_IPTABLES" = 1 ] || { skipped "$NO_IPTABLES"; return; }
  start_cluster 0 || { fail "no cluster"; return; }
  local i l a b w loser locs
  partition "1 2" "3 4 5"
  wait_view "1 2" "n1=alive n2=alive n3=dead n4=dead n5=dead" 60 || { fail "side {1,2} did not see the others dead"; return; }
  wait_view "3 4 5" "n1=dead n2=dead n3=alive n4=alive n5=alive" 60 || { fail "side {3,4,5} did not see the others dead"; return; }
  for i in 1 4; do
    l=$(query "$i" "spawn dup" "spawned dup ")
    [[ "$l" == *rc=TR_OK* ]] || { fail "spawn dup on n$i during the partition: $l"; return; }
  done
  cmd 2 "spawn p2"; cmd 5 "spawn p5"
  declare -A mark=()
  for i in $(seq 1 $N); do mark[$i]=$(lines "$i"); done
  heal
  wait_view "1 2 3 4 5" "$(all_alive)" 30 || { fail "membership did not converge after heal"; return; }
  # The registry converges: every node resolves dup to the same node.
  local deadline=$(( $(now_ms) + 15000 ))
  while :; do
    locs=""
    for i in $(seq 1 $N); do
      l=$(query "$i" "locate dup" "locate dup ")
      locs="$locs $(echo "$l" | awk '{print $4}')"
    done
    [ "$(echo "$locs" | tr ' ' '\n' | grep . | sort -u | wc -l)" = 1 ] && [[ "$locs" != *-* ]] && break
    [ "$(now_ms)" -ge "$deadline" ] && { fail "dup resolves differently: $locs"; return; }
    sleep 0.2
  done
  w=$(echo "$locs" | awk '{print $1}')
  case "$w" in n1) loser=4 ;; n4) loser=1 ;; *) fail "dup won by $w, not n1 or n4"; return ;; esac
  wait_line "$loser" "actor_stop dup" 10 "${mark[$loser]}" >/dev/null || { fail "the loser's dup on n$loser was not stopped"; return; }
  if grep -q ' actor_stop dup' <(tail -n +"$((mark[${w#n}] + 1))" "$(out "${w#n}")"); then
    fail "the winner's dup on $w was stopped too"; return
  fi
  for a in p2:n2 p5:n5; do
    for i in $(seq 1 $N); do
      l=$(query "$i" "waitloc ${a%:*} ${a#*:} 8000" "waitloc_(ok|timeout) ${a%:*} " 10)
      [[ "$l" == *waitloc_ok* ]] || { fail "${a%:*} not resolvable on n$i after heal: $l"; return; }
    done
  done
  b=$(query "$loser" stats "stats ")
  log "  loser n$loser: $(echo "$b" | grep -o 'conflicts_lost=[0-9]*')"
  pass "dup kept by $w, stopped on n$loser"
}

scenario_restart() {
  begin restart "kill -9 n5 and restart it at once with the same name"
  start_cluster 0 || { fail "no cluster"; return; }
  local i l old new m
  cmd 5 "spawn a5"
  for i in 1 2 3 4; do
    l=$(query "$i" "waitloc a5 n5 8000" "waitloc_(ok|timeout) a5 " 10)
    [[ "$l" == *waitloc_ok* ]] || { fail "a5 never resolvable on n$i: $l"; return; }
  done
  old=$(query 1 members "members " | grep -o ' n5=[a-z]*/[0-9]*' | cut -d/ -f2)
  declare -A mark=()
  for i in 1 2 3 4; do mark[$i]=$(lines "$i"); done
  [ -n "$old" ] || { fail "n1 does not list n5 with an epoch"; return; }
  kill -9 "${PID[5]}"; gone "${PID[5]}"
  m=$(lines 5)
  start_node 5
  l=$(wait_line 5 "ready |error " 10 "$m")
  [[ "$l" == *" ready "* ]] || { fail "n5 did not restart: ${l:-no ready line}"; return; }
  local deadline=$(( $(now_ms) + 20000 ))
  while :; do
    m=0
    for i in 1 2 3 4; do
      new=$(query "$i" members "members " | grep -o ' n5=alive/[0-9]*' | cut -d/ -f2)
      [ -n "$new" ] && [ "$new" -gt "$old" ] && m=$((m + 1))
      [ -n "$new" ] || new=0
    done
    [ "$m" = 4 ] && break
    [ "$(now_ms)" -ge "$deadline" ] && { fail "not all nodes see n5 alive with an epoch above $old"; return; }
    sleep 0.2
  done
  for i in 1 2 3 4 5; do
    l=$(query "$i" "waitloc a5 - 8000" "waitloc_(ok|timeout) a5 " 10)
    [[ "$l" == *waitloc_ok* ]] || { fail "stale a5 still resolvable on n$i: $l"; return; }
  done
  wait_view "1 2 3 4 5" "$(all_alive)" 15 || { fail "views disagree"; return; }
  for i in 1 2 3 4; do
    wait_line "$i" "node_up n5 " 5 "${mark[$i]}" >/dev/null || log "  note: n$i printed no node_up for the restarted n5"
  done
  l=$(query 5 "spawn a5" "spawned a5 ")
  [[ "$l" == *rc=TR_OK* ]] || { fail "a5 cannot be spawned again on the new n5: $l"; return; }
  pass "epoch $old -> $new, stale a5 gone"
}

scenario_lossdelay() {
  local secs=$1 i before after downs=0 sus=0 rej=0 l s r
  begin lossdelay "5% loss on every link and 100 ms each way for ${secs} s: no false deaths"
  [ "$HAVE_IPTABLES" = 1 ] || { skipped "$NO_IPTABLES"; return; }
  start_cluster 100 || { fail "no cluster"; return; }
  declare -A mark=() s0=()
  for i in $(seq 1 $N); do
    mark[$i]=$(lines "$i")
    s0[$i]=$(query "$i" stats "stats " | grep -o 'suspicions=[0-9]*' | cut -d= -f2)
  done
  loss_all 0.05 || { fail "iptables statistic match unavailable"; return; }
  local end=$(( $(now_ms) + secs * 1000 )) next=0
  while [ "$(now_ms)" -lt "$end" ]; do
    if [ "$(now_ms)" -ge "$next" ]; then
      next=$(( $(now_ms) + 30000 ))
      log "  $(( (end - $(now_ms)) / 1000 )) s left; n1 sees: $(view 1)"
    fi
    sleep 1
  done
  for i in $(seq 1 $N); do
    downs=$(( downs + $(tail -n +"$((mark[$i] + 1))" "$(out "$i")" | grep -c ' node_down ') ))
    l=$(query "$i" stats "stats ")
    s=$(grep -o 'suspicions=[0-9]*' <<<"$l" | cut -d= -f2)
    r=$(grep -o ' rejected=[0-9]*' <<<"$l" | cut -d= -f2)
    sus=$(( sus + ${s:-0} - ${s0[$i]:-0} ))
    rej=$(( rej + ${r:-0} ))
  done
  figure netns.false_deaths "$downs" count \
    "{\"nodes\":$N,\"duration_s\":$secs,\"loss_pct\":5,\"delay_ms_each_way\":100,\"suspicions\":$sus}"
  heal_all_rules
  [ "$downs" = 0 ] || { fail "$downs false node_down events ($sus suspicions)"; return; }
  # Honest members under loss and delay send nothing a peer must refuse.
  [ "$rej" = 0 ] || { fail "$rej cluster messages rejected among honest members"; return; }
  wait_view "1 2 3 4 5" "$(all_alive)" 20 || { fail "views disagree at the end"; return; }
  pass "0 false deaths, $sus suspicions"
}

# ---- main -----------------------------------------------------------------

hosts_up "netns ($MODE)"

if [ "$MODE" = bench ]; then
  want resolve && scenario_resolve 20
  want kill9 && scenario_kill9
  want lossdelay && scenario_lossdelay "${TR_NETNS_BENCH_SECS:-600}"
else
  want form && scenario_form
  want remote && scenario_remote
  want resolve && scenario_resolve 5
  want kill9 && scenario_kill9
  want stop && scenario_stop
  want partition && scenario_partition
  want restart && scenario_restart
  want lossdelay && scenario_lossdelay "${TR_NETNS_LOSS_SECS:-60}"
fi

finish netns
