#!/usr/bin/env bash
# TLS cost, one run: synap-server (1 shard) plaintext and TLS, and redis-server plaintext and
# TLS, every server pinned to the same CPU, synap-loadtest pinned to another, identical loads
# (50 connections, 1:1 SET:GET, 100k keys, 100-byte values, -P1 and -P16). Prints a markdown
# table with ops/s, p99 and the TLS ÷ plaintext and synap ÷ redis ratios.
#   usage: benches/compare-tls.sh [target/release/synap-server] [target/release/synap-loadtest]
#   env:   DURATION (5s), SERVER_CPU (0), CLIENT_CPU (1)
# Certificates (ECDSA P-256, like rcgen's default) are made with openssl in a temporary
# directory; redis-server needs TLS support (Debian's redis-server 7 has it).
set -euo pipefail
bin=${1:-target/release/synap-server}
lt=${2:-target/release/synap-loadtest}
DURATION=${DURATION:-5s}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
for t in redis-server redis-cli openssl taskset python3; do
  command -v "$t" >/dev/null || { echo "needs $t"; exit 1; }
done
[ -x "$bin" ] && [ -x "$lt" ] || { echo "no $bin or $lt: cargo build --release --workspace first"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# A CA and a server certificate for localhost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
  -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout "$tmp/key.pem" -out "$tmp/req.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$tmp/ext"
openssl x509 -req -in "$tmp/req.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
  -days 2 -extfile "$tmp/ext" -out "$tmp/cert.pem" 2>/dev/null

wait_up() { for _ in $(seq 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# start_synap / start_redis TLS(0|1): start a server, set $port (not in a subshell: the pid
# must reach $pids).
start_synap() {
  local p h cfg
  p=$(free_port); h=$(free_port); cfg="$tmp/synap-$1.yml"
  if [ "$1" = 1 ]; then
    printf 'server:\n  tls:\n    enabled: true\n    cert_path: %s\n    key_path: %s\n' "$tmp/cert.pem" "$tmp/key.pem" > "$cfg"
  else
    : > "$cfg"
  fi
  taskset -c "$SERVER_CPU" "$bin" --config "$cfg" --port "$p" --http-port "$h" --shards 1 \
    --data-dir "$tmp/d$1" >"$tmp/synap-$1.log" 2>&1 & pids+=($!)
  wait_up "$h"; sleep 0.3; port=$p
}
start_redis() {
  local p; p=$(free_port)
  if [ "$1" = 1 ]; then
    taskset -c "$SERVER_CPU" redis-server --port 0 --tls-port "$p" --tls-cert-file "$tmp/cert.pem" \
      --tls-key-file "$tmp/key.pem" --tls-ca-cert-file "$tmp/ca.pem" --tls-auth-clients no \
      --save '' --appendonly no --dir "$tmp" >/dev/null 2>&1 & pids+=($!)
  else
    taskset -c "$SERVER_CPU" redis-server --port "$p" --save '' --appendonly no --dir "$tmp" >/dev/null 2>&1 & pids+=($!)
  fi
  wait_up "$p"; sleep 0.3; port=$p
}
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; pids=()
}

# load PORT TLS PIPELINE -> "ops p99us"
load() {
  local tls=()
  [ "$2" = 1 ] && tls=(--tls --cacert "$tmp/ca.pem" --sni localhost)
  taskset -c "$CLIENT_CPU" timeout 60 "$lt" --port "$1" "${tls[@]}" --threads 1 --connections 50 \
    --pipeline "$3" --duration "$DURATION" --warmup 1s --ratio 1:1 --keys 100000 \
    --data-size 100 --json --quiet |
    python3 -c 'import json,sys; v=json.load(sys.stdin); print(int(v["throughput"]), v["latency_us"]["p99"])'
}

declare -A R
for server in synap redis; do
  for tls in 0 1; do
    start_"$server" "$tls"
    for P in 1 16; do R[$server,$tls,$P]=$(load "$port" "$tls" "$P"); done
    stop_all
  done
done

echo "| workload | synap ops/s (p99 µs) | synap TLS ops/s (p99 µs) | TLS ÷ plain | redis ops/s (p99 µs) | redis TLS ops/s (p99 µs) | TLS ÷ plain | synap TLS ÷ redis TLS |"
echo "|---|---|---|---|---|---|---|---|"
for P in 1 16; do
  read -r sp sp99 <<<"${R[synap,0,$P]}"; read -r st st99 <<<"${R[synap,1,$P]}"
  read -r rp rp99 <<<"${R[redis,0,$P]}"; read -r rt rt99 <<<"${R[redis,1,$P]}"
  awk -v P="$P" -v sp="$sp" -v st="$st" -v rp="$rp" -v rt="$rt" -v a="$sp99" -v b="$st99" -v c="$rp99" -v d="$rt99" \
    'BEGIN { printf "| 1:1 SET:GET -P%s | %d (%d) | %d (%d) | %.2fx | %d (%d) | %d (%d) | %.2fx | %.2fx |\n", P, sp, a, st, b, st/sp, rp, c, rt, d, rt/rp, st/rt }'
done
