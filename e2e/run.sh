#!/usr/bin/env bash
# The real-client suite: type-checks the TypeScript tests (tsc), builds the service,
# starts it, and runs every *.test.mjs and *.test.ts here with `node --test` (TypeScript
# through tsx) against it (browser tests in Debian's Chromium, installed with apt-get
# when missing). .ci/run calls it; it also runs alone: bash e2e/run.sh
#
# What the tests get from the environment:
#   CS_URL         base URL of a server in embedded mode (in-memory Redis, demo data)
#                  that serves GraphiQL's bundles itself (PLAYGROUND_ASSETS_DIR)
#   CS_DEV_KEY     the development API key that server printed (write, organization 1)
#   CS_OFFLINE_URL, CS_OFFLINE_DEV_KEY
#                  the same, started as README says for offline use: web/ prepared with
#                  its one command (which fills web/dist), then a plain start from the
#                  repository root, with no PLAYGROUND_ASSETS_DIR
#   CS_CDN_URL     a plain start outside the repository (no web/dist): its page loads
#                  GraphiQL from the CDN, which the browser test blocks
#   CHROMIUM_PATH  the browser for playwright-core
# and, when REDIS_URL is set here (.ci/run sets it), a second server on that Redis under
# a key prefix of its own (e2e-<random>, removed at the end):
#   CS_REDIS_URL   its base URL
#   CS_KEY         a write key for organization 1, every project
#   CS_READ_KEY    a read key for organization 1, every project
#   CS_ORG2_KEY    a write key for organization 2, every project
#   CS_BINARY, CS_WEBHOOK_REDIS, CS_WEBHOOK_PREFIX
#                  the service binary, the Redis setting (REDIS_URL=... or
#                  REDIS_CLUSTER_ADDRS=...) and a key prefix of their own (removed at the
#                  end too), for the webhook tests, which start and kill instances
#                  themselves
# The client tests (e2e/lib.mjs) use that server, or the embedded one without REDIS_URL;
# with CI set they fail instead when CS_REDIS_URL is missing.
# Another server is one more start_server call below, with its own name, working
# directory and environment; export its URL for the tests that need it.
# Servers are stopped, the prefix's Redis keys and temporary files removed however the
# run ends.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/cs-e2e.XXXXXX")
server_pids=()
server_logs=()

redis_prefix=""

