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
import collections
import dataclasses
import hashlib
import json
import os
import shlex
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from opsconsole.drivers.base import Driver, OptionSpec
from opsconsole.drivers.duckdb import lock as duckdb_lock
from opsconsole.drivers.duckdb import quality
from opsconsole.drivers.duckdb.reader import DuckDBReader
from opsconsole.errors import ActionRefused, DriverError, DriverUnavailable
from opsconsole.humanize import hms
from opsconsole.humanize import size as human_size
from opsconsole.model import ActionResult, ActionSpec, Health, JobRun, LagSample, Pane, ServiceStatus, TableStats

PIPELINE_STEPS = ("ingest", "etl", "transform", "config_test")
DB_STEPS = frozenset({"etl", "transform"})
"""Steps that open the database read-write (SQLMesh); refused while someone holds its lock."""
OUTPUT_TAIL = 200
HISTORY_MAX_BYTES = 1_000_000
HISTORY_KEEP_LINES = 2_000
LIGHT_CHECK_POSSIBLE = os.path.exists("/proc/locks")
"""Without /proc/locks (macOS, Windows) every poll opens the database to learn about its lock."""


def data_dir() -> Path:
    """Base directory for opsconsole's own data (``OPSCONSOLE_DATA_DIR`` overrides)."""
    override = os.environ.get("OPSCONSOLE_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("opsconsole"))


def _aware(ts: datetime) -> datetime:
    """DuckDB TIMESTAMP is naive; the pipeline writes local time, so read it as such."""
    return ts.astimezone() if ts.tzinfo is None else ts


# --------------------------------------------------------------------------- snapshot
@dataclass(frozen=True)
class _Snapshot:
    """Everything one read-only open of the database produced."""

    taken_at: datetime
    path: str
    exists: bool = True
    holder: duckdb_lock.LockHolder | None = None
    error: str = ""
    size_bytes: int = 0
    wal_bytes: int = 0
    file_mtime: datetime | None = None
    tables: tuple[quality.TableInfo, ...] = ()
    freshness: tuple[quality.SourceFreshness, ...] = ()
    checks: dict[str, Any] = field(default_factory=dict)
    """check name -> report object, or an error string when the check could not run."""
    figures_at: datetime | None = None
    """When the quality figures were read (they are reused between full reads)."""

    @property
    def readable(self) -> bool:
        return self.exists and self.holder is None and not self.error


@dataclass
class _LiveRun:
    run_id: str
    step: str
    command: list[str]
    started: float
    started_at: datetime
    pid: int | None = None
    lines: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=OUTPUT_TAIL))


