#!/usr/bin/env bash
# tags_test.sh — member tags end to end (issue #19): three `troupe run`
# nodes on loopback with --tag (and TROUPE_TAG, and a config file), seen
# by `troupe members` as a TAGS column and a "tags" object, filtered with
# --state and --tag; bad tags in the configuration and bad filters exit 2
# with a reason (as JSON too under --json). Every wait is bounded (tries x
# 100 ms). Environment (tests/daemon/CMakeLists.txt): TROUPE_BIN.
set -u

: "${TROUPE_BIN:?}"
# shellcheck source=tests/daemon/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
daemon_test_init tags-test 20
T=$TROUPE_BIN

PKI=$WORK/certs
"$T" cert ca --dir "$PKI" >/dev/null || fail "troupe cert ca"
for n in n1 n2 n3; do
  "$T" cert node $n --dir "$PKI" >/dev/null || fail "cert $n"
done
"$T" cert client op1 --dir "$PKI" >/dev/null || fail "troupe cert client"
export TROUPE_OPS_CA=$PKI/ca.pem TROUPE_OPS_CERT=$PKI/op1.pem
export TROUPE_OPS_KEY=$PKI/op1.key

# ---- bad tags in the configuration: exit 2, the reason named -------------
bad_run() { # bad_run WHAT REGEX ARGS...
  local what=$1 re=$2
  shift 2
  timeout 20 "$T" run --name n9 --listen 127.0.0.1:1 --ca "$PKI/ca.pem" \
    --cert "$PKI/n1.pem" --key "$PKI/n1.key" "$@" \
    >"$WORK/bad.out" 2>"$WORK/bad.err"
  local rc=$?
  [ "$rc" = 2 ] || fail "$what: exit $rc, want 2: $(cat "$WORK/bad.err")"
  grep -Eq -- "$re" "$WORK/bad.err" ||
    fail "$what: '$(cat "$WORK/bad.err")' does not match '$re'"
  ok "$what -> exit 2"
}
bad_run "tag without =" "--tag: bad value 'zone' \(want KEY=VALUE\)" --tag zone
bad_run "tag with a space" "bad value 'zo ne=a' \(keys and values are made of" \
  --tag 'zo ne=a'
bad_run "tag key too long" "key longer than 32 bytes" \
  --tag "$(printf 'k%.0s' {1..33})=v"
bad_run "tag value too long" "value longer than 64 bytes" \
  --tag "k=$(printf 'v%.0s' {1..65})"
bad_run "tag key twice" "tag: a key given twice" --tag zone=a,zone=b
bad_run "nine tags" "tag: more than 8 tags" \
  --tag a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1
TROUPE_TAG=bad timeout 20 "$T" run --check >"$WORK/bad.out" 2>"$WORK/bad.err"
[ $? = 2 ] && grep -q "TROUPE_TAG: bad value 'bad'" "$WORK/bad.err" ||
  fail "TROUPE_TAG=bad: $(cat "$WORK/bad.err")"
timeout 20 "$T" run --tag zone=a >"$WORK/bad.out" 2>"$WORK/bad.err"
[ $? = 2 ] && grep -q "tag needs listen" "$WORK/bad.err" ||
  fail "tag without listen: $(cat "$WORK/bad.err")"
ok "TROUPE_TAG and a local node's tag -> exit 2"

# ---- three tagged nodes --------------------------------------------------
run_node() { # run_node NAME ARGS... (lib.sh start_node picks the port)
  local name=$1 addr
  shift
  eval "addr=\$ADDR_$name"
  "$T" run --name "$name" --listen "$addr" --ca "$PKI/ca.pem" \
    --cert "$PKI/$name.pem" --key "$PKI/$name.key" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
  eval "PID_$name=$!"
}
start_node n1 --tag zone=a --tag rack=r1
A=$ADDR_n1
export TROUPE_OPS_NODE=$A
# The environment and a config file give tags as they give seeds.
TROUPE_TAG=zone=b,rack=r1 start_node n2 --seed "$A"
printf 'tag = zone=a\ntag = role=edge\n' >"$WORK/n3.conf"
start_node n3 --seed "$A" --config "$WORK/n3.conf"

# ops ARGS...: troupe with its output in $WORK/o.out / o.err, status in RC.
ops() {
  "$T" "$@" >"$WORK/o.out" 2>"$WORK/o.err"
  RC=$?
}
expect_rc() { # expect_rc WANT WHAT
  [ "$RC" = "$1" ] || fail "$2: exit $RC, want $1: $(cat "$WORK/o.err")"
}
py() { python3 -c "$1" <"$WORK/o.out" || fail "$2: $(cat "$WORK/o.out")"; }

