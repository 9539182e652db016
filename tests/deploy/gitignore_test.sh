#!/usr/bin/env bash
# gitignore_test.sh SRC — what a user's checkout must never offer to commit
# (issue 19, finding 7): the keys `troupe cert` writes into ./certs (its
# default directory), and the build directories. Skips (77) outside a git
# checkout (a source tarball has no .gitignore to check).
set -u
src=${1:?usage: gitignore_test.sh SRC}
if ! command -v git >/dev/null ||
  ! git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  echo "skip: $src is not a git checkout"
  exit 77
fi
for path in certs/ca.key certs/ca.pem certs/n1.key certs/ops.key \
  build/CMakeCache.txt build-asan/x; do
  git -C "$src" check-ignore -q --no-index "$path" ||
    { echo "FAIL: $path is not ignored (.gitignore)"; exit 1; }
done
for path in node/daemon/cmd_cert.c docs/inspector.md; do
  if git -C "$src" check-ignore -q --no-index "$path"; then
    echo "FAIL: $path is ignored"; exit 1
  fi
done
echo "ok: certs/ and build*/ ignored, sources not"
