#!/usr/bin/env bash
# Durability cost, side by side in one run: SET throughput and p99 for synap-server and
# redis-server with persistence off, appendfsync no, everysec and always (same data disk, same
# pinning: servers on SERVER_CPU, redis-benchmark on CLIENT_CPU). Then recovery time for KEYS
# keys (AOF replay, and snapshot load after BGREWRITEAOF).
#   usage: benches/compare-persistence.sh [path/to/synap-server]
#   env:   N (requests per run, default 300000; `always` runs use N/5), C (clients, 50),
#          SHARDS (1), SERVER_CPU (0), CLIENT_CPU (1), KEYS (1000000), DIR (data dir parent),
#          MODES ("off no everysec always"), NO_RECOVERY (set: skip the recovery timing)
set -euo pipefail
bin=${1:-target/release/synap-server}
N=${N:-300000}
C=${C:-50}
SHARDS=${SHARDS:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
KEYS=${KEYS:-1000000}
for t in redis-server redis-benchmark taskset; do
  command -v "$t" >/dev/null || { echo "needs $t"; exit 1; }
done
[ -x "$bin" ] || { echo "no $bin: cargo build --release first"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d ${DIR:+-p "$DIR"}); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1200); do [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.05; done; return 1; }

start_redis() { # mode -> port
  local p; p=$(free_port); mkdir -p "$tmp/r-$1"
  if [ "$1" = off ]; then a=(--appendonly no); else a=(--appendonly yes --appendfsync "$1"); fi
  taskset -c "$SERVER_CPU" redis-server --port "$p" --save '' "${a[@]}" --dir "$tmp/r-$1" >/dev/null 2>&1 &
  pids+=($!); echo "$p $!"
}
start_synap() { # mode -> port
  local p h; p=$(free_port); h=$(free_port); mkdir -p "$tmp/s-$1"
  if [ "$1" = off ]; then printf 'persistence:\n  enabled: false\n' >"$tmp/s-$1.yml"
  else printf 'persistence:\n  enabled: true\n  appendfsync: %s\n' "$1" >"$tmp/s-$1.yml"; fi
  taskset -c "$SERVER_CPU" "$bin" --config "$tmp/s-$1.yml" --port "$p" --http-port "$h" --shards "$SHARDS" \
    --data-dir "$tmp/s-$1" >"$tmp/s-$1.log" 2>&1 &
  pids+=($!); echo "$p $!"
}
bench() { # port n -> "rps p99_ms"
  taskset -c "$CLIENT_CPU" redis-benchmark -p "$1" -t set -n "$2" -c "$C" -r 1000000 -d 100 --csv 2>/dev/null |
    awk -F'","' '/"SET"/ {gsub(/"/,"",$2); gsub(/"/,"",$7); print $2, $7}'
}

echo "| persistence | redis-server SET/s | redis p99 ms | synap SET/s | synap p99 ms | synap ÷ redis |"
echo "|---|---|---|---|---|---|"
for mode in ${MODES:-off no everysec always}; do
  n=$N; [ "$mode" = always ] && n=$((N / 5))
  read -r rp rpid <<<"$(start_redis $mode)"; read -r sp spid <<<"$(start_synap $mode)"
  wait_port "$rp" && wait_port "$sp" || { echo "a server did not start"; exit 1; }
  read -r ro r99 <<<"$(bench "$rp" "$n")"
  read -r so s99 <<<"$(bench "$sp" "$n")"
  kill "$rpid" "$spid"; wait "$rpid" "$spid" 2>/dev/null || true
  awk -v m="$mode" -v ro="$ro" -v r99="$r99" -v so="$so" -v s99="$s99" 'BEGIN{
    printf "| %s | %d | %.3f | %d | %.3f | %.2fx |\n", m, ro, r99, so, s99, (ro>0?so/ro:0) }'
done
echo
echo "redis-benchmark -t set -n $N (always: $((N / 5))) -c $C -r 1000000 -d 100; servers on CPU $SERVER_CPU (synap --shards $SHARDS), client on CPU $CLIENT_CPU; data in $tmp ($(df -T "$tmp" | awk 'NR==2{print $2}'))"

[ -n "${NO_RECOVERY:-}" ] && exit 0
# Recovery time: KEYS keys of 100 bytes, written with everysec, loaded from the AOF, then from
# a snapshot (after BGREWRITEAOF), both with the same shard count.
echo
read -r sp spid <<<"$(start_synap everysec)"; wait_port "$sp"
taskset -c "$CLIENT_CPU" redis-benchmark -p "$sp" -t set -n "$KEYS" -c 50 -P 64 -r "$KEYS" -d 100 -q >/dev/null 2>&1
keys=$(redis-cli -p "$sp" dbsize)
kill "$spid"; wait "$spid" 2>/dev/null || true
aof=$(du -sh "$tmp/s-everysec" | cut -f1)
t0=$(date +%s.%N); read -r sp spid <<<"$(start_synap everysec)"; wait_port "$sp"; t1=$(date +%s.%N)
redis-cli -p "$sp" bgrewriteaof >/dev/null
while redis-cli -p "$sp" info persistence | grep -q 'rdb_bgsave_in_progress:1'; do sleep 0.1; done
sleep 0.5; kill "$spid"; wait "$spid" 2>/dev/null || true
snap=$(du -sh "$tmp/s-everysec" | cut -f1)
t2=$(date +%s.%N); read -r sp spid <<<"$(start_synap everysec)"; wait_port "$sp"; t3=$(date +%s.%N)
k2=$(redis-cli -p "$sp" dbsize)
awk -v k="$keys" -v k2="$k2" -v a="$(echo "$t1 - $t0" | bc)" -v s="$(echo "$t3 - $t2" | bc)" -v af="$aof" -v sf="$snap" 'BEGIN{
  printf "recovery of %d keys (synap --shards '"$SHARDS"'): AOF replay %.2f s (%s on disk), snapshot %.2f s (%s on disk, %d keys back)\n", k, a, af, s, sf, k2 }'
