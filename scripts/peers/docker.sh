#!/usr/bin/env bash
# Real Docker Engine for tests: Debian's docker.io (dockerd on its default unix
# socket, no TCP), plus the `opsconsole-busybox:test` image built FROM scratch
# with the host's static busybox (no registry needed).
# Usage: docker.sh start|stop
# Writes OPSC_DOCKER, DOCKER_HOST and OPSC_DOCKER_IMAGE to $OPSCONSOLE_PEERS_ENV.
# An already running daemon is reused and never stopped by this script.
set -euo pipefail
cd "$(dirname "$0")/../.."
PIDFILE=/tmp/opsconsole-dockerd.pid
ENVFILE=${OPSCONSOLE_PEERS_ENV:-/dev/null}
IMAGE=opsconsole-busybox:test
SOCK=/var/run/docker.sock

apt_install() {
  apt-get install -y -q "$@" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; }
}

case "${1:-start}" in
  start)
    if ! command -v dockerd >/dev/null || ! dpkg -s busybox-static >/dev/null 2>&1; then
      export DEBIAN_FRONTEND=noninteractive
      apt_install docker.io busybox-static
    fi
    if ! DOCKER_HOST="unix://$SOCK" docker info >/dev/null 2>&1; then
      setsid dockerd >/tmp/opsconsole-dockerd.log 2>&1 &
      echo $! > "$PIDFILE"
      for _ in $(seq 1 60); do DOCKER_HOST="unix://$SOCK" docker info >/dev/null 2>&1 && break; sleep 0.5; done
    fi
    export DOCKER_HOST="unix://$SOCK"
    docker info >/dev/null
    ctx=$(mktemp -d)
    cp -r tests/fixtures/busybox-stack/. "$ctx/"
    cp /bin/busybox "$ctx/busybox"
    docker build -q -t "$IMAGE" "$ctx" >/dev/null 2>/tmp/opsconsole-docker-build.log \
      || { cat /tmp/opsconsole-docker-build.log >&2; exit 1; }
    rm -rf "$ctx"
    { echo "OPSC_DOCKER=1"; echo "DOCKER_HOST=unix://$SOCK"; echo "OPSC_DOCKER_IMAGE=$IMAGE"; } >> "$ENVFILE"
    ;;
  stop)
    if [ -f "$PIDFILE" ]; then
      pid=$(cat "$PIDFILE")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
    rm -f "$PIDFILE"
    ;;
esac
