#!/usr/bin/env bash
# check_host.sh SRC TROUPE — checks the host deployment files: the scripts
# pass bash -n and ShellCheck, install.sh into a DESTDIR (layout, modes, the
# paths substituted), systemd-analyze verify on the installed unit, the
# installed binary running the installed sample config (healthy, then exit 0
# on SIGTERM). What make-certs.sh writes is deploy.manifests' part.
# A missing tool (shellcheck, systemd-analyze) skips its part: the other
# parts still run, and then the test exits 77 (ctest: skipped) naming what
# did not run; a failure anywhere exits 1 at once. deploy/dev.sh test
# installs both.
set -euo pipefail

src=$1 troupe=$2
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
skipped=()
skip() { echo "SKIP (part): $*"; skipped+=("$*"); }

scripts=("$src/deploy/install.sh" "$src/deploy/kubernetes/make-certs.sh"
         "$src/deploy/demo.sh" "$src/tests/deploy/check_host.sh"
         "$src/tests/deploy/demo_test.sh" "$src/tests/deploy/gitignore_test.sh")
for s in "${scripts[@]}"; do bash -n "$s" || fail "bash -n $s"; done
if command -v shellcheck >/dev/null; then
  shellcheck "${scripts[@]}" || fail "shellcheck"
else
  skip "shellcheck not installed"
fi

# install.sh: a staged install with a non-default prefix.
build=$tmp/build
mkdir -p "$build/node/daemon" "$build/plugins"
cp "$troupe" "$build/node/daemon/troupe"
plugins=$(dirname "$(dirname "$(dirname "$troupe")")")/plugins
cp "$plugins"/*.so "$build/plugins/" 2>/dev/null || true
d=$tmp/dest
DESTDIR=$d bash "$src/deploy/install.sh" --build "$build" --prefix /opt/troupe \
  >/dev/null || fail "install.sh"
[ -x "$d/opt/troupe/bin/troupe" ] || fail "no bin/troupe"
for p in "$build"/plugins/*.so; do
  [ -f "$p" ] || continue
  [ -f "$d/opt/troupe/lib/troupe/$(basename "$p")" ] || fail "plugin $(basename "$p") not installed"
done
unit=$d/etc/systemd/system/troupe.service
conf=$d/etc/troupe/troupe.conf
{ [ -f "$unit" ] && [ -f "$conf" ]; } || fail "unit or config missing"
grep -q '^ExecStart=/opt/troupe/bin/troupe run --config /etc/troupe/troupe.conf$' "$unit" ||
  fail "ExecStart does not name the prefix's binary"
[ "$(stat -c %a "$d/etc/troupe")" = 750 ] || fail "/etc/troupe is not 0750"
[ "$(stat -c %a "$conf")" = 640 ] || fail "troupe.conf is not 0640"
# A second install keeps the operator's config.
echo "# edited" >>"$conf"
DESTDIR=$d bash "$src/deploy/install.sh" --build "$build" --prefix /opt/troupe >/dev/null
{ grep -q '^# edited$' "$conf" && [ -f "$conf.new" ]; } || fail "a reinstall replaced troupe.conf"
for want in NoNewPrivileges=yes ProtectSystem=strict User=troupe \
            Restart=on-failure RestartPreventExitStatus=2; do
  grep -qx "$want" "$unit" || fail "unit lacks $want"
done
stop=$(sed -n 's/^TimeoutStopSec=//p' "$unit")
[ "${stop:-0}" -gt 5 ] || fail "TimeoutStopSec=$stop is not above the 5 s leave"

if command -v systemd-analyze >/dev/null; then
  # verify wants ExecStart to exist: point it into DESTDIR.
  sed "s#^ExecStart=/opt/troupe#ExecStart=$d/opt/troupe#" "$unit" >"$tmp/troupe.service"
  out=$(systemd-analyze verify "$tmp/troupe.service" 2>&1) || fail "systemd-analyze verify: $out"
  [ -z "$out" ] || fail "systemd-analyze verify warns: $out"
else
  skip "systemd-analyze not installed"
fi

# The sample config runs: local mode, healthy, exit 0 on SIGTERM. Its
# metrics port is moved to a free one.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed "s#^metrics = 127.0.0.1:9100#metrics = 127.0.0.1:$port#" "$conf" >"$tmp/run.conf"
"$d/opt/troupe/bin/troupe" run --config "$tmp/run.conf" >"$tmp/run.log" 2>&1 &
pid=$!
healthy=0
for _ in $(seq 100); do
  if python3 - "$port" <<'PY' 2>/dev/null; then healthy=1; break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1).read()
PY
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ "$healthy" = 1 ] || { cat "$tmp/run.log" >&2; fail "the sample config does not run"; }
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || { cat "$tmp/run.log" >&2; fail "exit $rc after SIGTERM, want 0"; }

if [ ${#skipped[@]} -gt 0 ]; then
  printf 'SKIP: %s\n' "${skipped[@]}"
  exit 77
fi
echo "ok: install.sh, troupe.service; the scripts pass bash -n and shellcheck"
