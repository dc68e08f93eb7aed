#!/usr/bin/env bash
# Load benchmark of the ConnectSession service against a floor, on one machine, in one run.
#
#   bash bench/run.sh                    # everything: about 6 minutes on 2 cores
#   BENCH_LARGE=0 bash bench/run.sh      # without the 1,000,000-session tenant: about 3 minutes
#
# It builds the service, the floor (bench/floor) and the loader (bench/load), starts its
# own redis-server on a free loopback port (never the shared one), and then:
#   1. memory: INFO used_memory before and after loading BENCH_MEMORY_N (100,000)
#      sessions of the mix (1-4 categories, a provider on half, every other optional
#      field set), divided by their number, plus a MEMORY USAGE breakdown by kind of key;
#      then, for each K in BENCH_PER_OWNER_KS ("1 10 1000"), BENCH_PER_OWNER_N (as
#      BENCH_MEMORY_N) sessions with K sessions per customer (bench/load -per-owner K) into
#      project mem-k<K>: used_memory and DBSIZE growth per session, as a table;
#   2. starts the service, the floors (bench/floor: point read, page, create) and the bare
#      gqlgen reference (bench/bare), creates
#      an API key with `apikey create`, loads BENCH_SESSIONS (10,000) sessions into
#      project "bench" (pipelined, cache.Store);
#   3. drives wrk at fixed concurrency (BENCH_THREADS=1 thread, BENCH_CONNECTIONS=16
#      connections, BENCH_DURATION=10s each after a BENCH_WARMUP=2s warm-up) against the
#      floors' point read, page of 50 and create, bare gqlgen's point read, then the
#      service's point read (with its read cache, and a second instance with
#      READ_CACHE=off), page of 50 and create, for BENCH_ROUNDS=2 rounds (this host is noisy; the table shows
#      medians);
#   4. point reads at random over the memory step's sessions, which fill the read cache
#      (its entries and bytes are printed, and the peak RSS below includes them);
#   5. cost growth: loads BENCH_LARGE (1,000,000; 0 skips) sessions into project
#      "bench-large" and measures the page of 50 there and in the BENCH_SESSIONS tenant,
#      alternately, BENCH_ROUNDS times, then the page of 50 of one customer
#      (bench/page-owner.lua; both projects give each customer 60 sessions);
#   6. prints requests/s, p50 and p99 of each, the ratios the targets name, Redis bytes
#      per session and the service's peak RSS (VmHWM from /proc).
# Every wrk run is bounded (-d), and every process it started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${BENCH_DURATION:-10s}
warmup=${BENCH_WARMUP:-2s}
threads=${BENCH_THREADS:-1}
connections=${BENCH_CONNECTIONS:-16}
sessions=${BENCH_SESSIONS:-10000}
large=${BENCH_LARGE:-1000000}
memory_n=${BENCH_MEMORY_N:-100000}
rounds=${BENCH_ROUNDS:-2}
per_owner_n=${BENCH_PER_OWNER_N:-$memory_n}
per_owner_ks=${BENCH_PER_OWNER_KS:-1 10 1000}

for tool in wrk redis-server redis-cli curl go python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (wrk: apt-get install -y wrk)"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-bench.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_http() { # url
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench: $1 did not answer"; return 1
}
used_memory() { redis-cli -p "$redis_port" info memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}'; }

echo "== build"
go build -o "$tmp/connectsession" .
go build -o "$tmp/floor" ./bench/floor
go build -o "$tmp/bare" ./bench/bare
go build -o "$tmp/load" ./bench/load

echo "== redis"
redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --daemonize no \
  --dir "$tmp" >"$tmp/redis.log" 2>&1 &
redis_pid=$!
pids+=($redis_pid)
for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis_url="redis://127.0.0.1:$redis_port/0"
echo "redis-server $(redis-server --version | awk '{print $3}' | cut -d= -f2) on port $redis_port (no persistence)"

