#!/usr/bin/env bash
# Headless Chromium for the web-mode test (opsconsole serve + Playwright for Python).
# Debian's chromium is used through Playwright's executable_path: never `playwright install`.
# Usage: chromium.sh start|stop      Writes OPSC_CHROMIUM to $OPSCONSOLE_PEERS_ENV.
set -euo pipefail
ENVFILE=${OPSCONSOLE_PEERS_ENV:-/dev/null}
case "${1:-start}" in
  start)
    if [ ! -x /usr/bin/chromium ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/tmp/opsconsole-chromium-apt.log 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core \
             >>/tmp/opsconsole-chromium-apt.log 2>&1; }
    fi
    python3 -c "import playwright, textual_serve" 2>/dev/null || python3 -m pip install -q playwright textual-serve
    /usr/bin/chromium --version >/dev/null 2>&1
    echo "OPSC_CHROMIUM=/usr/bin/chromium" >> "$ENVFILE"
    ;;
  stop)
    ;;  # nothing runs between tests: each test starts and stops its own browser and server
esac
