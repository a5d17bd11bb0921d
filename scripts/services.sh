#!/usr/bin/env bash
# Private PostgreSQL and Redis for this checkout, under var/, on loopback ports of their own. Nothing of the
# machine's own servers is used, started, stopped or reconfigured: another PostgreSQL cluster or Redis may be
# running or not.
#
#   bash scripts/services.sh [start] [postgres|redis|all]…  start (idempotent); prints `export TEST_…=…` lines
#   bash scripts/services.sh stop [postgres|redis|all]…
#   bash scripts/services.sh status                          what runs, where, and the URLs
#   bash scripts/services.sh url postgres|redis              base URL of a running one
#   bash scripts/services.sh is-running postgres|redis       exit 0 when it runs
#
# PostgreSQL: a cluster made once with initdb in var/postgres/data (superuser role asesor/asesor, databases
# asesor and asesor_test), TCP on 127.0.0.1 only. PostgreSQL refuses to run as root, so as root the cluster
# belongs to the unprivileged `postgres` user (Debian's package makes it). Redis: var/redis, AOF on.
# Missing binaries are installed with apt-get when this runs as root on Debian/Ubuntu (postgresql, redis-server;
# Debian's postgresql package also creates its own `main` cluster, which this script then leaves alone).
# Exit codes: 0 ok, 2 bad arguments, 3 something missing that this script cannot install, 4 a server did not start.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
log() { echo "services: $*" >&2; }
die() { local code=$1; shift; echo "services: error: $*" >&2; exit "$code"; }

is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {  # apt_install PACKAGE: as root on a Debian-like system, else a clear failure
  if is_root && command -v apt-get >/dev/null 2>&1; then
    log "installing $1 with apt-get (Debian package)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1"; } >/dev/null ||
      die 3 "apt-get install $1 failed"
  else
    die 3 "$2 not found: install it (Debian/Ubuntu: apt-get install $1; macOS: brew install $1) or point" \
      "TEST_DATABASE_URL / TEST_REDIS_URL at servers you already have"
  fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A loopback port of this checkout: the one used last time if it is free, else the first free one from a
# base derived from the checkout's path (two checkouts on one machine do not collide).
pick_port() {  # pick_port NAME OFFSET
  local file="$ROOT/var/$1.port" p
  if [ -f "$file" ]; then
    p=$(cat "$file")
    if ! port_busy "$p"; then echo "$p"; return; fi
  fi
  p=$(( 20000 + ($(printf '%s' "$ROOT" | cksum | cut -d' ' -f1) % 20000) + $2 ))
  for _ in $(seq 200); do
    if ! port_busy "$p"; then echo "$p" >"$file"; echo "$p"; return; fi
    p=$((p + 2))
  done
  die 4 "no free loopback port for $1"
}

# ------------------------------------------------------------------------------------------------ Redis
REDIS_DIR="$ROOT/var/redis"
redis_port() { cat "$ROOT/var/redis.port" 2>/dev/null || true; }
redis_running() {
  command -v redis-cli >/dev/null 2>&1 || return 1
  local port pid
  port=$(redis_port); pid=$(cat "$REDIS_DIR/redis.pid" 2>/dev/null || true)
  [ -n "$port" ] && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]
}

start_redis() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server redis-server
  if redis_running; then log "Redis already running on 127.0.0.1:$(redis_port) (var/redis)"; return; fi
  mkdir -p "$REDIS_DIR"
  local port
  port=$(pick_port redis 1)
  log "starting Redis on 127.0.0.1:$port (data and log in var/redis, AOF persistence on)"
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --pidfile "$REDIS_DIR/redis.pid" \
    --dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log" --appendonly yes --save "" >/dev/null ||
    die 4 "redis-server refused to start; see var/redis/redis.log"
  for _ in $(seq 50); do redis_running && return; sleep 0.1; done
  tail -n 5 "$REDIS_DIR/redis.log" >&2 || true
  die 4 "Redis did not answer on 127.0.0.1:$port within 5 s (log above, var/redis/redis.log)"
}

stop_redis() {
  local pid
  pid=$(cat "$REDIS_DIR/redis.pid" 2>/dev/null || true)
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then log "Redis (var/redis) is not running"; return; fi
  log "stopping Redis on 127.0.0.1:$(redis_port)"
  kill "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  die 4 "Redis (pid $pid) did not stop within 10 s"
}

# ------------------------------------------------------------------------------------------- PostgreSQL
PG_BASE="$ROOT/var/postgres"
PG_USER=""

pg_bindir() {  # the newest server binaries: Debian's /usr/lib/postgresql/N/bin, else initdb on the PATH
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
}

as_pg() {  # run a PostgreSQL server binary as the cluster's owner (from /: the owner may not reach our folder)
  (
    cd /
    if [ -z "$PG_USER" ]; then "$@"
    elif command -v runuser >/dev/null 2>&1; then runuser -u "$PG_USER" -- "$@"
    else su -s /bin/sh "$PG_USER" -c "$(printf '%q ' "$@")"
    fi
  )
}

pg_setup() {  # PG_BIN, PG_USER and PG_BASE for this machine and user; `pg_setup install` installs what is missing
  PG_BIN=$(pg_bindir || true)
  if [ -z "$PG_BIN" ]; then
    [ "${1:-}" = install ] || return 1
    apt_install postgresql "PostgreSQL server (initdb)"
    PG_BIN=$(pg_bindir)
  fi
  if is_root; then
    id postgres >/dev/null 2>&1 ||
      die 3 "PostgreSQL refuses to run as root and there is no 'postgres' user to run it as" \
        "(useradd --system postgres, or run this script as an unprivileged user)"
    PG_USER=postgres
    mkdir -p "$ROOT/var"
    # the cluster's owner must reach the data directory; a checkout under a private home (/root) is not
    # reachable, so the cluster then lives in a folder of its own under /tmp, named after this checkout
    if ! as_pg test -x "$ROOT/var"; then
      PG_BASE="${TMPDIR:-/tmp}/asesor-postgres-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
    fi
  fi
}

