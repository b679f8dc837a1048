#!/usr/bin/env bash
# Sets up and serves the demo shop: database, migrations, demo data, a Celery worker with
# beat when a broker answers, then uvicorn serving the pages and the live channel's socket in one
# process (so the embedded default's in-memory channel layer reaches them all). Ctrl-C stops all it started.
#
# Environment: DEMO_ADDR (default 127.0.0.1:8000), DEMO_ADMIN_PASSWORD (default admin),
# and every variable the settings read (see README.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${PY:-.venv/bin/python}"
ADDR="${DEMO_ADDR:-127.0.0.1:8000}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-shop.settings.local}"
export DEMO_ADMIN_PASSWORD="${DEMO_ADMIN_PASSWORD:-admin}"

RUN_DIR=var/demo
WORKER_PIDFILE="$RUN_DIR/worker.pid"
SERVER_PIDFILE="$RUN_DIR/server.pid"
mkdir -p "$RUN_DIR"

log() { printf '==> %s\n' "$*" >&2; }

# Each background process leads a process group of its own, so stopping it also stops its
# children (Celery's pool and embedded beat).
SETSID="$(command -v setsid || true)"

# stop_recorded PIDFILE PATTERN: stops the process group recorded in PIDFILE, but only if
# that pid still runs a command matching PATTERN (a stale file may name a reused pid).
stop_recorded() {
  local pidfile="$1" pattern="$2" pid
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  rm -f "$pidfile"
  [ -n "$pid" ] || return 0
  ps -o args= -p "$pid" 2>/dev/null | grep -q -- "$pattern" || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  # Celery finishes the task at hand on TERM (warm shutdown); give it ten seconds.
  for _ in $(seq 1 50); do
    kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  trap - EXIT INT TERM HUP
  stop_recorded "$SERVER_PIDFILE" "live.serve"
  stop_recorded "$WORKER_PIDFILE" "celery"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# A previous demo that was killed hard may have left its processes behind.
stop_recorded "$SERVER_PIDFILE" "live.serve"
stop_recorded "$WORKER_PIDFILE" "celery"

"$PY" scripts/ensure_database.py

mode="$("$PY" manage.py shell -c "
from django.conf import settings as s
print(s.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1], int(getattr(s, 'EMBEDDED_REDIS', False)), int(s.CELERY_TASK_ALWAYS_EAGER))
")"
read -r database redis eager <<<"$(tail -n 1 <<<"$mode")"
if [ "$database" = sqlite3 ]; then log "database: SQLite (embedded default)"; else log "database: $database"; fi
if [ "$redis" = 1 ]; then log "redis: in-process fakeredis (embedded default)"; else log "redis: server"; fi
if [ "$eager" = 1 ]; then log "tasks: run eagerly in the web process (no broker)"; else log "tasks: Celery worker"; fi

"$PY" manage.py migrate --noinput
"$PY" manage.py seed_demo
"$PY" manage.py seed_merchandising
# Shoppers with distinct habits browse and buy through the real ingest path, so the live
# profiles and the recommenders have behaviour to learn from; the same seed stores nothing twice.
# Their purchases are real orders; the confirmation mails of made-up shoppers are not sent
# (with eager tasks they would fill this terminal). Without eager tasks their outbox rows wait
# for a worker, which would send them with the real backend when it starts: they are settled
# here, through the same dummy backend, first.
EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend \
  "$PY" manage.py simulate_shoppers --visitors "${DEMO_VISITORS:-300}" --users 5
EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend "$PY" manage.py shell -c "
from shop.orders.notifications import notifications_send_pending
notifications_send_pending(limit=1_000_000)
"
"$PY" manage.py retrain
# The groups nobody defined: each cluster of those shoppers becomes a segment (Segments in admin).
"$PY" manage.py recluster

if [ "$eager" = 0 ]; then
  log "starting a Celery worker with beat (log: $RUN_DIR/celery.log)"
  $SETSID "$PY" -m celery -A shop worker --beat --loglevel INFO --concurrency 2 \
    --schedule "$RUN_DIR/celerybeat-schedule" </dev/null >>"$RUN_DIR/celery.log" 2>&1 &
  echo $! >"$WORKER_PIDFILE"
fi

LIVE_BIND="$ADDR" $SETSID "$PY" -m live.serve </dev/null &
server_pid=$!
echo "$server_pid" >"$SERVER_PIDFILE"

host="${ADDR%:*}"
port="${ADDR##*:}"
for _ in $(seq 1 120); do
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.25
done
cat >&2 <<EOF

==> The shop runs at http://$ADDR/
==> Admin:  http://$ADDR/admin/   login admin / $DEMO_ADMIN_PASSWORD
==> Ctrl-C stops the server$([ "$eager" = 0 ] && echo " and the Celery worker").

EOF
wait "$server_pid"
