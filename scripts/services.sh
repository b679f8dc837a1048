#!/usr/bin/env bash
# Makes sure the local services and tools the test suite needs are there: PostgreSQL, Redis,
# Chromium, nginx, docker-compose.
#
#   scripts/services.sh up        start PostgreSQL and Redis if installed but stopped; wait for both
#   scripts/services.sh chromium  install Debian's chromium when missing and we are root
#   scripts/services.sh tools     install Debian's nginx and docker-compose when missing and we are
#                                 root (nginx is never started as a service: the tests run their own)
#   scripts/services.sh status    say what answers, change nothing
#
# Hosts and ports follow PGHOST/PGPORT and REDIS_HOST/REDIS_PORT (default: the local ones).
set -euo pipefail

PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
REDIS_HOST="${REDIS_HOST:-127.0.0.1}"
REDIS_PORT="${REDIS_PORT:-6379}"
WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-60}"

log() { printf '==> %s\n' "$*" >&2; }

banner() {
  printf '\n' >&2
  printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
  printf '!!! %s\n' "$@" >&2
  printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' >&2
}

postgres_answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PGHOST" -p "$PGPORT" -t 2
  else
    (exec 3<>"/dev/tcp/$PGHOST/$PGPORT") 2>/dev/null
  fi
}

redis_answers() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
  else
    (exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT") 2>/dev/null
  fi
}

# wait_for NAME CHECK: polls CHECK every half second until it passes or WAIT_SECONDS run out.
wait_for() {
  local name="$1" check="$2" waited=0
  until "$check"; do
    if [ "$waited" -ge $((WAIT_SECONDS * 2)) ]; then
      log "$name did not answer within ${WAIT_SECONDS}s"
      return 1
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  log "$name answers"
}

start_postgres() {
  postgres_answers && { log "PostgreSQL is up on $PGHOST:$PGPORT"; return 0; }
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
    log "PostgreSQL is not answering on $PGHOST:$PGPORT and is not installed here (no pg_ctlcluster)."
    return 1
  fi
  local version
  # The newest installed cluster version, if several are present.
  version="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)"
  log "starting PostgreSQL $version"
  if [ "$(id -u)" = 0 ]; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  else
    sudo -n pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  wait_for PostgreSQL postgres_answers
}

start_redis() {
  redis_answers && { log "Redis is up on $REDIS_HOST:$REDIS_PORT"; return 0; }
  if ! command -v redis-server >/dev/null 2>&1; then
    log "Redis is not answering on $REDIS_HOST:$REDIS_PORT and redis-server is not installed here."
    return 1
  fi
  log "starting Redis"
  local dir=/var/lib/redis logfile=/var/log/redis/ci.log
  if ! mkdir -p "$dir" /var/log/redis 2>/dev/null || [ ! -w "$dir" ] || [ ! -w /var/log/redis ]; then
    # Not root: keep Redis's files in the project's own var/.
    dir="$PWD/var/redis"
    logfile="$dir/redis.log"
    mkdir -p "$dir"
  fi
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
    --save "" --appendonly no --dir "$dir" --logfile "$logfile"
  wait_for Redis redis_answers
}

tool_path() {
  command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; }
}

# ensure_tool BINARY PACKAGE WHAT: install Debian's PACKAGE when BINARY is missing and we are
# root; otherwise say loudly which tests will be skipped. Never starts a system service: the
# tests run their own nginx on loopback (policy-rc.d keeps the package from starting one on
# port 80 where one is set up, as in containers).
ensure_tool() {
  local binary="$1" package="$2" what="$3"
  if tool_path "$binary" >/dev/null; then
    log "$binary: $(tool_path "$binary")"
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's $package for $what"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends "$package" >/dev/null; then
      log "$binary: $(tool_path "$binary")"
      return 0
    fi
  fi
  banner "$package is NOT installed and could not be installed (need root and apt-get)." \
    "The $what will be SKIPPED. Install it with: apt-get install -y $package"
  return 0
}

case "${1:-}" in
  up)
    start_postgres
    start_redis
    ;;
  chromium)
    ensure_tool chromium chromium "browser (e2e) tests"
    ;;
  tools)
    ensure_tool nginx nginx "nginx edge tests (tests/test_nginx.py)"
    ensure_tool docker-compose docker-compose "compose file check (docker-compose config)"
    ;;
  status)
    if postgres_answers; then log "PostgreSQL answers on $PGHOST:$PGPORT"; else log "PostgreSQL does not answer"; fi
    if redis_answers; then log "Redis answers on $REDIS_HOST:$REDIS_PORT"; else log "Redis does not answer"; fi
    for tool in chromium nginx docker-compose; do
      if tool_path "$tool" >/dev/null; then log "$tool: $(tool_path "$tool")"; else log "$tool: missing"; fi
    done
    ;;
  *)
    echo "usage: $0 {up|chromium|tools|status}" >&2
    exit 2
    ;;
esac
