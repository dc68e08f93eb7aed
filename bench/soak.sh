#!/usr/bin/env bash
# Soak test: SOAK_SECONDS (default 60) of mixed reads and writes with wrk against one
# service instance on its own redis-server, on 127.0.0.1 only. Samples the service's
# goroutines and resident memory from /metrics every 5 s, and fails when any request
# failed or either grew past the warm-up level by more than the allowed margin.
#   bash bench/soak.sh              # 60 s
#   SOAK_SECONDS=300 bash bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SOAK_SECONDS:-60}
work=$(mktemp -d "${TMPDIR:-/tmp}/cs-soak.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

go build -o "$work/connectsession" .
rport=$(free_port)
redis-server --bind 127.0.0.1 --port "$rport" --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.1; done
export REDIS_URL="redis://127.0.0.1:$rport/0"
key=$("$work/connectsession" apikey create -org 1 -role write -label soak 2>/dev/null | tail -n1)
port=$(free_port)
ADDR="127.0.0.1:$port" LOG_LEVEL=warn AUTHENTICATE_RATE_LIMIT=0 "$work/connectsession" >"$work/service.log" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$port"
until curl -fsS -o /dev/null "$url/readyz" 2>/dev/null; do sleep 0.1; done

# Seed the ids the point reads ask for.
for i in $(seq 1 200); do
  curl -fsS -o /dev/null "$url/graphql" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"query":"mutation { createConnectSession(input: {organizationId: 1, projectId: \"soak\", originOwnerId: \"seed\", originOwnerName: \"Seed\"}) { token } }"}'
done

sample() { # prints "goroutines rss_bytes"
  curl -fsS "$url/metrics" | awk '/^go_goroutines /{g=$2} /^process_resident_memory_bytes /{r=$2} END{printf "%d %d\n", g, r}'
}
echo "soak: ${seconds}s of 80% point reads, 10% pages, 10% creates with 32 connections"
BENCH_KEY=$key BENCH_IDS=200 wrk -t2 -c32 -d"${seconds}s" --timeout 5s -s bench/soak.lua "$url" >"$work/wrk.out" &
wrk_pid=$!
samples=()
elapsed=0
while kill -0 "$wrk_pid" 2>/dev/null; do
  sleep 5
  elapsed=$((elapsed + 5))
  s=$(sample)
  samples+=("$s")
  printf '  t=%3ds goroutines=%s rss=%s MiB\n' "$elapsed" "${s% *}" "$(( ${s#* } / 1048576 ))"
done
wait "$wrk_pid"
cat "$work/wrk.out"
line=$(grep '^SOAK ' "$work/wrk.out")
failures=$(sed 's/.*failures=\([0-9]*\).*/\1/' <<<"$line")
socket=$(sed 's/.*socket_errors=\([0-9]*\).*/\1/' <<<"$line")

# Flat: after a 15 s warm-up, neither goroutines nor RSS may exceed the warm-up level by
# more than 20 goroutines / 25%.
warm=${samples[2]:-${samples[-1]}}
last=${samples[-1]}
warm_g=${warm% *}; warm_r=${warm#* }; last_g=${last% *}; last_r=${last#* }
status=0
[ "$failures" -eq 0 ] && [ "$socket" -eq 0 ] || { echo "FAIL: $failures failed requests, $socket socket errors"; status=1; }
[ "$last_g" -le $((warm_g + 20)) ] || { echo "FAIL: goroutines grew from $warm_g to $last_g"; status=1; }
[ "$last_r" -le $((warm_r + warm_r / 4)) ] || { echo "FAIL: RSS grew from $warm_r to $last_r"; status=1; }
echo "soak: goroutines $warm_g -> $last_g, RSS $((warm_r / 1048576)) -> $((last_r / 1048576)) MiB, redis used_memory $(redis-cli -p "$rport" info memory | awk -F: '/^used_memory_human/{print $2}' | tr -d '\r')"
[ "$status" -eq 0 ] && echo "soak: PASS"
exit "$status"
