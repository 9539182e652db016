#!/usr/bin/env bash
# lib.sh — shared by the network-namespace tests (cluster.sh, pubsub.sh,
# flap.sh): hosts in namespaces on one bridge, tnode processes fed through
# fifos, bounded waits on their output, PASS/FAIL reporting, cleanup on exit.
# Source it after setting NET (a /24 prefix), N (hosts), BIN and ONLY;
# sourcing sets P (the namespace prefix, TROUPE_NETNS_PREFIX or one of this
# run's own), HUB and the ports, checks for root and `ip netns` (exit 77
# when missing), makes WORK and sets the traps. A test ends with `finish`.
#
# Skips are skips: a test that cannot run here, or a scenario of it that
# cannot (no iptables), makes the whole ctest entry skipped (exit 77, the
# reasons printed), unless another scenario failed (exit 1). With
# TROUPE_REQUIRE_NETNS=1 (CI, as root with iproute2 and iptables installed)
# nothing may skip: every such case fails instead, saying what is missing.
# shellcheck disable=SC2034  # the callers use what this sets

# Each run has its own namespaces (the prefix carries the script's pid) and
# its own bridge, so runs side by side (ctest in several build trees) do not
# meet; the same subnet in two runs is two separate networks.
P=${TROUPE_NETNS_PREFIX:-trn$$-}
HUB=${P}hub
NODE_PORT=7000  # each node listens on 127.0.0.1 inside its namespace
PROXY_PORT=7100 # its delay proxy listens on eth0; that is what peers dial

