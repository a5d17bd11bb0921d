#!/usr/bin/env bash
# The run command (README): sets up and runs Asesor on embedded defaults.
#   - installs the pinned environment;
#   - SQLite under var/ unless DATABASE_URL is set; a local Redis (started here) unless REDIS_URL is set;
#   - migrates the database, trains the PD model on first run, assesses the sample profile;
#   - serves the web API on :8000 and, when BOT_TOKEN is set, runs the Telegram bot beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if [ -z "${REDIS_URL:-}" ]; then
  bash scripts/services.sh redis
  export REDIS_URL="redis://127.0.0.1:6379/0"
fi
mkdir -p var
asesor=.venv/bin/asesor
$asesor db upgrade
echo "== Sample assessment (examples/profile.json):" >&2
$asesor assess < examples/profile.json | .venv/bin/python -c '
import json, sys
r = json.load(sys.stdin)
b, e, pd = r["bank_fit"], r["expert"], r["pd"]
print("  banco recomendado:", b["recommended"], "| segunda opción:", b["second"], "| banda:", b["band"])
print("  decisión:", e["decision"], "| tasa:", e["rate"], "% | reglas:", ", ".join(e["fired_rules"]))
print("  PD: %.3f | puntaje: %d | riesgo difuso: %.1f" % (pd["probability"], r["credit_score"], r["fuzzy"]["risk"]))
print("  política:", r["policy_version"], "| modelo:", r["model_version"])
' >&2
if [ "${ASESOR_RUN_ONCE:-0}" = "1" ]; then exit 0; fi
if [ -n "${BOT_TOKEN:-}" ]; then
  echo "== Bot de Telegram (BOT_MODE=${BOT_MODE:-polling})" >&2
  $asesor bot &
  bot_pid=$!
  trap 'kill $bot_pid 2>/dev/null || true' EXIT INT TERM
else
  echo "== BOT_TOKEN no está definido: solo arranca la API (defina BOT_TOKEN para el bot de Telegram)." >&2
fi
echo "== API en ${API_PUBLIC_URL:-http://127.0.0.1:8000} (OpenAPI en /docs; cree un usuario: asesor api create-user)" >&2
$asesor api serve
