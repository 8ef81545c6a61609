#!/usr/bin/env bash
# `appendfsync always` side by side: SET/s, p99 and each server's CPU time per SET (utime+stime
# from /proc/PID/stat, io-wq workers included) for redis-server and synap-server (--shards 1),
# both pinned to SERVER_CPU, redis-benchmark on CLIENT_CPU.
#   usage: benches/always-cpu.sh [path/to/synap-server]
#   env:   N (SETs per run, default 100000), CLIENTS (default "50 200"), SERVER_CPU, CLIENT_CPU
set -euo pipefail
bin=${1:-target/release/synap-server}
N=${N:-100000}; CLIENTS=${CLIENTS:-"50 200"}
SERVER_CPU=${SERVER_CPU:-0}; CLIENT_CPU=${CLIENT_CPU:-1}
[ -x "$bin" ] || { echo "no $bin: cargo build --release first"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.05; done; return 1; }
hz=$(getconf CLK_TCK)
run() { # KIND CLIENTS -> table row
  local d p pid b a out; d=$(mktemp -d); p=$(free_port)
  if [ "$1" = redis ]; then
    taskset -c "$SERVER_CPU" redis-server --port "$p" --save '' --appendonly yes --appendfsync always --dir "$d" >/dev/null 2>&1 & pid=$!
  else
    printf 'persistence:\n  enabled: true\n  appendfsync: always\n  data_dir: %s\n' "$d" >"$d/c.yml"
    taskset -c "$SERVER_CPU" "$bin" -c "$d/c.yml" --port "$p" --http-port "$(free_port)" --shards 1 >"$d/log" 2>&1 & pid=$!
  fi
  wait_port "$p" || { echo "$1 did not start"; exit 1; }
  b=$(awk '{print $14+$15}' "/proc/$pid/stat")
  out=$(taskset -c "$CLIENT_CPU" redis-benchmark -p "$p" -t set -n "$N" -c "$2" -r 1000000 -d 100 --csv 2>/dev/null | tail -1 | tr -d '"')
  a=$(awk '{print $14+$15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$d"
  echo "$out" | awk -F, -v k="$1" -v c="$2" -v t=$((a - b)) -v hz="$hz" -v n="$N" \
    '{printf "| %s | %s | %d | %s | %.1f |\n", k, c, $2, $7, t/hz*1e6/n}'
}
echo "| server | clients | SET/s | p99 ms | CPU µs per SET |"
echo "|---|---|---|---|---|"
for c in $CLIENTS; do run redis "$c"; run synap "$c"; done
