#!/usr/bin/env bash
# run_cluster.sh — the cluster's and pub/sub's figures, with their bounds
# and Erlang's, in one command. Prints every figure line as it comes, then
# ratio and target lines as JSON:
#   remote_oneway_64 / link_oneway_64         remote send by id vs the bare
#                                             link: both two processes on
#                                             loopback, the same envelope,
#                                             11 alternated runs each, the
#                                             medians (target >= 0.9)
#   cluster_pubsub_fanout_64                  >= 2,000,000 deliveries/s and
#     / erlang_pg_fanout_64                   >= 5x Erlang pg over TLS
#   cluster_pubsub_frames_per_link            1 envelope per link per publish
#   cluster_pubsub_fanout_64                  cross-node fan-out >= 0.5x the
#     / local_fanout                          local fan-out (bench_engine,
#                                             1 -> 1,000 on one node) in
#                                             this run (issue #21, target 2)
#   cluster_group_broadcast_64                group broadcast (bench_groups)
#     / erlang_pg_fanout_64                   >= 5x Erlang pg + a send to each
#                                             member over TLS (same pattern)
#   cluster_group_broadcast_frames_per_link   1 envelope per link per send
#   cluster_group_join_ms_p50/max             a join seen on 5 nodes <= 250
#   cluster_group_send_one_64 (and _remote)   send to one member, no target
#   ratio_typed_vs_raw, ratio_remote_typed_vs_raw  a typed nanopb message
#                                             against the raw send of its
#                                             bytes, one node and across
#                                             the link (<= 1.3)
#   remote_windowed_64 / erlang's             the flow-controlled pattern (2,000
#                                             unacked at most, an ack every
#                                             1,000) vs Erlang distribution
#                                             over TLS on it (target >= 5)
#   remote_windowed_64 / remote_oneway_64     windowed vs unpaced (>= 0.7)
#   remote_oneway_64 / its _nocredit run      the cost of credit on the
#                                             unpaced figure (>= 0.95)
#   remote_slow_consumer_64 / _unpaced        a producer paced by credit keeps
#                                             a slower consumer busy: its
#                                             speed over its speed when never
#                                             kept waiting (>= 0.9), no loss
#   erlang_detect (kill -9, SIGSTOP at net_ticktime 60 and 4) next to
#   troupe's kill -9 detection from the netns bench (with --netns)
#
# Usage: tests/bench/run_cluster.sh [--quick] [--netns] [BUILD_DIR]
#   --quick  small counts (a smoke run; figures are not meaningful)
#   --netns  also run tests/netns/cluster.sh --bench (root; ~15 minutes:
#            kill -9 detection, resolution, 10 minutes under 5% loss and
#            100 ms delay counting false deaths)
#   BUILD_DIR defaults to build-bench (configured Release with benchmarks
#   and tests, built here if needed).
# Exit status: 0 whether or not targets are met (look for "pass":false);
# 1 if a benchmark failed or a figure is missing; 2 for bad usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
quick=()
netns=0
build=$root/build-bench
for arg in "$@"; do
  case $arg in
    --quick) quick=(--quick) ;;
    --netns) netns=1 ;;
    -h|--help) sed -n '2,42p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "run_cluster.sh: unknown option $arg" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTR_BUILD_BENCH=ON >&2
fi
targets=(bench_cluster bench_engine bench_groups bench_link bench_remote
  bench_typed bench_typed_remote)
