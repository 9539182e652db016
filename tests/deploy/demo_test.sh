#!/usr/bin/env bash
# demo_test.sh SRC BUILD — `bash deploy/dev.sh demo`'s script against this
# build (issue 19, item 6): every step reached in order, the ask's reply,
# prices from n1 printed on n2, n3 seen suspect or dead after its kill, exit
# 0, and nothing left behind: no process, no directory.
set -u
src=${1:?usage: demo_test.sh SRC BUILD} build=${2:?usage: demo_test.sh SRC BUILD}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/troupe-demo-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; cat "$tmp/out"; exit 1; }

TMPDIR=$tmp timeout 150 bash "$src/deploy/demo.sh" "$build" >"$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] || fail "demo.sh exited $rc"
want=("== 1. certificates" "== 2. three nodes join" "== 3. send by id, across nodes"
  "-> hello from n1" "== 4. subscribe across nodes" "n2 | [p2] prices: t1 "
  "== 5. a node dies; the others notice" "n3 dead" "== 6. done")
at=0
for w in "${want[@]}"; do
  n=$(grep -nF -- "$w" "$tmp/out" | head -n 1 | cut -d: -f1)
  [ -n "$n" ] || fail "no '$w' in the demo's output"
  [ "$n" -gt "$at" ] || fail "'$w' out of order (line $n, after line $at)"
  at=$n
done
grep -E '^ +[0-9]+\.[0-9] s +n3 (suspect|dead)$' "$tmp/out" >/dev/null ||
  fail "n3's fall not shown"
# Its processes ran with their files under $tmp: none may remain.
sleep 0.5
if pgrep -f "$tmp/troupe-demo" >/dev/null; then
  fail "processes left: $(pgrep -af "$tmp/troupe-demo")"
fi
left=$(find "$tmp" -mindepth 1 -maxdepth 1 ! -name out)
[ -z "$left" ] || fail "left behind: $left"
echo "ok: the demo's 6 steps in order, exit 0, no process or file left"
