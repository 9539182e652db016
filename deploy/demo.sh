#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions run indirectly (trap, wait_until)
# demo.sh BUILD_DIR — what troupe is for, in one minute on this machine: a
# three-node cluster on 127.0.0.1 with mutual TLS (certificates made in a
# temporary directory), a message sent by actor id across nodes, a
# subscription across nodes, and one node killed while the others notice.
# A short legend comes before each step; it finishes by itself, stops every
# process it started and removes its directory. `bash deploy/dev.sh demo`
# builds and runs it; tests/deploy/demo_test.sh checks its output.
set -u

build=${1:?usage: demo.sh BUILD_DIR}
T=$build/node/daemon/troupe
P=$build/plugins
for f in "$T" "$P/echo.so" "$P/ticker.so"; do
  [ -e "$f" ] || { echo "demo: $f is missing (build first)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/troupe-demo.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step=0
bold='' plain=''
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
legend() { # legend TEXT...: the next step, and what it shows
  step=$((step + 1))
  printf '\n%s== %d. %s%s\n' "$bold" "$step" "$1" "$plain"
  shift
  for line in "$@"; do printf '   %s\n' "$line"; done
}
show() { printf '   $ %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

# Three free loopback ports, below the ephemeral range.
ports=$(python3 - <<'PY'
import random, socket
got = []
while len(got) < 3:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(20000, 30000)))
        got.append(s.getsockname()[1])
    except OSError:
        pass
    finally:
        s.close()
print(*got)
PY
) || die "no free ports"
read -r p1 p2 p3 <<<"$ports"

legend "certificates" \
  "A CA for this cluster, a certificate per node and one for you, the" \
  "operator: nodes only talk to nodes of the same CA (mutual TLS)."
show "troupe cert ca; troupe cert node n1 (n2, n3); troupe cert client you"
"$T" cert ca --dir "$work/certs" >/dev/null || die "troupe cert ca"
for n in n1 n2 n3; do "$T" cert node "$n" --dir "$work/certs" >/dev/null || die "cert $n"; done
"$T" cert client you --dir "$work/certs" >/dev/null || die "cert client"
export TROUPE_OPS_CA=$work/certs/ca.pem TROUPE_OPS_CERT=$work/certs/you.pem
export TROUPE_OPS_KEY=$work/certs/you.key TROUPE_OPS_NODE=127.0.0.1:$p1

run_node() { # run_node NAME PORT ARGS...
  local name=$1 port=$2
  shift 2
  "$T" run --name "$name" --listen "127.0.0.1:$port" --log-level warn \
    --admin-socket "$work/$name.sock" \
    --ca "$work/certs/ca.pem" --cert "$work/certs/$name.pem" \
    --key "$work/certs/$name.key" --plugin "$P/echo.so" \
    --plugin "$P/ticker.so" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
}
# wait_until SECONDS CMD...: until CMD succeeds (every 0.2 s), or fail.
wait_until() {
  local tries=$(($1 * 5))
  shift
  for ((i = 0; i < tries; i++)); do "$@" && return 0; sleep 0.2; done
  return 1
}
alive() { # alive N: n1 sees N members alive
  [ "$("$T" members --json 2>/dev/null | python3 -c 'import json,sys
print(sum(m["state"] == "alive" for m in json.load(sys.stdin)))' 2>/dev/null)" = "$1" ]
}

legend "three nodes join" \
  "n1 starts a ticker t1 (it publishes prices every 300 ms); n2 and n3" \
  "join through n1 (--seed) with an echo actor each, and n2 a printer p2" \
  "subscribed to t1 on n1."
show "troupe run --name n1 --listen 127.0.0.1:$p1 ... --spawn ticker:t1:300"
run_node n1 "$p1" --spawn ticker:t1:300 --spawn echo:echo1
show "troupe run --name n2 ... --seed 127.0.0.1:$p1 --spawn printer:p2:t1"
run_node n2 "$p2" --seed "127.0.0.1:$p1" --spawn echo:echo2 \
  --spawn printer:p2:t1
show "troupe run --name n3 ... --seed 127.0.0.1:$p1 --spawn echo:echo3"
run_node n3 "$p3" --seed "127.0.0.1:$p1" --spawn echo:echo3
wait_until 30 alive 3 || die "the three nodes did not join: $(cat "$work"/n*.err)"
show "troupe members"
"$T" members | sed 's/^/   /'

legend "send by id, across nodes" \
  "You ask echo3 through n1; n1 finds echo3 on n3 in the registry every" \
  "node holds, the ask crosses the n1-n3 link, the reply comes back."
located() { "$T" actors 2>/dev/null | grep -q '^echo3 '; }
wait_until 10 located || die "echo3 never reached n1's registry"
show "troupe ask echo3 'hello from n1' --node 127.0.0.1:$p1"
reply=$("$T" ask echo3 "hello from n1" 2>&1) || die "ask echo3: $reply"
printf '   -> %s\n' "$reply"
show "troupe actors"
"$T" actors | sed 's/^/   /'

legend "subscribe across nodes" \
  "p2 on n2 subscribed to t1 on n1: each price t1 publishes crosses to n2" \
  "once, and n2 hands it to its subscribers. p2's output:"
printed() { [ "$(grep -c 'prices' "$work/n2.out")" -ge 3 ]; }
wait_until 15 printed || die "p2 printed no prices: $(tail -n 3 "$work/n2.out")"
grep 'prices' "$work/n2.out" | head -n 3 | sed 's/^/   n2 | /'

legend "a node dies; the others notice" \
  "n3 is killed (SIGKILL: no goodbye). n1 and n2 probe it, suspect it, then" \
  "declare it dead (SWIM); its actors leave the registry."
kill -KILL "${pids[2]}"
wait "${pids[2]}" 2>/dev/null # reaped here, quietly
state_of_n3() { "$T" members --json 2>/dev/null | python3 -c 'import json,sys
print(next((m["state"] for m in json.load(sys.stdin) if m["name"] == "n3"), "gone"))' 2>/dev/null; }
seen="" s=""
t0=$(date +%s%N)
for ((i = 0; i < 150; i++)); do # n3's state each time it changes
  s=$(state_of_n3)
  case " $seen " in
    *" $s "*) ;;
    *)
      seen="$seen $s"
      ds=$((($(date +%s%N) - t0) / 100000000))
      printf '   %3d.%d s  n3 %s\n' $((ds / 10)) $((ds % 10)) "$s" ;;
  esac
  [ "$s" = dead ] && break
  sleep 0.2
done
[ "$s" = dead ] || die "n3 was not declared dead within 30 s (last: $s)"
gone() { ! "$T" actors 2>/dev/null | grep -q '^echo3 '; }
wait_until 10 gone || die "echo3 still registered after n3 died"
show "troupe actors   (echo3 is gone)"
"$T" actors | sed 's/^/   /'

legend "done" \
  "Next: the README's tour, troupe run --ui for the web inspector, and" \
  "docker/ for the same cluster in containers. Everything started here" \
  "is stopped and its directory removed."
exit 0