cleanup() {
  local pid pattern
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # The webhook tests' prefix is "<prefix>wh", so "<prefix>*" covers both (and the
  # rate limiters' "rate:<prefix>..." keys are left to expire, as before).
  for pattern in "$redis_prefix:*" "${redis_prefix}wh:*"; do
    if [ -n "$redis_prefix" ] && [ -n "${REDIS_CLUSTER_ADDRS:-}" ]; then
      local seed
      for seed in ${REDIS_CLUSTER_ADDRS//,/ }; do
        redis-cli -h "${seed%:*}" -p "${seed##*:}" --scan --pattern "$pattern" \
          | xargs -r -n1 redis-cli -c -h "${seed%:*}" -p "${seed##*:}" del >/dev/null || true
      done
    elif [ -n "$redis_prefix" ]; then
      redis-cli -u "$REDIS_URL" --scan --pattern "$pattern" \
        | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== e2e: %s\n' "$*"; }

npm_ci() { # dir
  (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
}

ensure_chromium() {
  export CHROMIUM_PATH=/usr/bin/chromium
  if [ ! -x "$CHROMIUM_PATH" ]; then
    step "installing Debian's chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  "$CHROMIUM_PATH" --version 2>/dev/null # Debian's launcher script warns on stderr
}

# start_server NAME DIR [VAR=value ...]: starts the service binary in working directory
# DIR (where it looks for a prepared web/dist) on a free loopback port with only the
# given settings (none inherited from this shell, so REDIS_URL from .ci/run does not
# leak into an embedded-mode server), waits until /readyz answers, and sets NAME_URL
# (base URL) and NAME_OUT (file with its stdout, where embedded mode prints its key).
# Its log is printed if the tests fail.
start_server() {
  local name=$1 dir=$2; shift 2
  local out="$work/$name.out" log="$work/$name.log" unset_args=() var
  for var in "${service_settings[@]}"; do unset_args+=(-u "$var"); done
  # Port 0: the kernel picks a free port, which the "listening" log line reports.
  (cd "$dir" && exec env "${unset_args[@]}" "$@" ADDR=127.0.0.1:0 LOG_FORMAT=json "$work/connectsession") >"$out" 2>"$log" &
  local pid=$!
  server_pids+=("$pid")
  server_logs+=("$log")
  local addr="" deadline=$((SECONDS + 30))
  while [ -z "$addr" ]; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "server $name did not start listening:"; cat "$log"; return 1
    fi
    sleep 0.05
    addr=$(sed -n 's/.*"msg":"listening".*"addr":"\([^"]*\)".*/\1/p' "$log" | head -n1)
  done
  local url="http://$addr"
  until curl -fsS -o /dev/null "$url/readyz" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "server $name never became ready:"; cat "$log"; return 1
    fi
    sleep 0.05
  done
  printf -v "${name}_URL" '%s' "$url"
  printf -v "${name}_OUT" '%s' "$out"
  echo "$name: $url"
}

step "npm ci (e2e/, web/)"
npm_ci "$here"
npm_ci "$repo/web"

step "typed documents: tsc (after editing operations/, run npm run codegen --prefix e2e)"
(cd "$here" && npm run typecheck --silent)

step "chromium"
ensure_chromium

step "build"
(cd "$repo" && go build -o "$work/connectsession" .)
# Every setting the binary reads, from its -help ("... ($NAME)"), for start_server.
mapfile -t service_settings < <("$work/connectsession" -help 2>&1 | grep -o '(\$[A-Z0-9_]*)' | tr -d '($)' || true)
if [ "${#service_settings[@]}" -eq 0 ]; then
  echo "could not read the settings from connectsession -help"; exit 1
fi

step "GraphiQL bundles for offline use"
node "$repo/web/copy-assets.mjs" "$work/assets"
# README's command (npm ci has run above), which fills web/dist for a plain start.
(cd "$repo" && npm run copy --prefix web --silent)

# dev_key NAME: the development key an embedded-mode server printed.
dev_key() {
  local out_var="${1}_OUT" key
  key=$(grep -o -m1 'csk_[0-9a-f]\{16\}_[A-Za-z0-9_-]\{43\}' "${!out_var}" || true)
  if [ -z "$key" ]; then
    echo "the embedded-mode server $1 printed no development key:" >&2; cat "${!out_var}" >&2; return 1
  fi
  echo "$key"
}

step "start the service"
start_server CS "$work" PLAYGROUND_ASSETS_DIR="$work/assets"
CS_DEV_KEY=$(dev_key CS)
# As README's offline steps: from the repository root, no setting.
start_server CS_OFFLINE "$repo"
CS_OFFLINE_DEV_KEY=$(dev_key CS_OFFLINE)
if ! grep -q '"msg":"GraphiQL loads its bundles from a local folder".*"folder":"'"$repo"'/web/dist"' "$work/CS_OFFLINE.log"; then
  echo "CS_OFFLINE does not say it serves $repo/web/dist:"; cat "$work/CS_OFFLINE.log"; exit 1
fi
# Outside the repository: the CDN.
start_server CS_CDN "$work"
export CS_URL CS_DEV_KEY CS_OFFLINE_URL CS_OFFLINE_DEV_KEY CS_CDN_URL

# REDIS_CLUSTER_ADDRS (a cluster; .ci/run sets it for its cluster pass) wins over REDIS_URL.
redis_setting=""
if [ -n "${REDIS_CLUSTER_ADDRS:-}" ]; then
  redis_setting="REDIS_CLUSTER_ADDRS=$REDIS_CLUSTER_ADDRS"
elif [ -n "${REDIS_URL:-}" ]; then
  redis_setting="REDIS_URL=$REDIS_URL"
fi
if [ -n "$redis_setting" ]; then
  step "start the service on ${redis_setting#*=}"
  if ! command -v redis-cli >/dev/null; then
    echo "a Redis is configured but redis-cli is missing (needed to remove the test keys)"; exit 1
  fi
  redis_prefix="e2e-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  # new_key ARGS...: `apikey create ARGS...` on that Redis and prefix (and no other setting
  # from this shell); prints the key, which is alone on the last line.
  new_key() {
    local unset_args=() var
    for var in "${service_settings[@]}"; do unset_args+=(-u "$var"); done
    env "${unset_args[@]}" "$redis_setting" REDIS_KEY_PREFIX="$redis_prefix" \
      "$work/connectsession" apikey create "$@" | tail -n1
  }
  CS_KEY=$(new_key -org 1 -role write -label e2e)
  CS_READ_KEY=$(new_key -org 1 -role read -label e2e-read)
  CS_ORG2_KEY=$(new_key -org 2 -role write -label e2e-org2)
  for key in "$CS_KEY" "$CS_READ_KEY" "$CS_ORG2_KEY"; do
    case "$key" in csk_*) ;; *) echo "apikey create printed no key: $key"; exit 1 ;; esac
  done
  start_server CS_REDIS "$work" "$redis_setting" REDIS_KEY_PREFIX="$redis_prefix"
  export CS_REDIS_URL CS_KEY CS_READ_KEY CS_ORG2_KEY
  CS_BINARY="$work/connectsession" CS_WEBHOOK_REDIS="$redis_setting" CS_WEBHOOK_PREFIX="${redis_prefix}wh"
  export CS_BINARY CS_WEBHOOK_REDIS CS_WEBHOOK_PREFIX
else
  echo "REDIS_URL is not set: the client tests use the embedded-mode server"
fi

step "node --test"
if ! (cd "$here" && npm test --silent); then
  for log in "${server_logs[@]}"; do
    printf '\n-- %s (last 50 lines)\n' "$log"; tail -n 50 "$log"
  done
  exit 1
fi
echo "screenshots: $here/artifacts/"