class DuckDBPipelineDriver(Driver):
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
        self._snapshot: _Snapshot | None = None
        self._full: _Snapshot | None = None
        """Last snapshot with quality figures (a full read-only open)."""
        self._snapshot_lock: asyncio.Lock | None = None
        self._run: _LiveRun | None = None
        self._reader = DuckDBReader()
        self.output_listeners: list[Callable[[str, str], None]] = []
        """Called with (run_id, line) for every output line of a pipeline run, as it arrives."""

    async def close(self) -> None:
        self._reader.close()
        await super().close()

    # ------------------------------------------------------------------ snapshot
    def _read_snapshot(self) -> _Snapshot:
        """Open read-only, read every figure, close: one short shared lock (worker thread)."""
        path = self.database
        now = datetime.now(UTC)
        if not os.path.exists(path):
            return _Snapshot(taken_at=now, path=path, exists=False)
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
                return _Snapshot(holder=holder, **base)
            return _Snapshot(error=message.splitlines()[0], **base)

    def _read_figures(self, con: Any, base: dict[str, Any]) -> _Snapshot:
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
        return _Snapshot(tables=tables, freshness=freshness, checks=checks, figures_at=base["taken_at"], **base)

    async def snapshot(self, *, max_age: float | None = None) -> _Snapshot:
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

    def _light_snapshot(self, full: _Snapshot) -> _Snapshot:
        """Lock holder and file sizes without opening the database; reuses ``full``'s figures.

        Opening read-only takes a shared lock that blocks the pipeline's writer,
        so between full reads only ``/proc/locks`` and ``stat`` are consulted.
        A read-only holder does not stop us reading; only a writer counts.
        """
        now = datetime.now(UTC)
        if not os.path.exists(self.database):
            return _Snapshot(taken_at=now, path=self.database, exists=False)
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
            return _Snapshot(path=self.database, holder=writers[0], **changes)
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

    def _database_row(self, snap: _Snapshot) -> ServiceStatus:
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

    def _freshness_hours(self, snap: _Snapshot) -> dict[str, tuple[float, str]]:
        """source -> (hours since its last load, where the time came from)."""
        out: dict[str, tuple[float, str]] = {}
        for f in snap.freshness:
            if f.last_loaded is not None:
                ts, basis = _aware(f.last_loaded), str(self.config["loaded_at_column"])
            elif snap.file_mtime is not None:
                ts, basis = snap.file_mtime, "database file mtime"
            else:
                continue
            out[f.source] = (max(0.0, (snap.taken_at - ts).total_seconds() / 3600), basis)
        return out

    def _quality_rows(self, snap: _Snapshot) -> list[ServiceStatus]:
        cfg = self.config
        rows: list[ServiceStatus] = []

        def row(name: str, health: Health, detail: str, **extra: Any) -> None:
            rows.append(ServiceStatus(name, health, detail, source="quality", checked_at=snap.figures_at,
                                      extra={"driver": self.name, **extra}))

        def failed(name: str) -> bool:
            value = snap.checks.get(name)
            if isinstance(value, str):
                row(name, Health.UNKNOWN, value)
                return True
            return value is None

        if not failed("freshness"):
            hours = self._freshness_hours(snap)
            limit = float(cfg["freshness_hours_max"])
            if hours:
                worst = max(hours, key=lambda s: hours[s][0])
                lag, basis = hours[worst]
                years = {f.source: f.latest_year for f in snap.freshness}
                row("freshness", Health.WARNING if lag > limit else Health.OK,
                    f"{worst}: loaded {lag:.1f} h ago (target < {limit:g} h, from {basis}); "
                    f"latest year {years.get(worst)}",
                    freshness_hours=lag, by_source={s: h for s, (h, _) in hours.items()},
                    latest_year=years, records={f.source: f.records for f in snap.freshness})
            else:
                row("freshness", Health.UNKNOWN, f"{cfg['indicators_table']} is empty")
        if not failed("completeness"):
            c: quality.Completeness = snap.checks["completeness"]
            limit = float(cfg["completeness_min"])
            worst_field = min(c.by_field, key=lambda k: c.by_field[k])
            row("completeness", Health.OK if c.ratio > limit or c.rows == 0 else Health.WARNING,
                f"{c.ratio:.1%} of {c.rows} rows have every critical field (target > {limit:.0%}); "
                f"least filled: {worst_field} {c.by_field[worst_field]:.1%}",
                completeness=c.ratio, by_field=dict(c.by_field), rows=c.rows)
        if not failed("duplicates"):
            d: quality.DuplicateReport = snap.checks["duplicates"]
            key = ", ".join(cfg["natural_key"])
            detail = f"{d.groups} duplicated keys ({d.extra_rows} extra rows) on ({key})"
            if d.sample:
                detail += "; e.g. " + " / ".join(str(s[:-1]) + f" x{s[-1]}" for s in d.sample[:2])
            row("duplicates", Health.WARNING if d.groups else Health.OK, detail,
                duplicates=d.extra_rows, duplicate_keys=d.groups)
        if not failed("coverage"):
            years: list[quality.YearCoverage] = list(snap.checks["coverage"])
            limit = float(cfg["coverage_min"])
            if years:
                worst_year = min(years, key=lambda y: (y.ratio, -y.year))
                row("coverage", Health.WARNING if worst_year.ratio < limit else Health.OK,
                    f"lowest {worst_year.year}: {worst_year.countries}/{worst_year.expected} countries "
                    f"({worst_year.ratio:.0%}, target >= {limit:.0%}) in {cfg['coverage_table']}",
                    coverage=worst_year.ratio, coverage_year=worst_year.year,
                    by_year={y.year: y.ratio for y in years})
            else:
                row("coverage", Health.UNKNOWN,
                    f"no rows since {cfg['coverage_since_year']} in {cfg['coverage_table']}")
        if not failed("anomalies"):
            a: quality.AnomalyReport = snap.checks["anomalies"]
            detail = f"{a.count} values with |z| > {a.threshold:g} in {cfg['anomaly_table']}"
            if a.top:
                t = a.top[0]
                detail += f"; worst {t.indicator_id} {t.country_id} {t.year}: {t.value:g} (z {t.z_score:.1f})"
            row("anomalies", Health.WARNING if a.count else Health.OK, detail, anomalies=a.count)
        return rows

    async def table_stats(self) -> list[TableStats]:
        snap = await self.snapshot()
        self._raise_unreadable(snap)
        return [TableStats(name=t.qualified, file_count=None, row_count=t.rows,
                           last_commit=_aware(t.last_loaded) if t.last_loaded else None,
                           layer=t.schema, source=self.name) for t in snap.tables]

    async def lag(self) -> list[LagSample]:
        """Freshness per source as lag in **hours** (the seed's target is "< 24 hours").

        Hours, not seconds, so the figure reads as the KPI does and is compared
        with the profile's ``freshness_hours_max``, not with ``lag_seconds_max``.
        """
        snap = await self.snapshot()
        self._raise_unreadable(snap)
        years = {f.source: f for f in snap.freshness}
        return [LagSample(name=f"freshness {src}", lag=hours, unit="hours", measured_at=snap.taken_at,
                          detail=f"latest year {years[src].latest_year}, {years[src].records} records; "
                                 f"last load from {basis}", source=self.name)
                for src, (hours, basis) in self._freshness_hours(snap).items()]

    def _raise_unreadable(self, snap: _Snapshot) -> None:
        if not snap.exists:
            raise DriverUnavailable(f"{self.name}: database file not found: {snap.path}")
        if snap.holder is not None:
            raise DriverUnavailable(f"{self.name}: database locked by {snap.holder.describe()}")
        if snap.error:
            raise DriverUnavailable(f"{self.name}: cannot open {snap.path} read-only: {snap.error}")

    # ------------------------------------------------------------------ lock actions
    def describe_effect(self, action: str) -> str:
        """The action's effect with the current lock holder named (for confirmations)."""
        effect = self.action(action).effect
        snap = self._snapshot
        if action in {"stop_lock_holder", "checkpoint"} and snap is not None and snap.holder is not None:
            effect += f" Current holder: {snap.holder.describe()}."
        return effect

    def _locate_holder(self) -> duckdb_lock.LockHolder | None:
        """Holder via /proc/locks; else ask DuckDB (non-Linux, or a holder /proc does not show)."""
        holder = duckdb_lock.find_lock_holder(self.database)
        if holder is not None or not os.path.exists(self.database):
            return holder
        import duckdb

        try:
            duckdb.connect(self.database, read_only=True).close()
        except Exception as exc:
            if duckdb_lock.is_lock_error(str(exc)):
                return duckdb_lock.find_lock_holder(self.database, str(exc))
        return None

    async def action_stop_lock_holder(self, pid: int | str | None = None) -> ActionResult:
        holder = await self.run_sync(self._locate_holder, what="find the lock holder")
        if holder is None:
            return ActionResult(False, f"no process holds a lock on {self.database}; nothing to stop")
        if pid not in (None, "") and int(pid) != holder.pid:
            raise ActionRefused(f"pid {pid} does not hold the lock on {self.database}; "
                                f"the holder now is {holder.describe()}")
        if holder.pid == os.getpid():
            raise ActionRefused("the lock is held by this console itself; close its connection instead")
        if holder.pid <= 0:
            raise ActionRefused(f"the lock holder of {self.database} could not be identified")
        try:
            os.kill(holder.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        except PermissionError:
            return ActionResult(False, f"not allowed to signal {holder.describe()}; stop it as its owner")
        started = time.monotonic()
        wait = float(self.config["stop_wait_seconds"])
        while time.monotonic() - started < wait:
            if not await self.run_sync(duckdb_lock.still_holds, self.database, holder.pid, what="check the lock"):
                self._invalidate()
                return ActionResult(True, f"sent SIGTERM to {holder.describe()}; lock released after "
                                          f"{time.monotonic() - started:.1f}s. The .wal is kept and replayed on "
                                          f"the next open; run checkpoint to fold it in.")
            await asyncio.sleep(0.2)
        return ActionResult(False, f"sent SIGTERM to {holder.describe()}, but it still holds the lock after "
                                   f"{wait:g}s; no stronger signal was sent")

    def _checkpoint(self) -> tuple[int, int] | str:
        """WAL sizes before and after a CHECKPOINT, or who holds the lock (worker thread)."""
        import duckdb

        wal = self.database + ".wal"
        before = os.path.getsize(wal) if os.path.exists(wal) else 0
        try:
            con = duckdb.connect(self.database)
        except Exception as exc:
            message = str(exc)
            if duckdb_lock.is_lock_error(message):
                holder = duckdb_lock.find_lock_holder(self.database, message)
                return holder.describe() if holder else "another process"
            raise
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()
        after = os.path.getsize(wal) if os.path.exists(wal) else 0
        return before, after

    async def action_checkpoint(self) -> ActionResult:
        if not os.path.exists(self.database):
            return ActionResult(False, f"database file not found: {self.database}")
        if self._run is not None and self._run.step in DB_STEPS:
            raise ActionRefused(f"pipeline {self._run.step} is running; checkpoint after it finishes")
        async with self._lock():
            outcome = await self.run_sync(self._checkpoint, what="checkpoint")
            self._invalidate()
        if isinstance(outcome, str):
            raise ActionRefused(f"checkpoint refused: {self.database} is locked by {outcome}; "
                                f"stop it first (stop_lock_holder)")
        before, after = outcome
        return ActionResult(True, f"checkpointed {self.database}: WAL {human_size(before)} -> {human_size(after)}")

    def _lock(self) -> asyncio.Lock:
        if self._snapshot_lock is None:
            self._snapshot_lock = asyncio.Lock()
        return self._snapshot_lock

    # ------------------------------------------------------------------ pipeline runs
    async def action_ingest(self, args: str = "") -> ActionResult:
        return await self.run_step("ingest", args)

    async def action_etl(self, args: str = "") -> ActionResult:
        return await self.run_step("etl", args)

    async def action_transform(self, args: str = "") -> ActionResult:
        return await self.run_step("transform", args)

    async def action_config_test(self, args: str = "") -> ActionResult:
        return await self.run_step("config_test", args)

    def command_for(self, step: str, args: str = "") -> list[str]:
        """The argv a step runs: the ``run_command`` template plus extra arguments."""
        if step not in PIPELINE_STEPS:
            raise DriverError(f"unknown pipeline step {step!r} (steps: {', '.join(PIPELINE_STEPS)})")
        service = str(self.config["compose_service"])
        argv = [t.replace("{service}", service).replace("{step}", step)
                for t in shlex.split(str(self.config["run_command"]))]
        return argv + (shlex.split(args) if args else [])

    async def run_step(self, step: str, args: str = "") -> ActionResult:
        """Run one pipeline step to completion, streaming its output and recording it."""
        argv = self.command_for(step, args)
        if self._run is not None:
            raise ActionRefused(f"pipeline {self._run.step} is already running (run {self._run.run_id}); "
                                f"one run at a time")
        cwd = Path(str(self.config["compose_dir"])).expanduser()
        if not cwd.is_dir():
            raise ActionRefused(f"compose_dir {cwd} is not a directory")
        async with self._lock():
            if step in DB_STEPS:
                holder = await self.run_sync(duckdb_lock.find_lock_holder, self.database, what="check the lock")
                if holder is not None:
                    raise ActionRefused(f"pipeline {step} would fail: {self.database} is locked by "
                                        f"{holder.describe()}")
            started_at = datetime.now(UTC)
            run = _LiveRun(run_id=started_at.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid() % 1000:03d}{step[:3]}",
                           step=step, command=argv, started=time.monotonic(), started_at=started_at)
            self._run = run
        sla = float(self.config["sla_hours"]) * 3600
        self._history_append({"run_id": run.run_id, "step": step, "args": args, "command": argv,
                              "state": "RUNNING", "started_at": started_at.isoformat(), "sla_s": sla})
        state, code, message = "FAILED", None, ""
        try:
            code = await self._execute(run, cwd, float(self.config["run_timeout_hours"]) * 3600)
            state = "SUCCESS" if code == 0 else "FAILED"
        except asyncio.CancelledError:
            state, message = "CANCELED", "canceled from the console"
            raise
        except TimeoutError:
            state, message = "FAILED", f"stopped after the {float(self.config['run_timeout_hours']):g} h run timeout"
        except OSError as exc:
            state, message = "FAILED", f"could not start {argv[0]}: {exc.strerror or exc}"
        finally:
            duration = time.monotonic() - run.started
            self._run = None
            self._invalidate()
            self._history_append({"run_id": run.run_id, "step": step, "args": args, "command": argv,
                                  "state": state, "exit_code": code, "started_at": started_at.isoformat(),
                                  "duration_s": round(duration, 3), "sla_s": sla, "message": message,
                                  "tail": list(run.lines)[-20:]})
        sla_note = (f"over the {hms(sla)} SLA" if duration > sla else f"within the {hms(sla)} SLA")
        verb = "succeeded" if state == "SUCCESS" else "failed"
        summary = (f"pipeline {step} {verb} in {hms(duration)} ({sla_note})"
                   + (f", exit {code}" if code is not None else "") + (f": {message}" if message else ""))
        return ActionResult(state == "SUCCESS", summary, output="\n".join(run.lines))

    async def _execute(self, run: _LiveRun, cwd: Path, timeout: float) -> int:
        proc = await asyncio.create_subprocess_exec(
            *run.command, cwd=str(cwd), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        run.pid = proc.pid

        async def pump() -> None:
            assert proc.stdout is not None
            while True:
                raw = await proc.stdout.readline()
                if not raw:
                    break
                line = raw.decode(errors="replace").rstrip("\r\n")
                run.lines.append(line)
                for listener in list(self.output_listeners):
                    try:
                        listener(run.run_id, line)
                    except Exception:
                        self.output_listeners.remove(listener)
            await proc.wait()

        try:
            await asyncio.wait_for(pump(), timeout)
        except BaseException:
            _terminate_group(proc.pid)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                _terminate_group(proc.pid, signal.SIGKILL)
            raise
        return int(proc.returncode if proc.returncode is not None else -1)

    def live_output(self) -> list[str]:
        """Output lines of the run in progress (empty when idle)."""
        return list(self._run.lines) if self._run is not None else []

    # ------------------------------------------------------------------ history
    @property
    def history_path(self) -> Path:
        where = os.path.abspath(os.path.expanduser(str(self.config["compose_dir"]))) + "|" + self.database
        digest = hashlib.sha1(where.encode()).hexdigest()[:8]
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.name)
        return data_dir() / "pipeline-runs" / f"{safe}-{digest}.jsonl"

    def _history_append(self, record: dict[str, Any]) -> None:
        path = self.history_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
        if path.stat().st_size > HISTORY_MAX_BYTES:
            # Keep the newest records; the file is read on every poll.
            lines = path.read_text(encoding="utf-8").splitlines()[-HISTORY_KEEP_LINES:]
            tmp = path.with_suffix(".tmp")
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
            tmp.replace(path)

    def run_history(self) -> list[dict[str, Any]]:
        """Recorded runs, newest first (the last record of each run wins)."""
        try:
            lines = self.history_path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        runs: dict[str, dict[str, Any]] = {}
        for line in lines:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "run_id" in rec:
                runs[rec["run_id"]] = rec
        return sorted(runs.values(), key=lambda r: str(r.get("started_at", "")), reverse=True)

    async def job_runs(self) -> list[JobRun]:
        records = (await asyncio.to_thread(self.run_history))[: int(self.config["history_limit"])]
        live = self._run
        out: list[JobRun] = []
        for rec in records:
            started = _parse_ts(rec.get("started_at"))
            sla = float(rec.get("sla_s") or float(self.config["sla_hours"]) * 3600)
            state = str(rec.get("state", "UNKNOWN"))
            duration = rec.get("duration_s")
            if state == "RUNNING":
                if live is not None and live.run_id == rec["run_id"]:
                    duration = time.monotonic() - live.started
                    detail = live.lines[-1] if live.lines else "started"
                else:
                    state, detail = "UNKNOWN", "console exited before the run finished"
            else:
                detail = _run_detail(rec, sla)
            if duration is not None and state in {"RUNNING", "SUCCESS"} and float(duration) > sla:
                detail = f"over {hms(sla)} SLA; " + detail
            out.append(JobRun(job=f"pipeline {rec.get('step')}", run_id=str(rec["run_id"]), state=state,
                              started_at=started, duration_s=None if duration is None else float(duration),
                              detail=detail, source=self.name))
        return out

    def _last_run_row(self) -> ServiceStatus | None:
        try:
            records = self.run_history()
        except Exception:
            return None
        done = [r for r in records if r.get("state") != "RUNNING"]
        if not done:
            return None
        rec = done[0]
        sla = float(rec.get("sla_s") or float(self.config["sla_hours"]) * 3600)
        duration = float(rec.get("duration_s") or 0)
        state = str(rec.get("state"))
        health = Health.OK if state == "SUCCESS" else Health.CRITICAL
        if health is Health.OK and duration > sla:
            health = Health.WARNING
        detail = f"last {rec.get('step')} {state.lower()} in {hms(duration)} (SLA {hms(sla)})"
        return ServiceStatus("pipeline runs", health, detail, source=self.name,
                             checked_at=_parse_ts(rec.get("started_at")),
                             extra={"state": state, "duration_s": duration, "sla_s": sla,
                                    "exit_code": rec.get("exit_code")})


def _run_detail(rec: dict[str, Any], sla: float) -> str:
    parts = []
    if rec.get("exit_code") is not None:
        parts.append(f"exit {rec['exit_code']}")
    if rec.get("message"):
        parts.append(str(rec["message"]))
    tail = rec.get("tail") or []
    if tail and rec.get("state") != "SUCCESS":
        parts.append(str(tail[-1]))
    parts.append(f"SLA {hms(sla)}")
    return "; ".join(parts)


def _parse_ts(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _terminate_group(pid: int, sig: int = signal.SIGTERM) -> None:
    """Signal the run's whole process group (docker compose starts children)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
