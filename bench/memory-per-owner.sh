#!/usr/bin/env bash
# Redis memory per session by sessions per customer, each K on a fresh redis-server, so that
# no step carries a doubling of Redis's key tables that an earlier step started:
#
#   bash bench/memory-per-owner.sh                 # K = 1, 10, 1000; 100,000 sessions each
#   BENCH_PER_OWNER_KS="1" BENCH_MEMORY_N=20000 BENCH_BREAKDOWN=1 bash bench/memory-per-owner.sh
#
# For each K it starts a redis-server on a free loopback port (never the shared one),
# loads BENCH_MEMORY_N sessions with bench/load -per-owner K into project mem-k<K>, and
# prints the growth of INFO used_memory, less the project's event log (MEMORY USAGE), and
# of DBSIZE, less the log's key, per session; BENCH_BREAKDOWN=1 adds bench/load's MEMORY
# USAGE breakdown by kind of key.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${BENCH_MEMORY_N:-100000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-memory.XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/load" ./bench/load
printf '%-8s %12s %12s %8s\n' "per-owner" "sessions" "bytes/sess" "keys/sess"
for k in ${BENCH_PER_OWNER_KS:-1 10 1000}; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  used() { redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'; }
  m0=$(used); k0=$(redis-cli -p "$port" dbsize)
  "$tmp/load" -redis-url "redis://127.0.0.1:$port/0" -project "mem-k$k" -n "$n" -per-owner "$k" >/dev/null
  log=$(redis-cli -p "$port" memory usage "cs:{1:mem-k$k}:log" samples 0 | tr -d '\r')
  m1=$(used); k1=$(redis-cli -p "$port" dbsize)
  awk -v k="$k" -v n="$n" -v m0="$m0" -v m1="$m1" -v lg="$log" -v k0="$k0" -v k1="$k1" \
    'BEGIN { printf "%-8s %12d %12.0f %8.2f\n", k, n, (m1 - m0 - lg) / n, (k1 - k0 - 1) / n }'
  if [ -n "${BENCH_BREAKDOWN:-}" ]; then "$tmp/load" -redis-url "redis://127.0.0.1:$port/0" -breakdown; fi
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
