#!/usr/bin/env bash
# cachegrind.sh — the hot paths counted, not timed (issue #21, target 7;
# the counts of targets 1 and 4): instructions, D1 misses (D1mr + D1mw)
# and LL misses (ILmr + DLmr + DLmw) per message under
# `valgrind --tool=cachegrind --cache-sim=yes`, the same on a busy machine
# as on a quiet one. Each benchmark runs at two sizes and the difference of
# the totals is divided by the difference in messages, so set-up,
# handshakes and tear-down cancel out. The simulated caches are fixed (I1
# and D1 32 KiB 8-way, LL 8 MiB 16-way, 64 B lines) rather than read from
# the host, so the misses do not depend on the machine either.
#   cg_local_oneway          per message, bench_engine --only oneway (the
#                            receiver's ack every 256 included)
#   cg_local_pingpong        per round trip (two sends, two turns)
#   cg_local_pingpong_message  the same per message
#   cg_local_fanout          per delivery, 1 publisher -> 1,000 subscribers,
#                            224 against 5,024 publishes (the benchmark's
#                            two sizes; the subscribers' acks, 1,000 per
#                            window of 32 publishes, included)
#   cg_remote_send_sender    per message, bench_remote's sending process
#   cg_remote_send_receiver  per message, its receiving process (--serve);
#                            each size run 3 times (1 with --quick), the
#                            least of each count kept (see below)
#   cg_codec_encode          per wire_encode_envelope of a 64 B envelope
#   cg_codec_decode          per wire_decode_envelope of it (bench_codec)
# One JSON line each, e.g.
#   {"name":"cg_local_oneway","unit":"per message","instructions":351.2,
#    "d1_misses":2.36,"ll_misses":0.0,"messages":20000,
#    "target_instructions":150,"target_d1_misses":2,"pass":false}
# with the issue's targets where it gives them (one-way and fan-out: target
# 1; the codec, 1,000 instructions each way: target 4). The local and codec
# counts repeat exactly; the remote ones within ~1% (instructions) and ~5%
# (D1), as a node also works by the clock (timers, membership) and the
# receiver's LL misses follow how far it lags: those are noise around 0.
#
# Usage: tests/bench/cachegrind.sh [--quick] [--keep DIR] BUILD_DIR
#   BUILD_DIR  a Release build with -DTR_BUILD_BENCH=ON
#   --quick    small sizes, a smoke run (the test suite's bench.cachegrind_smoke)
#   --keep DIR leave the cachegrind out files in DIR (for cg_annotate, cg_diff)
# Exit status 0; 1 if a benchmark failed, or a figure is missing or not a
# number (instructions must be positive, misses not below -0.05, a few
# misses' difference between two runs; the remote LL misses may be
# anything); 2 for bad usage or no valgrind.
set -euo pipefail

usage() { sed -n '/^# Usage:/,/usage or no valgrind[.]$/s/^# \{0,1\}//p' "$0"; }
quick=0 keep='' build=''
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1; shift ;;
    --keep) keep=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -*) echo "cachegrind.sh: unknown option $1" >&2; exit 2 ;;
    *) [ -z "$build" ] || { usage >&2; exit 2; }
       build=$1; shift ;;
  esac
done
[ -n "$build" ] || { usage >&2; exit 2; }
command -v valgrind >/dev/null || { echo "cachegrind.sh: no valgrind" >&2; exit 2; }
bench=$build/tests/bench
for b in bench_engine bench_remote bench_codec; do
  [ -x "$bench/$b" ] || { echo "cachegrind.sh: no $bench/$b" >&2; exit 2; }
done

# Sizes: the second of each pair is twice the first (fan-out has only the
# two sizes bench_engine gives it, --quick and the full run).
if [ "$quick" = 1 ]; then
  ow=5000 pp=10000 rm=4000 rm_runs=1 codec=5000
else
  ow=20000 pp=50000 rm=20000 rm_runs=3 codec=20000
fi

if [ -n "$keep" ]; then
  mkdir -p "$keep"
  out=$keep
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/troupe-cg.XXXXXX")
  trap 'rm -rf "$out"' EXIT
