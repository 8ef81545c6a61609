#!/usr/bin/env bash
# Synap against redis-server with synap-loadtest: both servers pinned to the same CPU set, the
# client on the other CPU(s), the same keyspace and the same workloads, one run. Prints a
# markdown table (throughput, p99, ratio) and the memory (RSS) each used for the same keys.
#   usage: loadtest/compare.sh            (builds release binaries first)
#   env:   SERVER_CPUS (0)  CLIENT_CPUS (1)  KEYS (1000000)  CONNS (50)  DURATION (10s)
#          SHARDS (number of CPUs in SERVER_CPUS)  DATA (100)
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER_CPUS=${SERVER_CPUS:-0}
CLIENT_CPUS=${CLIENT_CPUS:-1}
KEYS=${KEYS:-1000000}
CONNS=${CONNS:-50}
DURATION=${DURATION:-10s}
DATA=${DATA:-100}
ncpu() { python3 -c "import sys; s=sys.argv[1]; n=0
for p in s.split(','):
    a,_,b=p.partition('-'); n+= (int(b)-int(a)+1) if b else 1
print(n)" "$1"; }
SHARDS=${SHARDS:-$(ncpu "$SERVER_CPUS")}
CLIENT_THREADS=$(ncpu "$CLIENT_CPUS")

if ! command -v redis-server >/dev/null; then
  echo "installing redis-server (Debian package)…" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
cargo build --release -q -p synap --bin synap-server && cargo build --release -q -p synap-loadtest
SYNAP=target/release/synap-server
LT=target/release/synap-loadtest

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

rp=$(free_port)
taskset -c "$SERVER_CPUS" redis-server --port "$rp" --save '' --appendonly no --dir "$tmp" >/dev/null 2>&1 & rpid=$!; pids+=($rpid)
sp=$(free_port); hp=$(free_port)
taskset -c "$SERVER_CPUS" "$SYNAP" --port "$sp" --http-port "$hp" --shards "$SHARDS" >"$tmp/synap.log" 2>&1 & spid=$!; pids+=($spid)
wait_port "$rp" && wait_port "$sp" || { echo "a server did not start"; cat "$tmp/synap.log"; exit 1; }

lt() { # port, extra args… -> JSON
  local port=$1; shift
  taskset -c "$CLIENT_CPUS" "$LT" --port "$port" --threads "$CLIENT_THREADS" --keys "$KEYS" --data-size "$DATA" --quiet --json "$@"
}
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

# Same keyspace in both: every key written once, in order.
for port in "$rp" "$sp"; do
  lt "$port" --connections "$CONNS" --pipeline 64 --requests "$KEYS" --ratio 1:0 --key-pattern sequential >/dev/null
done
r_rss=$(rss_mb "$rpid"); s_rss=$(rss_mb "$spid")

echo "| workload | redis ops/s | redis p99 µs | synap ops/s | synap p99 µs | synap ÷ redis |"
echo "|---|---|---|---|---|---|"
run_row() { # name, args…
  local name=$1; shift
  local r s
  r=$(lt "$rp" --connections "$CONNS" --duration "$DURATION" --warmup 1s --key-pattern zipf:0.99 "$@")
  s=$(lt "$sp" --connections "$CONNS" --duration "$DURATION" --warmup 1s --key-pattern zipf:0.99 "$@")
  local ro rp99 so sp99
  ro=$(echo "$r" | field 'round(d["throughput"])'); rp99=$(echo "$r" | field 'd["latency_us"]["p99"]')
  so=$(echo "$s" | field 'round(d["throughput"])'); sp99=$(echo "$s" | field 'd["latency_us"]["p99"]')
  awk -v n="$name" -v ro="$ro" -v rp="$rp99" -v so="$so" -v sp="$sp99" 'BEGIN{printf "| %s | %d | %d | %d | %d | %.2fx |\n", n, ro, rp, so, sp, (ro>0?so/ro:0)}'
}
run_row "SET -P1" --ratio 1:0 --pipeline 1
run_row "GET -P1" --ratio 0:1 --pipeline 1
run_row "SET -P16" --ratio 1:0 --pipeline 16
run_row "GET -P16" --ratio 0:1 --pipeline 16
run_row "1:10 SET:GET -P1" --ratio 1:10 --pipeline 1
run_row "1:10 SET:GET -P16" --ratio 1:10 --pipeline 16
echo
echo "| memory for the same $KEYS keys ($DATA-byte values) | redis-server | synap |"
echo "|---|---|---|"
echo "| RSS | ${r_rss} MB | ${s_rss} MB |"
echo
echo "servers on CPU(s) $SERVER_CPUS (synap --shards $SHARDS), synap-loadtest on CPU(s) $CLIENT_CPUS ($CLIENT_THREADS thread(s)), $CONNS connections per thread, zipf 0.99 over $KEYS keys, $DATA-byte values, $DURATION per workload after 1 s warm-up; $(redis-server --version | cut -d' ' -f1-3)"
