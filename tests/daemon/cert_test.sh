#!/usr/bin/env bash
# cert_test.sh — `troupe cert` as a real process: the files it writes, its
# refusals and exit codes, and that what it wrote works (cert_check: mbedTLS
# verification, and two cluster nodes joining with the node certificates).
# Environment (tests/daemon/CMakeLists.txt): TROUPE_BIN, CERT_CHECK.
set -u

: "${TROUPE_BIN:?}" "${CERT_CHECK:?}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/troupe-cert-test.XXXXXX")
FAILED=0
cleanup() {
  if [ "$FAILED" = 0 ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT
cd "$WORK" || exit 1

fail() {
  FAILED=1
  echo "FAIL: $*"
  for f in "$WORK"/last.out "$WORK"/last.err; do
    [ -s "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
  done
  exit 1
}
ok() { echo "ok: $*"; }

# cert WANT_RC ARGS...: runs `troupe cert ARGS` (bounded), output in
# last.out / last.err; fails unless it exits WANT_RC.
cert() {
  local want=$1
  shift
  timeout 60 "$TROUPE_BIN" cert "$@" >last.out 2>last.err
  local rc=$?
  [ "$rc" = "$want" ] || fail "troupe cert $*: exit $rc, want $want"
}
# expect RC REGEX ARGS...: exit RC and a stderr line matching REGEX.
expect() {
  local want=$1 re=$2
  shift 2
  cert "$want" "$@"
  grep -Eq -- "$re" last.err || fail "troupe cert $*: stderr does not match '$re'"
  ok "cert $* -> exit $want: $(grep -E -- "$re" last.err | head -n 1)"
}
mode() { stat -c %a "$1"; }
digest() { sha256sum "$1" | cut -d' ' -f1; }
# No temp file may be left behind, whatever happened.
no_temps() {
  local left
  left=$(find "$WORK" -name '.*.tmp.*' | head -n 1)
  [ -z "$left" ] || fail "temp file left behind: $left"
}

# ---- the happy path: default dir, CA, two nodes, a client ---------------
cert 0 ca
grep -qx 'certs/ca.pem .*' last.out && grep -qx 'certs/ca.key .*' last.out ||
  fail "ca: output does not name both files: $(cat last.out)"
[ "$(wc -l <last.out)" = 2 ] || fail "ca: want one line per file"
[ "$(mode certs/ca.key)" = 600 ] || fail "ca.key mode $(mode certs/ca.key)"
ok "ca: certs/ca.pem, certs/ca.key (0600)"

cert 0 node n1 --ip 127.0.0.1 --dns n1.example
cert 0 node n2 --dir=certs --days 30
cert 0 client ops
cert 0 client watcher --role viewer
for f in n1 n2 ops watcher; do
  [ -s certs/$f.pem ] || fail "certs/$f.pem missing"
  [ "$(mode certs/$f.key)" = 600 ] || fail "$f.key mode $(mode certs/$f.key)"
  grep -q "BEGIN CERTIFICATE" certs/$f.pem || fail "certs/$f.pem is no PEM"
done
ok "node n1, node n2, client ops written, keys 0600"
no_temps

"$CERT_CHECK" verify certs/ca.pem certs/n1.pem n1 node || fail "n1 does not verify"
"$CERT_CHECK" verify certs/ca.pem certs/n1.pem n1.example node ||
  fail "n1's --dns name is not in its certificate"
"$CERT_CHECK" verify certs/ca.pem certs/n2.pem n2 node || fail "n2 does not verify"
"$CERT_CHECK" verify certs/ca.pem certs/ops.pem ops client || fail "ops does not verify"
"$CERT_CHECK" verify certs/ca.pem certs/watcher.pem watcher viewer ||
  fail "watcher does not verify as a viewer"
"$CERT_CHECK" verify certs/ca.pem certs/n1.pem n2 untrusted ||
  fail "n1's certificate passes for n2"

# Validity: --days 30 means 30 days (checked with openssl when present).
if command -v openssl >/dev/null; then
  end=$(openssl x509 -in certs/n2.pem -noout -enddate | cut -d= -f2)
  days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 ))
  [ "$days" = 29 ] || [ "$days" = 30 ] || fail "n2 valid $days days, want 30"
  end=$(openssl x509 -in certs/ca.pem -noout -enddate | cut -d= -f2)
  days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 ))
  [ "$days" -ge 3649 ] && [ "$days" -le 3650 ] || fail "CA valid $days days, want 3650"
  ok "validity: n2 30 days, CA 3650 days"
