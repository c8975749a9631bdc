#!/usr/bin/env bash
# Real Spark standalone cluster for tests: master on 127.0.0.1:19077 (web UI 19088) and
# one worker (1 core, 1 GB, UI 19089) from PyPI's pyspark, in its own venv
# ($OPSC_SPARK_VENV, default /opt/opsc-spark, 0.5 GB, created only if missing).
# The wheel has no start-master.sh: spark-class runs the daemons in the foreground.
# Usage: spark.sh start|stop   Writes OPSC_SPARK_URL, OPSC_SPARK_MASTER, OPSC_SPARK_PYTHON to $OPSCONSOLE_PEERS_ENV.
set -euo pipefail
PORT=19077
UI=19088
VENV=${OPSC_SPARK_VENV:-/opt/opsc-spark}
WORK=/tmp/opsconsole-spark
PIDS=/tmp/opsconsole-spark.pids
LOG=/tmp/opsconsole-spark.log
ENVFILE=${OPSCONSOLE_PEERS_ENV:-/dev/null}
ready() { curl -fsS "http://127.0.0.1:$UI/json/" 2>/dev/null | grep -q '"aliveworkers" *: *[1-9]'; }
# shellcheck source=lib/process_groups.bash
. "$(dirname "$0")/lib/process_groups.bash"
stop() { stop_groups; }
case "${1:-start}" in
  start)
    t0=$(date +%s)
    command -v java >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >>"$LOG" 2>&1; }
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import pyspark' 2>/dev/null; then
      python3 -m venv "$VENV"
      "$VENV/bin/pip" install -q pyspark >>"$LOG" 2>&1
    fi
    t1=$(date +%s)
    SPARK_HOME=$("$VENV/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
    stop
    rm -rf "$WORK"; mkdir -p "$WORK/work" "$WORK/logs"
    export SPARK_HOME SPARK_LOCAL_IP=127.0.0.1 SPARK_LOG_DIR="$WORK/logs" SPARK_WORKER_DIR="$WORK/work"
    export SPARK_DAEMON_MEMORY=512m
    : > "$PIDS"
    setsid "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
      --host 127.0.0.1 --port "$PORT" --webui-port "$UI" >>"$LOG" 2>&1 & echo $! >> "$PIDS"
    setsid "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker "spark://127.0.0.1:$PORT" \
      --host 127.0.0.1 --webui-port 19089 --cores 1 --memory 1g --work-dir "$WORK/work" >>"$LOG" 2>&1 & echo $! >> "$PIDS"
    for _ in $(seq 1 120); do ready && break; sleep 0.5; done
    ready || { echo "spark did not start; see $LOG" >&2; exit 1; }
    echo "spark: install $((t1 - t0))s, start $(( $(date +%s) - t1 ))s" >&2
    { echo "OPSC_SPARK_URL=http://127.0.0.1:$UI"; echo "OPSC_SPARK_MASTER=spark://127.0.0.1:$PORT";
      echo "OPSC_SPARK_PYTHON=$VENV/bin/python"; } >> "$ENVFILE"
    ;;
  stop) stop ;;
esac
