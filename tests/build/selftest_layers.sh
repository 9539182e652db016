#!/usr/bin/env bash
# selftest_layers.sh — shows that check_layers.py fails when a layer reaches
# past its arrows: a copy of the source tree gets one forbidden include per
# case (the cluster including the engine's private header, the engine
# including the cluster, the daemon including a link header, TLS including
# libuv) and the check must name each.
set -euo pipefail
src=${1:?usage: selftest_layers.sh SOURCE_ROOT}
check=$(dirname "$0")/check_layers.py
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/include" "$src/base" "$src/node" "$src/transport" "$src/examples" "$work/"

python3 "$check" "$work" >/dev/null ||
  { echo "FAIL: the clean copy does not pass"; exit 1; }

fails=0
expect_violation() { # file, include line, what the report must say
  local file=$1 line=$2 want=$3 out
  cp "$work/$file" "$work/$file.orig"
  printf '%s\n' "$line" >>"$work/$file"
  if out=$(python3 "$check" "$work"); then
    echo "FAIL: $file with '$line' passed the check"; fails=$((fails + 1))
  elif ! grep -qF -- "$want" <<<"$out"; then
    echo "FAIL: $file with '$line': report lacks '$want':"; echo "$out"
    fails=$((fails + 1))
  else
    echo "ok: $file + '$line' -> $(grep -F -- "$want" <<<"$out" | head -1)"
  fi
  mv "$work/$file.orig" "$work/$file"
}

expect_violation node/cluster/host_api.c '#include "engine.h"' \
  'the cluster layer includes "engine.h" (engine-private)'
expect_violation node/engine/send.c '#include "cluster.h"' \
  'the engine layer includes "cluster.h" (cluster-if)'
expect_violation node/daemon/main.c '#include "link.h"' \
  'the daemon layer includes "link.h" (link-if)'
expect_violation transport/tls/tls.c '#include <uv.h>' \
  'the tls layer includes <uv.h>'
expect_violation node/assembly/node.c '#include "host.h"' \
  'the assembly layer includes "host.h" (cluster-private)'
expect_violation base/logfmt.c '#include "wire.h"' \
  'the base layer includes "wire.h" (wire)'
[ "$fails" -eq 0 ] || exit 1
echo "selftest_layers: every forbidden include was reported"