fi
rm -f "$out"/cg.* "$out"/*.jsonl

# cg NAME SIZE CMD...: runs CMD under cachegrind, each process's counts in
# $out/cg.NAME.SIZE.PID, the benchmark's JSON lines in $out/NAME.SIZE.jsonl;
# on failure says why and returns 1.
cg() {
  local name=$1 size=$2
  shift 2
  rm -f "$out/cg.$name.$size".*
  if ! valgrind --tool=cachegrind --cache-sim=yes --I1=32768,8,64 \
      --D1=32768,8,64 --LL=8388608,16,64 --trace-children=yes \
      --cachegrind-out-file="$out/cg.$name.$size.%p" "$@" \
      >"$out/$name.$size.jsonl" 2>"$out/$name.$size.err"; then
    echo "cachegrind.sh: $name $size failed:" >&2
    cat "$out/$name.$size.jsonl" >&2
    tail -5 "$out/$name.$size.err" >&2
    return 1
  fi
}

for n in "$ow" $((2 * ow)); do
  cg oneway "$n" "$bench/bench_engine" --only oneway --reps 1 --messages "$n"
done
for n in "$pp" $((2 * pp)); do
  cg pingpong "$n" "$bench/bench_engine" --only pingpong --reps 1 --messages "$n"
done
cg fanout quick "$bench/bench_engine" --only fanout --reps 1 --quick
cg fanout full "$bench/bench_engine" --only fanout --reps 1
# Remote: each size rm_runs times, the least of each count kept per process
# (what a node does by the clock only adds: membership probes and, when
# valgrind's slowness gets a node suspected, its refutation, an ECDSA
# signature and its checks, ~10-20 M instructions each). Two nodes under
# valgrind on a loaded machine can miss each other's start: a failed run is
# tried again, twice at most.
for ((r = 1; r <= rm_runs; r++)); do
  for n in "$rm" $((2 * rm)); do
    cg remote "$n.r$r" "$bench/bench_remote" --reps 1 --messages "$n" ||
      cg remote "$n.r$r" "$bench/bench_remote" --reps 1 --messages "$n" ||
      cg remote "$n.r$r" "$bench/bench_remote" --reps 1 --messages "$n"
  done
done
for op in encode decode; do
  for n in "$codec" $((2 * codec)); do
    cg "$op" "$n" "$bench/bench_codec" --op "$op" --count "$n"
  done
done

python3 - "$out" "$ow" "$pp" "$rm" "$rm_runs" "$codec" <<'EOF'
import glob, json, math, sys

out = sys.argv[1]
ow, pp, rm, rm_runs, codec = (int(a) for a in sys.argv[2:7])
problems = []

def counts(path):
    """The totals of one cachegrind out file, by event name."""
    ev = summ = None
    cmd = ""
    for line in open(path):
        if line.startswith("events:"):
            ev = line.split()[1:]
        elif line.startswith("summary:"):
            summ = [int(x) for x in line.split()[1:]]
        elif line.startswith("cmd:"):
            cmd = line
    if not ev or not summ or len(ev) != len(summ):
        raise ValueError(f"{path}: no events/summary lines")
    c = dict(zip(ev, summ))
    return {"ir": c["Ir"], "d1": c["D1mr"] + c["D1mw"],
            "ll": c["ILmr"] + c["DLmr"] + c["DLmw"], "serve": "--serve" in cmd}

def process(name, size, serve=False):
    """The counts of the run's process (the receiver's if serve)."""
    files = [counts(p) for p in glob.glob(f"{out}/cg.{name}.{size}.*")]
    files = [f for f in files if f["serve"] == serve]
    if len(files) != 1:
        raise ValueError(f"{name} {size}: {len(files)} cachegrind files")
    return files[0]

def line(name, size):
    """The benchmark's own JSON line of the run (the first with a value)."""
    for l in open(f"{out}/{name}.{size}.jsonl"):
        if l.startswith("{"):
            r = json.loads(l)
            if "error" in r:
                raise ValueError(f"{name} {size}: {r['error']}")
            return r
    raise ValueError(f"{name} {size}: no JSON line")

def remote_messages(size):
    """Messages the sink got in a bench_remote run: warm-up and the run."""
    n = line("remote", f"{size}.r1")["messages"]
    return n + max(1, min(n // 10, 100000))

def remote_least(size, serve):
    """Of the runs of one size, one process's least of each count."""
    runs = []
    for r in range(1, rm_runs + 1):
        line("remote", f"{size}.r{r}")  # raises on a run that failed
        runs.append(process("remote", f"{size}.r{r}", serve))
    return {k: min(c[k] for c in runs) for k in ("ir", "d1", "ll")}

def emit(name, unit, a, b, per, extra=None, target_ir=None, target_d1=None):
    fig = {"name": name, "unit": unit}
    for key, k in (("instructions", "ir"), ("d1_misses", "d1"),
                   ("ll_misses", "ll")):
        v = (b[k] - a[k]) / per
        fig[key] = round(v, 1 if k == "ir" else 3) + 0.0  # no -0.0
    fig.update(extra or {})
    if target_ir is not None:
        fig["target_instructions"] = target_ir
        if target_d1 is not None:
            fig["target_d1_misses"] = target_d1
        fig["pass"] = fig["instructions"] <= target_ir and (
            target_d1 is None or fig["d1_misses"] <= target_d1)
    print(json.dumps(fig, separators=(",", ":")), flush=True)
    return fig

expected = ["cg_local_oneway", "cg_local_pingpong", "cg_local_pingpong_message",
            "cg_local_fanout", "cg_remote_send_sender",
            "cg_remote_send_receiver", "cg_codec_encode", "cg_codec_decode"]
figs = []
def attempt(f):
    try:
        r = f()
        figs.extend(r if isinstance(r, list) else [r])
    except (OSError, ValueError, KeyError) as e:
        problems.append(str(e))

def oneway():
    a, b = line("oneway", ow), line("oneway", 2 * ow)
    return emit("cg_local_oneway", "per message", process("oneway", ow),
                process("oneway", 2 * ow), b["messages"] - a["messages"],
                {"messages": b["messages"] - a["messages"]}, 150, 2)
def pingpong():
    a, b = line("pingpong", pp), line("pingpong", 2 * pp)
    trips = b["round_trips"] - a["round_trips"]
    pa, pb = process("pingpong", pp), process("pingpong", 2 * pp)
    return [emit("cg_local_pingpong", "per round trip", pa, pb, trips,
                 {"round_trips": trips}),
            emit("cg_local_pingpong_message", "per message", pa, pb, 2 * trips,
                 {"messages": 2 * trips})]
def fanout():
    a, b = line("fanout", "quick"), line("fanout", "full")
    d = b["deliveries"] - a["deliveries"]
    return emit("cg_local_fanout", "per delivery", process("fanout", "quick"),
                process("fanout", "full"), d,
                {"deliveries": d, "subscribers": b["subscribers"],
                 "window": b["window"]}, 100, 3)
def remote(serve):
    n = remote_messages(2 * rm) - remote_messages(rm)
    side = "receiver" if serve else "sender"
    return emit("cg_remote_send_" + side, "per message",
                remote_least(rm, serve), remote_least(2 * rm, serve), n,
                {"messages": n, "runs": rm_runs})
def codec_op(op):
    a, b = line(op, codec), line(op, 2 * codec)
    n = b["count"] - a["count"]
    return emit("cg_codec_" + op, "per " + op, process(op, codec),
                process(op, 2 * codec), n,
                {"ops": n, "frame_bytes": b["frame_bytes"]}, 1000)

attempt(oneway)
attempt(pingpong)
attempt(fanout)
attempt(lambda: remote(False))
attempt(lambda: remote(True))
attempt(lambda: codec_op("encode"))
attempt(lambda: codec_op("decode"))

got = {f["name"]: f for f in figs}
for name in expected:
    f = got.get(name)
    if f is None:
        problems.append(f"{name}: missing")
        continue
    for key in ("instructions", "d1_misses", "ll_misses"):
        v = f.get(key)
        # A count per message: instructions above 0; misses 0 when the data
        # stays in cache, and two runs' layouts may differ by a few misses,
        # so not below -0.05; the remote LL misses, timing noise around 0
        # (the header says why), only a number.
        noisy = key == "ll_misses" and name.startswith("cg_remote")
        if not isinstance(v, (int, float)) or not math.isfinite(v) or \
                (key == "instructions" and v <= 0) or \
                (v < -0.05 and not noisy):
            problems.append(f"{name}: {key} is {v}")
for p in problems:
    print("cachegrind.sh: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
