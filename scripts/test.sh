#!/usr/bin/env bash
# The test command (README): installs the pinned environment, starts Redis and PostgreSQL when they are
# not running, lints, and runs the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/services.sh
if ! command -v chromium >/dev/null 2>&1; then
  echo "test: installing chromium for the browser tests (apt)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgresql+psycopg://asesor:asesor@127.0.0.1:5432/asesor_test}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
.venv/bin/ruff check .
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
