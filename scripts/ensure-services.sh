#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer where the gateway expects them: the hosts of DATABASE_URL / REDIS_URL,
# by default 127.0.0.1:5432 and 127.0.0.1:6379.
#
# - A service that already answers is left alone (never restarted, never reconfigured).
# - On 127.0.0.1/localhost at the default port, a missing service is installed from the Debian packages and
#   started without systemd (works in containers and CI machines).
# - Any other address is only probed: this script never installs anything for a remote or non-default host.
#
# Idempotent: run it as often as you like (scripts/test.sh and scripts/up.sh do).
# --with-redis-server: also make sure the redis-server program is installed, even when a Redis already answers
# (the test suite starts a private one; scripts/test.sh passes it).
# ENSURE_SERVICES_TIMEOUT (seconds, default 30) bounds the wait for each service.
set -euo pipefail

WAIT_SECONDS="${ENSURE_SERVICES_TIMEOUT:-30}"
APT_UPDATED=0

log() { printf 'ensure-services: %s\n' "$*"; }
die() {
  printf 'ensure-services: ERROR: %s\n' "$*" >&2
  exit 1
}

# Prints "host port" of scheme://[user[:password]@]host[:port][/path][?query] (default host 127.0.0.1).
url_host_port() {
  local rest="${1#*://}" default_port="$2" host port=""
  rest="${rest%%/*}"
  rest="${rest%%\?*}"
  rest="${rest##*@}"
  if [[ "$rest" == \[* ]]; then
    host="${rest%%]*}"
    host="${host#[}"
    port="${rest#*]}"
    port="${port#:}"
  else
    host="${rest%%:*}"
    [[ "$rest" == *:* ]] && port="${rest##*:}"
  fi
  printf '%s %s\n' "${host:-127.0.0.1}" "${port:-$default_port}"
}

is_local() { [[ "$1" == 127.0.0.1 || "$1" == localhost || "$1" == ::1 ]]; }

# Something accepts TCP connections on host:port.
# shellcheck disable=SC2016 # $1/$2 expand in the inner bash, on purpose
tcp_open() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

postgres_ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$1" -p "$2" -t 3
  else
    tcp_open "$1" "$2"
  fi
}

redis_ready() {
  local reply
  if command -v redis-cli >/dev/null 2>&1; then
    reply="$(timeout 3 redis-cli -h "$1" -p "$2" ping 2>&1 || true)"
  else
    # shellcheck disable=SC2016 # $1/$2 expand in the inner bash, on purpose
    reply="$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "PING\r\n" >&3 && IFS= read -r line <&3 && printf "%s" "$line"' _ "$1" "$2" 2>/dev/null || true)"
  fi
  # A Redis that requires a password still answers (NOAUTH): it is up, the URL carries the credentials.
  [[ "$reply" == *PONG* || "$reply" == *NOAUTH* || "$reply" == *WRONGPASS* ]]
}

wait_for() { # <check function> <host> <port>
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$1" "$2" "$3"; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    if [[ -t 0 ]]; then sudo "$@"; else sudo -n "$@"; fi
  else
    die "'$*' needs root: run this script as root, install sudo, or install and start the service yourself"
  fi
}

