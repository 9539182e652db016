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
# Every CA has its own name (issue 19): a random one, or the cluster's.
subj=$("$CERT_CHECK" subject certs/ca.pem)
[[ $subj =~ ^CN=troupe-ca-[0-9a-f]{8},\ O=troupe$ ]] || fail "ca subject: $subj"
"$TROUPE_BIN" cert ca --dir "$WORK/ca2" --cluster prod-eu >/dev/null || fail "cert ca --cluster"
[ "$("$CERT_CHECK" subject "$WORK/ca2/ca.pem")" = "CN=troupe-ca-prod-eu, O=troupe" ] ||
  fail "ca --cluster prod-eu: $("$CERT_CHECK" subject "$WORK/ca2/ca.pem")"
"$TROUPE_BIN" cert ca --dir "$WORK/ca3" --cluster 'bad name' >/dev/null 2>&1 &&
  fail "cert ca --cluster 'bad name' accepted"
ok "CA names: $subj; --cluster prod-eu: CN=troupe-ca-prod-eu"

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

# A certificate from another CA does not verify against ours: one of the
# same name (troupe-ca-<ours>), so only the signature tells.
ours=${subj#CN=troupe-ca-}
cert 0 ca --dir other --cluster "${ours%, O=troupe}"
[ "$("$CERT_CHECK" subject other/ca.pem)" = "$subj" ] || fail "other CA's name"
cert 0 node n1 --dir other
"$CERT_CHECK" verify certs/ca.pem other/n1.pem n1 untrusted ||
  fail "another CA's certificate verifies"

# ---- revoke and crl: the CA's revocation list ------------------------------
# cert_check reads the list with mbedTLS as a node does: "revoked SERIAL
# DATE" per entry, and verifies certificates with it.
serial() { "$CERT_CHECK" serial "$1" || fail "no serial in $1"; }
# crl_lines DIR DAYS: the entries of DIR/crl.pem, after checking that it is
# DIR/ca.pem's list, in date, valid DAYS more days.
crl_lines() {
  "$CERT_CHECK" crl "$1/ca.pem" "$1/crl.pem" "$2" >crl.out 2>crl.err ||
    fail "$1/crl.pem is no good list of $1/ca.pem: $(cat crl.err)"
  cat crl.out
}
s1=$(serial certs/n1.pem)
sops=$(serial certs/ops.pem)
[ -n "$s1" ] && [ -n "$sops" ] && [ "$s1" != "$sops" ] || fail "serials '$s1' '$sops'"
[ -e certs/crl.pem ] && fail "crl.pem exists before any revoke"

cert 0 revoke n1
grep -qx 'certs/crl.pem  revocation list, 1 revoked, valid 3650 days' last.out ||
  fail "revoke: no path line: $(cat last.out)"
grep -qx "revoked n1 (serial $s1); 1 entry in the list" last.out ||
  fail "revoke: no serial line: $(cat last.out)"
[ "$(mode certs/crl.pem)" = 644 ] || fail "crl.pem mode $(mode certs/crl.pem)"
grep -q 'BEGIN X509 CRL' certs/crl.pem || fail "crl.pem is no PEM CRL"
first=$(crl_lines certs 3650)
echo "$first" | grep -Eqx "revoked $s1 [0-9]{14}Z" || fail "crl.pem lists '$first', want $s1"
# What a node with this list does: n1 refused as revoked, n2 still fine.
"$CERT_CHECK" verify certs/ca.pem certs/n1.pem n1 revoked certs/crl.pem ||
  fail "revoked n1 is not refused as revoked"
"$CERT_CHECK" verify certs/ca.pem certs/n2.pem n2 node certs/crl.pem ||
  fail "n2 does not verify with the list"
ok "revoke n1: crl.pem (0644) lists $s1; n1 refused as revoked, n2 verifies"
if command -v openssl >/dev/null; then
  openssl crl -in certs/crl.pem -CAfile certs/ca.pem -noout 2>&1 |
    grep -q 'verify OK' || fail "openssl does not verify crl.pem"
  openssl crl -in certs/crl.pem -noout -text | grep -q "Serial Number: $s1" ||
    fail "openssl does not see $s1 in crl.pem"
  ok "openssl reads and verifies crl.pem"
fi

# A second one (by file, without NAME) keeps the first entry, date and all.
cert 0 revoke --cert certs/ops.pem --days 30
grep -qx "revoked ops (serial $sops); 2 entries in the list" last.out ||
  fail "revoke --cert: $(cat last.out)"
lines=$(crl_lines certs 30)
[ "$(echo "$lines" | head -n 1)" = "$first" ] || fail "the first entry changed: $lines"
echo "$lines" | sed -n 2p | grep -Eqx "revoked $sops [0-9]{14}Z" ||
  fail "ops is not the second entry: $lines"
[ "$(echo "$lines" | wc -l)" = 2 ] || fail "want 2 entries: $lines"
"$CERT_CHECK" verify certs/ca.pem certs/ops.pem ops revoked certs/crl.pem ||
  fail "revoked ops is not refused as revoked"
"$CERT_CHECK" verify certs/ca.pem certs/n1.pem n1 revoked certs/crl.pem ||
  fail "n1 is no longer revoked"
ok "revoke --cert ops.pem: 2 entries, the first kept, 30 days"

# The same one again: said, exit 0, nothing added, dates renewed.
cert 0 revoke n1
grep -qx "already revoked: n1 (serial $s1); 2 entries in the list" last.out ||
  fail "revoking again: $(cat last.out)"
[ "$(crl_lines certs 3650)" = "$lines" ] || fail "revoking again changed the entries"
ok "revoke n1 again -> exit 0, already revoked, same 2 entries, 3650 days"

# cert crl renews: new dates, the same entries.
before=$(digest certs/crl.pem)
cert 0 crl --days 7
grep -qx 'certs/crl.pem  revocation list, 2 revoked, valid 7 days' last.out ||
  fail "crl: $(cat last.out)"
[ "$(digest certs/crl.pem)" != "$before" ] || fail "crl did not rewrite crl.pem"
[ "$(crl_lines certs 7)" = "$lines" ] || fail "crl changed the entries"
"$CERT_CHECK" verify certs/ca.pem certs/n1.pem n1 revoked certs/crl.pem ||
  fail "n1 is not revoked after crl"
"$CERT_CHECK" verify certs/ca.pem certs/n2.pem n2 node certs/crl.pem ||
  fail "n2 does not verify after crl"
cert 0 crl
ok "crl --days 7 renews crl.pem with the same entries"
# ... and makes an empty list where there is none, which refuses nobody.
cert 0 crl --dir other
grep -qx 'other/crl.pem  revocation list, 0 revoked, valid 3650 days' last.out ||
  fail "crl --dir other: $(cat last.out)"
[ -z "$(crl_lines other 3650)" ] || fail "other/crl.pem is not empty"
"$CERT_CHECK" verify other/ca.pem other/n1.pem n1 node other/crl.pem ||
  fail "other/n1 does not verify with an empty list"
ok "crl --dir other: an empty list"

# An expired certificate of this CA can still be revoked.
"$CERT_CHECK" expired certs old || fail "cannot make an expired certificate"
"$CERT_CHECK" verify certs/ca.pem certs/old.pem old untrusted ||
  fail "the expired certificate verifies"
sold=$(serial certs/old.pem)
cert 0 revoke old
grep -qx "revoked old (serial $sold); 3 entries in the list" last.out ||
  fail "revoke an expired certificate: $(cat last.out)"
crl_lines certs 3650 | sed -n 3p | grep -Eqx "revoked $sold [0-9]{14}Z" ||
  fail "the expired certificate is not the third entry"
ok "revoke old (expired a day ago) -> exit 0, 3 entries"

# Refusals, and crl.pem untouched by them.
before=$(digest certs/crl.pem)
expect 2 'other/n1.pem was not issued by this CA \(certs/ca.pem\)' \
  revoke --cert other/n1.pem
expect 2 "no certificate named 'nosuch' in certs" revoke nosuch
expect 2 "certs/n2.pem is the certificate of 'n2', not of 'n1'" \
  revoke n1 --cert certs/n2.pem
expect 2 'is the CA itself' revoke ca
expect 2 'certs/ca.pem is the CA itself' revoke --cert certs/ca.pem
expect 2 'NAME \(or --cert FILE\) is missing' revoke
expect 2 "unknown flag '--force'" revoke n1 --force
expect 2 "unknown flag '--cert'" crl --cert certs/n1.pem
expect 2 "unexpected argument 'n1'" crl n1
expect 2 '--days wants 1 to 36500' crl --days 36501
expect 2 "NAME 'crl' is taken by the revocation list" node crl
[ "$(digest certs/crl.pem)" = "$before" ] || fail "a refused revoke changed crl.pem"
mkdir noca && cp certs/n1.pem noca/
expect 2 '^troupe cert: noca/ca.pem: No such file.*troupe cert ca' revoke n1 --dir noca
expect 2 '^troupe cert: noca/ca.pem: No such file' crl --dir noca
[ -e noca/crl.pem ] && fail "a list was written without a CA"
# The key must be the CA's own.
mkdir badkey && cp certs/ca.pem certs/n2.pem badkey/ && cp other/ca.key badkey/
expect 2 'not a usable CA' revoke n2 --dir badkey
# A crl.pem that is not this CA's list is left alone: another CA's (of the
# same name, so only its signature tells), or no list at all.
mkdir mixed && cp certs/ca.pem certs/ca.key certs/n2.pem mixed/
cp other/crl.pem mixed/crl.pem
expect 2 'mixed/crl.pem is not a revocation list of this CA .*signature' \
  revoke n2 --dir mixed
cmp -s other/crl.pem mixed/crl.pem || fail "another CA's crl.pem was changed"
cp certs/n2.pem mixed/crl.pem
expect 2 'mixed/crl.pem is not a revocation list' crl --dir mixed
cmp -s certs/n2.pem mixed/crl.pem || fail "a bad crl.pem was changed"
# Two at once: the second one waits for nobody and says so (exit 1).
if command -v flock >/dev/null; then
  timeout 60 flock certs "$TROUPE_BIN" cert crl --dir certs >last.out 2>last.err
  rc=$?
  [ "$rc" = 1 ] && grep -q 'another troupe cert is changing its crl.pem' last.err ||
    fail "crl under a held lock: exit $rc"
  ok "crl while certs is locked -> exit 1"
fi
[ "$(digest certs/crl.pem)" = "$before" ] || fail "a refused crl changed crl.pem"
no_temps

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
