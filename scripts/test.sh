#!/usr/bin/env bash
# The test command (README): lints and runs the whole suite. Extra arguments go to pytest.
# What it installs and changes on the machine (README "What the test command does to your machine"):
#   - the pinned Python environment in .venv (scripts/install.sh: uv from uv.lock; uv itself via pip if missing);
#   - unless TEST_DATABASE_URL and TEST_REDIS_URL name servers you already have, a private PostgreSQL cluster
#     and Redis for this checkout (scripts/services.sh: under var/, loopback ports of their own), stopped again
#     at the end when this run started them; the machine's own PostgreSQL clusters and Redis are not touched;
#   - as root on Debian/Ubuntu, apt-get installs what is missing: postgresql, redis-server, chromium; promtool is
#     unpacked from the prometheus package into var/tools (nothing installed, no server started).
# Exit codes: pytest's; before it, 3 when something needed is missing, 4 when a server cannot be reached.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh

started=()
stop_started() { if [ ${#started[@]} -gt 0 ]; then bash scripts/services.sh stop "${started[@]}" || true; fi; }
trap stop_started EXIT
for service in postgres redis; do
  var=TEST_DATABASE_URL; [ "$service" = redis ] && var=TEST_REDIS_URL
  if [ -n "${!var:-}" ]; then echo "test: $var is set: using it, starting no $service" >&2; continue; fi
  bash scripts/services.sh is-running "$service" || started+=("$service")
  eval "$(bash scripts/services.sh start "$service")"
done
# fail in seconds, with the URL (password hidden), rather than in every test that needs the server
.venv/bin/python - <<'PY' || exit 4
import os, sys
import psycopg, redis
from sqlalchemy.engine import make_url
db = make_url(os.environ["TEST_DATABASE_URL"])
try:
    psycopg.connect(host=db.host, port=db.port, user=db.username, password=db.password, dbname="postgres",
                    connect_timeout=5).close()
    redis.Redis.from_url(os.environ["TEST_REDIS_URL"], socket_connect_timeout=5).ping()
except Exception as exc:
    sys.exit(f"test: error: cannot reach {db.render_as_string()} / {os.environ['TEST_REDIS_URL']}: {exc}")
print(f"test: PostgreSQL {db.render_as_string()}, Redis {os.environ['TEST_REDIS_URL']}", file=sys.stderr)
PY

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing chromium for the browser tests (apt-get)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null
  else
    echo "test: error: the browser tests need Chromium at /usr/bin/chromium (Debian: apt-get install chromium)" >&2
    exit 3
  fi
fi
# promtool (tests/api/test_alert_rules.py): unpacked from Debian's prometheus package under var/tools, so no
# Prometheus server is installed or started on the machine
if ! command -v promtool >/dev/null 2>&1 && [ ! -x var/tools/promtool ]; then
  if command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then
    echo "test: fetching promtool for the alert-rule test (apt-get download prometheus, unpacked in var/tools)" >&2
    rm -rf var/tools/deb && mkdir -p var/tools/deb
    { { [ "$(id -u)" != 0 ] || apt-get update -qq; } && (cd var/tools/deb && apt-get download -qq prometheus) \
      && dpkg-deb -x var/tools/deb/prometheus_*.deb var/tools/deb/root \
      && cp var/tools/deb/root/usr/bin/promtool var/tools/promtool; } >/dev/null
    rm -rf var/tools/deb
  else
    echo "test: error: the alert-rule test needs promtool (Debian: the prometheus package)" >&2
    exit 3
  fi
fi
export TEST_DATABASE_URL TEST_REDIS_URL
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-logo --cache-dir var/import_linter_cache  # the package layering (pyproject [tool.importlinter], docs/decisions.md)
.venv/bin/mypy   # files and strictness: pyproject.toml [tool.mypy]
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