fi

# The real thing: two cluster nodes from these files find each other.
"$CERT_CHECK" cluster certs n1 n2 || fail "n1 and n2 do not form a cluster"
# A client certificate cannot act as a node (no serverAuth), even one
# naming the node.
cert 0 client n9
"$CERT_CHECK" cluster certs n1 n9 refused || fail "a client certificate joined"
expect 2 "--role wants operator or viewer" client x --role admin
expect 2 "unknown flag '--role'" node y --role viewer

# ---- no overwrite without --force ----------------------------------------
before=$(digest certs/ca.key)
expect 2 '^troupe cert: certs/ca.pem exists; use --force' ca
expect 2 '^troupe cert: certs/n1.pem exists; use --force' node n1
# Only the key left: still refused, naming the key.
mv certs/ops.pem ops.pem.saved
expect 2 '^troupe cert: certs/ops.key exists; use --force' client ops
mv ops.pem.saved certs/ops.pem
[ "$(digest certs/ca.key)" = "$before" ] || fail "ca.key changed without --force"
no_temps

# ---- --force replaces, and the new pair works ------------------------------
old=$(digest certs/n1.key)
cert 0 node n1 --force
[ "$(digest certs/n1.key)" != "$old" ] || fail "--force did not replace n1.key"
[ "$(mode certs/n1.key)" = 600 ] || fail "forced n1.key mode $(mode certs/n1.key)"
"$CERT_CHECK" verify certs/ca.pem certs/n1.pem n1 node || fail "forced n1 does not verify"
ok "node n1 --force replaced the pair"

# ---- missing or unusable CA ------------------------------------------------
mkdir empty
expect 2 '^troupe cert: empty/ca.pem: No such file' node n3 --dir empty
cp certs/ca.pem empty/
expect 2 '^troupe cert: empty/ca.key: No such file' client c1 --dir empty
# A node certificate is no CA, even with its own key.
mkdir notca && cp certs/n2.pem notca/ca.pem && cp certs/n2.key notca/ca.key
expect 2 'not a usable CA' node n3 --dir notca
[ -e empty/n3.pem ] || [ -e empty/c1.pem ] || [ -e notca/n3.pem ] &&
  fail "a certificate was written without a CA"
no_temps

# A certificate from another CA does not verify against ours.
cert 0 ca --dir other
cert 0 node n1 --dir other
"$CERT_CHECK" verify certs/ca.pem other/n1.pem n1 untrusted ||
  fail "another CA's certificate verifies"

# ---- bad flags and arguments: exit 2 with the usage ------------------------
expect 2 'which certificate'
expect 2 "unknown kind 'server'" server x
expect 2 "unknown flag '--bogus'" node n4 --bogus
expect 2 "unknown flag '--dns'" ca --dns x
expect 2 'NAME is missing' node
expect 2 "unexpected argument 'n5'" node n4 n5
expect 2 '--days wants 1 to 36500' node n4 --days 0
expect 2 '--days wants 1 to 36500' node n4 --days 12x
expect 2 '--dir needs a value' node n4 --dir
expect 2 "--ip wants an IPv4 or IPv6 address, not '1.2.3'" node n4 --ip 1.2.3
expect 2 "bad NAME '../n4'" node ../n4
expect 2 "bad NAME '-n4'" node -- -n4
expect 2 "NAME 'ca' is taken" node ca
grep -q '^usage: troupe cert' last.err || fail "a usage error prints no usage"
[ -e certs/n4.pem ] && fail "n4 written despite bad flags"
ok "bad flags and names -> exit 2 with the usage"

# ---- write errors: exit 1 ---------------------------------------------------
expect 1 '^troupe cert: cannot create /dev/null/x' ca --dir /dev/null/x

# ---- --help, --version -------------------------------------------------------
cert 0 --help
grep -q '^usage: troupe cert ca' last.out || fail "--help prints no usage"
cert 0 node --version
grep -q '^troupe [0-9]' last.out || fail "--version prints no version"
ok "--help and --version"
no_temps

echo "all cert checks passed"
