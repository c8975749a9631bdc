"""Databricks workspace driver: app, SQL warehouse, statements, query history, clusters, jobs.

One driver type whose options choose the facets a platform needs (seed 000's
Ontos app + warehouse, seed 001's clusters, seed 004's job health). It talks to
the workspace through the real databricks-sdk (auth like the ``databricks``
CLI), imported lazily on the driver's worker thread. Long operations (app
restart, warehouse start, cluster restart, SQL statements) are polled from the
event loop with ``asyncio.sleep`` rather than the SDK's blocking waiters, so
they hold no thread while waiting, report each state change, and can be
cancelled (a cancelled statement is cancelled on the warehouse too).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from opsconsole.drivers.base import Driver, OptionSpec
from opsconsole.drivers.databricks import jobhealth, query_stats, rows
from opsconsole.drivers.databricks import sql as dsql
from opsconsole.drivers.databricks.actions import ResourceActions
from opsconsole.drivers.databricks.client import guarded, make_client
from opsconsole.drivers.databricks.options import ACTIONS, OPTIONS, facet_of
from opsconsole.drivers.databricks.statements import StatementActions
from opsconsole.errors import ActionRefused, DriverTimeout, DriverUnavailable
from opsconsole.model import ActionSpec, HealthScore, JobRun, Pane, QueryRecord, ServiceStatus

T = TypeVar("T")
Progress = Callable[[str], None] | None


class DatabricksDriver(ResourceActions, StatementActions, Driver):
    """A Databricks workspace seen through the facets its profile enables."""

    kind = "databricks"
    description = "Databricks workspace: app, SQL warehouse and statements, query history, clusters, job health"
    panes = frozenset({Pane.SERVICES, Pane.QUERIES, Pane.JOBS})
    extra_checks = frozenset({"app_down", "warehouse_down", "job_health", "job_duration_anomaly"})
    options: tuple[OptionSpec, ...] = OPTIONS
    actions: tuple[ActionSpec, ...] = ACTIONS

    def __init__(self, name: str, options: Mapping[str, Any], *, timeout: float = 10.0) -> None:
        super().__init__(name, options, timeout=timeout)
        self._client: Any = None
        self._client_lock: asyncio.Lock | None = None
        self._running: dict[str, str] = {}
        """Statements this driver started and still waits on: id -> SQL."""
        self._last_rows: dict[str, list[ServiceStatus]] = {}
        """Last good rows per facet, shown (as STALE) while that facet fails."""
        self.app = self._opt("app")
        self.warehouse_id = self._opt("warehouse_id")
        self.catalog = self._opt("catalog")
        self.schema = self._opt("schema")
        self.clusters = bool(self.config.get("clusters"))
        self.jobs = bool(self.config.get("jobs"))
        # Offer only what this profile's facets can do (the class lists everything).
        enabled = {"app": bool(self.app), "warehouse": bool(self.warehouse_id), "clusters": self.clusters,
                   "workspace": True}
        self.panes = frozenset({Pane.SERVICES}  # type: ignore[misc]
                               | ({Pane.QUERIES} if self.warehouse_id else set())
                               | ({Pane.JOBS} if self.jobs else set()))
        self.actions = tuple(a for a in ACTIONS if enabled[facet_of(a.name)])  # type: ignore[misc]

    def alert_checks(self) -> frozenset[str]:
        checks = set(super().alert_checks())
        if not self.app:
            checks.discard("app_down")
        if not self.warehouse_id:
            checks.discard("warehouse_down")
        if not self.jobs:
            checks -= {"job_health", "job_duration_anomaly"}
        return frozenset(checks)

    def _list_timeout(self) -> float:
        """Budget of a paged list (query history pages may take up to 10 s each server-side).

        Its own budget rather than one call's, but inside the 2 x timeout the
        poller gives a pane, so a slow list is reported by the driver, not cut.
        """
        value = self.config.get("list_timeout")
        return float(value) if value is not None else self.timeout * 1.8

    @classmethod
    def normalize_params(cls, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters as they will run, for the confirmation: a RESTORE timestamp becomes UTC with its offset."""
        out = dict(params)
        if action == "table-restore" and out.get("timestamp") not in (None, ""):
            try:
                out["timestamp"] = dsql.utc_timestamp(out["timestamp"]) + "+00:00"
            except ActionRefused:
                pass  # the action refuses it when it runs, with the reason
        return out

    # ------------------------------------------------------------------ plumbing
    def _opt(self, key: str) -> str | None:
        value = self.config.get(key)
        text = "" if value is None else str(value).strip()
        return text or None

    def _num(self, key: str, default: float) -> float:
        value = self.config.get(key)
        return float(default if value is None else value)

    async def _workspace(self) -> Any:
        """The WorkspaceClient, built once on the worker thread (SDK import + host probe)."""
        if self._client is None:
            if self._client_lock is None:
                self._client_lock = asyncio.Lock()
            async with self._client_lock:
                if self._client is None:
                    self._client = await self.run_sync(
                        guarded(lambda: make_client(self.config, self.timeout), "connect"),
                        what="connect to workspace", timeout=max(self.timeout * 2, 20.0))
        return self._client

    async def _call(self, what: str, fn: Callable[[Any], T], timeout: float | None = None) -> T:
        """Run ``fn(workspace_client)`` on the worker thread; errors come back typed."""
        client = await self._workspace()
        limit = self.timeout if timeout is None else timeout
        return await self.run_sync(guarded(lambda: fn(client), f"{self.name}: {what}", limit), what=what,
                                   timeout=limit)

    def _need(self, facet: str) -> None:
        missing = {"app": not self.app, "warehouse": not self.warehouse_id, "clusters": not self.clusters}
        if missing.get(facet):
            option = {"app": "app", "warehouse": "warehouse_id", "clusters": "clusters: true"}[facet]
            raise ActionRefused(f"{self.name}: no {facet} configured (set {option} in profiles.yaml)")

    async def _watch(self, what: str, probe: Callable[[], Awaitable[str]], done: Callable[[str], bool],
                     log: list[str], progress: Progress, started: float) -> str:
        """Poll ``probe`` every ``poll_interval`` until ``done(state)`` (like the seed's ``watch -n 5``).

        Each state change is logged with the elapsed time and passed to ``progress``.
        """
        deadline = time.monotonic() + self._num("action_timeout", 1200)
        interval = self._num("poll_interval", 5)
        last = None
        while True:
            try:
                state = await probe()
            except DriverUnavailable as exc:  # a throttled or dropped probe: the operation goes on; look again
                line = f"{time.monotonic() - started:6.1f}s  {what}: probe failed ({exc})"
                log.append(line)
                if progress:
                    progress(line)
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(max(interval, getattr(exc, "retry_after", 0.0)))
                continue
            if state != last:
                line = f"{time.monotonic() - started:6.1f}s  {what}: {state}"
                log.append(line)
                if progress:
                    progress(line)
                last = state
            if done(state):
                return state
            if time.monotonic() > deadline:
                raise DriverTimeout(f"{self.name}: {what} still {state} after {self._num('action_timeout', 1200):g}s")
            await asyncio.sleep(interval)

    # ------------------------------------------------------------------ Services pane
    async def health(self) -> list[ServiceStatus]:
        """One row per facet; a facet that fails becomes an UNKNOWN row unless all fail."""
        facets: list[tuple[str, Awaitable[list[ServiceStatus]]]] = []
        if self.app:
            facets.append((f"app {self.app}", self._app_rows()))
        if self.warehouse_id:
            facets.append((f"warehouse {self.warehouse_id}", self._warehouse_rows()))
        if self.warehouse_id and self._targets():
            facets.append(("query targets", self._target_rows()))
        if self.clusters:
            facets.append(("clusters", self._cluster_rows()))
        if self.jobs:
            facets.append(("jobs", self._job_rows()))
        if not (self.app or self.warehouse_id):  # identity row: the token works (runbooks check it)
            facets.insert(0, ("workspace", self._workspace_rows()))
        results = await asyncio.gather(*(f for _, f in facets), return_exceptions=True)
        found: list[ServiceStatus] = []
        failures: list[tuple[str, BaseException]] = []
        for (label, _), result in zip(facets, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                failures.append((label, result))
            else:
                found.extend(result)
        if failures and not found:
            raise failures[0][1]
        now = datetime.now(UTC)
        for label, exc in failures:
            found.extend(self._stale(label, exc, now))
        for label, result in zip((label for label, _ in facets), results, strict=True):
            if not isinstance(result, BaseException):
                self._last_rows[label] = list(result)
        return found

    def _stale(self, label: str, exc: BaseException, now: datetime) -> list[ServiceStatus]:
        """A failed facet: its last rows, UNKNOWN and saying why and since when, or one error row.

        Never blind (the last data stays in view), never lying (it is not shown as current health).
        """
        previous = self._last_rows.get(label)
        if not previous:
            return [ServiceStatus(name=label, health=rows.Health.UNKNOWN, detail=str(exc), checked_at=now,
                                  source=self.name)]
        return [ServiceStatus(name=row.name, health=rows.Health.UNKNOWN,
                              detail=f"STALE {exc} · last seen {row.checked_at:%H:%M:%S} UTC: {row.detail}",
                              latency_ms=None, checked_at=row.checked_at, source=self.name,
                              extra={**row.extra, "stale": True, "error": str(exc)}) for row in previous]

    async def _timed(self, what: str, fn: Callable[[Any], T]) -> tuple[T, float]:
        """Result and round-trip milliseconds of one call (client set-up excluded)."""
        await self._workspace()
        start = time.perf_counter()
        value = await self._call(what, fn)
        return value, (time.perf_counter() - start) * 1000.0

    async def _workspace_rows(self) -> list[ServiceStatus]:
        me, ms = await self._timed("current user", lambda w: w.current_user.me().as_dict())
        return [ServiceStatus(name="workspace", health=rows.Health.OK, detail=f"signed in as {me.get('userName', '?')}",
                              latency_ms=ms, checked_at=datetime.now(UTC), source=self.name,
                              extra={"kind": "workspace"})]

    async def _app_rows(self) -> list[ServiceStatus]:
        app, ms = await self._timed(f"get app {self.app}", lambda w: w.apps.get(self.app).as_dict())
        return [rows.app_status(app, source=self.name, checked_at=datetime.now(UTC), latency_ms=ms)]

    async def _warehouse_rows(self) -> list[ServiceStatus]:
        wh, ms = await self._timed(f"get warehouse {self.warehouse_id}",
                                   lambda w: w.warehouses.get(self.warehouse_id).as_dict())
        return [rows.warehouse_status(wh, source=self.name, checked_at=datetime.now(UTC), latency_ms=ms)]

    def _targets(self) -> dict[str, float]:
        keys = {"p50_ms_target": "p50_ms", "p99_ms_target": "p99_ms", "error_rate_target": "error_rate"}
        return {arg: float(self.config[key]) for key, arg in keys.items() if self.config.get(key) is not None}

    async def _target_rows(self) -> list[ServiceStatus]:
        """Seed 001's p50/p99/error-rate targets against the warehouse's recent query history."""
        minutes = self._num("targets_minutes", 60)
        records = await self.query_history(limit=999, since=datetime.now(UTC) - timedelta(minutes=minutes))
        checks = query_stats.target_checks(records, **self._targets())
        missed = [c for c in checks if c.met is False]
        health = rows.Health.WARNING if missed else rows.Health.OK if any(c.met for c in checks) \
            else rows.Health.UNKNOWN
        detail = " · ".join(c.describe() for c in checks) + f" · last {minutes:g} min, {len(records)} queries"
        return [ServiceStatus(name="query targets", health=health, detail=detail, checked_at=datetime.now(UTC),
                              source=self.name,
                              extra={"kind": "query-targets", "missed": [c.name for c in missed],
                                     **{c.name.replace(" ", "_"): c.value for c in checks}})]

    async def _list_clusters(self) -> list[dict[str, Any]]:
        """Interactive (UI/API) clusters only, at most ``clusters_max``.

        A real workspace also lists every job cluster terminated in the last 30
        days: hundreds of rows that are neither actionable nor a warning.
        """
        cap = int(self._num("clusters_max", 100))

        def fetch(w: Any) -> list[dict[str, Any]]:
            from databricks.sdk.service.compute import ClusterSource, ListClustersFilterBy

            wanted = ListClustersFilterBy(cluster_sources=[ClusterSource.UI, ClusterSource.API])
            return [c.as_dict() for c in itertools.islice(w.clusters.list(filter_by=wanted, page_size=100), cap)]

        return await self._call("list clusters", fetch, timeout=self._list_timeout())

    async def _cluster_rows(self) -> list[ServiceStatus]:
        now = datetime.now(UTC)
        return [rows.cluster_status(c, source=self.name, checked_at=now) for c in await self._list_clusters()]

    async def _job_rows(self) -> list[ServiceStatus]:
        runs = await self.job_runs()
        anomalies = jobhealth.duration_anomalies(runs)
        now = datetime.now(UTC)
        result = []
        for score in jobhealth.health_scores(runs):
            mine = [a for a in anomalies if a.job == score.job]
            detail = (f"score {score.score:.0f} · success {score.success_rate:.0%} · stability {score.stability:.2f}"
                      f" · trend {score.trend} · {score.runs} runs")
            if mine:
                worst = mine[0]
                detail += (f" · {len(mine)} duration anomal{'y' if len(mine) == 1 else 'ies'} "
                           f"(run {worst.run_id}: {worst.duration_s:.0f}s vs usual {worst.baseline_s:.0f}s)")
            result.append(ServiceStatus(
                name=f"job {score.job}", health=jobhealth.score_health(score, len(mine)), detail=detail,
                checked_at=now, source=self.name,
                extra={"kind": "job", "score": score.score, "success_rate": score.success_rate,
                       "stability": score.stability, "trend": score.trend, "anomalies": len(mine)}))
        return result

    # ------------------------------------------------------------------ Queries pane
    async def query_history(self, limit: int = 200, *, warehouse_id: str | None = None,
                            since: datetime | None = None, until: datetime | None = None) -> list[QueryRecord]:
        """Most recent queries first from the Query History API, filtered by warehouse and start time."""
        wid = warehouse_id or self.warehouse_id
        start = since or datetime.now(UTC) - timedelta(hours=self._num("history_hours", 24))
        limit = max(1, int(limit))

        def fetch(w: Any) -> list[dict[str, Any]]:
            from databricks.sdk.service.sql import QueryFilter, TimeRange

            window = TimeRange(start_time_ms=int(start.timestamp() * 1000),
                               end_time_ms=int(until.timestamp() * 1000) if until else None)
            flt = QueryFilter(warehouse_ids=[wid] if wid else None, query_start_time_range=window)
            found: list[dict[str, Any]] = []
            token = None
            while len(found) < limit:
                page = w.query_history.list(filter_by=flt, max_results=min(limit - len(found), 999),
                                            page_token=token)
                found.extend(q.as_dict() for q in page.res or [])
                token = page.next_page_token
                if not token or not page.has_next_page:
                    break
            return found[:limit]

        infos = await self._call("query history", fetch, timeout=self._list_timeout())
        return [rows.query_record(q, source=self.name) for q in infos]

    async def query_buckets(self, width: timedelta = timedelta(hours=1)) -> list[query_stats.BucketStats]:
        """Error rate and p95 per bucket of the recent history (seed 000's monitoring views)."""
        return query_stats.per_bucket(await self.query_history(limit=1000), width)

    # ------------------------------------------------------------------ Jobs pane
    async def job_runs(self) -> list[JobRun]:
        """Runs started in the last ``jobs_days`` days, most recent first, at most ``jobs_runs_per_job`` per job.

        The Jobs API lists every job's runs newest first; a global cap let one
        job running every minute crowd the daily jobs out of the window, so the
        cap is per job, and ``jobs_max_runs`` only bounds how many runs a poll
        may scan.
        """
        if not self.jobs:
            return []
        since = datetime.now(UTC) - timedelta(days=self._num("jobs_days", 7))
        per_job = int(self._num("jobs_runs_per_job", 50))
        scan = int(self._num("jobs_max_runs", 5000))

        def fetch(w: Any) -> list[dict[str, Any]]:
            kept: list[dict[str, Any]] = []
            counts: dict[Any, int] = {}
            runs = w.jobs.list_runs(start_time_from=int(since.timestamp() * 1000), limit=25, expand_tasks=False)
            for run in itertools.islice(runs, scan):
                key = run.job_id if run.job_id is not None else run.run_name
                if counts.get(key, 0) < per_job:
                    counts[key] = counts.get(key, 0) + 1
                    kept.append(run.as_dict())
            return kept

        found = await self._call("list job runs", fetch, timeout=self._list_timeout())
        return [rows.job_run(r, source=self.name) for r in found]

    async def job_health(self) -> list[HealthScore]:
        """Per-job health score 0-100, worst first (seed 004)."""
        return jobhealth.health_scores(await self.job_runs())

    async def job_anomalies(self) -> list[jobhealth.DurationAnomaly]:
        """Runs with unusual durations, most extreme first (seed 004)."""
        return jobhealth.duration_anomalies(await self.job_runs())