REQUIRE=${TROUPE_REQUIRE_NETNS:-0}
skip() {  # skip REASON: this whole test cannot run here
  if [ "$REQUIRE" = 1 ]; then
    echo "FAIL: $* (TROUPE_REQUIRE_NETNS=1: the netns tests must run here)"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "not root (network namespaces need root)"
command -v ip >/dev/null || skip "iproute2 (ip) not installed"
if ! ip netns add "${P}probe" 2>/dev/null; then skip "ip netns unavailable here"; fi
# iptables present and working in a namespace (the kernel's tables too).
HAVE_IPTABLES=1
NO_IPTABLES="iptables not installed"
if command -v iptables >/dev/null; then
  ip netns exec "${P}probe" iptables -w -S >/dev/null 2>&1 ||
    { HAVE_IPTABLES=0; NO_IPTABLES="iptables does not work in a network namespace here"; }
else
  HAVE_IPTABLES=0
fi
ip netns del "${P}probe"
[ -x "$BIN/tnode" ] && [ -x "$BIN/delay_proxy" ] || {
  echo "FAIL: $BIN/tnode or $BIN/delay_proxy missing"; exit 1; }

WORK=$(mktemp -d /tmp/troupe-netns.XXXXXX)
declare -A PID PPID_ FD GEN  # node pid, proxy pid, fifo fd, start count
FAILED=0
PASSED=0
SKIPPED=0
SKIP_REASONS=""

now_ms() { date +%s%3N; }
log() { echo "[$(date +%T.%3N)] $*"; }

# ---- namespaces -----------------------------------------------------------

ns_down() {
  local ns pids
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${P}([0-9]+|hub)\$"); do
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    # shellcheck disable=SC2086
    [ -n "${pids// /}" ] && kill -9 $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
}

# Namespaces left by runs that were killed (a ctest timeout sends SIGKILL,
# which no trap sees): those whose run's pid is gone.
ns_reap_stale() {
  local ns pid pids
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^trn[0-9]+-([0-9]+|hub)$'); do
    pid=${ns#trn}; pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null && continue
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    # shellcheck disable=SC2086
    [ -n "${pids// /}" ] && kill -9 $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
}

ns_up() {
  local i t
  ns_reap_stale
  ns_down
  ip netns add "$HUB" || return 1
  ip -n "$HUB" link set lo up
  ip -n "$HUB" link add br0 type bridge
  ip -n "$HUB" link set br0 up
  for i in $(seq 1 $N); do
    ip netns add "$P$i" || return 1
    ip -n "$P$i" link set lo up
    ip -n "$HUB" link add "v$i" type veth peer name eth0 netns "$P$i" || return 1
    ip -n "$HUB" link set "v$i" master br0 up
    ip -n "$P$i" addr add "$NET.$i/24" dev eth0
    ip -n "$P$i" link set eth0 up
  done
  for i in $(seq 1 $N); do
    for t in $(seq 1 50); do
      ip -n "$P$i" -br link show eth0 | grep -q UP && break
      sleep 0.1
    done
  done
}

nsx() { local i=$1; shift; ip netns exec "$P$i" "$@"; }

# hosts_up WHAT: the namespaces and every node's certificates, then a line
# saying where they are; exits 1 if they cannot be made.
hosts_up() {
  ns_up || { echo "FAIL: could not create the namespaces"; exit 1; }
  mkdir -p "$WORK/pki"
  # shellcheck disable=SC2046  # one argument per node name
  "$BIN/tnode" --gen-pki "$WORK/pki" $(seq -f 'n%g' 1 "$N") ||
    { echo "FAIL: gen-pki"; exit 1; }
  log "$1: $N hosts ${P}1..$P$N on $NET.0/24, work dir $WORK"
}


# ---- nodes ----------------------------------------------------------------

out() { echo "$WORK/n$1.out"; }
lines() { local f; f=$(out "$1"); [ -f "$f" ] && wc -l <"$f" || echo 0; }

# Started with `ip netns exec` directly (not through a function), so $! is
# the process itself and kill -9 / SIGSTOP reach it.
start_proxy() {  # start_proxy I DELAY_MS
  ip netns exec "$P$1" "$BIN/delay_proxy" --listen "$NET.$1:$PROXY_PORT" \
    --to "127.0.0.1:$NODE_PORT" --delay "$2" 2>>"$WORK/p$1.err" &
  PPID_[$1]=$!
  disown "$!" # no job notices; stop_all kills it by pid
}

start_node() {  # start_node I: a new fifo each start, so nothing stale is read
  local i=$1 seeds fifo
  GEN[$i]=$(( ${GEN[$i]:-0} + 1 ))
  fifo="$WORK/n$i.in.${GEN[$i]}"
  mkfifo "$fifo"
  exec {fd}<>"$fifo"
  FD[$i]=$fd
  if [ "$i" -eq 1 ]; then seeds="$NET.2:$PROXY_PORT"; else seeds="$NET.1:$PROXY_PORT"; fi
  [ "$i" -gt 2 ] && seeds="$seeds,$NET.2:$PROXY_PORT"
  # shellcheck disable=SC2086  # TNODE_ARGS is a list of flags
  ip netns exec "$P$i" "$BIN/tnode" --name "n$i" --listen "127.0.0.1:$NODE_PORT" \
    --advertise "$NET.$i:$PROXY_PORT" --seeds "$seeds" \
    --ca "$WORK/pki/ca.pem" --cert "$WORK/pki/n$i.pem" --key "$WORK/pki/n$i.key" \
    ${TNODE_ARGS:-} <"$fifo" >>"$(out "$i")" 2>>"$WORK/n$i.err" &
  PID[$i]=$!
  disown "$!"
}

gone() {  # gone PID: wait (at most 5 s) until the process has exited
  local t
  for t in $(seq 1 250); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.02; done
  return 1
}

stop_all() {
  local i
  for i in "${!PID[@]}"; do kill -9 "${PID[$i]}" 2>/dev/null; done
  for i in "${!PPID_[@]}"; do kill -9 "${PPID_[$i]}" 2>/dev/null; done
  for i in $(seq 1 $N); do  # anything else left in the hosts
    ip netns pids "$P$i" 2>/dev/null | xargs -r kill -9 2>/dev/null
  done
  for i in "${!PID[@]}"; do gone "${PID[$i]}"; done
  for i in "${!PPID_[@]}"; do gone "${PPID_[$i]}"; done
  for i in "${!FD[@]}"; do eval "exec ${FD[$i]}>&-"; done
  PID=(); PPID_=(); FD=()
}

cleanup() {
  stop_all
  ns_down
  if [ "${TR_NETNS_KEEP:-0}" = 1 ] || [ "$FAILED" -gt 0 ]; then
    echo "netns: node output kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cmd() { echo "$2" >&"${FD[$1]}"; }

# wait_line I REGEX SECONDS [FROM]: the first line after line FROM of node
# I's output matching REGEX (ERE on "event fields", timestamp excluded).
# Prints the whole line; returns 1 on timeout.
wait_line() {
  local i=$1 re=$2 secs=$3 from=${4:-0} deadline l
  deadline=$(( $(now_ms) + secs * 1000 ))
  while :; do
    l=$(tail -n +"$((from + 1))" "$(out "$i")" 2>/dev/null | grep -m1 -E "^[0-9]+ ($re)")
    [ -n "$l" ] && { echo "$l"; return 0; }
    [ "$(now_ms)" -ge "$deadline" ] && return 1
    sleep 0.02
  done
}

query() {  # query I COMMAND REGEX [SECONDS]: run COMMAND on node I, print its answer
  local m; m=$(lines "$1")
  cmd "$1" "$2"
  wait_line "$1" "$3" "${4:-5}" "$m"
}

# "n1=alive n2=suspect ..." as node I sees it, sorted, epochs left out.
view() {
  query "$1" members "members " | tr ' ' '\n' | grep '=' | grep -v '^count=' |
    sed 's|/.*||' | sort | tr '\n' ' ' | sed 's/ $//'
}

# wait_view "1 2 3" "n1=alive ..." SECONDS: every listed node sees exactly that.
wait_view() {
  local nodes=$1 want=$2 secs=$3 deadline i ok
  deadline=$(( $(now_ms) + secs * 1000 ))
  while :; do
    ok=1
    for i in $nodes; do
      [ "$(view "$i")" = "$want" ] || { ok=0; break; }
    done
    [ "$ok" = 1 ] && return 0
    if [ "$(now_ms)" -ge "$deadline" ]; then
      for i in $nodes; do log "  n$i sees: $(view "$i")"; done
      return 1
    fi
    sleep 0.2
  done
}

all_alive() {  # the view of N alive members, maybe with some other states
  local i s=""
  for i in $(seq 1 $N); do s="$s n$i=alive"; done
  echo "${s# }"
}
view_with() {  # view_with NAME STATE: all alive except NAME
  all_alive | tr ' ' '\n' | sed "s/^$1=alive\$/$1=$2/" | tr '\n' ' ' | sed 's/ $//'
}

start_cluster() {  # start_cluster DELAY_MS: 5 proxies and 5 nodes, formed
  local delay=$1 i l
  declare -A m0=()
  stop_all
  heal_all_rules
  for i in $(seq 1 $N); do start_proxy "$i" "$delay"; done
  for i in $(seq 1 $N); do m0[$i]=$(lines "$i"); start_node "$i"; done
  for i in $(seq 1 $N); do
    l=$(wait_line "$i" "ready |error " 10 "${m0[$i]}")
    if [[ "$l" != *" ready "* ]]; then
      log "  n$i did not start: ${l:-no ready line in 10 s}"
      return 1
    fi
  done
  if ! wait_view "$(seq 1 $N | tr '\n' ' ')" "$(all_alive)" 30; then
    log "  the cluster did not form in 30 s"
    return 1
  fi
}

loss_all() {  # loss_all PROBABILITY: random drop on every host's eth0 egress
  local i
  for i in $(seq 1 "$N"); do
    nsx "$i" iptables -w -A OUTPUT -o eth0 -m statistic --mode random \
      --probability "$1" -j DROP || return 1
  done
}

heal_all_rules() {
  local i
  [ "$HAVE_IPTABLES" = 1 ] || return 0
  for i in $(seq 1 $N); do nsx "$i" iptables -w -F INPUT; nsx "$i" iptables -w -F OUTPUT; done
}

# ---- reporting ------------------------------------------------------------

CUR=""
begin() { CUR=$1; log "=== $1: $2"; }
pass() { log "PASS: $CUR${1:+ ($1)}"; PASSED=$((PASSED + 1)); }
fail() {
  log "FAIL: $CUR: $1"
  FAILED=$((FAILED + 1))
  local i
  for i in $(seq 1 $N); do
    echo "--- n$i stdout (last 15 lines)"; tail -n 15 "$(out "$i")" 2>/dev/null
    echo "--- n$i stderr (last 5 lines)"; tail -n 5 "$WORK/n$i.err" 2>/dev/null
  done
}
skipped() {  # skipped REASON: the current scenario cannot run here
  if [ "$REQUIRE" = 1 ]; then
    log "FAIL: $CUR: cannot run: $1 (TROUPE_REQUIRE_NETNS=1: the netns tests must run here)"
    FAILED=$((FAILED + 1))
    return
  fi
  log "SKIP: $CUR: $1"
  SKIPPED=$((SKIPPED + 1))
  SKIP_REASONS="${SKIP_REASONS:+$SKIP_REASONS; }$CUR: $1"
}

# finish NAME: the summary line and the exit code: 1 if a scenario failed,
# else 77 (skipped, with the reasons) if one was skipped or none ran, else 0.
finish() {
  echo "$1: $PASSED passed, $FAILED failed, $SKIPPED skipped"
  [ "$FAILED" = 0 ] || exit 1
  [ "$PASSED" -gt 0 ] || [ "$SKIPPED" -gt 0 ] || skip "no scenario ran (--only ${ONLY:-})"
  if [ "$SKIPPED" -gt 0 ]; then
    echo "SKIP: $SKIP_REASONS"
    exit 77
  fi
  exit 0
}
figure() {  # figure NAME VALUE UNIT PARAMS_JSON
  echo "{\"name\":\"$1\",\"value\":$2,\"unit\":\"$3\",\"params\":$4}"
}
# Targets are benchmark goals, not pass/fail (the scenarios bound their
# waits for correctness): a figure above its target is reported loudly.
over_target() {  # over_target VALUE TARGET WHAT
  [ "$1" -le "$2" ] || log "  OVER TARGET: $3 $1 ms > $2 ms"
}
want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }
ts() { echo "${1%% *}"; }  # the timestamp of an output line
