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
# { totalCount }) in a loop. Then the "spread" phase: the same organization's key sends one
# such alias on each of NOISY_SPREAD_PROJECTS (6) projects noisy1..noisyN, each loaded
# with NOISY_SPREAD_SESSIONS (5,000) alternating sessions, from NOISY_SPREAD_CONNECTIONS
# (6) connections. The victim is organization 1's point read, or with NOISY_VICTIMS="point
# page" also its page of 50 (bench/page.lua), each phase once per victim. It prints
# p50/p99 of the victim, the attacker's requests/s and the share of them answered
# RATE_LIMITED (from /metrics), Redis's script time (every script, the victim's too) per
# attacking request and as a share of the phase (INFO commandstats), and the page-scan
# units spent per second (connectsession_page_scan_units_total: with the point-read victim,
# the attacker's alone). Everything is bounded by -d and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${NOISY_DURATION:-10s}
noisy_sessions=${NOISY_SESSIONS:-20000}
sessions=${BENCH_SESSIONS:-1000}
attackers=${NOISY_CONNECTIONS:-3}
spread_projects=${NOISY_SPREAD_PROJECTS:-6}
spread_sessions=${NOISY_SPREAD_SESSIONS:-5000}
spread_attackers=${NOISY_SPREAD_CONNECTIONS:-6}
victims=${NOISY_VICTIMS:-point}
secs=${duration%s}
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
units() { curl -fsS "$1/metrics" | awk '/^connectsession_page_scan_units_total / {print $2 + 0; f = 1} END{if (!f) print 0}'; }
limited() { curl -fsS "$1/metrics" | awk '/^connectsession_graphql_operations_total\{/ && /code="RATE_LIMITED"/ {n += $NF} END{print n + 0}'; }
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
echo "build victim phase victim-p50-ms victim-p99-ms victim-req/s attacker-req/s attacker-refused-% redis-script-ms/attacker-req redis-script-busy-% scan-units/s"
spread_list=$(seq -s, -f 'noisy%g' 1 "$spread_projects")
for build in "${builds[@]}"; do
  rport=$(free_port)
  redis-server --bind 127.0.0.1 --port "$rport" --save "" --appendonly no --daemonize no --dir "$tmp" >"$tmp/redis-$build.log" 2>&1 &
  rpid=$!; pids+=($rpid)
  for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
  url="redis://127.0.0.1:$rport/0"
  "$tmp/load" -redis-url "$url" -org 2 -project noisy -n "$noisy_sessions" -alternate >/dev/null 2>&1
  for p in ${spread_list//,/ }; do
    "$tmp/load" -redis-url "$url" -org 2 -project "$p" -n "$spread_sessions" -alternate >/dev/null 2>&1
  done
  ids=$("$tmp/load" -redis-url "$url" -org 1 -project bench -n "$sessions" 2>/dev/null)
  sport=$(free_port)
  env -i PATH="$PATH" REDIS_URL="$url" ADDR="127.0.0.1:$sport" LOG_LEVEL=error PLAYGROUND=false "$tmp/$build" >"$tmp/svc-$build.log" 2>&1 &
  spid=$!; pids+=($spid)
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "http://127.0.0.1:$sport/readyz" 2>/dev/null && break; sleep 0.05; done
  victim_key=$(env -i PATH="$PATH" REDIS_URL="$url" "$tmp/$build" apikey create -org 1 -role read 2>/dev/null | tail -n1)
  noisy_key=$(env -i PATH="$PATH" REDIS_URL="$url" "$tmp/$build" apikey create -org 2 -role read 2>/dev/null | tail -n1)
  export BENCH_ID=${ids##*last=}
  base="http://127.0.0.1:$sport"
  target="$base/graphql"
  for victim in $victims; do
    BENCH_KEY=$victim_key BENCH_PROJECT=bench wrk -t1 -c4 -d2s -s "bench/$victim.lua" "$target" >/dev/null
    BENCH_KEY=$victim_key BENCH_PROJECT=bench wrk -t1 -c4 -d"$duration" --latency -s "bench/$victim.lua" "$target" >"$tmp/quiet.txt"
    echo "$build $victim quiet $(pct "$tmp/quiet.txt" 50) $(pct "$tmp/quiet.txt" 99) $(awk '/Requests\/sec:/{print $2}' "$tmp/quiet.txt") - - - - -"
    for phase in noisy spread; do
      if [ "$phase" = noisy ]; then conns=$attackers; projects=""; else conns=$spread_attackers; projects=$spread_list; fi
      u0=$(script_usec "$rport"); l0=$(limited "$base"); k0=$(units "$base")
      NOISY_PROJECTS=$projects BENCH_KEY=$noisy_key BENCH_ORG=2 BENCH_PROJECT=noisy wrk -t1 -c"$conns" -d"$duration" -s bench/noisy.lua "$target" >"$tmp/attack.txt" &
      apid=$!
      BENCH_KEY=$victim_key BENCH_PROJECT=bench wrk -t1 -c4 -d"$duration" --latency -s "bench/$victim.lua" "$target" >"$tmp/noisy.txt"
      wait "$apid"
      u1=$(script_usec "$rport"); l1=$(limited "$base"); k1=$(units "$base")
      if grep -q "Non-2xx" "$tmp/quiet.txt" "$tmp/noisy.txt" "$tmp/attack.txt"; then echo "noisy: non-2xx answers"; grep -H "Non-2xx" "$tmp"/*.txt; fi
      areqs=$(awk '/requests in/{print $1}' "$tmp/attack.txt")
      arps=$(awk '/Requests\/sec:/{print $2}' "$tmp/attack.txt")
      echo "$build $victim $phase $(pct "$tmp/noisy.txt" 50) $(pct "$tmp/noisy.txt" 99) $(awk '/Requests\/sec:/{print $2}' "$tmp/noisy.txt") $arps" \
        "$(awk -v l=$((l1 - l0)) -v n="$areqs" 'BEGIN{ if (n > 0) printf "%.0f", 100 * l / n; else print "-" }')" \
        "$(awk -v u=$((u1 - u0)) -v n="$areqs" 'BEGIN{ if (n > 0) printf "%.1f", u / n / 1000; else print "-" }')" \
        "$(awk -v u=$((u1 - u0)) -v s="$secs" 'BEGIN{ printf "%.0f", u / (s * 10000) }')" \
        "$(awk -v a="$k0" -v b="$k1" -v s="$secs" 'BEGIN{ printf "%.0f", (b - a) / s }')"
    done
  done
  kill "$spid" "$rpid" 2>/dev/null || true
  wait "$spid" "$rpid" 2>/dev/null || true
done
