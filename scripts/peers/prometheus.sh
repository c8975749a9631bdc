#!/usr/bin/env bash
# Prometheus 2.x: tests start their own server (own prom.yml, rule file, scrape_interval 2s) on a free port.
# Debian's package; its systemd unit is not used (no systemd here, and a test needs its own config).
# Usage: prometheus.sh start|stop      Writes OPSC_PROMETHEUS_BIN to $OPSCONSOLE_PEERS_ENV.
set -euo pipefail
ENVFILE=${OPSCONSOLE_PEERS_ENV:-/dev/null}
BIN=/usr/bin/prometheus
case "${1:-start}" in
  start)
    if [ ! -x "$BIN" ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -q --no-install-recommends prometheus >/tmp/opsconsole-prometheus-apt.log 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends prometheus \
             >>/tmp/opsconsole-prometheus-apt.log 2>&1; }
    fi
    "$BIN" --version >/dev/null 2>&1
    echo "OPSC_PROMETHEUS_BIN=$BIN" >> "$ENVFILE"
    ;;
  stop)
    ;;  # nothing runs between tests: each test starts and stops its own instance by PID
esac