as_user() { # <user> <command...>
  local user="$1"
  shift
  if [[ "$(id -un)" == "$user" ]]; then
    "$@"
  elif [[ "$(id -u)" -eq 0 ]]; then
    runuser -u "$user" -- "$@"
  elif command -v sudo >/dev/null 2>&1; then
    if [[ -t 0 ]]; then sudo -u "$user" "$@"; else sudo -n -u "$user" "$@"; fi
  else
    die "'$*' must run as user $user: run this script as root or install sudo"
  fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    die "apt-get not found: install $* yourself (this script only knows Debian/Ubuntu packages)"
  if [[ "$APT_UPDATED" -eq 0 ]]; then
    log "apt-get update"
    as_root apt-get update
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

# ------------------------------------------------------------------------------------------------ PostgreSQL

postgres_version() {
  local version=""
  if [[ -d /etc/postgresql ]]; then
    version="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | grep -E '^[0-9]+$' | sort -n | tail -n 1 || true)"
  fi
  if [[ -z "$version" && -d /usr/lib/postgresql ]]; then
    version="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | grep -E '^[0-9]+$' | sort -n | tail -n 1 || true)"
  fi
  printf '%s' "$version"
}

ensure_postgres() {
  local host port
  read -r host port < <(url_host_port "${DATABASE_URL:-}" 5432)

  if postgres_ready "$host" "$port"; then
    log "PostgreSQL answers on $host:$port"
    return
  fi
  if ! is_local "$host" || [[ "$port" != 5432 ]]; then
    log "waiting up to ${WAIT_SECONDS}s for PostgreSQL on $host:$port (from DATABASE_URL; not installing anything there)"
    wait_for postgres_ready "$host" "$port" ||
      die "PostgreSQL does not answer on $host:$port (DATABASE_URL). Start it, or unset DATABASE_URL to use a local one on 127.0.0.1:5432"
    log "PostgreSQL answers on $host:$port"
    return
  fi
  if tcp_open "$host" "$port"; then
    # Something listens but is not ready yet (PostgreSQL starting up or recovering): wait, do not touch it.
    log "PostgreSQL on $host:$port is starting; waiting up to ${WAIT_SECONDS}s"
    wait_for postgres_ready "$host" "$port" || die "PostgreSQL on $host:$port accepts connections but never became ready"
    log "PostgreSQL answers on $host:$port"
    return
  fi

  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [[ -z "$(postgres_version)" ]]; then
    log "PostgreSQL is not installed; installing it from Debian packages"
    apt_install postgresql postgresql-client
  fi
  local version
  version="$(postgres_version)"
  [[ -n "$version" ]] || die "PostgreSQL packages are installed but no version was found in /etc/postgresql"
  if [[ ! -d "/etc/postgresql/$version/main" ]]; then
    log "creating PostgreSQL $version cluster 'main'"
    as_root pg_createcluster "$version" main
  fi
  if ! as_root pg_ctlcluster "$version" main status >/dev/null 2>&1; then
    log "starting PostgreSQL $version cluster 'main' (without systemd)"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
  wait_for postgres_ready "$host" "$port" ||
    die "PostgreSQL $version was started but does not answer on $host:$port within ${WAIT_SECONDS}s (see /var/log/postgresql/postgresql-$version-main.log)"

  # Debian's default pg_hba.conf asks for a password (scram) on 127.0.0.1, and a fresh `postgres` role has
  # none: give it the one of the default URL, postgresql://postgres:postgres@127.0.0.1:5432/... A role that
  # already has a password keeps it.
  local has_password
  # shellcheck disable=SC2015 # an empty answer (query failed) just skips the step
  has_password="$(cd / && as_user postgres psql -X -q -At -p "$port" -c "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'postgres'" || true)"
  if [[ "$has_password" == f ]]; then
    log "setting the password of the PostgreSQL role 'postgres' to 'postgres' (local development default)"
    (cd / && as_user postgres psql -X -q -p "$port" -v ON_ERROR_STOP=1 -c "ALTER ROLE postgres WITH PASSWORD 'postgres'")
  fi
  log "PostgreSQL $version answers on $host:$port"
}

# ----------------------------------------------------------------------------------------------------- Redis

start_redis() { # <port>
  local port="$1" dir
  local options=(--daemonize yes --bind 127.0.0.1 --port "$port" --appendonly yes --maxmemory-policy noeviction)
  if [[ "$(id -u)" -eq 0 ]] && id redis >/dev/null 2>&1 && runuser -u redis -- test -w /var/lib/redis 2>/dev/null; then
    dir=/var/lib/redis
    runuser -u redis -- redis-server "${options[@]}" --dir "$dir" \
      --logfile "$dir/tg-gateway-redis.log" --pidfile "$dir/tg-gateway-redis.pid"
  else
    dir="${XDG_STATE_HOME:-$HOME/.local/state}/tg-gateway/redis"
    mkdir -p "$dir"
    redis-server "${options[@]}" --dir "$dir" --logfile "$dir/redis.log" --pidfile "$dir/redis.pid"
  fi
  log "started redis-server on 127.0.0.1:$port (data and log in $dir)"
}

ensure_redis() {
  local host port installed=0
  read -r host port < <(url_host_port "${REDIS_URL:-}" 6379)

  if redis_ready "$host" "$port"; then
    log "Redis answers on $host:$port"
    check_redis_policy "$host" "$port"
    return
  fi
  if ! is_local "$host" || [[ "$port" != 6379 ]] || tcp_open "$host" "$port"; then
    log "waiting up to ${WAIT_SECONDS}s for Redis on $host:$port (not installing anything there)"
    wait_for redis_ready "$host" "$port" ||
      die "Redis does not answer PING on $host:$port (REDIS_URL). Start it, or unset REDIS_URL to use a local one on 127.0.0.1:6379"
    log "Redis answers on $host:$port"
    check_redis_policy "$host" "$port"
    return
  fi

  if ! command -v redis-server >/dev/null 2>&1; then
    log "Redis is not installed; installing it from Debian packages"
    apt_install redis-server
    installed=1
  fi
  # The package may have started its own instance (init script); if so, keep it and only adjust it below.
  if ! redis_ready "$host" "$port"; then
    sleep 1
    redis_ready "$host" "$port" || start_redis "$port"
  fi
  wait_for redis_ready "$host" "$port" || die "redis-server was started but does not answer on $host:$port within ${WAIT_SECONDS}s"
  if [[ "$installed" -eq 1 ]] && command -v redis-cli >/dev/null 2>&1; then
    # The gateway needs noeviction; queued updates must survive a restart. Applied live, no restart.
    redis-cli -h "$host" -p "$port" CONFIG SET appendonly yes >/dev/null || true
    redis-cli -h "$host" -p "$port" CONFIG SET maxmemory-policy noeviction >/dev/null || true
  fi
  log "Redis answers on $host:$port"
  check_redis_policy "$host" "$port"
}

check_redis_policy() {
  command -v redis-cli >/dev/null 2>&1 || return 0
  local policy
  policy="$(timeout 3 redis-cli -h "$1" -p "$2" CONFIG GET maxmemory-policy 2>/dev/null | sed -n 2p || true)"
  if [[ -n "$policy" && "$policy" != noeviction ]]; then
    log "WARNING: Redis on $1:$2 has maxmemory-policy $policy; the gateway needs noeviction (redis-cli CONFIG SET maxmemory-policy noeviction)"
  fi
}

# The program, for tests that start a private Redis. Installing the package may try to start Debian's own instance
# on the port a Redis already listens on; that failure is harmless as long as the program is there afterwards.
ensure_redis_server_program() {
  command -v redis-server >/dev/null 2>&1 && return
  log "redis-server (the program) is not installed; installing it from Debian packages"
  apt_install redis-server || true
  command -v redis-server >/dev/null 2>&1 || die "could not install redis-server; install it yourself (the tests start a private Redis)"
}

ensure_postgres
ensure_redis
if [[ "${1:-}" == --with-redis-server ]]; then ensure_redis_server_program; fi
