#!/usr/bin/env bash
# soak.sh — 3 `troupe run` nodes under mixed load for a while, one of them
# killed (SIGKILL) and restarted every KILL_EVERY seconds, checking by
# sequence numbers that nothing is lost, duplicated or reordered within
# the guarantees (soak_plugin.c), and recording each node's RSS and open
# descriptors every second. Prints one JSON line of figures, writes
# samples.csv and soak.svg (RSS and descriptors over time) to OUT.
#   soak.sh BUILD_DIR [--seconds N] [--kill-every S] [--out DIR]
# Defaults: 600 s, a kill every 30 s. On each node: a sink, a producer
# sending 1,000 numbered messages a second to each sink (its own and the
# two others) with an ask and a publish every 10 ms, a listener of the
# other producers' publishes, and a churner spawning and stopping an actor
# every 20 ms. n3 is the one killed; streams into and out of it restart
# with it. Exit 1 on a duplicate, a reorder, a gap, a bad reply or a node
# that died on its own.
set -u

BUILD=${1:?usage: soak.sh BUILD_DIR [--seconds N] [--kill-every S] [--out DIR]}
shift
SECONDS_TOTAL=600 KILL_EVERY=30 OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_TOTAL=$2; shift 2 ;;
    --kill-every) KILL_EVERY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
T=$BUILD/node/daemon/troupe
PLUGIN=$BUILD/tests/bench/soak.so
[ -x "$T" ] && [ -f "$PLUGIN" ] || { echo "soak.sh: build $BUILD first (troupe, soak.so)" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/troupe-soak.XXXXXX")
OUT=${OUT:-$WORK}
mkdir -p "$OUT"
declare -A PID ADDR RUN
cleanup() {
  for n in "${!PID[@]}"; do kill -KILL "${PID[$n]}" 2>/dev/null; done
}
trap cleanup EXIT
fail() { echo "soak: FAIL: $*" >&2; exit 1; }

"$T" cert ca --dir "$WORK/certs" >/dev/null 2>&1 &&
  for n in n1 n2 n3; do "$T" cert node $n --dir "$WORK/certs" >/dev/null 2>&1 || exit 1; done ||
  fail "troupe cert"
read -r P1 P2 P3 < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks: s.close()
PY
)
ADDR[n1]=127.0.0.1:$P1 ADDR[n2]=127.0.0.1:$P2 ADDR[n3]=127.0.0.1:$P3

