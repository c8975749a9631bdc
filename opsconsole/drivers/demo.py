"""Driver for the embedded demo pipeline (the default profile).

It starts the demo engine process if none runs on the data dir, then measures
it the way the real drivers measure real platforms: an HTTP health probe of the
ingestion API, the Iceberg catalog and table metadata through pyiceberg, the
staging layer through a read-only DuckDB connection, and the query and run logs
the engine wrote. Every figure on screen comes from those reads.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from opsconsole.demo.layout import RAW_TABLE, DemoPaths, EngineUse, default_data_dir, tail_jsonl
from opsconsole.drivers.base import Driver, OptionSpec, describe
from opsconsole.drivers.demo_actions import DemoActions
from opsconsole.drivers.demo_engine_control import EngineSupervision
from opsconsole.drivers.demo_metadata import read_table
from opsconsole.drivers.duckdb.reader import DuckDBReader
from opsconsole.errors import DriverError, DriverUnavailable
from opsconsole.model import (
    ActionSpec,
    Health,
    JobRun,
    LagSample,
    Pane,
    QueryRecord,
    ServiceStatus,
    TableStats,
)

READ_TTL = 1.5
"""Seconds a pane read of the Iceberg table or the staging DB is shared with other panes."""
STAGING_REUSE = 12.0
"""The health row's row count may be this old (the Tables and Lag panes re-read it every 10 s)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _ts(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


