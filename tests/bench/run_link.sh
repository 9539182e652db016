#!/usr/bin/env bash
# run_link.sh — the link's benchmarks against Erlang distribution over TLS,
# in one command.
#
# Runs bench_link (troupe's link between two processes over TLS, with the
# AES-GCM / ChaCha20-Poly1305 and bare-TCP bounds measured in the same run)
# and erlang_link.escript (two Erlang nodes, -proto_dist inet_tls, one
# scheduler each, certificates from `bench_link --write-certs`), prints every
# figure line of both as it comes, then ratio and target lines as JSON:
#   {"name":"ratio_link_oneway_64_vs_erlang_tls","value":5.3,"target":">=5",
#    "pass":true,...}
# Targets: link one-way 64 B >= 5x Erlang's, >= 1 M envelopes/s; 4 KiB MB/s
# >= 0.5x mbedTLS AES-128-GCM; RTT p50 <= 1.5x bare TCP (the last three
# are checked by bench_link itself and collected here). The 4 KiB and RTT
# ratios against Erlang are printed without a target.
#
# Usage: tests/bench/run_link.sh [--quick] [PATH_TO_BENCH_LINK]
#   --quick  small counts (a smoke run; figures are not meaningful)
#   The binary is PATH_TO_BENCH_LINK, else $BENCH_LINK, else
#   build/tests/bench/bench_link under the repository root. When that default
#   binary is missing it is built there: build/ is (re)configured, as Release
#   if it has never been configured, else keeping its settings; a missing
#   explicit path is an error. Build with -DCMAKE_BUILD_TYPE=Release for
#   figures worth comparing.
#   $ESCRIPT overrides the escript interpreter (default: escript on PATH).
#
# Exit status: 0 whether or not the targets are met (benchmarks are not
# pass/fail; look for "pass":false); 1 if a benchmark program failed or a
# figure is missing; 2 for bad usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

quick=()
bin=${BENCH_LINK:-}
for arg in "$@"; do
  case $arg in
    --quick) quick=(--quick) ;;
    -h|--help) sed -n '2,29p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "run_link.sh: unknown option $arg" >&2; exit 2 ;;
    *) bin=$arg ;;
  esac
done

if [[ -z $bin ]]; then
  bin=$root/build/tests/bench/bench_link
  if [[ ! -x $bin ]]; then
    echo "run_link.sh: $bin missing, building it" >&2
    if [[ -f $root/build/CMakeCache.txt ]]; then
      cmake -S "$root" -B "$root/build" >&2 # keeps that build's settings
    else
      cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >&2
    fi
    cmake --build "$root/build" -j2 --target bench_link >&2
  fi
fi
if [[ ! -x $bin ]]; then
  echo "run_link.sh: no bench_link at $bin" >&2
  exit 1
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
escript_bin=${ESCRIPT:-escript}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One benchmark at a time: the machine has two cores and each side of a
# link wants one.
status=0
timeout 900 "$bin" "${quick[@]}" | tee "$tmp/c.jsonl" || status=1
if command -v "$escript_bin" >/dev/null 2>&1; then
  timeout 900 "$escript_bin" "$here/erlang_link.escript" "${quick[@]}" \
    --bench-link "$bin" | tee "$tmp/erl.jsonl" || status=1
else
  echo '{"name":"erlang","runtime":"erlang","error":"escript not found"}'
  : >"$tmp/erl.jsonl"
  status=1
fi

python3 - "$tmp/c.jsonl" "$tmp/erl.jsonl" <<'EOF' || status=1
import json
import sys


def load(path):
    figs, checks, errors = {}, [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if "error" in row:
                errors.append(row["name"])
            if "value" in row:
                figs[row["name"]] = row["value"]
            if "pass" in row:
                checks.append(row)
    return figs, checks, errors


(c, c_checks, c_err), (erl, _, erl_err) = load(sys.argv[1]), load(sys.argv[2])
missing = []
failed = []


def out(row):
    print(json.dumps(row, separators=(",", ":")), flush=True)


def ratio(name, num, den, target=None, check=None, **extra):
    if num is None or den is None or den == 0:
        missing.append(name)
        row = {"name": name, "value": None, "error": "figure missing"}
        if target:
            row.update({"target": target, "pass": False})
        out(row)
        return
    v = round(num / den, 3)
    row = {"name": name, "value": v}
    if target:
        ok = check(v)
        row.update({"target": target, "pass": ok})
        if not ok:
            failed.append(name)
    row.update(extra)
    out(row)


ratio("ratio_link_oneway_64_vs_erlang_tls", c.get("link_oneway_64"),
      erl.get("link_oneway_64"), ">=5", lambda v: v >= 5,
      troupe=c.get("link_oneway_64"), erlang=erl.get("link_oneway_64"))
ratio("ratio_link_oneway_4k_mbps_vs_erlang_tls", c.get("link_oneway_4k_mbps"),
      erl.get("link_oneway_4k_mbps"), troupe=c.get("link_oneway_4k_mbps"),
      erlang=erl.get("link_oneway_4k_mbps"))
# Latency and CPU: lower is better, so these are troupe's share of Erlang's.
ratio("ratio_link_rtt_p50_vs_erlang_tls", c.get("link_rtt_64_p50"),
      erl.get("link_rtt_64_p50"), troupe=c.get("link_rtt_64_p50"),
      erlang=erl.get("link_rtt_64_p50"))
ratio("ratio_link_cpu_64_vs_erlang_tls", c.get("link_cpu_64_total"),
      erl.get("link_cpu_64_total"), troupe=c.get("link_cpu_64_total"),
      erlang=erl.get("link_cpu_64_total"))

# bench_link's own targets: present, and whether they passed.
expected = ["link_oneway_64", "ratio_link_4k_vs_aes_gcm",
            "ratio_link_rtt_p50_vs_tcp"]
seen = {row["name"]: row for row in c_checks}
for name in expected:
    row = seen.get(name)
    if row is None:
        missing.append(name)
    elif not row.get("pass"):
        failed.append(name)
missing += ["troupe:" + n for n in c_err] + ["erlang:" + n for n in erl_err]
out({"name": "targets_summary", "pass": not failed and not missing,
     "failed": failed, "missing": missing})
sys.exit(1 if missing else 0)
EOF
exit $status
