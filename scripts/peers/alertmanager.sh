#!/usr/bin/env bash
# Alertmanager 0.25: tests start their own (own am.yml routing to a local webhook receiver, group_wait 1s), stop and restart it mid-run.
# Debian's package; its systemd unit is not used (no systemd here, and a test needs its own config).
# Usage: alertmanager.sh start|stop      Writes OPSC_ALERTMANAGER_BIN to $OPSCONSOLE_PEERS_ENV.
set -euo pipefail
ENVFILE=${OPSCONSOLE_PEERS_ENV:-/dev/null}
BIN=/usr/bin/prometheus-alertmanager
case "${1:-start}" in
  start)
    if [ ! -x "$BIN" ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -q --no-install-recommends prometheus-alertmanager >/tmp/opsconsole-alertmanager-apt.log 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends prometheus-alertmanager \
             >>/tmp/opsconsole-alertmanager-apt.log 2>&1; }
    fi
    "$BIN" --version >/dev/null 2>&1
    echo "OPSC_ALERTMANAGER_BIN=$BIN" >> "$ENVFILE"
    ;;
  stop)
    ;;  # nothing runs between tests: each test starts and stops its own instance by PID
esac
