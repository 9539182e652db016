#!/usr/bin/env bash
# check_promtool.sh METRICS_SERVE — lints one exposition of a 2-node cluster
# node with `promtool check metrics` (Debian package prometheus). Exits 77
# (ctest: skipped) when promtool is not installed.
set -euo pipefail
serve=$1
if ! command -v promtool >/dev/null 2>&1; then
  echo "SKIP: promtool not installed (apt-get install prometheus)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$serve" --once > "$tmp/metrics.txt"
lines=$(grep -c '^troupe_' "$tmp/metrics.txt" || true)
echo "promtool: checking $lines series"
if ! promtool check metrics < "$tmp/metrics.txt"; then
  echo "promtool check metrics failed on:" >&2
  cat "$tmp/metrics.txt" >&2
  exit 1
fi
echo "promtool: exposition ok"
