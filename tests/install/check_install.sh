#!/usr/bin/env bash
# check_install.sh BUILD_DIR — installs troupe from BUILD_DIR into a
# temporary prefix, then builds and runs a consumer three ways: CMake
# package (shared and static) and pkg-config; and a typed-message consumer
# with a .proto of its own and examples/typed, both through
# troupe_add_messages from the package.
set -euo pipefail
build=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$here" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/consumer/consumer_shared"
"$tmp/consumer/consumer_static"
"$tmp/consumer/typed_consumer"
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/consumer/typed_example" |
  grep -q "summary: orders=3 cancels=1 cents=7500" ||
  { echo "install: the typed example built from the package failed"; exit 1; }

libdir=$(find "$tmp/prefix" -name troupe.pc -printf '%h\n' | head -1)
export PKG_CONFIG_PATH=$libdir
# shellcheck disable=SC2046
cc -o "$tmp/pc_consumer" "$here/consumer.c" $(pkg-config --cflags --libs troupe)
LD_LIBRARY_PATH="$(dirname "$libdir")" "$tmp/pc_consumer"
echo "install: find_package and pkg-config consumers ran"
