#!/usr/bin/env bash
# install.sh — installs a built troupe on a systemd host: the binary, the
# example plugins, troupe.service and a sample /etc/troupe/troupe.conf.
#   bash deploy/install.sh [--build DIR] [--prefix P] [--sysconfdir D]
#                          [--unitdir D]
# --build DIR   the CMake build tree [<repo>/build]
# --prefix P    PREFIX/bin/troupe, PREFIX/lib/troupe/*.so [/usr/local]
# --sysconfdir  where troupe/troupe.conf goes [/etc]
# --unitdir     where troupe.service goes [/etc/systemd/system]
# DESTDIR (environment) stages everything under DESTDIR, for packaging; then
# no user is made and systemd is not told. An existing troupe.conf is kept
# (the new one is written beside it as troupe.conf.new).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$here/../build prefix=${PREFIX:-/usr/local} sysconfdir=/etc
unitdir=/etc/systemd/system
destdir=${DESTDIR:-}

usage() { sed -n '2,13s/^# \{0,1\}//p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=${2:?}; shift 2 ;;
    --prefix) prefix=${2:?}; shift 2 ;;
    --sysconfdir) sysconfdir=${2:?}; shift 2 ;;
    --unitdir) unitdir=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
for d in "$prefix" "$sysconfdir" "$unitdir"; do
  case $d in /*) ;; *) echo "install.sh: '$d' is not an absolute path" >&2; exit 2 ;; esac
done

bin=$build/node/daemon/troupe
if [ ! -x "$bin" ]; then
  echo "install.sh: no $bin; build first (cmake -S . -B build && cmake --build build)" >&2
  exit 1
fi

confdir=$sysconfdir/troupe
plugindir=$prefix/lib/troupe
install -d -m 0755 "$destdir$prefix/bin" "$destdir$plugindir" "$destdir$unitdir"
install -m 0755 "$bin" "$destdir$prefix/bin/troupe"
shopt -s nullglob
plugins=("$build"/plugins/*.so)
shopt -u nullglob
for p in "${plugins[@]}"; do install -m 0644 "$p" "$destdir$plugindir/"; done

# The unit and the sample config name /usr/local and /etc; point them at
# the real places.
sed -e "s#/usr/local/bin/troupe#$prefix/bin/troupe#g" \
    -e "s#/etc/troupe/#$confdir/#g" \
    "$here/systemd/troupe.service" >"$destdir$unitdir/troupe.service.tmp"
chmod 0644 "$destdir$unitdir/troupe.service.tmp"
mv "$destdir$unitdir/troupe.service.tmp" "$destdir$unitdir/troupe.service"

# /etc/troupe is readable by the service's group only: it holds the
# node's private key.
install -d -m 0750 "$destdir$confdir" "$destdir$confdir/certs"
conf=$destdir$confdir/troupe.conf
[ -e "$conf" ] && conf=$conf.new
sed -e "s#/usr/local/lib/troupe/#$plugindir/#g" -e "s#/etc/troupe/#$confdir/#g" \
    "$here/systemd/troupe.conf" >"$conf"
chmod 0640 "$conf"

echo "install.sh: installed $destdir$prefix/bin/troupe, ${#plugins[@]} plugin(s) in $destdir$plugindir"
echo "install.sh: unit $destdir$unitdir/troupe.service, config $conf"
[ -n "$destdir" ] && exit 0

# A real install: the service's user, the config's group, systemd.
if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: not root: make the user troupe and run 'systemctl daemon-reload' yourself" >&2
  exit 0
fi
getent passwd troupe >/dev/null ||
  useradd --system --user-group --home-dir /var/lib/troupe --no-create-home \
    --shell /usr/sbin/nologin troupe
chgrp -R troupe "$confdir"
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "install.sh: start it with: systemctl enable --now troupe"
fi