others() { case $1 in n1) echo "n2 n3" ;; n2) echo "n1 n3" ;; n3) echo "n1 n2" ;; esac; }
start() { # start NAME: one run of the node; its output in NAME.runK.out
  local n=$1 o1 o2 seed=()
  read -r o1 o2 <<<"$(others "$n")"
  [ "$n" != n1 ] && seed=(--seed "${ADDR[n1]}")
  [ "$n" = n1 ] && seed=(--seed "${ADDR[n2]}")
  RUN[$n]=$((${RUN[$n]:-0} + 1))
  "$T" run --name "$n" --listen "${ADDR[$n]}" "${seed[@]}" \
    --ca "$WORK/certs/ca.pem" --cert "$WORK/certs/$n.pem" --key "$WORK/certs/$n.key" \
    --log-level warn --plugin "$PLUGIN" \
    --spawn "sink:sink-$n" \
    --spawn "producer:prod-$n:sink-$n,sink-$o1,sink-$o2:10" \
    --spawn "listener:lis-$n:prod-$o1,prod-$o2" \
    --spawn "churner:churn-$n" \
    >"$WORK/$n.run${RUN[$n]}.out" 2>"$WORK/$n.run${RUN[$n]}.err" &
  PID[$n]=$!
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

for n in n1 n2 n3; do start $n; done
echo "t,node,rss_kb,fds" >"$OUT/samples.csv"
KILLS=0 t0=$SECONDS next_kill=$((SECONDS + KILL_EVERY))
while [ $((SECONDS - t0)) -lt "$SECONDS_TOTAL" ]; do
  sleep 1
  for n in n1 n2 n3; do
    kill -0 "${PID[$n]}" 2>/dev/null ||
      fail "$n died on its own: $(tail -n 3 "$WORK/$n.run${RUN[$n]}.err")"
    echo "$((SECONDS - t0)),$n,$(rss_kb "${PID[$n]}"),$(fds "${PID[$n]}")" >>"$OUT/samples.csv"
  done
  if [ $SECONDS -ge $next_kill ] && [ $((SECONDS - t0 + 5)) -lt "$SECONDS_TOTAL" ]; then
    kill -KILL "${PID[n3]}"
    wait "${PID[n3]}" 2>/dev/null
    KILLS=$((KILLS + 1))
    sleep 1
    start n3
    next_kill=$((SECONDS + KILL_EVERY))
  fi
done
# A last second for what is in flight, then a clean stop.
sleep 2
for n in n1 n2 n3; do kill -TERM "${PID[$n]}" 2>/dev/null; done
for n in n1 n2 n3; do wait "${PID[$n]}" 2>/dev/null; unset "PID[$n]"; done

# Each run's last counters per actor, summed.
python3 - "$WORK" "$OUT" "$SECONDS_TOTAL" "$KILLS" <<'PY'
import csv, glob, json, os, re, sys
work, out, secs, kills = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
last = {}
for f in glob.glob(os.path.join(work, "*.run*.out")):
    for line in open(f, errors="replace"):
        m = re.match(r"soak (\w+) (\S+) (.*)", line)
        if m:
            last[(f, m.group(1), m.group(2))] = dict(
                kv.split("=") for kv in m.group(3).split())
tot = {}
for (f, kind, _), kv in last.items():
    for k, v in kv.items():
        tot[(kind, k)] = tot.get((kind, k), 0) + int(v)
g = lambda kind, k: tot.get((kind, k), 0)
rows = list(csv.DictReader(open(os.path.join(out, "samples.csv"))))
def at(node, first):
    r = [x for x in rows if x["node"] == node]
    x = r[0] if first else r[-1]
    return int(x["rss_kb"]), int(x["fds"])
res = {"bench": "soak", "seconds": secs, "kills": kills,
       "sent": g("producer", "sent"), "received": g("sink", "received"),
       "dup": g("sink", "dup"), "gap": g("sink", "gap"),
       "reorder": g("sink", "reorder"),
       "asks": g("producer", "asks"), "asks_ok": g("producer", "asks_ok"),
       "asks_failed": g("producer", "asks_failed"),
       "bad_replies": g("producer", "bad_replies"),
       "published": g("producer", "published"),
       "pub_received": g("listener", "received"),
       "pub_dup": g("listener", "dup"), "pub_reorder": g("listener", "reorder"),
       "pub_missed": g("listener", "missed"),
       "spawned": g("churner", "spawned")}
for n in ("n1", "n2"):
    (r0, f0), (r1, f1) = at(n, True), at(n, False)
    res["rss_kb_" + n] = [r0, r1]
    res["fds_" + n] = [f0, f1]
# sent: as each run last reported it (a killed run's last second of sends
# is not reported); every loss inside a stream shows as a gap.
print(json.dumps(res))
# RSS and descriptors over time, one line per node.
W, H, PAD = 720, 260, 40
def plot(key, title, y0):
    series = {}
    for x in rows:
        series.setdefault(x["node"], []).append((int(x["t"]), int(x[key])))
    tmax = max(t for s in series.values() for t, _ in s) or 1
    vmax = max(v for s in series.values() for _, v in s) or 1
    colours = {"n1": "#1f77b4", "n2": "#2ca02c", "n3": "#d62728"}
    parts = ['<g transform="translate(0,%d)">' % y0,
             '<text x="%d" y="16" font-size="13">%s (max %d)</text>' % (PAD, title, vmax)]
    for node, pts in sorted(series.items()):
        path = " ".join("%.1f,%.1f" % (PAD + t * (W - 2 * PAD) / tmax,
                                       H - PAD + 20 - v * (H - 2 * PAD) / vmax)
                        for t, v in pts)
        parts.append('<polyline fill="none" stroke="%s" points="%s"/>' % (colours.get(node, "#000"), path))
        parts.append('<text x="%d" y="%d" font-size="11" fill="%s">%s</text>'
                     % (W - PAD + 4, 30 + 14 * list(sorted(series)).index(node), colours.get(node, "#000"), node))
    parts.append('<text x="%d" y="%d" font-size="11">0 .. %d s</text>' % (PAD, H, tmax))
    parts.append("</g>")
    return "\n".join(parts)
svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d">' % (W, 2 * H + 20),
       plot("rss_kb", "RSS, kB", 0), plot("fds", "open descriptors", H + 10), "</svg>"]
open(os.path.join(out, "soak.svg"), "w").write("\n".join(svg))
bad = res["dup"] + res["gap"] + res["reorder"] + res["bad_replies"] + \
      res["pub_dup"] + res["pub_reorder"]
if res["received"] == 0 or res["pub_received"] == 0 or res["asks_ok"] == 0:
    print("soak: FAIL: no traffic got through", file=sys.stderr)
    sys.exit(1)
if bad:
    print("soak: FAIL: %d duplicated, out of order, missing or bad" % bad,
          file=sys.stderr)
    sys.exit(1)
print("soak: ok: %s/samples.csv, %s/soak.svg" % (out, out), file=sys.stderr)
PY
