#!/usr/bin/env bash
# The run command (README): sets up and runs Asesor on embedded defaults.
#   - installs the pinned environment;
#   - SQLite under var/ unless DATABASE_URL is set; a private Redis for this checkout (scripts/services.sh,
#     var/redis) unless REDIS_URL is set;
#   - migrates the database, trains the PD model on first run, assesses the sample profile;
#   - serves the web API (127.0.0.1:8000; ASESOR_API_HOST / ASESOR_API_PORT change it) with the web chat at /chat
#     (the conversation without Telegram) and, when BOT_TOKEN is set, runs the Telegram bot beside it.
# One run, one set of processes: Ctrl-C or SIGTERM to this script stops the API, the bot and the Redis it started;
# when the API or the bot exits, the rest is stopped too and the run ends with that exit code.
#   bash scripts/run.sh          run in the foreground
#   bash scripts/run.sh stop     stop a run started in another terminal or in the background (… &)
#   bash scripts/run.sh chat     the conversation in this terminal (`asesor chat`, arguments passed on) on the same
#                                defaults: this checkout's Redis (started for the chat when no run is going, and
#                                stopped after it) and database
#   ASESOR_RUN_ONCE=1 bash scripts/run.sh   stop after the sample assessment
set -euo pipefail
cd "$(dirname "$0")/.."
PIDFILE=var/run.pid      # the run's own pid, for `run.sh stop`
OWNED_REDIS=var/run.redis  # present while the Redis of this checkout was started by the run (and is its to stop)
alive() {  # a process that has not ended (a zombie, ended but not yet reaped by its parent, counts as ended)
  local state
  if [ -r "/proc/$1/stat" ]; then state=$(cut -d')' -f2 "/proc/$1/stat" | awk '{print $1}')
  else state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1; fi
  [ -n "$state" ] && [[ $state != Z* ]]
}
running_pid() { local p; p=$(cat "$PIDFILE" 2>/dev/null || true); [ -n "$p" ] && alive "$p" && echo "$p"; }

if [ "${1:-}" = stop ]; then
  if pid=$(running_pid); then
    echo "run: stopping the run (pid $pid): API, bot and the Redis it started" >&2
    kill -TERM "$pid"
    for _ in $(seq 900); do alive "$pid" || break; sleep 0.1; done  # the API may still be starting
    if alive "$pid"; then echo "run: error: pid $pid still running after 90 s" >&2; exit 1; fi
  else
    echo "run: no run is going in this checkout" >&2
  fi
  # a run that was killed without its clean-up (kill -9) leaves its Redis behind
  if [ -f "$OWNED_REDIS" ]; then bash scripts/services.sh stop redis; rm -f "$OWNED_REDIS"; fi
  exit 0
elif [ "${1:-}" = chat ]; then
  shift
  bash scripts/install.sh >&2
  own_redis=""
  if [ -z "${REDIS_URL:-}" ]; then  # the run's Redis, where a run's dialogs and cases are
    bash scripts/services.sh is-running redis || own_redis=1
    bash scripts/services.sh start redis >/dev/null
    REDIS_URL="$(bash scripts/services.sh url redis)/0"
    export REDIS_URL
  fi
  rc=0
  .venv/bin/asesor chat "$@" || rc=$?
  # started for this chat, and no run began meanwhile: stop it again (the dialog is kept on disk, AOF)
  if [ -n "$own_redis" ] && ! running_pid >/dev/null; then bash scripts/services.sh stop redis >/dev/null 2>&1 || true; fi
  exit "$rc"
elif [ -n "${1:-}" ]; then
  echo "run: error: unknown argument '$1' (bash scripts/run.sh, bash scripts/run.sh stop or bash scripts/run.sh chat)" >&2
  exit 2
fi
if pid=$(running_pid); then
  echo "run: error: a run is already going (pid $pid); stop it with: bash scripts/run.sh stop" >&2
  exit 2
fi

bash scripts/install.sh
mkdir -p var
echo $$ >"$PIDFILE"
children=()
cleanup() {
  trap - INT TERM EXIT
  local pid
  for pid in "${children[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${children[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -f "$OWNED_REDIS" ]; then bash scripts/services.sh stop redis || true; rm -f "$OWNED_REDIS"; fi
  rm -f "$PIDFILE"
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

if [ -z "${REDIS_URL:-}" ]; then
  bash scripts/services.sh is-running redis || touch "$OWNED_REDIS"
  bash scripts/services.sh start redis >/dev/null
  REDIS_URL="$(bash scripts/services.sh url redis)/0"
  export REDIS_URL
fi
asesor=.venv/bin/asesor
$asesor db upgrade >/dev/null
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

host="${ASESOR_API_HOST:-127.0.0.1}"
port="${ASESOR_API_PORT:-8000}"
api="http://$host:$port"
export API_PUBLIC_URL="${API_PUBLIC_URL:-$api}"  # the handoff links the chat and the bot hand out
$asesor api serve --host "$host" --port "$port" &
children+=($!)
if [ -n "${BOT_TOKEN:-}" ]; then
  echo "== Bot de Telegram (BOT_MODE=${BOT_MODE:-polling})" >&2
  $asesor bot &
  children+=($!)
else
  echo "== BOT_TOKEN no está definido: solo arranca la API (defina BOT_TOKEN para el bot de Telegram)." >&2
fi
for _ in $(seq 600); do  # the API answers once the engine is loaded
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && break
  alive "${children[0]}" || break
  sleep 0.1
done
echo "== Chat con Asesor (sin Telegram): $api/chat" >&2
echo "== API en $api (OpenAPI en $api/docs)" >&2
echo "   Usuario para el tablero y la cola de asesores: .venv/bin/asesor api create-user admin --role admin" >&2
echo "   Detener: Ctrl-C aquí, o bash scripts/run.sh stop desde otra terminal." >&2
set +e
wait -n "${children[@]}"  # the API or the bot ended on its own: stop the rest and report its exit code
code=$?
set -e
echo "run: a process of the run exited with code $code; stopping the rest" >&2
exit "$code"
