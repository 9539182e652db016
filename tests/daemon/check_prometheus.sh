#!/usr/bin/env bash
# check_prometheus.sh METRICS_SERVE — scrapes a 2-node cluster node once with
# a real Prometheus server (Debian package prometheus): one static target,
# storage in a temporary directory, web on a free loopback port. Waits
# (bounded) until the target is up, then queries troupe_actors. Everything
# it started is stopped on exit. Exits 77 (skipped) without prometheus.
set -euo pipefail
serve=$1
for tool in prometheus curl python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIP: $tool not installed"
    exit 77
  fi
done

tmp=$(mktemp -d)
serve_pid= prom_pid=
cleanup() {
  exec 3>&- 2>/dev/null || true # closing stdin ends metrics_serve
  if [ -n "$prom_pid" ]; then kill "$prom_pid" 2>/dev/null || true; wait "$prom_pid" 2>/dev/null || true; fi
  if [ -n "$serve_pid" ]; then
    for _ in $(seq 100); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# A free loopback port for Prometheus' web listener.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

mkfifo "$tmp/ctl"
"$serve" --serve < "$tmp/ctl" > "$tmp/port" &
serve_pid=$!
exec 3> "$tmp/ctl"
port=
for _ in $(seq 300); do # 30 s
  port=$(sed -n 's/^port=//p' "$tmp/port")
  [ -n "$port" ] && break
  kill -0 "$serve_pid" 2>/dev/null || { echo "metrics_serve died" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "metrics_serve gave no port" >&2; exit 1; }
echo "prometheus: target 127.0.0.1:$port"

web=$(free_port)
cat > "$tmp/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: troupe
    static_configs:
      - targets: ["127.0.0.1:$port"]
YML
prometheus --config.file="$tmp/prometheus.yml" \
  --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$web" > "$tmp/prometheus.log" 2>&1 &
prom_pid=$!

api="http://127.0.0.1:$web/api/v1"
up=
for _ in $(seq 600); do # 60 s
  kill -0 "$prom_pid" 2>/dev/null || { cat "$tmp/prometheus.log" >&2; exit 1; }
  if curl -fsS "$api/targets" 2>/dev/null | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
sys.exit(0 if t and all(x["health"] == "up" for x in t) else 1)'; then
    up=1
    break
  fi
  sleep 0.1
done
if [ -z "$up" ]; then
  echo "target never up:" >&2
  curl -sS "$api/targets" >&2 || true
  tail -20 "$tmp/prometheus.log" >&2
  exit 1
fi
echo "prometheus: target up"

result=
for _ in $(seq 100); do # 10 s: the sample may land a moment after "up"
  result=$(curl -fsS "$api/query" --data-urlencode 'query=troupe_actors' |
    python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
for s in r:
    print(s["metric"].get("node", "?"), s["value"][1])')
  [ -n "$result" ] && break
  sleep 0.1
done
echo "prometheus: troupe_actors -> $result"
case "$result" in
  "n1 "[1-9]*) echo "prometheus: scraped ok" ;;
  *) echo "unexpected query result" >&2; exit 1 ;;
esac