echo "== memory: $memory_n sessions of the mix"
before=$(used_memory)
mem_ids=$("$tmp/load" -redis-url "$redis_url" -project mem -n "$memory_n")
export BENCH_LAST=${mem_ids##*last=} BENCH_FIRST=$(( ${mem_ids##*last=} - memory_n + 1 ))
after=$(used_memory)
# The project's event log holds one CREATED event per session: reported on its own (it is
# bounded by EVENT_RETENTION and EVENT_LOG_MAX_LENGTH, not by the sessions kept).
log_usage() { redis-cli -p "$redis_port" memory usage "cs:{1:$1}:log" samples 0 | tr -d '\r'; }
log_bytes=$(log_usage mem)
bytes_per_session=$(( (after - before - log_bytes) / memory_n ))
bytes_per_event=$(( log_bytes / memory_n ))
echo "used_memory $before -> $after: $bytes_per_session bytes per session, $bytes_per_event bytes per event in the log"
"$tmp/load" -redis-url "$redis_url" -breakdown | tee "$tmp/breakdown.txt"

echo "== memory by sessions per customer: $per_owner_n sessions for each K in $per_owner_ks, each into project mem-k<K>"
dbsize() { redis-cli -p "$redis_port" dbsize | tr -d '\r'; }
printf '%-8s %12s %12s %8s\n' "per-owner" "sessions" "bytes/sess" "keys/sess" >"$tmp/per-owner.txt"
for k in $per_owner_ks; do
  m0=$(used_memory); k0=$(dbsize)
  "$tmp/load" -redis-url "$redis_url" -project "mem-k$k" -n "$per_owner_n" -per-owner "$k" >/dev/null
  m1=$(( $(used_memory) - $(log_usage "mem-k$k") )); k1=$(( $(dbsize) - 1 ))
  awk -v k="$k" -v n="$per_owner_n" -v m0="$m0" -v m1="$m1" -v k0="$k0" -v k1="$k1" \
    'BEGIN { printf "%-8s %12d %12.0f %8.2f\n", k, n, (m1 - m0) / n, (k1 - k0) / n }' >>"$tmp/per-owner.txt"
done
cat "$tmp/per-owner.txt"

echo "== service and floor"
svc_port=$(free_port)
floor_port=$(free_port)
env -i PATH="$PATH" REDIS_URL="$redis_url" ADDR="127.0.0.1:$svc_port" LOG_LEVEL=warn PLAYGROUND=false \
  "$tmp/connectsession" >"$tmp/service.log" 2>&1 &
svc_pid=$!
pids+=($svc_pid)
# The same service without its read cache, for the point read's same-run comparison.
plain_port=$(free_port)
env -i PATH="$PATH" REDIS_URL="$redis_url" ADDR="127.0.0.1:$plain_port" LOG_LEVEL=warn PLAYGROUND=false READ_CACHE=off \
  "$tmp/connectsession" >"$tmp/service-plain.log" 2>&1 &
plain_pid=$!
pids+=($plain_pid)
"$tmp/floor" -addr "127.0.0.1:$floor_port" -redis-url "$redis_url" >"$tmp/floor.log" 2>&1 &
floor_pid=$!
pids+=($floor_pid)
bare_port=$(free_port)
"$tmp/bare" -addr "127.0.0.1:$bare_port" -redis-url "$redis_url" >"$tmp/bare.log" 2>&1 &
bare_pid=$!
pids+=($bare_pid)
wait_http "http://127.0.0.1:$svc_port/readyz"
wait_http "http://127.0.0.1:$plain_port/readyz"
key=$(env -i PATH="$PATH" REDIS_URL="$redis_url" "$tmp/connectsession" apikey create -org 1 -role write -label bench 2>/dev/null | tail -n1)
export BENCH_KEY="$key"
ids=$("$tmp/load" -redis-url "$redis_url" -project bench -n "$sessions" -per-owner 60)
point_id=${ids##*last=}
export BENCH_ID="$point_id"

# The same requests as wrk's Lua scripts, once, to check they succeed.
gql() { # url body
  curl -fsS -H 'Content-Type: application/json' -H "Authorization: Bearer $key" --data "$2" "$1"
}
lua_body() { # script project -> the body the script sends
  local body
  body=$(sed -n 's/^local body = \[\[\(.*\)\]\]$/\1/p' "$1")
  body=${body//'${PROJECT}'/$2}
  echo "${body//'${ID}'/$BENCH_ID}"
}
check() { # name url body
  local out
  out=$(gql "$2" "$3")
  if [[ "$out" == *'"errors"'* || "$out" != *'"data"'* ]]; then
    echo "bench: $1 does not succeed: $out"; exit 1
  fi
}
point_body=$(lua_body bench/point.lua bench)
check "point read" "http://127.0.0.1:$svc_port/graphql" "$point_body"
check "page of 50" "http://127.0.0.1:$svc_port/graphql" "$(lua_body bench/page.lua bench)"
check "create" "http://127.0.0.1:$svc_port/graphql" "$(lua_body bench/create.lua bench-create)"
# The floor serves the service's own answer to the point read, byte for byte.
gql "http://127.0.0.1:$svc_port/graphql" "$point_body" >"$tmp/point.json"
redis-cli -p "$redis_port" -x set "floor:doc:$point_id" <"$tmp/point.json" >/dev/null
for _ in $(seq 1 100); do curl -s -o /dev/null -X POST --data "{}" "http://127.0.0.1:$floor_port/graphql" && break; sleep 0.05; done
# The page floor's 50 documents: copies of the point read's answer, newest first by score.
for i in $(seq 1 50); do
  redis-cli -p "$redis_port" -x set "floor:doc:p$i" <"$tmp/point.json" >/dev/null
  redis-cli -p "$redis_port" zadd floor:doc:ix "$i" "p$i" >/dev/null
done
if [[ "$(curl -fsS -X POST "http://127.0.0.1:$floor_port/page" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" != 50 ]]; then
  echo "bench: the page floor does not answer 50 documents"; exit 1
fi
if ! cmp -s <(gql "http://127.0.0.1:$floor_port/graphql" "$point_body") "$tmp/point.json"; then
  echo "bench: the floor's answer differs from the service's"; exit 1
fi
for _ in $(seq 1 100); do curl -s -o /dev/null -X POST --data "{}" "http://127.0.0.1:$bare_port/graphql" && break; sleep 0.05; done
if ! cmp -s <(gql "http://127.0.0.1:$bare_port/graphql" "$point_body") "$tmp/point.json"; then
  echo "bench: the bare gqlgen server's answer differs from the service's"; exit 1
fi
echo "service on port $svc_port (pid $svc_pid), floor on port $floor_port, bare gqlgen on port $bare_port, $sessions sessions in 1/bench, point read id $point_id"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, in clock ticks
bench() { # name url script project server-pid
  local out="$tmp/wrk-$1.txt"
  BENCH_PROJECT="$4" wrk -t"$threads" -c"$connections" -d"$warmup" -s "$3" "$2" >/dev/null
  local s0 r0 s1 r1
  s0=$(cpu_ticks "$5"); r0=$(cpu_ticks "$redis_pid")
  BENCH_PROJECT="$4" wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$3" "$2" >"$out"
  s1=$(cpu_ticks "$5"); r1=$(cpu_ticks "$redis_pid")
  local line
  line=$(awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
      if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    $1 == "Requests/sec:" { rps = $2 }
    /Non-2xx or 3xx responses:/ { bad += $NF }
    /Socket errors:/ { for (i = 3; i <= NF; i += 2) bad += $i }
    /requests in/ { n = $1 }
    END { printf "%.0f %.3f %.3f %d %.0f %.0f", rps, p50, p99, bad, n ? (s1 - s0) * 1e6 / hz / n : 0, n ? (r1 - r0) * 1e6 / hz / n : 0 }
  ' s0="$s0" s1="$s1" r0="$r0" r1="$r1" hz="$(getconf CLK_TCK)" "$out")
  echo "$1 $line" >>"$tmp/results.txt"
  printf '%-24s %s\n' "$1" "$line"
}

echo "== wrk -t$threads -c$connections -d$duration --latency, $rounds round(s), after a $warmup warm-up each"
echo "   run req/s p50-ms p99-ms errors server-cpu-us/req redis-cpu-us/req"
for round in $(seq 1 "$rounds"); do
  bench floor-point "http://127.0.0.1:$floor_port/graphql" bench/point.lua bench "$floor_pid"
  bench floor-page50 "http://127.0.0.1:$floor_port/page" bench/page.lua bench "$floor_pid"
  bench floor-create "http://127.0.0.1:$floor_port/create" bench/create.lua bench-create "$floor_pid"
  bench bare-point "http://127.0.0.1:$bare_port/graphql" bench/point.lua bench "$bare_pid"
  bench service-point "http://127.0.0.1:$svc_port/graphql" bench/point.lua bench "$svc_pid"
  bench service-point-nocache "http://127.0.0.1:$plain_port/graphql" bench/point.lua bench "$plain_pid"
  bench service-page50 "http://127.0.0.1:$svc_port/graphql" bench/page.lua bench "$svc_pid"
  bench service-create "http://127.0.0.1:$svc_port/graphql" bench/create.lua bench-create "$svc_pid"
done

echo "== point reads spread over the $memory_n sessions of 1/mem (fills the read cache)"
bench service-point-random "http://127.0.0.1:$svc_port/graphql" bench/point-random.lua mem "$svc_pid"
curl -fsS "http://127.0.0.1:$svc_port/metrics" | grep '^connectsession_read_cache_' | sed 's/^/   /'

if [ "$large" -gt 0 ]; then
  echo "== cost growth: $large sessions in 1/bench-large (pipelined)"
  "$tmp/load" -redis-url "$redis_url" -project bench-large -n "$large" -batch 1000 -per-owner 60
  check "page of 50 (large)" "http://127.0.0.1:$svc_port/graphql" "$(lua_body bench/page.lua bench-large)"
  check "page of 50 by owner (large)" "http://127.0.0.1:$svc_port/graphql" "$(lua_body bench/page-owner.lua bench-large)"
  for round in $(seq 1 "$rounds"); do
    bench "page50-at-$sessions" "http://127.0.0.1:$svc_port/graphql" bench/page.lua bench "$svc_pid"
    bench "page50-at-$large" "http://127.0.0.1:$svc_port/graphql" bench/page.lua bench-large "$svc_pid"
    bench "owner-page50-at-$sessions" "http://127.0.0.1:$svc_port/graphql" bench/page-owner.lua bench "$svc_pid"
    bench "owner-page50-at-$large" "http://127.0.0.1:$svc_port/graphql" bench/page-owner.lua bench-large "$svc_pid"
  done
fi

rss_kb=$(awk '$1=="VmHWM:"{print $2}' "/proc/$svc_pid/status")

echo
echo "== results: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
  "wrk -t$threads -c$connections -d$duration, median of $rounds round(s)"
python3 - "$tmp/results.txt" "$sessions" "$large" "$bytes_per_session" "$memory_n" "$rss_kb" "$tmp/per-owner.txt" "$bytes_per_event" <<'EOF'
import statistics, sys
path, sessions, large, bps, memory_n, rss_kb, per_owner, bpe = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), sys.argv[7], int(sys.argv[8])
runs = {}
for line in open(path):
    name, rps, p50, p99, bad, scpu, rcpu = line.split()
    runs.setdefault(name, []).append((float(rps), float(p50), float(p99), int(bad), float(scpu), float(rcpu)))
med = {n: tuple(statistics.median(r[i] for r in v) for i in range(3)) + (sum(r[3] for r in v),) +
       tuple(statistics.median(r[i] for r in v) for i in (4, 5)) for n, v in runs.items()}
print(f"{'run':<24} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} {'server CPU':>11} {'Redis CPU':>10}")
print(f"{'':<24} {'':>9} {'':>9} {'':>9} {'':>7} {'us/request':>11} {'us/request':>10}")
for n, (rps, p50, p99, bad, scpu, rcpu) in med.items():
    print(f"{n:<24} {rps:>9.0f} {p50:>9.3f} {p99:>9.3f} {bad:>7} {scpu:>11.0f} {rcpu:>10.0f}")
def verdict(ok): return "met" if ok else "MISSED"
print()
fp, sp, sc = med["floor-point"], med["service-point"], med["service-create"]
r = sp[0] / fp[0]; print(f"point read: service/floor requests/s = {r:.3f}  (target >= 0.85: {verdict(r >= 0.85)})")
r = sp[2] / fp[2]; print(f"point read: service/floor p99        = {r:.3f}  (target <= 2: {verdict(r <= 2)})")
spn = med["service-point-nocache"]
r = spn[0] / fp[0]; print(f"point read: service without read cache/floor = {r:.3f}  (READ_CACHE=off)")
bp = med["bare-point"]
print(f"point read: bare gqlgen/floor req/s = {bp[0] / fp[0]:.3f}  (the same schema and resolvers behind a bare gqlgen handler)")
print(f"point read: service/bare gqlgen     = {sp[0] / bp[0]:.3f}  (what keys, limits, metrics and the rest cost on top)")
fpg, fc, spg = med["floor-page50"], med["floor-create"], med["service-page50"]
r = spg[0] / fpg[0]; print(f"page of 50: service/floor requests/s = {r:.3f}  (target >= 0.3: {verdict(r >= 0.3)}; floor: one ZREVRANGE + one MGET)")
r = sc[0] / fc[0]; print(f"create:     service/floor requests/s = {r:.3f}  (floor: INCR, then SET + ZADD pipelined)")
r = sc[0] / fp[0]; print(f"create:     service/point floor      = {r:.3f}  (target >= 0.3: {verdict(r >= 0.3)})")
if large:
    a, b = med[f"page50-at-{sessions}"], med[f"page50-at-{large}"]
    print(f"page of 50 at {sessions:>8} sessions: p50 {a[1]:.3f} ms  p99 {a[2]:.3f} ms  {a[0]:.0f} req/s")
    print(f"page of 50 at {large:>8} sessions: p50 {b[1]:.3f} ms  p99 {b[2]:.3f} ms  {b[0]:.0f} req/s")
    r = b[1] / a[1]; print(f"page of 50: p50 at {large} / p50 at {sessions} = {r:.3f}  (target <= 1.2: {verdict(r <= 1.2)})")
    a, b = med[f"owner-page50-at-{sessions}"], med[f"owner-page50-at-{large}"]
    print(f"page of 50 by owner at {sessions:>8} sessions: p50 {a[1]:.3f} ms  p99 {a[2]:.3f} ms  {a[0]:.0f} req/s")
    print(f"page of 50 by owner at {large:>8} sessions: p50 {b[1]:.3f} ms  p99 {b[2]:.3f} ms  {b[0]:.0f} req/s")
    r = b[1] / a[1]; print(f"page of 50 by owner: p50 at {large} / p50 at {sessions} = {r:.3f}  (target <= 1.2: {verdict(r <= 1.2)})")
print(f"redis memory: {bps} bytes per session (INFO used_memory over {memory_n} sessions, event log apart; target <= 700: {verdict(bps <= 700)})")
print(f"event log: {bpe} bytes per event (MEMORY USAGE of the project's log over its {memory_n} CREATED events)")
print(f"service peak RSS (VmHWM): {rss_kb / 1024:.0f} MiB  (target <= 150: {verdict(rss_kb / 1024 <= 150)})")
print("redis memory and keys by sessions per customer (originOwnerId and accountId shared by K sessions):")
print("".join("  " + l for l in open(per_owner)), end="")
if any(v[3] for v in med.values()):
    print("WARNING: some requests failed (non-2xx or socket errors); see the errors column")
EOF
