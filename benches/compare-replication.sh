#!/usr/bin/env bash
# Replication cost, side by side for synap-server and redis-server (same pinning, one run):
#  1. master SET throughput and master CPU per request with 0 and with 2 replicas attached;
#  2. replication lag under that load: a probe writes a key to the master every 10 ms and
#     polls both replicas until it is visible (write acknowledged -> readable on the replica);
#  3. the master's GET p99 while a new replica takes a full sync of KEYS keys, against the same
#     run before the sync.
# Masters on SERVER_CPU, redis-benchmark and the replicas on CLIENT_CPU.
#   usage: benches/compare-replication.sh [path/to/synap-server]
#   env:   N (SET requests, default 2000000), P (pipeline, default 16), KEYS (default 1000000),
#          SHARDS (synap shards, default 1), KINDS (default "redis synap"),
#          REPLICA_SCHED=idle (run the replicas SCHED_IDLE: they only take CPU the client
#          leaves, so the client's throughput is not what the replicas cost)
#          CLOSED=0 (only the fixed-rate part), ROUNDS (fixed-rate rounds, default 2),
#          RATE_REPLICAS=sink|real (default sink: the fixed-rate part's "replicas" are stream
#          sinks that do the replication handshake and read everything without applying it,
#          as replicas on other hosts would look from the master; real runs replica servers
#          on the client's CPU, which also changes how the client batches),
#          RATE (default 200000; 0 skips): also the master's CPU per request at this fixed
#          offered rate (open loop, synap-loadtest --rate with the same pipeline, 8 s), with 0
#          and with 2 replicas. On two cores the replicas share the client's CPU, so closed-loop
#          throughput falls for both servers whatever the master pays; at a fixed rate the
#          master serves the same load both times and its CPU per request is the cost of
#          feeding the replicas (its capacity overhead).
set -euo pipefail
bin=${1:-target/release/synap-server}
N=${N:-2000000}; P=${P:-16}; KEYS=${KEYS:-1000000}; SHARDS=${SHARDS:-1}
RATE=${RATE:-200000}; LOADTEST=${LOADTEST:-$(dirname "$bin")/synap-loadtest}
KINDS=${KINDS:-"redis synap"}
IDLE=""; [ "${REPLICA_SCHED:-}" = idle ] && IDLE="chrt --idle 0"
SERVER_CPU=${SERVER_CPU:-0}; CLIENT_CPU=${CLIENT_CPU:-1}
for t in redis-server redis-benchmark redis-cli taskset python3; do
  command -v "$t" >/dev/null || { echo "needs $t"; exit 1; }
