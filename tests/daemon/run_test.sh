#!/usr/bin/env bash
# run_test.sh CASE — `troupe run` as a real process: start, read its stdout
# and log, send signals, check exit codes. Every wait is bounded (tries x
# 100 ms). Environment (set by tests/daemon/CMakeLists.txt): TROUPE_BIN,
# PLUGIN_DIR (echo.so, ticker.so), BAD_PLUGIN_DIR (bad_noentry.so,
# bad_abi.so), PKI_BIN (writes ca.pem, NAME.pem, NAME.key).
set -u

: "${TROUPE_BIN:?}" "${PLUGIN_DIR:?}" "${BAD_PLUGIN_DIR:?}" "${PKI_BIN:?}"
# The settings of the caller's environment must not leak into the cases.
# shellcheck source=tests/daemon/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
daemon_test_init run-test 30

free_port() { free_ports 1; }

# start NAME ARGS...: runs `troupe run ARGS` in the background with stdout
# in NAME.out and stderr in NAME.err; its pid goes to PID_<NAME>.
start() {
  local name=$1
  shift
  "$TROUPE_BIN" run "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  local pid=$!
  PIDS+=("$pid")
  eval "PID_$name=$pid"
}

# wait_for FILE REGEX [TRIES]: until FILE has a line matching REGEX.
wait_for() {
  local file=$1 re=$2 tries=${3:-100}
  for ((i = 0; i < tries; i++)); do
    grep -Eq -- "$re" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# stop_and_check NAME SIGNAL WANT_RC [TRIES]: signal, then wait for exit.
stop_and_check() {
  local name=$1 sig=$2 want=$3 tries=${4:-70}
  local pid
  eval "pid=\$PID_$name"
  kill -"$sig" "$pid" || fail "$name: not running before $sig"
  for ((i = 0; i < tries; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "$name: still running $((tries / 10)) s after $sig"
  wait "$pid"
  local rc=$?
  [ "$rc" = "$want" ] || fail "$name: exit $rc after $sig, want $want"
}

# expect_usage WHAT REGEX ARGS...: `troupe run ARGS` exits 2 at once with
# one line on stderr matching REGEX (and never crashes).
expect_usage() {
  local what=$1 re=$2
  shift 2
  local err="$WORK/usage.err"
  timeout 20 "$TROUPE_BIN" run "$@" >"$WORK/usage.out" 2>"$err"
  local rc=$?
  [ "$rc" = 2 ] || { cat "$err"; fail "$what: exit $rc, want 2"; }
  grep -Eq -- "$re" "$err" || { cat "$err"; fail "$what: message does not match '$re'"; }
  ok "$what -> exit 2: $(grep -E -- "$re" "$err" | head -n 1)"
}

certs() { "$PKI_BIN" "$WORK" "$@" || fail "cannot make certificates"; }

case_single() {
  start a --name solo --plugin "$PLUGIN_DIR/echo.so" --spawn echo:echo1 \
    --plugin "$PLUGIN_DIR/ticker.so" --spawn ticker:t1:50 \
    --spawn printer:p1:t1 --log-level debug
  wait_for "$WORK/a.out" '^troupe run: name=solo mode=local .*plugins=echo.so,ticker.so actors=echo1,t1,p1' ||
    fail "no start line"
  wait_for "$WORK/a.out" '^echo: echo1 ready' || fail "echo1 did not start"
  wait_for "$WORK/a.out" '^\[p1\] prices: t1 [0-9.]+' || fail "printer saw no price"
  grep -q 'event=run_started name=solo mode=local' "$WORK/a.err" || fail "no run_started log line"
  # One descriptor per peer: the soft limit is raised to the hard one.
  hard=$(ulimit -Hn)
  if [ "$hard" != unlimited ]; then
    grep -q "event=run_started .* nofile=$hard " "$WORK/a.err" ||
      fail "descriptor limit not raised to $hard: $(grep -o 'nofile=[0-9]*' "$WORK/a.err")"
  fi
  ok "local node with echo, ticker and printer running"
  stop_and_check a TERM 0 30
  grep -q 'event=run_stopped' "$WORK/a.err" || fail "no run_stopped log line"
  ok "SIGTERM -> exit 0 within 3 s"

  # SIGINT too; JSON logs; a generated id for an actor spawned without one.
  start b --name solo2 --plugin "$PLUGIN_DIR/echo.so" --spawn echo \
    --log-format json
  wait_for "$WORK/b.out" '^troupe run: name=solo2 mode=local .*actors=echo\.[0-9]+' ||
    fail "no start line with a generated id"
  wait_for "$WORK/b.err" '"event":"run_started"' || fail "no JSON log line"
  stop_and_check b INT 0 30
  ok "SIGINT -> exit 0; JSON logs; generated ids"
}

case_precedence() {
  cat >"$WORK/node.conf" <<EOF
# a comment, then a blank line

name = from-file   # a trailing comment
plugin = $PLUGIN_DIR/echo.so
spawn = echo:e-file
log-level = debug
EOF
  start f --config "$WORK/node.conf"
  wait_for "$WORK/f.out" '^troupe run: name=from-file .*actors=e-file' || fail "file: name not from the file"
  grep -q 'level=debug' "$WORK/f.err" || true
  stop_and_check f TERM 0
  ok "config file alone sets name=from-file"

  TROUPE_NAME=from-env TROUPE_SPAWN="echo:e-env1 echo:e-env2" \
    start e --config "$WORK/node.conf"
  wait_for "$WORK/e.out" '^troupe run: name=from-env .*actors=e-env1,e-env2( |$)' ||
    fail "env: name/spawn not from the environment"
  stop_and_check e TERM 0
  ok "environment beats the file (name=from-env, spawn list replaced)"

  TROUPE_NAME=from-env TROUPE_CONFIG="$WORK/node.conf" \
    start g --name from-flag --spawn echo:e-flag
  wait_for "$WORK/g.out" '^troupe run: name=from-flag .*actors=e-flag( |$)' ||
    fail "flag: name not from the flag"
  stop_and_check g TERM 0
  ok "flag beats environment and file (TROUPE_CONFIG read)"

  start h --config "$WORK/node.conf" --name=eq-form --metrics 0 2>/dev/null
  # --metrics 0 is a bad port: exit 2; make sure of it here too.
  wait "$PID_h"
  [ $? = 2 ] || fail "--metrics 0 not refused"
  ok "--key=value form parsed; bad metrics port refused"
}

case_bad_input() {
  expect_usage "unknown flag" "^troupe run: unknown flag '--bogus'" --bogus 1
  expect_usage "missing value" "^troupe run: --name needs a value" --name
  expect_usage "bad log level" "^troupe run: --log-level: bad value 'loud'" \
    --log-level loud
  expect_usage "bad log format" "log-format: bad value 'xml'" --log-format xml
  expect_usage "bad listen address" "listen: bad value 'nowhere'" --listen nowhere
  expect_usage "stray argument" "unexpected argument 'extra'" extra
  expect_usage "missing config file" "^troupe run: config $WORK/none.conf: No such file" \
    --config "$WORK/none.conf"
  printf 'name = x\n\nfrobnicate = 1\n' >"$WORK/unknown.conf"
  expect_usage "unknown key in config" "^troupe run: $WORK/unknown.conf:3: frobnicate: unknown key" \
    --config "$WORK/unknown.conf"
  printf '# c\nlog-level = loud\n' >"$WORK/level.conf"
  expect_usage "bad value in config" "^troupe run: $WORK/level.conf:2: log-level: bad value 'loud'" \
    --config "$WORK/level.conf"
  printf 'name x\n' >"$WORK/noeq.conf"
  expect_usage "line without =" "^troupe run: $WORK/noeq.conf:1: expected 'key = value'" \
    --config "$WORK/noeq.conf"
  printf 'name =\n' >"$WORK/empty.conf"
  expect_usage "key without value" "$WORK/empty.conf:1: name: missing value" \
    --config "$WORK/empty.conf"
  TROUPE_LOG_LEVEL=shout expect_usage "bad value in environment" \
    "^troupe run: TROUPE_LOG_LEVEL: bad value 'shout'"
  expect_usage "spawn of an unknown type" "spawn nope: no actor type 'nope'" --spawn nope
  expect_usage "spawn with a bad arg" "spawn ticker:t:abc: TR_EINIT" \
    --plugin "$PLUGIN_DIR/ticker.so" --spawn ticker:t:abc
  expect_usage "same id twice" "spawn echo:x: TR_EEXIST" \
    --plugin "$PLUGIN_DIR/echo.so" --spawn echo:x --spawn echo:x
  expect_usage "seed without listen" "seed needs listen" --seed 127.0.0.1:1
  expect_usage "listen without certificates" "needs ca, cert and key" \
    --listen 127.0.0.1:1
  expect_usage "a limit of 0" "max-members: bad value '0' .out of range" \
    --max-members 0
  expect_usage "a limit past its range" \
    "max-members: bad value '70000' .out of range" --max-members 70000
  expect_usage "a limit not a number" \
    "memory-budget-mib: bad value '1G' .want a whole number" \
    --memory-budget-mib 1G
  printf 'operator-idle-timeout-ms = -5\n' >"$WORK/limit.conf"
  expect_usage "a limit in the config file" \
    "$WORK/limit.conf:1: operator-idle-timeout-ms: bad value '-5'" \
    --config "$WORK/limit.conf"
}

case_bad_plugin() {
  expect_usage "missing plugin file" "^troupe run: plugin $WORK/none.so: No such file" \
    --plugin "$WORK/none.so"
  echo "not an ELF file" >"$WORK/text.so"
  expect_usage "plugin not a shared object" "^troupe run: plugin $WORK/text.so: cannot load" \
    --plugin "$WORK/text.so"
  expect_usage "plugin without entry point" \
    "^troupe run: plugin $BAD_PLUGIN_DIR/bad_noentry.so: no entry point tr_plugin_init" \
    --plugin "$BAD_PLUGIN_DIR/bad_noentry.so"
  expect_usage "plugin with the wrong ABI" \
    "^troupe run: plugin $BAD_PLUGIN_DIR/bad_abi.so: built for plugin ABI 1002" \
    --plugin "$BAD_PLUGIN_DIR/bad_abi.so"
  expect_usage "plugin built against ABI 1 (troupe_plugin_*)" \
    "^troupe run: plugin $BAD_PLUGIN_DIR/bad_old_abi.so: built against an older troupe_plugin.h" \
    --plugin "$BAD_PLUGIN_DIR/bad_old_abi.so"
  expect_usage "same plugin twice" "tr_plugin_init failed: TR_EEXIST" \
    --plugin "$PLUGIN_DIR/echo.so" --plugin "$PLUGIN_DIR/echo.so"
}

case_bad_cluster() {
  certs n1 n2
  local p
  p=$(free_port)
  local tls=(--ca "$WORK/ca.pem" --cert "$WORK/n1.pem" --key "$WORK/n1.key")
  expect_usage "missing certificate file" "^troupe run: cert $WORK/gone.pem: No such file" \
    --listen "127.0.0.1:$p" --ca "$WORK/ca.pem" --cert "$WORK/gone.pem" \
    --key "$WORK/n1.key"
  echo "garbage" >"$WORK/garbage.pem"
  expect_usage "certificate that does not load" "^troupe run: cannot start the node: TR_E(TLS|INVAL)" \
    --name n1 --listen "127.0.0.1:$p" --ca "$WORK/ca.pem" \
    --cert "$WORK/garbage.pem" --key "$WORK/n1.key"
  # Not a node certificate for --name: another node's, an operator's.
  expect_usage "another node's certificate" \
    "^troupe run: cannot start the node: TR_EINVAL.*not a node certificate for n3" \
    --name n3 --listen "127.0.0.1:$p" "${tls[@]}"
  { "$TROUPE_BIN" cert ca --dir "$WORK/ops" &&
    "$TROUPE_BIN" cert client n1 --dir "$WORK/ops"; } >/dev/null 2>&1 ||
    fail "troupe cert client n1"
  expect_usage "an operator's certificate" \
    "^troupe run: cannot start the node: TR_EINVAL.*an operator certificate for n1" \
    --name n1 --listen "127.0.0.1:$p" --ca "$WORK/ca.pem" \
    --cert "$WORK/ops/n1.pem" --key "$WORK/ops/n1.key"
  start a --name n1 --listen "127.0.0.1:$p" "${tls[@]}"
  wait_for "$WORK/a.out" '^troupe run: name=n1 mode=cluster' || fail "n1 did not start"
  expect_usage "port in use" "^troupe run: cannot start the node: TR_ESYS.*listen_failed" \
    --name n2 --listen "127.0.0.1:$p" --ca "$WORK/ca.pem" \
    --cert "$WORK/n2.pem" --key "$WORK/n2.key"
  local m
  m=$(free_port)
  start b --name n2 --listen "127.0.0.1:$(free_port)" --ca "$WORK/ca.pem" \
    --cert "$WORK/n2.pem" --key "$WORK/n2.key" --metrics "$m"
  wait_for "$WORK/b.out" "^troupe run: name=n2 .*metrics=127.0.0.1:$m" || fail "n2 did not start"
  expect_usage "metrics port in use" "^troupe run: metrics: .*127.0.0.1:$m" \
    --metrics "$m"
  stop_and_check a TERM 0
  stop_and_check b TERM 0
}

# Three daemons on loopback: all see each other; SIGHUP reloads and keeps
# running; SIGTERM of one makes the others log it left, not dead.
case_cluster() {
  certs n1 n2 n3
  local p1 p2 p3 m1
  p1=$(free_port)
  p2=$(free_port)
  p3=$(free_port)
  m1=$(free_port)
  cat >"$WORK/n1.conf" <<EOF
log-level = info
cluster-name = test
EOF
  node_args() {
    echo --name "$1" --listen "127.0.0.1:$2" --ca "$WORK/ca.pem" \
      --cert "$WORK/$1.pem" --key "$WORK/$1.key" --cluster-name test \
      --plugin "$PLUGIN_DIR/echo.so" --plugin "$PLUGIN_DIR/ticker.so"
  }
  start n1 --config "$WORK/n1.conf" $(node_args n1 "$p1") --metrics "$m1" \
    --spawn echo:echo-n1 --spawn ticker:t1:100
  wait_for "$WORK/n1.out" '^troupe run: name=n1 mode=cluster cluster=test' || fail "n1 did not start"
  start n2 $(node_args n2 "$p2") --seed "127.0.0.1:$p1" --log-level info \
    --spawn echo:echo-n2
  start n3 $(node_args n3 "$p3") --seed "127.0.0.1:$p1,127.0.0.1:$p2" \
    --log-level info --spawn printer:p3:t1
  for n in n1 n2 n3; do
    for o in n1 n2 n3; do
      [ "$n" = "$o" ] && continue
      wait_for "$WORK/$n.err" "event=member name=$o state=alive" 150 ||
        fail "$n never saw $o alive"
    done
  done
  ok "all three members see each other alive"
  if command -v curl >/dev/null; then
    local body
    for ((i = 0; i < 50; i++)); do
      body=$(curl -s --max-time 2 "http://127.0.0.1:$m1/metrics")
      echo "$body" | grep -Eq '^troupe_cluster_members\{[^}]*state="alive"[^}]*\} 3' && break
      sleep 0.1
    done
    echo "$body" | grep -Eq '^troupe_cluster_members\{[^}]*state="alive"[^}]*\} 3' ||
      { echo "$body" | grep -i member; fail "n1 /metrics does not show 3 alive members"; }
    ok "n1 /metrics: 3 members alive"
  fi

  kill -HUP "$PID_n1"
  wait_for "$WORK/n1.err" 'event=run_reloaded tls=reloaded policy=none log_level=info' || fail "n1 did not reload"
  sleep 0.3
  kill -0 "$PID_n1" || fail "n1 died on SIGHUP"
  ok "SIGHUP: certificates reloaded, n1 still running"
  sed -i 's/^log-level = info/log-level = debug/' "$WORK/n1.conf"
  kill -HUP "$PID_n1"
  wait_for "$WORK/n1.err" 'event=run_reloaded tls=reloaded policy=none log_level=debug' ||
    fail "n1 did not take log-level = debug from its config file"
  kill -0 "$PID_n1" || fail "n1 died on the second SIGHUP"
  ok "SIGHUP: log level re-read from the config file (debug)"
  wait_for "$WORK/n3.out" '^\[p3\] prices: t1 [0-9.]+ \(from n1\)' 100 ||
    fail "printer p3 on n3 got no price from ticker t1 on n1"
  ok "printer on n3 prints the prices of the ticker on n1"

  stop_and_check n3 TERM 0
  for n in n1 n2; do
    wait_for "$WORK/$n.err" 'event=member name=n3 state=left' 100 ||
      fail "$n did not see n3 leave"
    grep -q 'event=member name=n3 state=dead' "$WORK/$n.err" &&
      fail "$n saw n3 dead, not left"
  done
  ok "SIGTERM of n3: n1 and n2 see it left, not dead"
  stop_and_check n2 TERM 0
  stop_and_check n1 TERM 0
  ok "n1, n2 exit 0"
}

# A node whose shutdown hangs (an actor's deinit blocks) exits 1 after the
# 5 s bound, with a message, rather than hanging the host's stop.
case_stop_timeout() {
  start a --plugin "$BAD_PLUGIN_DIR/bad_hang.so" --spawn hang:h1
  wait_for "$WORK/a.out" '^troupe run: .*actors=h1' || fail "no start line"
  stop_and_check a TERM 1 90
  grep -q 'did not stop within 5 s' "$WORK/a.err" || fail "no timeout message"
  ok "hung shutdown -> exit 1 after 5 s with a message"
}

# A policy file (docs/security.md): a bad one refuses the start with its
# line; one in force refuses a spawn; SIGHUP re-reads it, keeping the old
# one when the new one is bad.
case_policy() {
  printf 'allow * send x\nallow oops\n' >"$WORK/bad.policy"
  expect_usage "a bad policy" 'bad\.policy: line 2' --name p \
    --policy "$WORK/bad.policy"
  expect_usage "a missing policy" 'policy .*No such file' --name p \
    --policy "$WORK/none.policy"
  printf 'deny * register echo1\n' >"$WORK/p.policy"
  expect_usage "a spawn the policy refuses" 'echo1.*TR_EPERM' --name p \
    --policy "$WORK/p.policy" --plugin "$PLUGIN_DIR/echo.so" \
    --spawn echo:echo1
  start p --name p --policy "$WORK/p.policy" --plugin "$PLUGIN_DIR/echo.so" \
    --spawn echo:echo2 --log-level info
  wait_for "$WORK/p.out" '^echo: echo2 ready' || fail "echo2 did not start"
  grep -q 'event=policy_loaded .*rules=1 default=allow' "$WORK/p.err" ||
    fail "no policy_loaded line"
  cp "$WORK/bad.policy" "$WORK/p.policy"
  kill -HUP "$PID_p"
  wait_for "$WORK/p.err" 'event=run_reloaded tls=local policy=kept_old' ||
    fail "a bad policy on SIGHUP was not refused"
  grep -q 'event=policy_reload_failed .*line 2' "$WORK/p.err" ||
    fail "no policy_reload_failed line naming line 2"
  printf 'default deny\nallow * register *\n' >"$WORK/p.policy"
  kill -HUP "$PID_p"
  wait_for "$WORK/p.err" 'event=run_reloaded tls=local policy=reloaded' ||
    fail "a good policy on SIGHUP was not put in force"
  grep -q 'event=policy_reloaded .*rules=1 default=deny' "$WORK/p.err" ||
    fail "no policy_reloaded line"
  ok "policy: bad file refused with its line, spawn refused, SIGHUP reload"
  stop_and_check p TERM 0 30
}

# The operator's settings (TROUPE_OPS_*) and the daemon's (TROUPE_CA/CERT/
# KEY) apart (issue 19, finding 1): exported the README's way, the
# operator's do not touch `troupe run`; the daemon's are not read by the
# verbs, which say so; an operator certificate never makes a node.
case_env() {
  local T=$TROUPE_BIN d=$WORK/certs
  "$T" cert ca --dir "$d" >/dev/null && "$T" cert node n1 --dir "$d" >/dev/null &&
    "$T" cert client ops --dir "$d" >/dev/null || fail "troupe cert"
  (
    export TROUPE_OPS_CA=$d/ca.pem TROUPE_OPS_CERT=$d/ops.pem
    export TROUPE_OPS_KEY=$d/ops.key
    start local --plugin "$PLUGIN_DIR/echo.so" --spawn echo:echo1
    wait_for "$WORK/local.out" '^troupe run: name=.* mode=local' ||
      fail "troupe run (local) with TROUPE_OPS_* exported: $(cat "$WORK/local.err")"
    stop_and_check local TERM 0
  ) || exit 1
  ok "TROUPE_OPS_* exported: troupe run's local mode starts as before"
  TROUPE_CA=$d/ca.pem TROUPE_CERT=$d/ops.pem TROUPE_KEY=$d/ops.key \
    timeout 20 "$T" members >"$WORK/m.out" 2>"$WORK/m.err"
  local rc=$?
  [ $rc = 2 ] || fail "members with only the daemon's variables: exit $rc, want 2"
  grep -q 'no --ca (or TROUPE_OPS_CA) given (TROUPE_CA is the daemon' \
    "$WORK/m.err" || fail "members: $(cat "$WORK/m.err")"
  ok "the daemon's TROUPE_CA/CERT/KEY not read by the verbs: $(cat "$WORK/m.err")"
  TROUPE_CA=$d/ca.pem TROUPE_CERT=$d/ops.pem TROUPE_KEY=$d/ops.key \
    expect_usage "troupe run with an operator certificate in TROUPE_CERT" \
    'ops.pem is an operator certificate for ops, not a node certificate' \
    --name n1 --listen "127.0.0.1:$(free_port)"
}

# troupe run --check (issue 19): a good configuration, file and flags, is
# printed and exits 0 while a node holds its ports; each kind of bad one
# exits 2 naming what is wrong; nothing is started.
case_check() {
  local T=$TROUPE_BIN d=$WORK/certs p
  "$T" cert ca --dir "$d" >/dev/null && "$T" cert node n1 --dir "$d" >/dev/null &&
    "$T" cert client ops --dir "$d" >/dev/null || fail "troupe cert"
  p=$(free_port)
  cat >"$WORK/good.conf" <<EOF
name = n1
listen = 127.0.0.1:$p
ca = $d/ca.pem
cert = $d/n1.pem
key = $d/n1.key
plugin = $PLUGIN_DIR/echo.so
spawn = echo:echo1
EOF
  start n1 --config "$WORK/good.conf"
  wait_for "$WORK/n1.out" '^troupe run: name=n1 mode=cluster' || fail "n1 did not start"
  timeout 20 "$T" run --check --config "$WORK/good.conf" >"$WORK/c.out" 2>&1 ||
    fail "--check of n1's own configuration while n1 runs: $(cat "$WORK/c.out")"
  grep -q "^troupe run --check: ok: name=n1 mode=cluster listen=127.0.0.1:$p plugins=1 spawns=1" \
    "$WORK/c.out" || fail "--check: $(cat "$WORK/c.out")"
  ok "--check of a running node's configuration: $(cat "$WORK/c.out")"
  stop_and_check n1 TERM 0
  bad() { # bad WHAT REGEX ARGS...
    local what=$1 re=$2
    shift 2
    timeout 20 "$T" run --check "$@" >"$WORK/c.out" 2>&1
    local rc=$?
    [ $rc = 2 ] || fail "--check $what: exit $rc, want 2: $(cat "$WORK/c.out")"
    grep -Eq -- "$re" "$WORK/c.out" || fail "--check $what: $(cat "$WORK/c.out")"
    ok "--check $what -> exit 2: $(grep -E -- "$re" "$WORK/c.out" | head -n 1)"
  }
  printf 'log-levl = info\n' >"$WORK/bad.conf"
  bad "an unknown key" 'bad.conf:1: log-levl: unknown key' --config "$WORK/bad.conf"
  bad "a missing plugin" 'plugin /nonexistent.so' --plugin /nonexistent.so
  bad "a spawn of no loaded type" "no actor type 'nosuch'" \
    --plugin "$PLUGIN_DIR/echo.so" --spawn nosuch:x
  bad "an operator certificate as the node's" 'ops.pem is an operator certificate' \
    --name n1 --listen "127.0.0.1:$p" --ca "$d/ca.pem" --cert "$d/ops.pem" --key "$d/ops.key"
  bad "the inspector off loopback" 'loopback only' --ui 0.0.0.0:9465
  printf 'allow everyone\n' >"$WORK/bad.policy"
  bad "a bad policy" 'bad.policy' --policy "$WORK/bad.policy"
}

# member-retention-s (issue 19): how long a dead member stays listed.
case_retention() {
  local T=$TROUPE_BIN d=$WORK/certs p1 p2
  "$T" cert ca --dir "$d" >/dev/null && "$T" cert node n1 --dir "$d" >/dev/null &&
    "$T" cert node n2 --dir "$d" >/dev/null &&
    "$T" cert client ops --dir "$d" >/dev/null || fail "troupe cert"
  p1=$(free_port)
  p2=$(free_port)
  start n1 --name n1 --listen "127.0.0.1:$p1" --ca "$d/ca.pem" --cert "$d/n1.pem" \
    --key "$d/n1.key" --member-retention-s 2
  wait_for "$WORK/n1.out" '^troupe run: name=n1' || fail "n1 did not start"
  start n2 --name n2 --listen "127.0.0.1:$p2" --ca "$d/ca.pem" --cert "$d/n2.pem" \
    --key "$d/n2.key" --seed "127.0.0.1:$p1"
  export TROUPE_OPS_CA=$d/ca.pem TROUPE_OPS_CERT=$d/ops.pem TROUPE_OPS_KEY=$d/ops.key
  export TROUPE_OPS_NODE=127.0.0.1:$p1
  n2_is() { # n2_is STATE|gone
    local s
    s=$("$T" members --json 2>/dev/null | python3 -c 'import json,sys
print(next((m["state"] for m in json.load(sys.stdin) if m["name"] == "n2"), "gone"))')
    [ "$s" = "$1" ]
  }
  for ((i = 0; i < 100; i++)); do n2_is alive && break; sleep 0.1; done
  n2_is alive || fail "n2 never alive at n1"
  kill -KILL "$PID_n2"
  for ((i = 0; i < 150; i++)); do n2_is dead && break; sleep 0.1; done
  n2_is dead || fail "n2 never dead at n1"
  local t0=$SECONDS
  for ((i = 0; i < 150; i++)); do n2_is gone && break; sleep 0.1; done
  n2_is gone || fail "n2 still listed 15 s after dead, with member-retention-s 2"
  ok "member-retention-s 2: n2 dead, then forgotten $((SECONDS - t0)) s later"
  stop_and_check n1 TERM 0
}

case_"${1:?usage: run_test.sh CASE}" || fail "case $1"
echo "PASS: $1"
