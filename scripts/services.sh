#!/usr/bin/env bash
# Starts the local Redis and PostgreSQL the product and the tests use, installing Redis when it is missing.
# Idempotent: services already running are left alone. Prints the URLs to export.
#   scripts/services.sh redis      only Redis
#   scripts/services.sh postgres   only PostgreSQL
#   scripts/services.sh            both
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
mkdir -p var/redis
log() { echo "services: $*" >&2; }

start_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing redis-server (apt)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
  fi
  if redis-cli -p 6379 ping >/dev/null 2>&1; then return; fi
  log "starting Redis on 127.0.0.1:6379 (AOF persistence on)"
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --appendonly yes \
    --dir "$PWD/var/redis" --logfile "$PWD/var/redis/redis.log" --save ""
  for _ in $(seq 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && return; sleep 0.1; done
  log "Redis did not answer"; exit 1
}

start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing postgresql (apt)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null
  fi
  local ver
  ver=$(pg_lsclusters -h | awk 'NR==1{print $1}')
  if [ -z "$ver" ]; then
    ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
    pg_createcluster "$ver" main >/dev/null
  fi
  if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
    log "starting PostgreSQL $ver"
    pg_ctlcluster "$ver" main start
  fi
  for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 && break; sleep 0.2; done
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='asesor'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"CREATE ROLE asesor LOGIN SUPERUSER PASSWORD 'asesor'\""
  for db in asesor asesor_test; do
    su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='$db'\"" | grep -q 1 ||
      su postgres -c "createdb -O asesor $db"
  done
}

case "$what" in
  redis) start_redis ;;
  postgres) start_postgres ;;
  all) start_redis; start_postgres ;;
  *) log "unknown service '$what'"; exit 2 ;;
esac
