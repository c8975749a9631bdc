"""ClickHouse over its HTTP interface: health, query history, parts, merges, replication.

Seed 002 serves its analytics from ClickHouse on port 8123. Everything an
operator asks first is in ClickHouse's own ``system`` tables, readable through
the HTTP interface with plain SQL (``FORMAT JSONEachRow``), so this driver needs
no native client:

* **health**: ``/ping`` (a new client can reach it), ``version()``, running
  merges, and one row per replicated table whose queue is backing up
  (``system.replicas``) when the server replicates;
* **queries**: finished and failed queries from ``system.query_log`` (duration,
  rows, error) plus the ones running now (``system.processes``); the p95 and
  error-rate rules of :mod:`opsconsole.alerts` work on them unchanged;
* **tables**: active parts per table from ``system.parts``, with the busiest
  partition's part count (what ClickHouse itself limits: inserts are delayed
  at ``parts_to_delay_insert`` and refused at ``parts_to_throw_insert``) for
  :func:`opsconsole.monitor.checks.check_too_many_parts` (rule ClickHouseTooManyParts).

The console's own queries carry a ``query_id`` starting with ``opsconsole-``
and are left out of the history, so watching a quiet server does not fill its
Queries pane with the watcher's polls. Column names are those of every
ClickHouse since 18.x; ``type`` is compared as a number because it is a
``UInt8`` in old servers and an ``Enum8`` in new ones.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from opsconsole.drivers.base import OptionSpec
from opsconsole.drivers.http_json import HttpJsonDriver
from opsconsole.errors import AuthError, DriverError, DriverUnavailable
from opsconsole.model import Health, Pane, QueryRecord, ServiceStatus, TableStats
from opsconsole.secret import reveal

OWN_QUERY_PREFIX = "opsconsole-"
"""query_id prefix of the console's own queries (excluded from the history)."""

QUERY_TYPES: Mapping[int, str] = {2: "FINISHED", 3: "FAILED", 4: "FAILED"}
"""system.query_log ``type``: 1 QueryStart (skipped), 2 QueryFinish, 3 ExceptionBeforeStart,
4 ExceptionWhileProcessing."""

HISTORY_SQL = """
SELECT query_id, query, CAST(type AS Int8) AS kind, toUnixTimestamp(query_start_time) AS started,
       query_duration_ms AS duration_ms, read_rows, written_rows, result_rows, user, exception
FROM system.query_log
WHERE CAST(type AS Int8) != 1 AND is_initial_query = 1 AND query_id NOT LIKE '{prefix}%'
  AND event_date >= today() - 1
ORDER BY event_time DESC, query_id DESC
LIMIT {limit}
FORMAT JSONEachRow
"""

RUNNING_SQL = """
SELECT query_id, query, elapsed, read_rows, written_rows, user
FROM system.processes
WHERE query_id NOT LIKE '{prefix}%' AND is_initial_query = 1
FORMAT JSONEachRow
"""

PARTS_SQL = """
SELECT database, table, partition, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes,
       toUnixTimestamp(max(modification_time)) AS modified
FROM system.parts
WHERE active AND database NOT IN ('system')
GROUP BY database, table, partition
FORMAT JSONEachRow
"""

MERGES_SQL = "SELECT database, table, count() AS merges FROM system.merges GROUP BY database, table FORMAT JSONEachRow"

REPLICAS_SQL = """
SELECT database, table, is_readonly, is_session_expired, queue_size, inserts_in_queue, merges_in_queue,
       absolute_delay, total_replicas, active_replicas
FROM system.replicas
FORMAT JSONEachRow
"""


