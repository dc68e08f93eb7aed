#!/usr/bin/env bash
# Noisy neighbour: another tenant's point-read latency while one tenant runs the worst
# combined-filter counts in a loop (issue 12, finding 4).
#
#   bash bench/noisy.sh                       # the working tree
#   NOISY_BEFORE=0046dca bash bench/noisy.sh  # that revision too, for a before/after
#
# For each build it starts its own redis-server on a free loopback port (never the
# shared one), loads NOISY_SESSIONS (20,000) sessions into organization 2, project
# "noisy", alternating TEST/ATS and PRODUCTION/HRIS (bench/load -alternate, so that
# {type: TEST, category: HRIS} never matches), and BENCH_SESSIONS (1,000) of the usual mix
# into organization 1, project "bench"; then measures organization 1's point read
# (bench/point.lua, wrk -t1 -c4) alone for NOISY_DURATION (10s), and again while
# NOISY_CONNECTIONS (3) connections of organization 2 send bench/noisy.lua (NOISY_ALIASES,
# default 9, aliases of connectSessions(first: 0, filter: {type: TEST, category: HRIS})
# { totalCount }) in a loop. It prints p50/p99 of the point read, the attacker's requests/s, and Redis's
# script time per attacking request (INFO commandstats). Everything is bounded by
# -d and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${NOISY_DURATION:-10s}
noisy_sessions=${NOISY_SESSIONS:-20000}
sessions=${BENCH_SESSIONS:-1000}
attackers=${NOISY_CONNECTIONS:-3}
for tool in wrk redis-server redis-cli curl go python3 git; do
  command -v "$tool" >/dev/null || { echo "noisy: $tool is missing (wrk: apt-get install -y wrk)"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-noisy.XXXXXX")
pids=()
worktree=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$worktree" ] && git worktree remove --force "$worktree" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
ms() { awk '{ v = $1; if (v ~ /us$/) print substr(v, 1, length(v)-2)/1000; else if (v ~ /ms$/) print substr(v, 1, length(v)-2)+0; else if (v ~ /s$/) print substr(v, 1, length(v)-1)*1000; else print v }'; }
pct() { grep -E "^ +$2%" "$1" | awk '{print $2}' | ms; }
script_usec() { redis-cli -p "$1" info commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_eval(sha)?:/{u += $5} END{print u + 0}'; }

go build -o "$tmp/load" ./bench/load
go build -o "$tmp/after" .
builds=(after)
if [ -n "${NOISY_BEFORE:-}" ]; then
  worktree="$tmp/before-src"
  git worktree add --detach "$worktree" "$NOISY_BEFORE" >/dev/null 2>&1
  (cd "$worktree" && go build -o "$tmp/before" .)
  git worktree remove --force "$worktree"; worktree=""
  builds=(before after)
fi

echo "== $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), redis-server $(redis-server --version | awk '{print $3}' | cut -d= -f2)"
echo "build phase point-p50-ms point-p99-ms point-req/s attacker-req/s redis-script-ms/attacker-req"
for build in "${builds[@]}"; do
  rport=$(free_port)
  redis-server --bind 127.0.0.1 --port "$rport" --save "" --appendonly no --daemonize no --dir "$tmp" >"$tmp/redis-$build.log" 2>&1 &
  rpid=$!; pids+=($rpid)
  for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
  url="redis://127.0.0.1:$rport/0"
  "$tmp/load" -redis-url "$url" -org 2 -project noisy -n "$noisy_sessions" -alternate >/dev/null 2>&1
  ids=$("$tmp/load" -redis-url "$url" -org 1 -project bench -n "$sessions" 2>/dev/null)
  sport=$(free_port)
  env -i PATH="$PATH" REDIS_URL="$url" ADDR="127.0.0.1:$sport" LOG_LEVEL=error PLAYGROUND=false "$tmp/$build" >"$tmp/svc-$build.log" 2>&1 &
  spid=$!; pids+=($spid)
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "http://127.0.0.1:$sport/readyz" 2>/dev/null && break; sleep 0.05; done
  victim_key=$(env -i PATH="$PATH" REDIS_URL="$url" "$tmp/$build" apikey create -org 1 -role read 2>/dev/null | tail -n1)
  noisy_key=$(env -i PATH="$PATH" REDIS_URL="$url" "$tmp/$build" apikey create -org 2 -role read 2>/dev/null | tail -n1)
  export BENCH_ID=${ids##*last=}
  target="http://127.0.0.1:$sport/graphql"
  BENCH_KEY=$victim_key BENCH_PROJECT=bench wrk -t1 -c4 -d2s -s bench/point.lua "$target" >/dev/null
  BENCH_KEY=$victim_key BENCH_PROJECT=bench wrk -t1 -c4 -d"$duration" --latency -s bench/point.lua "$target" >"$tmp/quiet.txt"
  u0=$(script_usec "$rport")
  BENCH_KEY=$noisy_key BENCH_ORG=2 BENCH_PROJECT=noisy wrk -t1 -c"$attackers" -d"$duration" -s bench/noisy.lua "$target" >"$tmp/attack.txt" &
  apid=$!
  BENCH_KEY=$victim_key BENCH_PROJECT=bench wrk -t1 -c4 -d"$duration" --latency -s bench/point.lua "$target" >"$tmp/noisy.txt"
  wait "$apid"
  u1=$(script_usec "$rport")
  if grep -q "Non-2xx" "$tmp/quiet.txt" "$tmp/noisy.txt" "$tmp/attack.txt"; then echo "noisy: non-2xx answers"; grep -H "Non-2xx" "$tmp"/*.txt; fi
  areqs=$(awk '/requests in/{print $1}' "$tmp/attack.txt")
  arps=$(awk '/Requests\/sec:/{print $2}' "$tmp/attack.txt")
  echo "$build quiet $(pct "$tmp/quiet.txt" 50) $(pct "$tmp/quiet.txt" 99) $(awk '/Requests\/sec:/{print $2}' "$tmp/quiet.txt") - -"
  echo "$build noisy $(pct "$tmp/noisy.txt" 50) $(pct "$tmp/noisy.txt" 99) $(awk '/Requests\/sec:/{print $2}' "$tmp/noisy.txt") $arps $(awk -v u=$((u1 - u0)) -v n="$areqs" 'BEGIN{ if (n > 0) printf "%.1f", u / n / 1000; else print "-" }')"
  kill "$spid" "$rpid" 2>/dev/null || true
  wait "$spid" "$rpid" 2>/dev/null || true
done