pg_data() { echo "$PG_BASE/data"; }
pg_port() { cat "$ROOT/var/postgres.port" 2>/dev/null || true; }
pg_running() { [ -f "$(pg_data)/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$(pg_data)" status >/dev/null 2>&1; }

pg_psql() { PGPASSWORD=asesor "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$(pg_port)" -U asesor "$@"; }

start_postgres() {
  pg_setup install
  local data version
  data=$(pg_data)
  version=$("$PG_BIN/postgres" --version | awk '{print $3}' | cut -d. -f1)
  if [ -f "$data/PG_VERSION" ] && [ "$(cat "$data/PG_VERSION")" != "$version" ]; then
    die 3 "$data was made by PostgreSQL $(cat "$data/PG_VERSION") but the binaries are $version:" \
      "remove $PG_BASE (it holds only test data) and run again"
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    log "creating a private PostgreSQL $version cluster in ${data#"$ROOT"/}${PG_USER:+ (owner: $PG_USER)}"
    mkdir -p "$PG_BASE"
    [ -z "$PG_USER" ] || chown "$PG_USER" "$PG_BASE"
    chmod 700 "$PG_BASE"
    local pwfile="$PG_BASE/.pw"
    echo asesor >"$pwfile"
    [ -z "$PG_USER" ] || chown "$PG_USER" "$pwfile"
    as_pg "$PG_BIN/initdb" -D "$data" -U asesor --pwfile="$pwfile" --auth=scram-sha-256 -E UTF8 --locale=C \
      --no-instructions >"$PG_BASE/initdb.log" 2>&1 || {
      rm -f "$pwfile"; tail -n 5 "$PG_BASE/initdb.log" >&2; die 4 "initdb failed (log above)"; }
    rm -f "$pwfile"
  fi
  if pg_running; then
    log "PostgreSQL $version already running on 127.0.0.1:$(pg_port) (${data#"$ROOT"/})"
  else
    local port
    port=$(pick_port postgres 0)
    log "starting PostgreSQL $version on 127.0.0.1:$port (${data#"$ROOT"/}, log: ${PG_BASE#"$ROOT"/}/server.log)"
    # TCP on loopback only, no Unix socket (the checkout's path may be too long for one); -w: wait until ready
    as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$PG_BASE/server.log" -w -t 30 \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start >/dev/null || {
      tail -n 8 "$PG_BASE/server.log" >&2 || true
      die 4 "PostgreSQL did not start within 30 s (log above, ${PG_BASE#"$ROOT"/}/server.log)"; }
  fi
  local db
  for db in asesor asesor_test; do
    if [ -z "$(pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'")" ]; then
      pg_psql -d postgres -c "CREATE DATABASE $db" >/dev/null || die 4 "could not create database $db"
      log "created database $db"
    fi
  done
}

stop_postgres() {
  if ! pg_setup || ! pg_running; then log "PostgreSQL (${PG_BASE#"$ROOT"/}) is not running"; return; fi
  log "stopping PostgreSQL on 127.0.0.1:$(pg_port)"
  as_pg "$PG_BIN/pg_ctl" -D "$(pg_data)" -m fast -w -t 30 stop >/dev/null || die 4 "PostgreSQL did not stop"
}

# ------------------------------------------------------------------------------------------------- main
pg_url() { echo "postgresql+psycopg://asesor:asesor@127.0.0.1:$(pg_port)"; }
redis_url() { echo "redis://127.0.0.1:$(redis_port)"; }

action=start
case "${1:-}" in
  start|stop|status|url|is-running) action=$1; shift ;;
esac
[ $# -gt 0 ] || set -- all
what="$1"
services=()
for arg in "$@"; do
  case "$arg" in
    postgres|redis) services+=("$arg") ;;
    all) services+=(postgres redis) ;;
    *) die 2 "unknown service '$arg' (postgres, redis or all)" ;;
  esac
done
[ $# -eq 1 ] || what=several

case "$action" in
  start)
    for s in "${services[@]}"; do "start_$s"; done
    for s in "${services[@]}"; do
      case $s in
        postgres) echo "export TEST_DATABASE_URL=$(pg_url)/asesor_test" ;;
        redis) echo "export TEST_REDIS_URL=$(redis_url)/15" ;;
      esac
    done
    ;;
  stop) for s in "${services[@]}"; do "stop_$s"; done ;;
  is-running)
    [ "${#services[@]}" = 1 ] || die 2 "is-running takes one service"
    if [ "$what" = postgres ]; then pg_setup && pg_running; else redis_running; fi
    ;;
  url)
    [ "${#services[@]}" = 1 ] || die 2 "url takes one service"
    if [ "$what" = postgres ]; then { pg_setup && pg_running; } || die 4 "PostgreSQL is not running"; pg_url
    else redis_running || die 4 "Redis is not running"; redis_url; fi
    ;;
  status)
    if pg_setup && pg_running; then echo "postgres: running, $(pg_url)/asesor_test (${PG_BASE#"$ROOT"/}/data)"
    else echo "postgres: stopped"; fi
    if redis_running; then echo "redis: running, $(redis_url)/0 (var/redis)"
    else echo "redis: stopped"; fi
    ;;
esac
