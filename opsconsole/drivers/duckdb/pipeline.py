"""OSAA DuckDB/SQLMesh pipeline (seed 003): database lock, data quality, pipeline runs.

What the seed runbook does by hand, this driver does on every poll:

* opens the pipeline database **read-only** and, when it is locked, names the
  process holding it (pid and command line) instead of ``lsof | grep``; the
  runbook's "remove the .wal file" is replaced by two safe actions: stop the
  holder (SIGTERM, after checking it still holds the lock) and ``CHECKPOINT``;
* runs the seed's freshness, duplicates, completeness, coverage and z-score SQL
  (:mod:`opsconsole.drivers.duckdb.quality`) and shows them as Services rows (source
  ``quality``), freshness as Lag rows in **hours**, and a row per table;
* runs ``ingest`` / ``etl`` / ``transform`` / ``config_test`` through
  ``docker compose run --rm pipeline <step>`` (the command is an option),
  streams the output, measures the duration against the 2 h SLA and keeps a
  run history (JSONL in the user data dir).

A read-only DuckDB connection takes a shared lock that blocks the pipeline's
writer for as long as it is open, so every poll opens, reads and closes within
one short call, three panes share one snapshot, and the database is not opened
at all while a run started from this console is in progress.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from opsconsole.drivers.base import Driver, OptionSpec
from opsconsole.drivers.duckdb import lock as duckdb_lock
from opsconsole.drivers.duckdb import quality
from opsconsole.drivers.duckdb.lock_fixes import LockFixes
from opsconsole.drivers.duckdb.quality_rows import QualityRows
from opsconsole.drivers.duckdb.reader import DuckDBReader
from opsconsole.drivers.duckdb.runs import (
    LiveRun,
    PipelineRuns,
)
from opsconsole.drivers.duckdb.snapshot import Snapshot
from opsconsole.errors import DriverUnavailable
from opsconsole.humanize import size as human_size
from opsconsole.model import ActionSpec, Health, Pane, ServiceStatus

LIGHT_CHECK_POSSIBLE = duckdb_lock.LOCK_TABLE_READABLE
"""Without /proc/locks (macOS, Windows) every poll opens the database to learn about its lock."""


class DuckDBPipelineDriver(LockFixes, PipelineRuns, QualityRows, Driver):
    """DuckDB pipeline database + docker compose pipeline runs (seed 003)."""

    kind: ClassVar[str] = "duckdb"
    description: ClassVar[str] = "DuckDB/SQLMesh pipeline: lock holder, data quality, freshness, pipeline runs"
    panes: ClassVar[frozenset[Pane]] = frozenset({Pane.SERVICES, Pane.TABLES, Pane.LAG, Pane.JOBS})
    extra_checks = frozenset({"coverage", "freshness"})
    no_checks = frozenset({"table_files"})  # DuckDB tables have no data files to compact
    options: ClassVar[tuple[OptionSpec, ...]] = (
        OptionSpec("database", str, required=True, help="path of the pipeline's DuckDB file"),
        OptionSpec("compose_dir", str, default=".", help="directory holding docker-compose.yml"),
        OptionSpec("compose_service", str, default="pipeline", help="compose service that runs the steps"),
        OptionSpec("run_command", str, default="docker compose run --rm {service} {step}",
                   help="command template for a step; {service} and {step} are replaced, extra args appended"),
        OptionSpec("sla_hours", (int, float), default=2, help="pipeline runtime target (seed: < 2 hours)"),
        OptionSpec("run_timeout_hours", (int, float), default=4,
                   help="a run still going after this is stopped (seed level 3: > 4 hour delay)"),
        OptionSpec("quality_interval", (int, float), default=60,
                   help="seconds between full quality reads; polls in between only check the lock (/proc/locks) "
                        "and the file, without opening the database"),
        OptionSpec("pause_checks_during_runs", bool, default=True,
                   help="do not open the database while a run started here is going (it needs the write lock)"),
        OptionSpec("indicators_table", str, default="master.indicators"),
        OptionSpec("coverage_table", str, default="sources.sdg"),
        OptionSpec("anomaly_table", str, default="sources.wdi"),
        OptionSpec("natural_key", list, default=["indicator_id", "country_id", "year"]),
        OptionSpec("critical_fields", list, default=["indicator_id", "country_id", "year", "value"]),
        OptionSpec("loaded_at_column", str, default="loaded_at",
                   help="load-time column for freshness; without it the database file's mtime is used"),
        OptionSpec("coverage_since_year", int, default=2020),
        OptionSpec("expected_countries", int, default=0, help="0: every country the table ever reported"),
        OptionSpec("freshness_hours_max", (int, float), default=24, help="seed KPI: data freshness < 24 hours"),
        OptionSpec("completeness_min", (int, float), default=0.95, help="seed KPI: completeness > 95 %"),
        OptionSpec("coverage_min", (int, float), default=0.90),
        OptionSpec("zscore_threshold", (int, float), default=3.0),
        OptionSpec("history_limit", int, default=50, help="pipeline runs shown in the Jobs pane"),
        OptionSpec("stop_wait_seconds", (int, float), default=10,
                   help="how long stop_lock_holder waits for the lock to be released"),
    )
    actions: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("ingest", "Run ingest", "Converts the raw CSV files to Parquet and uploads them to the "
                   "environment's landing area (docker compose run --rm pipeline ingest).", params=("args",)),
        ActionSpec("etl", "Run etl", "Runs ingest and the SQLMesh transformations; rewrites the pipeline database "
                   "and the staging Parquet files (docker compose run --rm pipeline etl).", params=("args",)),
        ActionSpec("transform", "Run transform", "Runs the SQLMesh transformations only; rewrites the pipeline "
                   "database and the staging Parquet files.", params=("args",)),
        ActionSpec("config_test", "Test configuration", "Checks the pipeline's configuration and credentials; "
                   "changes no data.", mutating=False, params=("args",)),
        ActionSpec("checkpoint", "Checkpoint database", "Opens the database read-write for a moment and runs "
                   "CHECKPOINT, folding the write-ahead log (.wal) into the database file. Keeps every committed "
                   "change; refused while another process holds the lock."),
        ActionSpec("stop_lock_holder", "Stop the lock holder", "Sends SIGTERM to the process holding the "
                   "database lock (its pid and command are shown in the database row). Its open transaction is "
                   "rolled back; committed data stays in the .wal file, which is never deleted and is replayed "
                   "on the next open.", dangerous=True, params=("pid",)),
    )

    snapshot_ttl: ClassVar[float] = 2.0
    """Panes polled together share one open of the database."""

    def __init__(self, name: str, options: dict[str, Any], *, timeout: float = 10.0) -> None:
        merged = {o.name: o.default for o in self.options}
        merged.update({k: v for k, v in options.items() if v is not None})
        super().__init__(name, merged, timeout=timeout)
        self.database = str(Path(str(self.config["database"])).expanduser())
        self._snapshot: Snapshot | None = None
        self._full: Snapshot | None = None
        """Last snapshot with quality figures (a full read-only open)."""
        self._snapshot_lock: asyncio.Lock | None = None
        self._run: LiveRun | None = None
        self._reader = DuckDBReader()
        self.output_listeners: list[Callable[[str, str], None]] = []
        """Called with (run_id, line) for every output line of a pipeline run, as it arrives."""

    async def close(self) -> None:
        self._reader.close()
        await super().close()

    # ------------------------------------------------------------------ snapshot
    def _read_snapshot(self) -> Snapshot:
        """Open read-only, read every figure, close: one short shared lock (worker thread)."""
        path = self.database
        now = datetime.now(UTC)
        if not os.path.exists(path):
            return Snapshot(taken_at=now, path=path, exists=False)
        st = os.stat(path)
        wal = path + ".wal"
        wal_bytes, mtime = 0, st.st_mtime
        if os.path.exists(wal):
            wst = os.stat(wal)
            wal_bytes, mtime = wst.st_size, max(mtime, wst.st_mtime)
        base = {"taken_at": now, "path": path, "size_bytes": st.st_size, "wal_bytes": wal_bytes,
                "file_mtime": datetime.fromtimestamp(mtime, UTC)}
        import duckdb

        try:
            with self._reader.read_only(path) as con:
                return self._read_figures(con, base)
        except duckdb.Error as exc:
            message = str(exc)
            if duckdb_lock.is_lock_error(message):
                holder = duckdb_lock.find_lock_holder(path, message) or duckdb_lock.LockHolder(
                    pid=0, command="unknown process", found_by="duckdb-error")
                return Snapshot(holder=holder, **base)
            return Snapshot(error=message.splitlines()[0], **base)

    def _read_figures(self, con: Any, base: dict[str, Any]) -> Snapshot:
        cfg = self.config
        loaded_at = str(cfg["loaded_at_column"] or "")
        tables = tuple(quality.table_inventory(con, loaded_at))
        names = {t.qualified for t in tables}
        checks: dict[str, Any] = {}
        freshness: tuple[quality.SourceFreshness, ...] = ()
        indicators = str(cfg["indicators_table"])

        def run(check: str, table: str, fn: Callable[[], Any]) -> None:
            if table not in names:
                checks[check] = f"table {table} not found"
                return
            try:
                checks[check] = fn()
            except Exception as exc:
                checks[check] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"

        run("freshness", indicators, lambda: tuple(quality.source_freshness(con, indicators,
                                                                             loaded_at_column=loaded_at)))
        if isinstance(checks.get("freshness"), tuple):
            freshness = checks["freshness"]
        run("duplicates", indicators, lambda: quality.duplicates(con, indicators, tuple(cfg["natural_key"])))
        run("completeness", indicators, lambda: quality.completeness(con, indicators, tuple(cfg["critical_fields"])))
        cov = str(cfg["coverage_table"])
        run("coverage", cov, lambda: quality.coverage_by_year(
            con, cov, since_year=int(cfg["coverage_since_year"]), expected=int(cfg["expected_countries"])))
        anom = str(cfg["anomaly_table"])
        run("anomalies", anom, lambda: quality.zscore_anomalies(con, anom, threshold=float(cfg["zscore_threshold"])))
        return Snapshot(tables=tables, freshness=freshness, checks=checks, figures_at=base["taken_at"], **base)

    async def snapshot(self, *, max_age: float | None = None) -> Snapshot:
        """The latest database snapshot, reading a new one when older than ``max_age`` seconds."""
        if self._snapshot_lock is None:
            self._snapshot_lock = asyncio.Lock()
        ttl = self.snapshot_ttl if max_age is None else max_age
        async with self._snapshot_lock:
            snap = self._snapshot
            if snap is not None and (datetime.now(UTC) - snap.taken_at).total_seconds() < ttl:
                return snap
            if self._paused():
                if snap is not None:
                    return snap
                run = self._run
                raise DriverUnavailable(f"{self.name}: database not opened while pipeline "
                                        f"{run.step if run else ''} runs (it needs the write lock)")
            full = self._full
            age = None if full is None else (datetime.now(UTC) - (full.figures_at or full.taken_at)).total_seconds()
            if full is not None and age is not None and age < float(self.config["quality_interval"]) \
                    and LIGHT_CHECK_POSSIBLE:
                snap = await self.run_sync(self._light_snapshot, full, what=f"check the lock on {self.database}")
            else:
                snap = await self.run_sync(self._read_snapshot, what=f"read {self.database}")
                if snap.readable:
                    self._full = snap
            self._snapshot = snap
            return snap

    def _light_snapshot(self, full: Snapshot) -> Snapshot:
        """Lock holder and file sizes without opening the database; reuses ``full``'s figures.

        Opening read-only takes a shared lock that blocks the pipeline's writer,
        so between full reads only ``/proc/locks`` and ``stat`` are consulted.
        A read-only holder does not stop us reading; only a writer counts.
        """
        now = datetime.now(UTC)
        if not os.path.exists(self.database):
            return Snapshot(taken_at=now, path=self.database, exists=False)
        st = os.stat(self.database)
        wal = self.database + ".wal"
        wal_bytes, mtime = 0, st.st_mtime
        if os.path.exists(wal):
            wst = os.stat(wal)
            wal_bytes, mtime = wst.st_size, max(mtime, wst.st_mtime)
        writers = [h for h in duckdb_lock.holders_from_proc_locks(self.database)
                   if h.mode == "WRITE" and h.pid != os.getpid()]
        changes = {"taken_at": now, "size_bytes": st.st_size, "wal_bytes": wal_bytes,
                   "file_mtime": datetime.fromtimestamp(mtime, UTC)}
        if writers:
            return Snapshot(path=self.database, holder=writers[0], **changes)
        return dataclasses.replace(full, **changes)

    def _invalidate(self) -> None:
        """Forget every snapshot: the next poll opens the database (after runs and lock actions)."""
        self._snapshot = None
        self._full = None

    def _paused(self) -> bool:
        return bool(self._run is not None and self.config["pause_checks_during_runs"])

    # ------------------------------------------------------------------ panes
    async def health(self) -> list[ServiceStatus]:
        if self._paused() and self._snapshot is None:
            run = self._run
            assert run is not None
            return [ServiceStatus("duckdb", Health.OK, f"not opened: pipeline {run.step} is running and needs "
                                  f"the write lock", source=self.name, extra={"path": self.database})]
        snap = await self.snapshot()
        rows = [self._database_row(snap)]
        if snap.readable:
            rows.extend(self._quality_rows(snap))
        last = await asyncio.to_thread(self._last_run_row)
        if last is not None:
            rows.append(last)
        return rows

    def _database_row(self, snap: Snapshot) -> ServiceStatus:
        extra: dict[str, Any] = {"path": snap.path, "locked": snap.holder is not None}
        if not snap.exists:
            return ServiceStatus("duckdb", Health.CRITICAL, f"file not found: {snap.path}", source=self.name,
                                 checked_at=snap.taken_at, extra=extra)
        extra.update(size_bytes=snap.size_bytes, wal_bytes=snap.wal_bytes)
        if snap.holder is not None:
            h = snap.holder
            extra.update(holder_pid=h.pid, holder_command=h.command, holder_mode=h.mode)
            return ServiceStatus("duckdb", Health.CRITICAL,
                                 f"locked by {h.describe()}; stop it (stop_lock_holder) - never delete the .wal",
                                 source=self.name, checked_at=snap.taken_at, extra=extra)
        if snap.error:
            return ServiceStatus("duckdb", Health.CRITICAL, f"cannot open read-only: {snap.error}",
                                 source=self.name, checked_at=snap.taken_at, extra=extra)
        extra["tables"] = len(snap.tables)
        detail = f"{len(snap.tables)} tables, {human_size(snap.size_bytes)}"
        if snap.wal_bytes:
            detail += f" + {human_size(snap.wal_bytes)} WAL"
        figures_at = snap.figures_at or snap.taken_at
        extra["figures_at"] = figures_at.isoformat()
        if self._paused():
            detail += f"; figures from {figures_at.astimezone():%H:%M:%S} (run in progress)"
        elif (snap.taken_at - figures_at).total_seconds() >= 1:
            detail += f"; quality figures from {figures_at.astimezone():%H:%M:%S}"
        return ServiceStatus("duckdb", Health.OK, detail, source=self.name, checked_at=snap.taken_at, extra=extra)

    def _raise_unreadable(self, snap: Snapshot) -> None:
        if not snap.exists:
            raise DriverUnavailable(f"{self.name}: database file not found: {snap.path}")
        if snap.holder is not None:
            raise DriverUnavailable(f"{self.name}: database locked by {snap.holder.describe()}")
        if snap.error:
            raise DriverUnavailable(f"{self.name}: cannot open {snap.path} read-only: {snap.error}")
