#!/usr/bin/env bash
# Real Airflow 3 for tests: api-server + scheduler + dag-processor on 127.0.0.1:19080,
# SQLite metadata, simple auth manager (admin/admin), DAGs from tests/fixtures/dags.
# Airflow lives in its own venv ($OPSC_AIRFLOW_VENV, default /opt/opsc-airflow), created
# only if missing (~60 s, 0.3 GB); AIRFLOW_HOME is fresh on every start (~20 s to ready).
# Usage: airflow.sh start|stop    Writes OPSC_AIRFLOW_URL/_USER/_PASSWORD to $OPSCONSOLE_PEERS_ENV.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PORT=19080
VENV=${OPSC_AIRFLOW_VENV:-/opt/opsc-airflow}
HOME_DIR=/tmp/opsconsole-airflow
PIDS=/tmp/opsconsole-airflow.pids
LOG=/tmp/opsconsole-airflow.log
ENVFILE=${OPSCONSOLE_PEERS_ENV:-/dev/null}
ready() { curl -fsS "http://127.0.0.1:$PORT/api/v2/monitor/health" >/dev/null 2>&1; }
# shellcheck source=lib/process_groups.bash
. "$(dirname "$0")/lib/process_groups.bash"
stop() { stop_groups; }
case "${1:-start}" in
  start)
    t0=$(date +%s)
    if [ ! -x "$VENV/bin/airflow" ]; then
      python3 -m venv "$VENV"
      "$VENV/bin/pip" install -q "apache-airflow>=3,<4" >>"$LOG" 2>&1
    fi
    t1=$(date +%s)
    stop
    rm -rf "$HOME_DIR"; mkdir -p "$HOME_DIR"
    echo '{"admin": "admin"}' > "$HOME_DIR/passwords.json"
    export PATH="$VENV/bin:$PATH" AIRFLOW_HOME="$HOME_DIR"
    export AIRFLOW__CORE__LOAD_EXAMPLES=False
    export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/tests/fixtures/dags"
    export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$PORT/execution/"
    export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$HOME_DIR/passwords.json"
    export AIRFLOW__CORE__PARALLELISM=4
    export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
    export AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC=2
    export AIRFLOW__LOGGING__WORKER_LOG_SERVER_HOST=127.0.0.1
    airflow db migrate >>"$LOG" 2>&1
    : > "$PIDS"
    setsid airflow api-server -H 127.0.0.1 -p "$PORT" -w 1 >>"$LOG" 2>&1 & echo $! >> "$PIDS"
    setsid airflow scheduler -s >>"$LOG" 2>&1 & echo $! >> "$PIDS"
    setsid airflow dag-processor >>"$LOG" 2>&1 & echo $! >> "$PIDS"
    for _ in $(seq 1 120); do ready && break; sleep 0.5; done
    ready || { echo "airflow did not start; see $LOG" >&2; exit 1; }
    echo "airflow: install $((t1 - t0))s, migrate+start $(( $(date +%s) - t1 ))s" >&2
    { echo "OPSC_AIRFLOW_URL=http://127.0.0.1:$PORT"; echo "OPSC_AIRFLOW_USER=admin"; echo "OPSC_AIRFLOW_PASSWORD=admin"; } >> "$ENVFILE"
    ;;
  stop) stop ;;
esac
