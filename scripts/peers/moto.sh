#!/usr/bin/env bash
# Real S3 wire protocol for tests: moto's server on 127.0.0.1:19001.
# Usage: moto.sh start|stop      Writes OPSC_S3_ENDPOINT to $OPSCONSOLE_PEERS_ENV.
set -euo pipefail
PORT=19001
PIDFILE=/tmp/opsconsole-moto.pid
ENVFILE=${OPSCONSOLE_PEERS_ENV:-/dev/null}
case "${1:-start}" in
  start)
    command -v moto_server >/dev/null || python3 -m pip install -q "moto[server]" boto3
    if ! curl -fsS "http://127.0.0.1:$PORT/moto-api/" >/dev/null 2>&1; then
      setsid moto_server -H 127.0.0.1 -p "$PORT" >/tmp/opsconsole-moto.log 2>&1 &
      echo $! > "$PIDFILE"
      for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$PORT/moto-api/" >/dev/null 2>&1 && break; sleep 0.2; done
    fi
    curl -fsS "http://127.0.0.1:$PORT/moto-api/" >/dev/null
    echo "OPSC_S3_ENDPOINT=http://127.0.0.1:$PORT" >> "$ENVFILE"
    ;;
  stop)
    [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null || true
    rm -f "$PIDFILE"
    ;;
esac
