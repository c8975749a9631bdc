#!/usr/bin/env bash
# Real ClickHouse server for tests (Debian's clickhouse-server), with its own config in
# /tmp/opsconsole-clickhouse: HTTP on 127.0.0.1:19223, native TCP on 19900, data and logs
# in that directory, every query logged (log_queries=1) to system.query_log.
# User opsc_ro (password opsc-ro-secret) is read-only, like a monitoring account. A ZooKeeper
# (Debian's zookeeper) on 127.0.0.1:19281 lets tests create ReplicatedMergeTree tables.
# Usage: clickhouse.sh start|stop   Writes OPSC_CLICKHOUSE (HTTP base URL) to $OPSCONSOLE_PEERS_ENV.
# ClickHouse takes ~20 s to shut down: stop sends SIGTERM and returns at once unless
# CLICKHOUSE_STOP_WAIT=1 (the next start waits for the old server to be gone).
set -euo pipefail
HTTP=19223  # not 19123: Flink's RPC port (scripts/peers/flink.sh)
TCP=19900
DIR=/tmp/opsconsole-clickhouse
PIDS=/tmp/opsconsole-clickhouse.pids
LOG=/tmp/opsconsole-clickhouse.log
STOPPING=/tmp/opsconsole-clickhouse.stopping
ZK_PORT=19281
ZK_BIN=/usr/share/zookeeper/bin/zkServer.sh
ENVFILE=${OPSCONSOLE_PEERS_ENV:-/dev/null}
ready() { curl -fsS "http://127.0.0.1:$HTTP/ping" 2>/dev/null | grep -q Ok; }
# shellcheck source=lib/process_groups.bash
. "$(dirname "$0")/lib/process_groups.bash"
case "${1:-start}" in
  start)
    if ! command -v clickhouse-server >/dev/null || ! [ -x "$ZK_BIN" ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -q --no-install-recommends clickhouse-server clickhouse-client zookeeper >>"$LOG" 2>&1 \
        || { apt-get update -q >>"$LOG" 2>&1 && apt-get install -y -q --no-install-recommends clickhouse-server \
               clickhouse-client zookeeper >>"$LOG" 2>&1; }
    fi
    # A server still shutting down (stop does not wait) answers /ping for a while, then holds
    # the ports and the data directory: wait until it is gone before starting a new one.
    if [ -f "$STOPPING" ] && [ -f "$PIDS" ]; then
      for _ in $(seq 1 90); do
        alive=0; while read -r pid; do kill -0 -- -"$pid" 2>/dev/null && alive=1; done < "$PIDS"
        [ $alive = 0 ] && break; sleep 0.5
      done
      stop_groups
    fi
    rm -f "$STOPPING"
    if ready; then
      echo "OPSC_CLICKHOUSE=http://127.0.0.1:$HTTP" >> "$ENVFILE"; exit 0
    fi
    if [ -f "$PIDS" ]; then
      for _ in $(seq 1 60); do
        alive=0; while read -r pid; do kill -0 -- -"$pid" 2>/dev/null && alive=1; done < "$PIDS"
        [ $alive = 0 ] && break; sleep 0.5
      done
      stop_groups
    fi
    mkdir -p "$DIR/data" "$DIR/tmp" "$DIR/user_files" "$DIR/format_schemas" "$DIR/logs"
    sed -e "s#/var/log/clickhouse-server/#$DIR/logs/#g" \
        -e "s#<path>/var/lib/clickhouse/</path>#<path>$DIR/data/</path>#" \
        -e "s#/var/lib/clickhouse/tmp/#$DIR/tmp/#" \
        -e "s#/var/lib/clickhouse/user_files/#$DIR/user_files/#" \
        -e "s#/var/lib/clickhouse/format_schemas/#$DIR/format_schemas/#" \
        -e "s#<http_port>8123</http_port>#<http_port>$HTTP</http_port>#" \
        -e "s#<tcp_port>9000</tcp_port>#<tcp_port>$TCP</tcp_port>#" \
        -e "s#<interserver_http_port>9009</interserver_http_port>#<interserver_http_port>19909</interserver_http_port>#" \
        -e "s#<listen_host>::1</listen_host>##" \
        -e "s#<flush_interval_milliseconds>7500</flush_interval_milliseconds>#<flush_interval_milliseconds>1000</flush_interval_milliseconds>#" \
        -e "/<tcp_port_secure>/d" -e "/<https_port>/d" \
        /etc/clickhouse-server/config.xml > "$DIR/config.xml"
    # log_queries for everyone; plus a read-only monitoring user with a password, as production has.
    sed -e "s#<load_balancing>random</load_balancing>#<load_balancing>random</load_balancing><log_queries>1</log_queries>#" \
        -e "s#</users>#<opsc_ro><password>opsc-ro-secret</password><networks><ip>127.0.0.1</ip></networks><profile>readonly</profile><quota>default</quota></opsc_ro></users>#" \
        /etc/clickhouse-server/users.xml > "$DIR/users.xml"
    sed -i -e "s#<users_config>users.xml</users_config>#<users_config>$DIR/users.xml</users_config>#" "$DIR/config.xml"
    sed -i -e "s#<zookeeper incl=\"zookeeper-servers\" optional=\"true\" />#<zookeeper><node><host>127.0.0.1</host><port>$ZK_PORT</port></node></zookeeper>#" \
        -e "s#<macros incl=\"macros\" optional=\"true\" />#<macros><shard>01</shard><replica>r1</replica></macros>#" \
        "$DIR/config.xml"
    : > "$PIDS"
    # ZooKeeper, so ReplicatedMergeTree tables (and their replication queues) can be tested.
    mkdir -p "$DIR/zk/data"
    printf 'tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n' \
      "$DIR/zk/data" "$ZK_PORT" > "$DIR/zk/zoo.cfg"
    ZOO_LOG_DIR="$DIR/zk" setsid "$ZK_BIN" start-foreground "$DIR/zk/zoo.cfg" >>"$LOG" 2>&1 & echo $! >> "$PIDS"
    for _ in $(seq 1 60); do (exec 3<>"/dev/tcp/127.0.0.1/$ZK_PORT") 2>/dev/null && break; sleep 0.5; done
    setsid clickhouse-server --config-file="$DIR/config.xml" >>"$LOG" 2>&1 & echo $! >> "$PIDS"
    for _ in $(seq 1 120); do ready && break; sleep 0.5; done
    ready || { echo "clickhouse did not start; see $LOG and $DIR/logs" >&2; exit 1; }
    echo "OPSC_CLICKHOUSE=http://127.0.0.1:$HTTP" >> "$ENVFILE"
    ;;
  stop)
    if [ "${CLICKHOUSE_STOP_WAIT:-0}" = 1 ]; then stop_groups
    elif [ -f "$PIDS" ]; then
      while read -r pid; do kill -- -"$pid" 2>/dev/null || true; done < "$PIDS"
      touch "$STOPPING"
    fi
    ;;
esac
