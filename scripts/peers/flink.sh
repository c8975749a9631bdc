#!/usr/bin/env bash
# Real Flink 2 for tests: jobmanager + taskmanager (start-foreground) from PyPI's
# apache-flink, REST on 127.0.0.1:19083, plus the tiny job of tests/fixtures/flink built
# with javac. Flink lives in its own venv ($OPSC_FLINK_VENV, default /opt/opsc-flink,
# 0.8 GB, created only if missing, then reused). Two JVMs: stop it when not testing.
# Usage: flink.sh start|stop      Writes OPSC_FLINK_URL and OPSC_FLINK_JAR to $OPSCONSOLE_PEERS_ENV.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PORT=19083
VENV=${OPSC_FLINK_VENV:-/opt/opsc-flink}
WORK=/tmp/opsconsole-flink
PIDS=/tmp/opsconsole-flink.pids
LOG=/tmp/opsconsole-flink.log
ENVFILE=${OPSCONSOLE_PEERS_ENV:-/dev/null}
ready() { curl -fsS "http://127.0.0.1:$PORT/overview" 2>/dev/null | grep -q '"taskmanagers":[1-9]'; }
# shellcheck source=lib/process_groups.bash
. "$(dirname "$0")/lib/process_groups.bash"
stop() { stop_groups; }
case "${1:-start}" in
  start)
    t0=$(date +%s)
    command -v javac >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless >>"$LOG" 2>&1; }
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import pyflink' 2>/dev/null; then
      python3 -m venv "$VENV"
      "$VENV/bin/pip" install -q apache-flink >>"$LOG" 2>&1
    fi
    t1=$(date +%s)
    FLINK_HOME=$("$VENV/bin/python" -c 'import os, pyflink; print(os.path.dirname(pyflink.__file__))')
    stop
    rm -rf "$WORK"; mkdir -p "$WORK/conf" "$WORK/log" "$WORK/classes"
    cp "$FLINK_HOME"/conf/log4j*.properties "$FLINK_HOME"/conf/logback*.xml "$WORK/conf/" 2>/dev/null || true
    # Keep the java opts of the shipped config (Java 17 module flags), bind everything to 127.0.0.1.
    java_opts=$(sed -n 's/^ *all: *//p' "$FLINK_HOME/conf/config.yaml" | head -1)
    cat > "$WORK/conf/config.yaml" <<YAML
env:
  java:
    opts:
      all: $java_opts
  log:
    dir: $WORK/log
jobmanager:
  bind-host: 127.0.0.1
  rpc: {address: 127.0.0.1, port: 19123}
  memory: {process: {size: 1024m}}
taskmanager:
  bind-host: 127.0.0.1
  host: 127.0.0.1
  rpc: {port: 19124}
  numberOfTaskSlots: 2
  memory: {process: {size: 1280m}}
blob: {server: {port: 19125}}
rest: {address: 127.0.0.1, bind-address: 127.0.0.1, port: $PORT}
parallelism: {default: 1}
metrics: {fetcher: {update-interval: 1000}}
web: {tmpdir: $WORK/web, upload: {dir: $WORK/upload}}
io: {tmp: {dirs: $WORK/tmp}}
YAML
    mkdir -p "$WORK/web" "$WORK/upload" "$WORK/tmp"
    javac -d "$WORK/classes" -cp "$FLINK_HOME/lib/*" "$ROOT/tests/fixtures/flink/OpscJob.java" >>"$LOG" 2>&1
    (cd "$WORK/classes" && jar cf "$WORK/opsc-job.jar" ./*.class)
    export FLINK_HOME FLINK_CONF_DIR="$WORK/conf" FLINK_LOG_DIR="$WORK/log"
    : > "$PIDS"
    setsid "$FLINK_HOME/bin/jobmanager.sh" start-foreground >>"$LOG" 2>&1 & echo $! >> "$PIDS"
    setsid "$FLINK_HOME/bin/taskmanager.sh" start-foreground >>"$LOG" 2>&1 & echo $! >> "$PIDS"
    for _ in $(seq 1 120); do ready && break; sleep 0.5; done
    ready || { echo "flink did not start; see $LOG" >&2; exit 1; }
    echo "flink: install $((t1 - t0))s, build+start $(( $(date +%s) - t1 ))s" >&2
    { echo "OPSC_FLINK_URL=http://127.0.0.1:$PORT"; echo "OPSC_FLINK_JAR=$WORK/opsc-job.jar"; } >> "$ENVFILE"
    ;;
  stop) stop ;;
esac