[[ $netns == 1 ]] && targets+=(tnode delay_proxy)
cmake --build "$build" -j2 --target "${targets[@]}" >&2
bench=$build/tests/bench

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# The bare link and remote send by id, both between two processes,
# alternating, so the machine's load weighs on both alike (single runs vary
# by +-10% here); the medians are compared.
reps=11
msgs=2000000
if [[ ${#quick[@]} -gt 0 ]]; then reps=1; msgs=200000; fi
for ((i = 0; i < reps; i++)); do
  timeout 300 "$bench/bench_link" --only oneway64 --reps 1 --messages "$msgs" \
    | tee -a "$tmp/link.jsonl" || status=1
  for mode in "--mode unpaced" "--mode unpaced --no-credit" "--mode windowed"; do
    # shellcheck disable=SC2086 # the mode is two words on purpose
    timeout 300 "$bench/bench_remote" --reps 1 --messages "$msgs" $mode \
      | tee -a "$tmp/remote.jsonl" || status=1
  done
done
# A consumer slower than its producer (~2 us of work a message), paced by
# credit, and the same consumer never kept waiting.
for mode in slow slow-unpaced; do
  timeout 300 "$bench/bench_remote" --reps 3 --messages $((msgs / 2)) \
    --mode "$mode" | tee -a "$tmp/remote.jsonl" || status=1
done
# The same with both nodes in one process (for reference, no target).
BENCH_CLUSTER_ONLY=oneway timeout 300 "$bench/bench_cluster" \
  --messages "$msgs" | tee -a "$tmp/c.jsonl" || status=1
BENCH_CLUSTER_ONLY=rtt,resolve,fanout timeout 600 "$bench/bench_cluster" \
  "${quick[@]}" | tee -a "$tmp/c.jsonl" || status=1
# The local fan-out in this run, for the cross-node one to be compared with.
timeout 600 "$bench/bench_engine" "${quick[@]}" --only fanout |
  tee -a "$tmp/c.jsonl" || status=1
timeout 600 "$bench/bench_groups" "${quick[@]}" | tee -a "$tmp/c.jsonl" ||
  status=1
# Typed messages against the raw send of their bytes: on one node, and
# across the link (docs/typed.md; each prints its ratio and target).
timeout 600 "$bench/bench_typed" "${quick[@]}" | tee -a "$tmp/c.jsonl" ||
  status=1
timeout 600 "$bench/bench_typed_remote" "${quick[@]}" |
  tee -a "$tmp/c.jsonl" || status=1

if command -v escript >/dev/null 2>&1; then
  certs=$tmp/certs
  mkdir -p "$certs"
  "$bench/bench_link" --write-certs "$certs" >/dev/null
  timeout 900 escript "$here/erlang_pubsub.escript" "$certs" "${quick[@]}" \
    | tee "$tmp/erl.jsonl" || status=1
  timeout 900 bash "$here/erlang_detect.sh" "${quick[@]}" \
    | tee -a "$tmp/erl.jsonl" || status=1
  timeout 900 escript "$here/erlang_link.escript" "${quick[@]}" \
    --only windowed64 --certs "$certs" | tee -a "$tmp/erl.jsonl" || status=1
else
  echo '{"name":"erlang","error":"escript not found"}'
  : >"$tmp/erl.jsonl"
  status=1
fi

: >"$tmp/netns.jsonl"
if [[ $netns == 1 ]]; then
  timeout 1800 bash "$root/tests/netns/cluster.sh" "$build/tests/netns" --bench \
    | tee "$tmp/netns.raw" || status=1
  grep '^{' "$tmp/netns.raw" >"$tmp/netns.jsonl" || true
fi

python3 - "$tmp/link.jsonl" "$tmp/c.jsonl" "$tmp/erl.jsonl" "$tmp/netns.jsonl" \
  "$tmp/remote.jsonl" <<'EOF' || status=1
import json
import statistics
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    return rows


link, cl, erl, netns, remote = (load(p) for p in sys.argv[1:6])
missing, failed = [], []


def values(rows, name):
    return [r["value"] for r in rows
            if r.get("name") == name and isinstance(r.get("value"), (int, float))]


def median(rows, name):
    v = values(rows, name)
    return statistics.median(v) if v else None


def out(row):
    print(json.dumps(row, separators=(",", ":")), flush=True)


def ratio(name, num, den, target=None, check=None, **extra):
    if num is None or den is None or den == 0:
        missing.append(name)
        out({"name": name, "value": None, "error": "figure missing"})
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


r1, l1 = median(remote, "remote_oneway_64"), median(link, "link_oneway_64")
rv, lv = values(remote, "remote_oneway_64"), values(link, "link_oneway_64")
pairs = [round(r / l, 3) for r, l in zip(rv, lv) if l]
ratio("ratio_remote_oneway_64_vs_link", r1, l1, ">=0.9", lambda v: v >= 0.9,
      remote=r1, link=l1, runs=len(rv),
      pair_ratios=pairs,
      pair_ratio_median=statistics.median(pairs) if pairs else None,
      cpu_per_m_remote=median(remote, "remote_cpu_64_total"),
      cpu_per_m_link=median(link, "link_cpu_64_total"))
win = median(remote, "remote_windowed_64")
erl_win = median([r for r in erl if r.get("runtime") == "erlang"],
                 "remote_windowed_64")
ratio("ratio_remote_windowed_64_vs_erlang_tls", win, erl_win, ">=5",
      lambda v: v >= 5, troupe=win, erlang=erl_win)
ratio("ratio_remote_windowed_64_vs_unpaced", win, r1, ">=0.7",
      lambda v: v >= 0.7, windowed=win, unpaced=r1)
nocredit = median(remote, "remote_oneway_64_nocredit")
ratio("ratio_remote_oneway_64_credit_vs_none", r1, nocredit, ">=0.95",
      lambda v: v >= 0.95, credit=r1, no_credit=nocredit,
      cpu_per_m_credit=median(remote, "remote_cpu_64_total"),
      cpu_per_m_no_credit=median(remote, "remote_cpu_64_total_nocredit"))
slow = median(remote, "remote_slow_consumer_64")
slow_free = median(remote, "remote_slow_consumer_64_unpaced")
ratio("ratio_remote_slow_consumer_paced_vs_free", slow, slow_free, ">=0.9",
      lambda v: v >= 0.9, paced=slow, free=slow_free,
      consumer_alone=median([{"name": "a", "value": r.get("consumer_alone")}
                             for r in remote
                             if r.get("name") == "remote_slow_consumer_64"],
                            "a"))
fan, pg = median(cl, "cluster_pubsub_fanout_64"), median(erl, "erlang_pg_fanout_64")
ratio("ratio_pubsub_fanout_vs_erlang_pg", fan, pg, ">=5", lambda v: v >= 5,
      troupe=fan, erlang=pg)
ratio("ratio_cluster_fanout_vs_local", fan, median(cl, "local_fanout"),
      ">=0.5", lambda v: v >= 0.5, cluster=fan, local=median(cl, "local_fanout"))
gb = median(cl, "cluster_group_broadcast_64")
ratio("ratio_group_broadcast_vs_erlang_pg", gb, pg, ">=5", lambda v: v >= 5,
      troupe=gb, erlang=pg)
for name in ("cluster_pubsub_fanout_64", "cluster_pubsub_frames_per_link",
             "cluster_resolve_ms_max", "cluster_group_broadcast_frames_per_link",
             "cluster_group_join_ms_max", "cluster_group_send_one_64",
             "cluster_group_send_one_remote_64", "ratio_typed_vs_raw",
             "ratio_remote_typed_vs_raw"):
    row = next((r for r in cl if r.get("name") == name), None)
    if row is None:
        missing.append(name)
    elif row.get("pass") is False:
        failed.append(name)
for r in erl:
    if r.get("bench") == "erlang_detect":
        out({"name": "erlang_detect_%s_ticktime_%s" % (r["scenario"], r["net_ticktime"]),
             "value": r.get("detect_ms"), "unit": "ms"})
for r in netns:
    if r.get("name", "").startswith("netns."):
        out(r)
out({"name": "targets_summary", "pass": not failed and not missing,
     "failed": failed, "missing": missing})
sys.exit(1 if missing else 0)
EOF
exit $status
