#!/usr/bin/env bash
# Real Iceberg REST catalog server for tests: Lakana (PyPI lakana[server], pre-beta, maintained
# upstream at lakana-labs/lakana), in its own venv ($OPSC_LAKANA_VENV, default /opt/opsc-lakana).
# It enforces bearer tokens (personal access tokens) and serves tables under /v1/{prefix}/...,
# where the prefix is a Lakana "environment" (created here: `dev`, storage on local disk).
# Needs the PostgreSQL peer (scripts/peers/postgres.sh, 127.0.0.1:19432) for its metadata.
# Usage: lakana.sh start|stop   Writes OPSC_REST_URI, OPSC_REST_TOKEN, OPSC_REST_PREFIX,
# OPSC_REST_WAREHOUSE to $OPSCONSOLE_PEERS_ENV.
set -euo pipefail
PORT=19181
VENV=${OPSC_LAKANA_VENV:-/opt/opsc-lakana}
DIR=/tmp/opsconsole-lakana
PIDS=/tmp/opsconsole-lakana.pids
LOG=/tmp/opsconsole-lakana.log
ENVFILE=${OPSCONSOLE_PEERS_ENV:-/dev/null}
PG="-h 127.0.0.1 -p 19432 -U postgres"
KEY_ID=opsctest01
SECRET=opsconsole-test-secret-0123456789abcdef
TOKEN="lakana_pat_${KEY_ID}_${SECRET}"
ready() { curl -fsS "http://127.0.0.1:$PORT/v1/config" >/dev/null 2>&1; }
# shellcheck source=lib/process_groups.bash
. "$(dirname "$0")/lib/process_groups.bash"
case "${1:-start}" in
  start)
    t0=$(date +%s)
    if [ ! -x "$VENV/bin/lakana-server" ]; then
      python3 -m venv "$VENV"
      "$VENV/bin/pip" install -q "lakana[server]==0.20.0" >>"$LOG" 2>&1
    fi
    if ! ready; then
      stop_groups
      # Peers start in name order and postgres.sh comes later: make sure the database is up.
      "$(dirname "$0")/postgres.sh" start
      psql $PG -tAc "SELECT 1 FROM pg_database WHERE datname='lakana'" | grep -q 1 \
        || psql $PG -qc "CREATE DATABASE lakana"
      mkdir -p "$DIR/dev"
      export LAKANA_DATABASE__URL="postgresql+pg8000://postgres@127.0.0.1:19432/lakana"
      export LAKANA_BOOTSTRAP_PAT_KEY_ID=$KEY_ID LAKANA_BOOTSTRAP_PAT_SECRET=$SECRET
      export LAKANA_HOST=127.0.0.1 LAKANA_PORT=$PORT
      "$VENV/bin/lakana-server" migrate >>"$LOG" 2>&1
      : > "$PIDS"
      setsid "$VENV/bin/lakana-server" >>"$LOG" 2>&1 & echo $! >> "$PIDS"
      for _ in $(seq 1 120); do ready && break; sleep 0.5; done
      ready || { echo "lakana did not start; see $LOG" >&2; exit 1; }
      curl -fsS -o /dev/null -X POST "http://127.0.0.1:$PORT/api/v1/environments" \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d "{\"name\": \"dev\", \"storage\": {\"scheme\": \"file\", \"root\": \"file://$DIR/dev\"}}" 2>>"$LOG" || true
    fi
    echo "lakana: ready in $(( $(date +%s) - t0 ))s" >&2
    { echo "OPSC_REST_URI=http://127.0.0.1:$PORT"; echo "OPSC_REST_TOKEN=$TOKEN"; echo "OPSC_REST_PREFIX=dev";
      echo "OPSC_REST_WAREHOUSE=file://$DIR/dev"; } >> "$ENVFILE"
    ;;
  stop) stop_groups ;;
esac
