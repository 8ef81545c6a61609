#!/usr/bin/env bash
# Side-by-side: synap-server (1 shard) and redis-server, both pinned to the same CPU, driven by
# redis-benchmark pinned to another CPU, in one run. Prints a markdown table with ops/s, the
# ratio, and each server's CPU time per request (utime+stime from /proc/PID/stat).
#   usage: benches/compare-redis.sh [path/to/synap-server]
#   env:   N (requests per test, default 2000000), SERVER_CPU (0), CLIENT_CPU (1), SHARDS (1),
#          EXTRA (more redis-benchmark arguments, e.g. "-r 1000000 -d 100"),
#          TESTS (redis-benchmark tests, default "set get"; e.g. "lpush rpush lpop rpop sadd hset
#          spop zadd zpopmin lrange_100"), PIPELINES (default "1 16")
set -euo pipefail
bin=${1:-target/release/synap-server}
N=${N:-2000000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SHARDS=${SHARDS:-1}
EXTRA=${EXTRA:-}
TESTS=${TESTS:-"set get"}
PIPELINES=${PIPELINES:-"1 16"}
for t in redis-server redis-benchmark taskset; do
  command -v "$t" >/dev/null || { echo "needs $t (apt-get install -y redis-server redis-tools util-linux)"; exit 1; }
done
[ -x "$bin" ] || { echo "no $bin: cargo build --release first"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

rp=$(free_port)
taskset -c "$SERVER_CPU" redis-server --port "$rp" --save '' --appendonly no --dir "$tmp" >/dev/null 2>&1 & rpid=$!; pids+=($rpid)
sp=$(free_port); hp=$(free_port)
taskset -c "$SERVER_CPU" "$bin" --port "$sp" --http-port "$hp" --shards "$SHARDS" >"$tmp/synap.log" 2>&1 & spid=$!; pids+=($spid)
wait_port "$rp" && wait_port "$sp" || { echo "a server did not start"; cat "$tmp/synap.log"; exit 1; }

# run PORT PID TEST PIPELINE -> "ops_per_sec us_per_req"
run() {
  local before after ops
  before=$(cpu_ticks "$2")
  ops=$(taskset -c "$CLIENT_CPU" redis-benchmark -p "$1" -t "$3" -n "$N" -c 50 -P "$4" $EXTRA -q 2>/dev/null |
        tr '\r' '\n' | awk '/requests per second/ {for(i=2;i<=NF;i++) if($i=="requests" && $(i-1) ~ /^[0-9.]+$/) v=$(i-1)} END{print v+0}')
  after=$(cpu_ticks "$2")
  awk -v o="$ops" -v t=$((after - before)) -v hz="$hz" -v n="$N" 'BEGIN{printf "%d %.2f", o, t/hz*1e6/n}'
}

echo "| test | redis-server ops/s | redis µs/req | synap ops/s | synap µs/req | synap ÷ redis (ops/s) | redis ÷ synap (CPU/req) |"
echo "|---|---|---|---|---|---|---|"
for P in $PIPELINES; do for t in $TESTS; do
  read -r ro rc <<<"$(run "$rp" "$rpid" "$t" "$P")"
  read -r so sc <<<"$(run "$sp" "$spid" "$t" "$P")"
  awk -v t="$t" -v P="$P" -v ro="$ro" -v rc="$rc" -v so="$so" -v sc="$sc" 'BEGIN{
    printf "| %s -P%s | %d | %.2f | %d | %.2f | %.2fx | %.2fx |\n", toupper(t), P, ro, rc, so, sc, (ro>0?so/ro:0), (sc>0?rc/sc:0) }'
done; done
echo
echo "redis-benchmark -t ${TESTS// /,} -n $N -c 50 -P {1,16} $EXTRA; servers on CPU $SERVER_CPU, redis-benchmark on CPU $CLIENT_CPU; $(redis-server --version | cut -d' ' -f1-3); synap $("$bin" --version)"
