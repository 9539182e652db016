#!/usr/bin/env bash
# check_exports.sh — the libraries show only the public API: every symbol
# the shared library exports and every global symbol the static library
# defines is a call the public headers declare (TR_API), and every such
# call is there. Nothing internal (actor_find, link_send, nanopb's pb_*)
# can clash with a user's symbols.
#   check_exports.sh INCLUDE_DIR libtroupe.so libtroupe.a
set -euo pipefail
inc=${1:?usage: check_exports.sh INCLUDE_DIR SHARED STATIC}
so=${2:?} a=${3:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Declared: "TR_API type name(" or "TR_API type(name)(", in the library's
# headers; the plugin entry points are the plugins' to define.
cat "$inc/troupe.h" "$inc/troupe_ops.h" "$inc/troupe_pb.h" \
  "$inc/troupe_inspect.h" | tr '\n' ' ' |
  grep -oE 'TR_API[^;{]*[ (*]tr_[a-z0-9_]+\)?\(' |
  sed -E 's/.*[ (*](tr_[a-z0-9_]+)\)?\($/\1/' | sort -u >"$work/declared"
nm -D --defined-only "$so" | awk '{print $3}' | sort -u >"$work/shared"
nm "$a" | awk '$2 ~ /^[A-TV-Z]$/ {print $3}' | sort -u >"$work/static"

fail=0
for lib in shared static; do
  extra=$(comm -13 "$work/declared" "$work/$lib")
  missing=$(comm -23 "$work/declared" "$work/$lib")
  if [ -n "$extra" ]; then
    echo "FAIL: the $lib library has global symbols the headers do not declare:"
    echo "$extra" | head -20 | sed 's/^/  /'
    fail=1
  fi
  if [ -n "$missing" ]; then
    echo "FAIL: the $lib library lacks declared calls:"
    echo "$missing" | sed 's/^/  /'
    fail=1
  fi
done
[ "$fail" -eq 0 ] || exit 1
echo "check_exports: $(wc -l <"$work/declared") declared calls; the shared" \
     "and the static library export exactly those"