three_tagged() {
  "$T" members --json 2>/dev/null | python3 -c 'import json,sys
m={x["name"]:x for x in json.load(sys.stdin)}
want={"n1":{"rack":"r1","zone":"a"},"n2":{"rack":"r1","zone":"b"},
      "n3":{"role":"edge","zone":"a"}}
sys.exit(0 if all(n in m and m[n]["state"]=="alive" and m[n]["tags"]==t
                  for n,t in want.items()) else 1)'
}
wait_for 150 three_tagged || fail "n1 never listed 3 alive members with their tags"
ok "members --json: three alive, each with its tags"

ops members
expect_rc 0 "members"
grep -Eq '^NAME +STATE +ADDRESS +TAGS ' "$WORK/o.out" ||
  fail "members: no TAGS column: $(cat "$WORK/o.out")"
grep -Eq '^n1 +alive +[^ ]+ +rack=r1,zone=a ' "$WORK/o.out" ||
  fail "members: n1's tags: $(cat "$WORK/o.out")"
grep -Eq '^n3 +alive +[^ ]+ +role=edge,zone=a ' "$WORK/o.out" ||
  fail "members: n3's tags: $(cat "$WORK/o.out")"
ok "members: a TAGS column"

names() { # names: the names in o.out (JSON), sorted, comma-joined
  python3 -c 'import json,sys
print(",".join(sorted(x["name"] for x in json.load(sys.stdin))))' <"$WORK/o.out"
}
ops members --tag zone=a
expect_rc 0 "members --tag zone=a"
[ "$(grep -Ec '^n[0-9] ' "$WORK/o.out")" = 2 ] &&
  grep -Eq '^n1 ' "$WORK/o.out" && grep -Eq '^n3 ' "$WORK/o.out" ||
  fail "members --tag zone=a: $(cat "$WORK/o.out")"
ops members --json --tag zone=a --tag rack=r1
expect_rc 0 "members --tag zone=a --tag rack=r1"
[ "$(names)" = n1 ] || fail "two tags, all must match: $(cat "$WORK/o.out")"
ops members --json --state alive --tag=rack=r1
expect_rc 0 "members --state alive --tag rack=r1"
[ "$(names)" = n1,n2 ] || fail "--state alive --tag rack=r1: $(cat "$WORK/o.out")"
ops members --json --state dead,left --tag zone=a
expect_rc 0 "members --state dead,left"
[ "$(cat "$WORK/o.out")" = "[]" ] || fail "nobody dead yet: $(cat "$WORK/o.out")"
ops members --json --tag zone=nowhere
[ "$(cat "$WORK/o.out")" = "[]" ] || fail "no match: $(cat "$WORK/o.out")"
ok "members --tag and --state filter (all tags, any state)"

# n2 leaves: its tags stay on its record, and --state finds it.
kill -TERM "$PID_n2"
n2_left() {
  "$T" members --json --state left --tag zone=b 2>/dev/null |
    python3 -c 'import json,sys
sys.exit(0 if [x["name"] for x in json.load(sys.stdin)]==["n2"] else 1)'
}
wait_for 100 n2_left || fail "members --state left --tag zone=b never showed n2"
ops members --json --state alive,suspect
[ "$(names)" = n1,n3 ] || fail "--state alive,suspect: $(cat "$WORK/o.out")"
ok "members --state left finds the tagged node that left"

# ---- bad filters: exit 2 with the reason, as JSON too --------------------
ops members --tag zone
expect_rc 2 "members --tag zone"
grep -q "troupe members: --tag: bad value 'zone' (want KEY=VALUE)" "$WORK/o.err" ||
  fail "members --tag zone: $(cat "$WORK/o.err")"
ops members --state sleepy --json
expect_rc 2 "members --state sleepy"
py 'import json,sys; e=json.load(sys.stdin)
assert "--state: bad value" in e["error"] and e["code"]=="TR_EINVAL", e' \
  "members --state sleepy --json"
ops members --json --tag 'a b=c'
expect_rc 2 "members --tag 'a b=c'"
py 'import json,sys; e=json.load(sys.stdin); assert "--tag" in e["error"], e' \
  "members --tag 'a b=c' --json"
ops members --state
expect_rc 2 "members --state without a value"
ok "bad filters -> exit 2 (JSON error under --json)"
echo "PASS"