done
python3 -c 'import redis' 2>/dev/null || { echo "needs redis-py (pip install redis)"; exit 1; }
[ -x "$bin" ] || { echo "no $bin: cargo build --release first"; exit 1; }
[ "$RATE" = 0 ] || [ -x "$LOADTEST" ] || { echo "no $LOADTEST: cargo build --release -p synap-loadtest (or RATE=0)"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$tmp"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 400); do redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.05; done; return 1; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
link_up() { redis-cli -p "$1" info replication | tr -d '\r' | grep -q '^master_link_status:up'; }
wait_link() { for _ in $(seq 2400); do link_up "$1" && return 0; sleep 0.05; done; echo "replica $1 did not sync"; return 1; }

# start_master KIND -> sets mp (RESP port), mpid
start_master() {
  mp=$(free_port)
  if [ "$1" = redis ]; then
    taskset -c "$SERVER_CPU" redis-server --port "$mp" --save '' --appendonly no --dir "$tmp" \
      --repl-backlog-size 64mb --client-output-buffer-limit "replica 1gb 1gb 60" >/dev/null 2>&1 & mpid=$!
  else
    mrepl=$(free_port)
    printf 'replication:\n  enabled: true\n  listen_port: %s\n' "$mrepl" >"$tmp/master.yml"
    taskset -c "$SERVER_CPU" "$bin" -c "$tmp/master.yml" --port "$mp" --http-port "$(free_port)" \
      --shards "$SHARDS" >"$tmp/master.log" 2>&1 & mpid=$!
  fi
  pids+=($mpid); wait_port "$mp" || { echo "master did not start"; cat "$tmp/master.log" 2>/dev/null; exit 1; }
}
# start_replica KIND -> echoes "port pid"
start_replica() {
  local rp; rp=$(free_port)
  if [ "$1" = redis ]; then
    $IDLE taskset -c "$CLIENT_CPU" redis-server --port "$rp" --save '' --appendonly no --dir "$tmp" \
      --replicaof 127.0.0.1 "$mp" >/dev/null 2>&1 &
  else
    printf 'server:\n  role: replica\nreplication:\n  enabled: true\n  master_host: 127.0.0.1\n  master_port: %s\n  listen_port: %s\n' \
      "$mrepl" "$(free_port)" >"$tmp/replica-$rp.yml"
    $IDLE taskset -c "$CLIENT_CPU" "$bin" -c "$tmp/replica-$rp.yml" --port "$rp" --http-port "$(free_port)" \
      --shards "$SHARDS" >"$tmp/replica-$rp.log" 2>&1 &
  fi
  echo "$rp $!"
}
# bench N ARGS... -> "rps p99_ms"; the master's CPU µs per request goes to $tmp/cpu
bench() {
  local before after out n=$1; shift
  before=$(cpu_ticks "$mpid")
  out=$(taskset -c "$CLIENT_CPU" redis-benchmark -p "$mp" -n "$n" --csv "$@" 2>/dev/null | tail -1 | tr -d '"')
  after=$(cpu_ticks "$mpid")
  awk -v t=$((after - before)) -v hz="$hz" -v n="$n" 'BEGIN{printf "%.2f", t/hz*1e6/n}' >"$tmp/cpu"
  echo "$out" | awk -F, '{printf "%d %s", $2, $7}'
}
# start_sink KIND -> a process on CLIENT_CPU that takes the master's replication stream and
# discards it (Synap: the replication port's SYNC line; Redis: SYNC on the RESP port); echoes its pid
start_sink() {
  local port line
  if [ "$1" = redis ]; then port=$mp; line='SYNC\r\n'; else port=$mrepl; line="SYNC 0 sink-$RANDOM ? 0 0 -\n"; fi
  taskset -c "$CLIENT_CPU" python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode())
while s.recv(1 << 20):
    pass' "$port" "$line" >/dev/null 2>&1 &
  echo $!
}
slaves() { redis-cli -p "$mp" info replication | tr -d '\r' | awk -F: '/^connected_slaves:/{print $2}'; }
# at_rate -> master CPU µs per SET at RATE requests/s (open loop, 8 s, 100-byte values)
at_rate() {
  local before after n
  before=$(cpu_ticks "$mpid")
  n=$(taskset -c "$CLIENT_CPU" "$LOADTEST" --port "$mp" --connections 50 --pipeline "$P" --rate "$RATE" \
      --duration 8s --ratio 1:0 --data-size 100 --keys 1000000 --quiet --json \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
  after=$(cpu_ticks "$mpid")
  awk -v t=$((after - before)) -v hz="$hz" -v n="$n" 'BEGIN{printf "%.3f", t/hz*1e6/n}'
}
probe() { # probe STOPFILE REPLICA_PORTS... -> "p50 p99 max count" (ms)
  python3 - "$mp" "$@" <<'PY'
import os, sys, time, redis
mp, stop, ports = int(sys.argv[1]), sys.argv[2], [int(p) for p in sys.argv[3:]]
m = redis.Redis(port=mp); rs = [redis.Redis(port=p) for p in ports]
lags, i = [], 0
while not os.path.exists(stop):
    k = "lagprobe:%d" % i; i += 1
    m.set(k, "1"); t0 = time.perf_counter()
    for r in rs:
        while r.get(k) is None and time.perf_counter() - t0 < 30:
            time.sleep(0.0002)
        lags.append((time.perf_counter() - t0) * 1000)
    m.delete(k)
    time.sleep(0.01)
lags.sort()
q = lambda f: lags[min(len(lags) - 1, int(f * len(lags)))] if lags else 0
print("%.2f %.2f %.2f %d" % (q(0.5), q(0.99), lags[-1] if lags else 0, len(lags)))
PY
}

declare -A R
[ "${CLOSED:-1}" = 1 ] || KINDS_CLOSED=""
for kind in ${KINDS_CLOSED-$KINDS}; do
  start_master "$kind"
  read -r R[$kind.rps0] R[$kind.p990] <<<"$(bench "$N" -t set -r 1000000 -d 100 -c 50 -P "$P")"; R[$kind.cpu0]=$(cat "$tmp/cpu")
  reps=()
  for _ in 1 2; do read -r rp rpid <<<"$(start_replica "$kind")"; pids+=($rpid); reps+=($rp); done
  for rp in "${reps[@]}"; do wait_port "$rp"; wait_link "$rp"; done
  rm -f "$tmp/stop"; probe "$tmp/stop" "${reps[@]}" >"$tmp/lag" & ppid=$!
  read -r R[$kind.rps2] R[$kind.p992] <<<"$(bench "$N" -t set -r 1000000 -d 100 -c 50 -P "$P")"; R[$kind.cpu2]=$(cat "$tmp/cpu")
  touch "$tmp/stop"; wait "$ppid"; read -r R[$kind.lag50] R[$kind.lag99] R[$kind.lagmax] R[$kind.lagn] <"$tmp/lag"
  for rp in "${reps[@]}"; do redis-cli -p "$rp" shutdown nosave >/dev/null 2>&1 || true; done
  # Full sync of KEYS keys while a client measures GET latency on the master.
  redis-cli -p "$mp" flushall >/dev/null
  python3 -c "
import sys
w = sys.stdout.buffer
v = b'x' * 100
for i in range($KEYS):
    k = b'key:%012d' % i
    w.write(b'*3\r\n\$3\r\nSET\r\n\$%d\r\n%s\r\n\$100\r\n%s\r\n' % (len(k), k, v))
" | redis-cli -p "$mp" --pipe >/dev/null
  read -r _ R[$kind.base99] <<<"$(bench 300000 -t get -r "$KEYS" -c 10 -P 1)"
  t0=$(date +%s.%N)
  read -r rp rpid <<<"$(start_replica "$kind")"; pids+=($rpid)
  read -r _ R[$kind.sync99] <<<"$(bench 300000 -t get -r "$KEYS" -c 10 -P 1)"
  wait_link "$rp"; R[$kind.synct]=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
  R[$kind.synckeys]=$(redis-cli -p "$rp" dbsize)
  redis-cli -p "$rp" shutdown nosave >/dev/null 2>&1 || true
  kill "$mpid"; wait "$mpid" 2>/dev/null || true
done

if [ "${CLOSED:-1}" = 1 ]; then
  echo "| server | SET/s, 0 replicas | master µs/req | SET/s, 2 replicas | master µs/req | throughput cost | CPU cost | lag p50 / p99 / max ms (probes) | GET p99 ms before / during full sync | full sync of $KEYS keys |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for kind in $KINDS; do
    awk -v k="$kind" -v r0="${R[$kind.rps0]}" -v c0="${R[$kind.cpu0]}" -v r2="${R[$kind.rps2]}" -v c2="${R[$kind.cpu2]}" \
        -v l50="${R[$kind.lag50]}" -v l99="${R[$kind.lag99]}" -v lm="${R[$kind.lagmax]}" -v ln="${R[$kind.lagn]}" \
        -v b="${R[$kind.base99]}" -v s="${R[$kind.sync99]}" -v st="${R[$kind.synct]}" -v sk="${R[$kind.synckeys]}" 'BEGIN{
      printf "| %s | %d | %.2f | %d | %.2f | %+.1f%% | %+.1f%% | %s / %s / %s (%d) | %s / %s | %s s (%s keys) |\n",
        k, r0, c0, r2, c2, (r0>0?(r2/r0-1)*100:0), (c0>0?(c2/c0-1)*100:0), l50, l99, lm, ln, b, s, st, sk }'
  done
