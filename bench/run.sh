#!/usr/bin/env bash
# `npm run bench [-- <name>]`: runs bench/<name>.mjs (default: ingress) with everything it needs (see
# docs/benchmarks.md). Names: ingress (webhook ingress vs bare Fastify), e2e (end to end vs grammY and Telegraf),
# resources (Redis memory after many updates, API memory and throughput with many bots), drain (one worker alone),
# pipeline (the update pipeline's scenarios: busy bot, many bots, ceiling, isolation, no latency; BENCH_SCENARIOS).
#
# Builds the gateway when dist/ is missing or older than src/, takes a private copy of dist/ for the run (so that
# a rebuild elsewhere cannot change the code under test), creates and migrates a bench database, generates
# throwaway keys, registers the bench bots, then runs bench/ingress.mjs, which starts its own child processes
# (bare Fastify server, fake Telegram, gateway API, gateway worker), measures, prints a summary and writes JSON to
# bench/results/. Whatever happens, the exit trap stops the child processes, deletes the Redis keys of the run's
# prefix, deletes the bench bots and drops the bench database.
#
# Settings (environment):
#   BENCH_DURATION=10  BENCH_WARMUP=2  BENCH_CONNECTIONS=50  BENCH_BOTS=10  BENCH_DRAIN_TIMEOUT=60
#   BENCH_CHATS=1000  BENCH_WAIT_IDLE=20 (seconds to wait for a quiet machine)
#   BENCH_API_ONLY=0 skips the "API without worker" target; BENCH_LATENCY_RATE=2000 (ingress: req/s of the fixed-rate
#   latency run after each saturation run; 0 skips it); BENCH_COMPARATORS=0 (e2e: the gateway alone, for profiling)
#   BENCH_API_NODE_ARGS / BENCH_WORKER_NODE_ARGS (extra node flags, e.g. "--cpu-prof --cpu-prof-dir=bench/results/prof")
#   BENCH_DATABASE_URL (default postgresql://postgres:postgres@127.0.0.1:5432/tg_gateway_bench_<pid>, one per run so
#     that two runs at once do not drop each other's database; a database you
#     name yourself is never dropped, only the bench bots are deleted from it)
#   BENCH_REDIS_URL (default redis://127.0.0.1:6379)   BENCH_KEEP_DB=1 keeps the run's database
#   BENCH_SKIP_BUILD=1 uses dist/ as it is
# The gateway's own settings (WORKER_CONCURRENCY, JOB_LOCK_MS, DEDUPE_TTL_SECONDS, ...) pass through to the API and
# the worker.
# Only loopback addresses are used: everything runs on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_NAME="${1:-ingress}"
case "$BENCH_NAME" in
  ingress | e2e | resources | drain | pipeline) ;;
  *)
    printf 'bench: ERROR: unknown benchmark "%s" (one of: ingress, e2e, resources, drain, pipeline)\n' "$BENCH_NAME" >&2
    exit 2
    ;;
esac

say() { printf 'bench: %s\n' "$*"; }
die() {
  printf 'bench: ERROR: %s\n' "$*" >&2
  exit 1
}

RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)-$$"
RESULTS_DIR="$PWD/bench/results"
RUN_DIR="$RESULTS_DIR/run-$RUN_ID"
mkdir -p "$RUN_DIR"

DEFAULT_DATABASE_URL="postgresql://postgres:postgres@127.0.0.1:5432/tg_gateway_bench_$$"
export DATABASE_URL="${BENCH_DATABASE_URL:-$DEFAULT_DATABASE_URL}"
export REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"
export REDIS_PREFIX="tgw-bench-$RUN_ID"
BENCH_DROP_DATABASE=0
if [[ -z "${BENCH_DATABASE_URL:-}" && "${BENCH_KEEP_DB:-0}" != 1 ]]; then BENCH_DROP_DATABASE=1; fi
export BENCH_DROP_DATABASE

# Loopback only: the bench creates and drops things, and its numbers mean nothing across a network.
for url in "$DATABASE_URL" "$REDIS_URL"; do
  hostport="${url#*://}"
  hostport="${hostport%%/*}"
  hostport="${hostport##*@}"
  case "$hostport" in
    127.0.0.1 | 127.0.0.1:* | localhost | localhost:* | '[::1]' | '[::1]:'*) ;;
    *) die "only loopback addresses are allowed (got host '$hostport')" ;;
  esac
done