def _int(value: Any) -> int:
    """ClickHouse quotes 64-bit integers in JSON: accept both forms."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _ts(seconds: Any) -> datetime | None:
    value = _int(seconds)
    return datetime.fromtimestamp(value, tz=UTC) if value > 0 else None


def query_record(row: Mapping[str, Any], source: str) -> QueryRecord | None:
    """One system.query_log row as a QueryRecord (None for QueryStart rows)."""
    status = QUERY_TYPES.get(_int(row.get("kind")))
    if status is None:
        return None
    written = _int(row.get("written_rows"))
    return QueryRecord(
        query_id=str(row.get("query_id", "")), text=str(row.get("query", "")).strip(), status=status,
        started_at=_ts(row.get("started")) or datetime.fromtimestamp(0, tz=UTC),
        duration_ms=float(_int(row.get("duration_ms"))),
        rows=written if written else _int(row.get("result_rows")),
        user=str(row.get("user", "")), warehouse=source, error=str(row.get("exception", "")), source=source)


class ClickHouseDriver(HttpJsonDriver):
    """One ClickHouse server through its HTTP interface (port 8123)."""

    kind: ClassVar[str] = "clickhouse"
    service_label: ClassVar[str] = "ClickHouse"
    description: ClassVar[str] = ("ClickHouse over HTTP: ping/version, query history (system.query_log), "
                                  "active parts per table, merges and replication backlog")
    panes: ClassVar[frozenset[Pane]] = frozenset({Pane.SERVICES, Pane.QUERIES, Pane.TABLES})
    extra_checks = frozenset({"too_many_parts"})
    no_checks = frozenset({"table_files"})  # parts are ClickHouse's own, merged by it: no compaction runbook
    options: ClassVar[tuple[OptionSpec, ...]] = (
        OptionSpec("url", str, required=True, help="HTTP interface base URL, e.g. http://localhost:8123"),
        OptionSpec("user", str, default="", help="ClickHouse user (empty = the server's default user)"),
        OptionSpec("password", str, default="", secret=True, help="password of that user"),
        OptionSpec("history_limit", int, default=200, help="most recent queries read from system.query_log"),
        OptionSpec("replica_delay_s_max", (int, float), default=300,
                   help="replication delay (seconds) above which a replicated table is a warning"),
        OptionSpec("verify_tls", bool, default=True, help="verify the server's TLS certificate"),
    )

    def _auth(self) -> dict[str, str]:
        """ClickHouse's own auth headers (understood since 2017), so no password sits in a URL."""
        user = str(self.config.get("user") or "")
        password = reveal(self.config.get("password") or "")
        headers = {}
        if user:
            headers["X-ClickHouse-User"] = user
        if password:
            headers["X-ClickHouse-Key"] = password
        return headers

    async def select(self, sql: str) -> list[dict[str, Any]]:
        """Run one query tagged as the console's own; rows as dicts.

        GET makes ClickHouse run it read-only whatever the user may do, without
        setting ``readonly`` (which a read-only monitoring user may not change).
        """
        params = {"query": " ".join(sql.split()), "query_id": f"{OWN_QUERY_PREFIX}{uuid.uuid4()}"}
        response = await self._send("GET", "/", params=params, headers=self._auth())
        if response.status_code in (401, 403) or (response.status_code == 500 and "Code: 516" in response.text):
            raise AuthError(f"{self.name}: ClickHouse at {self.base} rejected the credentials: "
                            f"{response.text.strip()[:300]}")
        if response.status_code >= 400:
            first = response.text.strip().splitlines()[0][:300] if response.text.strip() else ""
            raise DriverError(f"{self.name}: ClickHouse query failed with HTTP {response.status_code}: {first}")
        try:
            return [json.loads(line) for line in response.text.splitlines() if line.strip()]
        except ValueError as exc:
            raise DriverError(f"{self.name}: {self.base} did not answer JSONEachRow "
                              "(is this ClickHouse's HTTP interface?)") from exc

    # ------------------------------------------------------------------ panes
    async def health(self) -> list[ServiceStatus]:
        """The server (ping, version, merges) and any replicated table whose queue backs up."""
        started = time.perf_counter()
        now = datetime.now(UTC)
        try:
            ping = await self._send("GET", "/ping")
            if ping.status_code != 200 or not ping.text.startswith("Ok"):
                raise DriverUnavailable(f"{self.name}: /ping answered HTTP {ping.status_code} "
                                        f"{ping.text.strip()[:80]!r} (is {self.base} ClickHouse?)")
            latency = (time.perf_counter() - started) * 1000
            info = (await self.select("SELECT version() AS version, uptime() AS uptime FORMAT JSONEachRow"))[0]
            merges = await self.select(MERGES_SQL)
            replicas = await self.select(REPLICAS_SQL)
        except DriverError as exc:
            return [ServiceStatus(name=self.name, health=Health.CRITICAL, detail=str(exc), checked_at=now,
                                  source=self.name, extra={"url": self.base})]
        running = sum(_int(m.get("merges")) for m in merges)
        rows = [ServiceStatus(
            name=self.name, health=Health.OK, latency_ms=latency, checked_at=now, source=self.name,
            detail=f"ClickHouse {info.get('version')}, up {_int(info.get('uptime'))} s, {running} merge(s) running",
            extra={"url": self.base, "version": info.get("version"), "merges_running": running})]
        delay_max = float(self.config.get("replica_delay_s_max") or 300)
        for rep in replicas:
            delay, queue = _int(rep.get("absolute_delay")), _int(rep.get("queue_size"))
            problems = []
            if _int(rep.get("is_readonly")) or _int(rep.get("is_session_expired")):
                problems.append("read-only (ZooKeeper session lost): inserts fail")
            if delay > delay_max:
                problems.append(f"{delay} s behind (> {delay_max:g} s)")
            if _int(rep.get("active_replicas")) < _int(rep.get("total_replicas")):
                problems.append(f"{rep.get('active_replicas')}/{rep.get('total_replicas')} replicas active")
            rows.append(ServiceStatus(
                name=f"{self.name}/{rep.get('database')}.{rep.get('table')} replica",
                health=Health.WARNING if problems else Health.OK, checked_at=now, source=self.name,
                detail=(f"queue {queue} ({_int(rep.get('inserts_in_queue'))} inserts, "
                        f"{_int(rep.get('merges_in_queue'))} merges), delay {delay} s"
                        + ("; " + "; ".join(problems) if problems else "")),
                extra={"replication_queue": queue, "replication_delay_s": delay}))
        return rows

    async def query_history(self, limit: int = 200) -> list[QueryRecord]:
        """Running queries first, then finished and failed ones, newest first."""
        limit = min(limit, int(self.config.get("history_limit") or 200))
        running = await self.select(RUNNING_SQL.format(prefix=OWN_QUERY_PREFIX))
        now = datetime.now(UTC)
        records = [QueryRecord(query_id=str(r.get("query_id", "")), text=str(r.get("query", "")).strip(),
                               status="RUNNING", started_at=now, duration_ms=float(r.get("elapsed") or 0) * 1000,
                               rows=_int(r.get("written_rows")) or _int(r.get("read_rows")),
                               user=str(r.get("user", "")), warehouse=self.name, source=self.name)
                   for r in running]
        logged = await self.select(HISTORY_SQL.format(prefix=OWN_QUERY_PREFIX, limit=max(1, int(limit))))
        records += [rec for row in logged if (rec := query_record(row, self.name)) is not None]
        return records

    async def table_stats(self) -> list[TableStats]:
        """Active parts, rows and bytes per table; the busiest partition for the too-many-parts rule."""
        parts = await self.select(PARTS_SQL)
        merges = {(m.get("database"), m.get("table")): _int(m.get("merges")) for m in await self.select(MERGES_SQL)}
        tables: dict[tuple[str, str], dict[str, Any]] = {}
        for row in parts:
            key = (str(row.get("database")), str(row.get("table")))
            t = tables.setdefault(key, {"parts": 0, "rows": 0, "bytes": 0, "modified": 0, "max": 0, "partition": ""})
            count = _int(row.get("parts"))
            t["parts"] += count
            t["rows"] += _int(row.get("rows"))
            t["bytes"] += _int(row.get("bytes"))
            t["modified"] = max(t["modified"], _int(row.get("modified")))
            if count > t["max"]:
                t["max"], t["partition"] = count, str(row.get("partition", ""))
        return [TableStats(name=f"{db}.{table}", file_count=t["parts"], snapshot_count=None, size_bytes=t["bytes"],
                           row_count=t["rows"], last_commit=_ts(t["modified"]), layer=db, source=self.name,
                           extra={"engine": "clickhouse", "active_parts": t["parts"],
                                  "max_partition_parts": t["max"], "busiest_partition": t["partition"],
                                  "merges_running": merges.get((db, table), 0)})
                for (db, table), t in sorted(tables.items())]


__all__ = ["OWN_QUERY_PREFIX", "ClickHouseDriver", "query_record"]
