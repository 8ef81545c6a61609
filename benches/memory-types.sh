#!/usr/bin/env bash
# Memory for the aggregate types, side by side: redis-server and synap-server (--shards 1) are
# loaded with the same commands (redis-cli --pipe) and report INFO memory used_memory and the
# process RSS (/proc/PID/status VmRSS) after the load.
#   usage: benches/memory-types.sh [path/to/synap-server]
#   env:   DATASETS (default "hashes sets intsets"), N (keys, default 1000000)
# Datasets: hashes = N hashes `user:N` of 10 fields (`field0`..`field9`, 10-byte values);
#           sets   = N sets `tags:N` of 5 members (`tag:<0..9999>`);
#           intsets = N sets `ids:N` of 5 integer members.
set -euo pipefail
bin=${1:-target/release/synap-server}
N=${N:-1000000}
DATASETS=${DATASETS:-"hashes sets intsets"}
for t in redis-server redis-cli python3; do command -v "$t" >/dev/null || { echo "needs $t"; exit 1; }; done
[ -x "$bin" ] || { echo "no $bin: cargo build --release first"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
used() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1=="used_memory" {printf "%.1f", $2/1048576}'; }

gen() { # gen DATASET FILE
  python3 - "$1" "$N" >"$2" <<'PY'
import random, sys
kind, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
out = sys.stdout.buffer
def cmd(*a):
    b = [b"*%d\r\n" % len(a)]
    for x in a:
        x = x if isinstance(x, bytes) else str(x).encode()
        b.append(b"$%d\r\n%s\r\n" % (len(x), x))
    out.write(b"".join(b))
alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
for i in range(n):
    if kind == "hashes":
        a = ["HSET", "user:%07d" % i]
        for j in range(10):
            a += ["field%d" % j, "".join(rnd.choice(alnum) for _ in range(10))]
        cmd(*a)
    elif kind == "sets":
        cmd("SADD", "tags:%07d" % i, *["tag:%d" % m for m in rnd.sample(range(10000), 5)])
    elif kind == "intsets":
        cmd("SADD", "ids:%07d" % i, *[str(m) for m in rnd.sample(range(1000000), 5)])
PY
}

echo "| dataset | redis used_memory MB | redis RSS MB | synap used_memory MB | synap RSS MB | used ratio | RSS ratio |"
echo "|---|---|---|---|---|---|---|"
for d in $DATASETS; do
  gen "$d" "$tmp/$d.resp"
  rp=$(free_port); sp=$(free_port); hp=$(free_port)
  redis-server --port "$rp" --save '' --appendonly no --dir "$tmp" >/dev/null 2>&1 & rpid=$!; pids+=($rpid)
  "$bin" --port "$sp" --http-port "$hp" --shards 1 >"$tmp/synap.log" 2>&1 & spid=$!; pids+=($spid)
  wait_port "$rp" && wait_port "$sp" || { echo "a server did not start"; cat "$tmp/synap.log"; exit 1; }
  redis-cli -p "$rp" --pipe <"$tmp/$d.resp" >/dev/null
  redis-cli -p "$sp" --pipe <"$tmp/$d.resp" >/dev/null
  sleep 1
  ru=$(used "$rp"); rr=$(rss "$rpid"); su=$(used "$sp"); sr=$(rss "$spid")
  awk -v d="$d" -v ru="$ru" -v rr="$rr" -v su="$su" -v sr="$sr" 'BEGIN{
    printf "| %s | %.1f | %.1f | %.1f | %.1f | %.2fx | %.2fx |\n", d, ru, rr, su, sr, su/ru, sr/rr }'
  kill "$rpid" "$spid"; wait "$rpid" "$spid" 2>/dev/null || true
  rm -f "$tmp/$d.resp"
done
echo
echo "N=$N keys per dataset; $(redis-server --version | cut -d' ' -f1-3); synap $("$bin" --version)"