INGRESS_PID=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  set +e
  if [[ -n "$INGRESS_PID" ]] && kill -0 "$INGRESS_PID" 2>/dev/null; then
    kill -TERM "$INGRESS_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$INGRESS_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$INGRESS_PID" 2>/dev/null
  fi
  # Children that ingress.mjs could not stop itself (it was killed, say): TERM, then KILL. Only pids that still
  # run one of the bench's programs (all live under bench/), so that a reused pid is never hit.
  if [[ -f "$RUN_DIR/pids" ]]; then
    local pids="" pid
    while read -r pid; do
      if ps -p "$pid" -o args= 2>/dev/null | grep -q -- '/bench/'; then pids="$pids $pid"; fi
    done <"$RUN_DIR/pids"
    if [[ -n "$pids" ]]; then
      for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
      for _ in $(seq 1 25); do
        local alive=0
        for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [[ $alive == 0 ]] && break
        sleep 0.2
      done
      for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
    fi
  fi
  node bench/setup.mjs cleanup "$RUN_DIR/bots.json"
  rm -rf "$RUN_DIR/dist" "$RUN_DIR/bots.json" "$RUN_DIR/pids"
  say "logs of this run: ${RUN_DIR#"$PWD"/}"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [[ ! -d node_modules ]]; then die "node_modules is missing: run npm install first"; fi

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  if [[ ! -f dist/main-api.js || -n "$(find src prisma package.json -newer dist/main-api.js -print -quit)" ]]; then
    say "building (npm run build)"
    npm run build --silent
  else
    say "dist/ is up to date"
  fi
fi
[[ -f dist/main-api.js && -f dist/main-worker.js && -f dist/migrate.js ]] ||
  die "dist/ is incomplete; run npm run build"
# dist is a symbolic link to the newest build in .build/ (scripts/build.js): copy the files it points at (-L), not
# the link, which a later build would move on.
cp -RL dist "$RUN_DIR/dist"
export BENCH_DIST="$RUN_DIR/dist"
# Which code was measured: the commit (if any) and a digest of src/ and prisma/ as they were when dist/ was copied.
BENCH_SOURCE="$(git rev-parse --verify -q --short HEAD 2>/dev/null || echo 'no commit')"
SHA256=sha256sum
command -v sha256sum >/dev/null || SHA256='shasum -a 256'
# shellcheck disable=SC2086 # $SHA256 is a command with its arguments
digest="$(find src prisma -type f -print0 | sort -z | xargs -0 $SHA256 | $SHA256 | cut -c1-12)" || digest=unknown
BENCH_SOURCE="$BENCH_SOURCE, src digest $digest"
export BENCH_SOURCE

# Throwaway keys: the bench bots and their secrets live only as long as this run.
random_key() { node -e "process.stdout.write(require('crypto').randomBytes($1).toString('$2'))"; }
TOKEN_ENCRYPTION_KEYS="bench:$(random_key 32 base64)"
TOKEN_HASH_KEY="$(random_key 32 base64)"
ADMIN_API_KEYS="$(random_key 24 base64url)"
export TOKEN_ENCRYPTION_KEYS TOKEN_HASH_KEY ADMIN_API_KEYS
export NODE_ENV=production LOG_LEVEL="${LOG_LEVEL:-warn}" HOST=127.0.0.1 PUBLIC_URL=http://127.0.0.1:3000

say "migrating ${DATABASE_URL##*/}"
node "$BENCH_DIST/migrate.js" >"$RUN_DIR/migrate.log" 2>&1 || {
  cat "$RUN_DIR/migrate.log" >&2
  die "migration failed"
}

# pipeline: one bot more than BENCH_BOTS, the flooded bot of its isolation scenario.
REGISTER_BOTS="${BENCH_BOTS:-10}"
if [[ "$BENCH_NAME" == pipeline ]]; then REGISTER_BOTS=$((REGISTER_BOTS + 1)); fi
say "registering $REGISTER_BOTS bench bots"
node bench/setup.mjs register "$REGISTER_BOTS" "$RUN_DIR/bots.json" >"$RUN_DIR/register.log" 2>&1 || {
  cat "$RUN_DIR/register.log" >&2
  die "registering the bench bots failed"
}

export BENCH_RUN_DIR="$RUN_DIR" BENCH_RESULTS_DIR="$RESULTS_DIR" BENCH_BOTS_FILE="$RUN_DIR/bots.json"
node "bench/$BENCH_NAME.mjs" &
INGRESS_PID=$!
wait "$INGRESS_PID"