class DemoDriver(DemoActions, EngineSupervision, Driver):
    """Watches (and, for walkthroughs, perturbs) the embedded demo pipeline."""

    kind = "demo"
    alert_rules = {
        "IngestionDown": {"check": "service_down", "severity": "critical", "subjects": ["ingestion-api"],
                          "runbook": "demo-ingestion-stopped"},
        "DuckDBLocked": {"check": "service_down", "severity": "critical", "subjects": ["staging-duckdb"],
                         "runbook": "demo-staging-stale"},
        "IcebergCatalogDown": {"check": "service_down", "severity": "critical", "subjects": ["iceberg-catalog"],
                               "runbook": "demo-clear-faults"},
    }
    description = "Embedded Iceberg + DuckDB pipeline running on this machine"
    panes = frozenset({Pane.SERVICES, Pane.QUERIES, Pane.TABLES, Pane.LAG, Pane.JOBS})
    extra_checks = frozenset({"lag_rows", "lag_seconds"})
    can_stream_logs = True
    """One process serves every demo service: ``g`` on any of them tails the engine's log."""
    options = (
        OptionSpec("data_dir", str, default="", help="where the demo keeps its files (default: user data dir)"),
        OptionSpec("batch_interval", (int, float), default=5, help="seconds between ingested batches"),
        OptionSpec("batch_size", int, default=20, help="events per batch"),
        OptionSpec("transform_interval", (int, float), default=10, help="seconds between DuckDB transforms"),
        OptionSpec("autostart", bool, default=True, help="start the engine if it is not running"),
    )
    actions: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("compact", "Compact raw.orders",
                   "Rewrites all data files of raw.orders into one file in a new snapshot; rows are unchanged and "
                   "older snapshots still reference the old files until they expire.", dangerous=True,
                   params=("table",)),
        ActionSpec("fault-stop-ingestion", "Fault: stop ingestion",
                   "Stops the webhook source: no new events reach the ingestion API until faults are cleared."),
        ActionSpec("fault-stop-http", "Fault: stop the ingestion API",
                   "Shuts the ingestion HTTP service down; webhooks fail and are retried after faults are cleared."),
        ActionSpec("fault-hold-lock", "Fault: hold the DuckDB write lock",
                   "The transform keeps its read-write connection to staging.duckdb open, locking out readers."),
        ActionSpec("fault-flood-small-files", "Fault: flood small files",
                   "The next 60 events are written to raw.orders as 60 one-row files (60 snapshots)."),
        ActionSpec("clear-faults", "Clear all faults", "Removes every fault flag; the pipeline resumes."),
        ActionSpec("restart-engine", "Restart the demo engine",
                   "Stops the demo engine process and starts it again: ingestion pauses for a few seconds; "
                   "data on disk is kept."),
    )

    def __init__(self, name: str, options: Any, *, timeout: float = 10.0) -> None:
        super().__init__(name, options, timeout=timeout)
        data_dir = self.config.get("data_dir") or ""
        self.paths = DemoPaths(Path(data_dir).expanduser() if data_dir else default_data_dir())
        self._process: subprocess.Popen[bytes] | None = None
        self._use = EngineUse(self.paths)
        """Our claim on the shared engine: it runs while any console holds one."""
        self._last_start = 0.0
        self._waited_ready = False
        self.restarts = 0
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cache_lock = threading.Lock()
        self._catalog: Any = None
        self._duckdb = DuckDBReader()

    # ------------------------------------------------------------------ lifecycle
    def start_early(self) -> None:
        """Claim and start (or reuse) the engine before the first frame: it comes up while the UI paints."""
        if self.config.get("autostart", True):
            self._use.claim()  # before starting it: the engine never sees a moment without its user
            self.ensure_engine()

    async def connect(self) -> None:
        """Start the engine if needed; wait for it only on a first launch (no table to read yet).

        Only the Services pane needs the running engine (its state file, its HTTP port):
        it waits in :meth:`health`. Tables, lag, queries and jobs read files the engine
        left on disk, so they poll at once instead of after the engine's start-up.
        """
        if self.config.get("autostart", True):
            self.start_early()
            if not self.paths.catalog_db.exists():
                await self.wait_ready(timeout=self.timeout * 0.9)

    async def close(self) -> None:
        self._duckdb.close()
        last = self._use.release()
        if last and self._process is not None and self._process.poll() is None:
            # We started it and nobody else uses it. Another console still using it keeps it running
            # (it outlives us: it watches the users lock, not only our pid).
            self._process.terminate()
            try:
                await asyncio.to_thread(self._process.wait, 5)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None
        await super().close()

    # ------------------------------------------------------------------ helpers

    async def logs(self, service: str, tail: int = 100, follow: bool = False,
                   grep: str | None = None) -> AsyncIterator[str]:
        """The engine's log (batches ingested, transform runs, faults seen), whatever demo service was asked."""
        from opsconsole.drivers.file_logs import tail_file

        async for line in tail_file(self.paths.engine_log, tail=tail, follow=follow, grep=grep):
            yield line
    def _fresh(self, key: str, read: Any) -> Any:
        """One read shared by the panes polled in the same moment (services, tables and lag align).

        Reads younger than ``READ_TTL`` are reused: the figures are the same, the
        Iceberg metadata parse and the DuckDB open are not repeated. Errors are not cached.
        """
        now = time.monotonic()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < READ_TTL:
                return hit[1]
        value = read()
        with self._cache_lock:
            self._cache[key] = (time.monotonic(), value)
        return value

    def _raw_for_panes(self) -> Any:
        """The raw table's metadata (demo_metadata.py: no pyiceberg/pyarrow in the console for a pane poll)."""
        namespace, _, table = RAW_TABLE.partition(".")
        return self._fresh("raw", lambda: read_table(self.paths.catalog_db, namespace, table))

    def _staging_for_panes(self) -> dict[str, Any]:
        return self._fresh("staging", self._staging_counts)

    def _load_raw(self) -> Any:
        if self._catalog is None:
            from pyiceberg.catalog.sql import SqlCatalog

            self._catalog = SqlCatalog("demo", **self.paths.catalog_properties())
        return self._catalog.load_table(RAW_TABLE)

    def _staging_counts(self) -> dict[str, Any]:
        """Row counts of the staging layer as the transform's last run reported them (fails while it is locked).

        The transform reports its target's totals with each run (a consumer's committed
        position, as Kafka lag is measured), so the console reads them from the run log
        instead of loading DuckDB (~45 MB resident) beside the engine that holds it. A
        persistent writer (the lock fault) is found in /proc/locks, as the health row
        finds it. A run log from an older engine, without totals, is read the old way.
        """
        from opsconsole.drivers.duckdb.lock import LOCK_TABLE_READABLE

        if not LOCK_TABLE_READABLE:  # macOS, Windows: no lock table to ask, only opening the file tells
            return self._staging_counts_from_db()
        if self.paths.staging_db.exists():
            writer = self._persistent_writer()
            if writer is not None:
                raise DriverUnavailable(f"staging.duckdb locked by pid {writer.pid} ({writer.command[:80]})")
        runs = tail_jsonl(self.paths.runs_log, 20)
        if not runs:  # no transform has run on this data dir yet: staging is as the engine created it, empty
            return {"stg_orders": 0, "daily_revenue": 0, "max_loaded": None}
        for run in reversed(runs):
            totals = run.get("staging") if run.get("state") == "success" else None
            if isinstance(totals, dict):
                return {"stg_orders": int(totals["stg_orders"]), "daily_revenue": int(totals["daily_revenue"]),
                        "max_loaded": _ts(totals.get("max_loaded_ms"))}
        return self._staging_counts_from_db()

    def _staging_counts_from_db(self) -> dict[str, Any]:
        """Row counts of the staging layer, read-only (fails while the write lock is held)."""
        import duckdb

        last_error: Exception | None = None
        for _attempt in range(12):  # the transform holds the lock briefly every interval: retry ~2 s
            try:
                with self._duckdb.read_only(str(self.paths.staging_db)) as con:
                    out: dict[str, Any] = {}
                    for table in ("stg_orders", "daily_revenue"):
                        out[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    loaded_ms = con.execute("SELECT epoch_ms(max(loaded_at)) FROM stg_orders").fetchone()[0]
                    out["max_loaded"] = _ts(loaded_ms)
                    return out
            except duckdb.IOException as exc:
                last_error = exc
                time.sleep(0.15)
        raise DriverUnavailable(_lock_message(last_error))

    # ------------------------------------------------------------------ panes
    async def health(self) -> list[ServiceStatus]:
        if not self._waited_ready and self._process is not None:
            # The engine we just started has not written its state yet: "not running" would be a false alarm.
            self._waited_ready = True
            await self.wait_ready(timeout=self.timeout * 0.9)
        now = _now()
        state = self.paths.read_state()
        pid = self.engine_pid()
        rows: list[ServiceStatus] = []
        if pid is None:
            rows.append(ServiceStatus("demo-engine", Health.CRITICAL, "engine process not running"
                                      + self._supervise(), checked_at=now, source=self.name,
                                      extra={"restarts": self.restarts}))
        else:
            faults = self.paths.active_faults()
            rows.append(ServiceStatus("demo-engine", Health.WARNING if faults else Health.OK,
                                      f"pid {pid}" + (f"; faults: {', '.join(faults)}" if faults else ""),
                                      checked_at=now, source=self.name))
        rows.append(await self._probe_api(state, now))
        rows.append(await self._probe_catalog(now))
        rows.append(await self._probe_staging(now))
        rows.append(self._transform_status(now))
        return rows

    async def _probe_api(self, state: dict[str, Any] | None, now: datetime) -> ServiceStatus:
        """GET the ingestion API's /health over real HTTP (stdlib, in a worker thread).

        A plain-HTTP probe of 127.0.0.1: httpx would add ~13 MB to the console (the
        library, and the CA bundle its client loads for TLS this probe never uses).
        """
        if not state or not state.get("port"):
            return ServiceStatus("ingestion-api", Health.UNKNOWN, "engine starting", checked_at=now, source=self.name)
        url = f"http://127.0.0.1:{state['port']}/health"
        try:
            status, body, latency = await self.run_sync(_get_json, url, 2.0, what="probe the ingestion API",
                                                        timeout=5.0)
        except DriverError as exc:
            return ServiceStatus("ingestion-api", Health.CRITICAL, f"unreachable: {exc} ({url})",
                                 checked_at=now, source=self.name)
        if status != 200:
            return ServiceStatus("ingestion-api", Health.CRITICAL, f"HTTP {status} from {url}",
                                 latency_ms=latency, checked_at=now, source=self.name)
        return ServiceStatus("ingestion-api", Health.OK,
                             f"{body.get('received', 0)} events received, {body.get('buffered', 0)} buffered",
                             latency_ms=latency, checked_at=now, source=self.name, extra={"url": url})

    async def _probe_catalog(self, now: datetime) -> ServiceStatus:
        t0 = time.perf_counter()
        try:
            table = await self.run_sync(self._raw_for_panes, what="load Iceberg table")
        except DriverUnavailable as exc:
            return ServiceStatus("iceberg-catalog", Health.CRITICAL, str(exc), checked_at=now, source=self.name)
        latency = (time.perf_counter() - t0) * 1000
        snapshot = table.current_snapshot()
        age = max(0.0, (now - _ts(snapshot.timestamp_ms)).total_seconds()) if snapshot else None
        stale_after = 3 * float(self.config.get("batch_interval", 5))
        if age is None:
            return ServiceStatus("iceberg-catalog", Health.OK, "raw.orders has no snapshot yet", latency_ms=latency,
                                 checked_at=now, source=self.name)
        health = Health.OK if age <= stale_after else Health.WARNING
        return ServiceStatus("iceberg-catalog", health, f"raw.orders last commit {age:.0f}s ago",
                             latency_ms=latency, checked_at=now, source=self.name,
                             extra={"last_commit_age_s": age})

    async def _probe_staging(self, now: datetime) -> ServiceStatus:
        """Who holds staging.duckdb (from /proc/locks, no DuckDB start-up) and its row count.

        Opening DuckDB costs ~16 ms of CPU; the lock check costs well under 1 ms, so the
        5-second health poll only opens the database when no pane read it recently.
        """
        t0 = time.perf_counter()
        if not self.paths.staging_db.exists():  # not a lock: there is nothing to lock (data dir deleted?)
            return ServiceStatus("staging-duckdb", Health.CRITICAL, f"{self.paths.staging_db} does not exist "
                                 "(data dir deleted? the engine recreates it when it restarts)", checked_at=now,
                                 source=self.name, extra={"missing": True})
        writer = await self.run_sync(self._persistent_writer, what="check staging.duckdb locks")
        if writer is not None:
            return ServiceStatus("staging-duckdb", Health.CRITICAL,
                                 f"staging.duckdb locked by pid {writer.pid} ({writer.command[:80]})",
                                 checked_at=now, source=self.name, extra={"holder_pid": writer.pid, "locked": True})
        try:
            counts = await self.run_sync(self._staging_recent, what="read staging.duckdb")
        except DriverUnavailable as exc:
            return ServiceStatus("staging-duckdb", Health.CRITICAL, str(exc).split(": ", 1)[-1], checked_at=now,
                                 source=self.name)
        return ServiceStatus("staging-duckdb", Health.OK, f"{counts['stg_orders']} rows in stg_orders",
                             latency_ms=(time.perf_counter() - t0) * 1000, checked_at=now, source=self.name)

    def _persistent_writer(self) -> Any:
        """A process holding the write lock for more than ~2 s (the transform holds it for ms)."""
        from opsconsole.drivers.duckdb.lock import holders_from_proc_locks

        writer = None
        for _attempt in range(14):
            writers = [h for h in holders_from_proc_locks(self.paths.staging_db) if h.mode == "WRITE"]
            if not writers:
                return None
            writer = writers[0]
            time.sleep(0.15)
        return writer

    def _staging_recent(self) -> dict[str, Any]:
        """Staging counts read by a pane in the last ``STAGING_REUSE`` seconds, else a fresh read."""
        with self._cache_lock:
            hit = self._cache.get("staging")
        if hit is not None and time.monotonic() - hit[0] < STAGING_REUSE:
            return hit[1]
        return self._staging_for_panes()

    def _transform_status(self, now: datetime) -> ServiceStatus:
        runs = tail_jsonl(self.paths.runs_log, 20)
        if not runs:
            return ServiceStatus("transform", Health.UNKNOWN, "no run yet", checked_at=now, source=self.name)
        last = runs[-1]
        ok = [r for r in runs if r.get("state") == "success"]
        if last.get("state") != "success":
            return ServiceStatus("transform", Health.CRITICAL, f"last run failed: {last.get('error', '')}",
                                 checked_at=now, source=self.name)
        age = max(0.0, (now - datetime.fromisoformat(ok[-1]["started_at"])).total_seconds())
        limit = 3 * float(self.config.get("transform_interval", 10))
        return ServiceStatus("transform", Health.OK if age <= limit else Health.WARNING,
                             f"last success {age:.0f}s ago, {ok[-1].get('rows_in', 0)} rows in",
                             checked_at=now, source=self.name)

    async def query_history(self, limit: int = 200) -> list[QueryRecord]:
        entries = await self.run_sync(tail_jsonl, self.paths.queries_log, limit, what="read query log")
        return [QueryRecord(query_id=e["query_id"], text=e["sql"], status=e.get("status", ""),
                            started_at=datetime.fromisoformat(e["started_at"]), duration_ms=e.get("duration_ms"),
                            rows=e.get("rows"), user="demo-transform", warehouse="staging.duckdb",
                            error=e.get("error", ""), source=self.name)
                for e in reversed(entries)]

    async def table_stats(self) -> list[TableStats]:
        table = await self.run_sync(self._raw_for_panes, what="load Iceberg table")
        stats = [_iceberg_stats(table, RAW_TABLE, self.name)]
        counts = await self.run_sync(self._staging_for_panes, what="read staging.duckdb")
        size = self.paths.staging_db.stat().st_size if self.paths.staging_db.exists() else None
        for name in ("stg_orders", "daily_revenue"):
            stats.append(TableStats(name=f"staging.{name}", file_count=None, row_count=int(counts[name]),
                                    size_bytes=size, last_commit=counts.get("max_loaded") if name == "stg_orders"
                                    else None, layer="staging", source=self.name))
        return stats

    async def lag(self) -> list[LagSample]:
        now = _now()
        table = await self.run_sync(self._raw_for_panes, what="load Iceberg table")
        raw = _iceberg_stats(table, RAW_TABLE, self.name)
        counts = await self.run_sync(self._staging_for_panes, what="read staging.duckdb")
        staged = int(counts["stg_orders"])
        samples = [LagSample("raw→staging", float(max(0, (raw.row_count or 0) - staged)), "rows",
                             upstream=float(raw.row_count or 0), downstream=float(staged), measured_at=now,
                             detail="rows in raw.orders not yet in stg_orders", source=self.name)]
        runs = [r for r in tail_jsonl(self.paths.runs_log, 50) if r.get("state") == "success"]
        current = table.current_snapshot()
        if current is not None and runs and runs[-1].get("raw_snapshot_ms"):
            behind = max(0.0, (current.timestamp_ms - int(runs[-1]["raw_snapshot_ms"])) / 1000)
            samples.append(LagSample("raw→staging time", behind, "seconds", measured_at=now,
                                     detail="age of the newest raw commit staging has not processed",
                                     source=self.name))
        if raw.last_commit is not None:
            samples.append(LagSample("raw freshness", max(0.0, (now - raw.last_commit).total_seconds()), "seconds",
                                     measured_at=now, detail="since the last commit to raw.orders",
                                     source=self.name))
        return samples

    async def job_runs(self) -> list[JobRun]:
        runs = await self.run_sync(tail_jsonl, self.paths.runs_log, 100, what="read run log")
        return [JobRun(job=r.get("job", "transform"), run_id=r["run_id"], state=r.get("state", "unknown"),
                       started_at=datetime.fromisoformat(r["started_at"]), duration_s=r.get("duration_s"),
                       detail=r.get("error") or f"{r.get('rows_in', 0)} rows in", source=self.name)
                for r in reversed(runs)]

def _iceberg_stats(table: Any, name: str, source: str) -> TableStats:
    """Metadata-only figures of the raw layer (no manifest scan)."""
    from opsconsole.drivers.iceberg import ops as iceberg_ops  # on the first poll, not before the first frame

    return iceberg_ops.table_stats(table, name, layer="raw", source=source)


def _get_json(url: str, timeout: float) -> tuple[int, dict[str, Any], float]:
    """(status, JSON body, latency ms) of one GET; connection errors raise (run_sync makes them typed)."""
    import json
    import urllib.error
    import urllib.request

    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # http://127.0.0.1 only
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {}, (time.perf_counter() - t0) * 1000
    except urllib.error.URLError as exc:  # "unreachable: ConnectionRefusedError: ..." as the panes said before
        reason = exc.reason if isinstance(exc.reason, BaseException) else exc
        raise DriverUnavailable(describe(reason)) from exc
    latency = (time.perf_counter() - t0) * 1000
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    return status, body if isinstance(body, dict) else {}, latency


def _lock_message(exc: Exception | None) -> str:
    """Turn DuckDB's lock error into 'locked by pid N (command)'."""
    text = str(exc or "unknown error")
    import re

    match = re.search(r"PID (\d+)", text)
    if match:
        pid = int(match.group(1))
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            cmd = "?"
        return f"staging.duckdb locked by pid {pid} ({cmd[:80]})"
    return f"staging.duckdb unavailable: {text.splitlines()[0]}"