fi
if [ "$RATE" != 0 ]; then
  # Fixed offered rate: a fresh master (and replicas) for every measurement, so each starts
  # from the same empty dataset; kinds and replica counts alternate, ROUNDS times.
  for round in $(seq "${ROUNDS:-2}"); do
    for kind in $KINDS; do
      for n in 0 2; do
        start_master "$kind"; reps=(); rpids=()
        if [ "${RATE_REPLICAS:-sink}" = real ]; then
          for _ in $(seq "$n"); do read -r rp rpid <<<"$(start_replica "$kind")"; pids+=($rpid); rpids+=($rpid); reps+=($rp); done
          for rp in "${reps[@]}"; do wait_port "$rp"; wait_link "$rp"; done
        else
          for _ in $(seq "$n"); do rpid=$(start_sink "$kind"); pids+=($rpid); rpids+=($rpid); done
          for _ in $(seq 200); do [ "$(slaves)" = "$n" ] && break; sleep 0.05; done
          [ "$(slaves)" = "$n" ] || { echo "$kind: $n sinks did not attach"; exit 1; }
        fi
        R[$kind.rate$n]="${R[$kind.rate$n]:-} $(at_rate)"
        for p in "${rpids[@]}" "$mpid"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
      done
    done
  done
  echo
  echo "| server | master µs/SET at $RATE SET/s, 0 replicas | 2 replicas (${RATE_REPLICAS:-sink}) | master CPU cost of 2 replicas (per round) |"
  echo "|---|---|---|---|"
  for kind in $KINDS; do
    awk -v k="$kind" -v a="${R[$kind.rate0]}" -v b="${R[$kind.rate2]}" 'BEGIN{
      n = split(a, x, " "); split(b, y, " "); c = ""
      for (i = 1; i <= n; i++) c = c sprintf("%s%+.1f%%", (i > 1 ? ", " : ""), (x[i] > 0 ? (y[i]/x[i]-1)*100 : 0))
      printf "| %s | %s | %s | %s |\n", k, a, b, c }'
  done
fi
echo
echo "SET: redis-benchmark -t set -n $N -r 1000000 -d 100 -c 50 -P $P; GET p99: -t get -n 300000 -r $KEYS -c 10 -P 1;"
[ "$RATE" = 0 ] || echo "fixed rate: synap-loadtest --rate $RATE --pipeline $P --connections 50 --duration 8s --ratio 1:0 --data-size 100 --keys 1000000;"
echo "masters on CPU $SERVER_CPU, client and replicas on CPU $CLIENT_CPU; synap --shards $SHARDS; $(redis-server --version | cut -d' ' -f1-3)"
