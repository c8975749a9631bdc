#!/usr/bin/env bash
# Real PostgreSQL 15 for tests (the Iceberg SQL catalog database), on
# 127.0.0.1:19432, trust auth, fsync off, data in /tmp/opsconsole-pg.
# Usage: postgres.sh start|stop
# Writes OPSC_PG_URL (SQLAlchemy URL of database `opsconsole`) and OPSC_PG_DATA
# (the data directory, so a test can stop and restart the server) to
# $OPSCONSOLE_PEERS_ENV.
set -euo pipefail
PORT=19432
DATA=/tmp/opsconsole-pg
ENVFILE=${OPSCONSOLE_PEERS_ENV:-/dev/null}
BIN=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi; }

case "${1:-start}" in
  start)
    if ! [ -x "$BIN/pg_ctl" ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -q postgresql-15 >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q postgresql-15 >/dev/null; }
    fi
    if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
      if ! [ -f "$DATA/PG_VERSION" ]; then
        rm -rf "$DATA"
        mkdir -p "$DATA"
        [ "$(id -u)" = 0 ] && chown postgres "$DATA"
        as_pg "$BIN/initdb -D $DATA -U postgres --auth=trust >/dev/null"
      fi
      as_pg "$BIN/pg_ctl -D $DATA -l $DATA.log -o '-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off' -w start >/dev/null"
    fi
    "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"
    "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='opsconsole'" | grep -q 1 \
      || "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE DATABASE opsconsole"
    echo "OPSC_PG_URL=postgresql+psycopg2://postgres@127.0.0.1:$PORT/opsconsole" >> "$ENVFILE"
    echo "OPSC_PG_DATA=$DATA" >> "$ENVFILE"
    ;;
  stop)
    if [ -f "$DATA/postmaster.pid" ]; then
      as_pg "$BIN/pg_ctl -D $DATA -m fast -w stop >/dev/null" || true
    fi
    ;;
esac
