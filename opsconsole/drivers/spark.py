"""Spark standalone master: status, workers and applications from ``/json/``.

Seed 002 runs its batch layers (staging, semantic, marts) and maintenance jobs as
``spark-submit --master spark://spark-master:7077``; when the pipeline is slow the
runbook asks whether Spark has workers and free cores, and which applications are
running. The master's web UI serves all of that as one JSON document, so one GET
per poll fills both panes: the master and each worker in Services, running and
completed applications (and cluster-mode drivers) in Jobs, with Spark's states in
lower case (``failed`` there is a pipeline failure for the alert rules).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from opsconsole.drivers.base import OptionSpec
from opsconsole.drivers.http_json import HttpJsonDriver, from_millis
from opsconsole.errors import DriverError, DriverUnavailable
from opsconsole.model import Health, JobRun, Pane, ServiceStatus

if TYPE_CHECKING:
    pass  # imported where used: httpx pulls in rich when it is installed

MASTER_HEALTH: Mapping[str, Health] = {
    "ALIVE": Health.OK,
    "STANDBY": Health.OK,  # the idle half of an HA pair is doing its job
    "RECOVERING": Health.WARNING,
    "COMPLETING_RECOVERY": Health.WARNING,
}
WORKER_HEALTH: Mapping[str, Health] = {
    "ALIVE": Health.OK,
    "DECOMMISSIONED": Health.WARNING,
    "UNKNOWN": Health.UNKNOWN,
    "DEAD": Health.CRITICAL,
}


class SparkDriver(HttpJsonDriver):
    """One Spark standalone master (its web UI's JSON endpoint)."""

    kind: ClassVar[str] = "spark"
    service_label: ClassVar[str] = "the Spark master"
    description: ClassVar[str] = "Spark standalone master: status, workers, running/completed applications"
    panes: ClassVar[frozenset[Pane]] = frozenset({Pane.SERVICES, Pane.JOBS})
    options: ClassVar[tuple[OptionSpec, ...]] = (
        OptionSpec("url", str, required=True, help="master web UI base URL, e.g. http://localhost:8080"),
        OptionSpec("completed_limit", int, default=20,
                   help="most recent completed applications shown in the Jobs pane"),
        OptionSpec("verify_tls", bool, default=True, help="verify the server's TLS certificate"),
    )

    async def master_state(self) -> dict[str, Any]:
        """The master's ``/json/`` document (the trailing slash matters)."""
        response = await self._send("GET", "/json/")
        if response.status_code >= 400:
            raise DriverUnavailable(f"{self.name}: GET /json/ failed with HTTP {response.status_code} "
                                    f"(is {self.base} a Spark master web UI?)")
        try:
            return response.json()
        except ValueError as exc:
            raise DriverError(f"{self.name}: {self.base}/json/ did not return JSON "
                              "(is this a Spark standalone master web UI?)") from exc

    async def health(self) -> list[ServiceStatus]:
        """The master (status, capacity, running apps) and one row per worker."""
        started = time.perf_counter()
        now = datetime.now(UTC)
        try:
            state = await self.master_state()
        except DriverError as exc:
            return [ServiceStatus(name=self.name, health=Health.CRITICAL, detail=str(exc), checked_at=now,
                                  source=self.name, extra={"url": self.base})]
        latency = (time.perf_counter() - started) * 1000
        status = str(state.get("status", "UNKNOWN"))
        workers = state.get("workers") or []
        alive = int(state.get("aliveworkers", sum(1 for w in workers if w.get("state") == "ALIVE")))
        detail = (f"{status.lower()}, {alive}/{len(workers)} worker(s) alive, "
                  f"cores {state.get('coresused', 0)}/{state.get('cores', 0)} used, "
                  f"memory {state.get('memoryused', 0)}/{state.get('memory', 0)} MB used, "
                  f"{len(state.get('activeapps') or [])} running app(s)")
        health = MASTER_HEALTH.get(status, Health.UNKNOWN)
        if status == "ALIVE" and not alive:
            health = Health.CRITICAL
            detail += ": no alive worker, applications cannot run"
        rows = [ServiceStatus(name=self.name, health=health, detail=detail, latency_ms=latency, checked_at=now,
                              source=self.name, extra={"url": self.base, "master": state.get("url", "")})]
        for worker in sorted(workers, key=lambda w: (w.get("host", ""), w.get("port", 0))):
            wstate = str(worker.get("state", "UNKNOWN"))
            wdetail = (f"{wstate.lower()}, cores {worker.get('coresused', 0)}/{worker.get('cores', 0)} used, "
                       f"memory {worker.get('memoryused', 0)}/{worker.get('memory', 0)} MB used")
            rows.append(ServiceStatus(name=f"{self.name}/worker {worker.get('host')}:{worker.get('port')}",
                                      health=WORKER_HEALTH.get(wstate, Health.UNKNOWN), detail=wdetail,
                                      checked_at=now, source=self.name,
                                      extra={"worker_id": worker.get("id", ""),
                                             "webui": worker.get("webuiaddress", "")}))
        return rows

    async def job_runs(self) -> list[JobRun]:
        """Running applications and drivers first, then the latest completed ones."""
        state = await self.master_state()
        limit = int(self.config.get("completed_limit") or 20)
        rows = [self._app(a) for a in _newest(state.get("activeapps"))]
        rows += [self._driver(d) for d in _newest(state.get("activedrivers"))]
        rows += [self._app(a) for a in _newest(state.get("completedapps"))[:limit]]
        rows += [self._driver(d) for d in _newest(state.get("completeddrivers"))[:limit]]
        return rows

    def _app(self, app: Mapping[str, Any]) -> JobRun:
        duration = app.get("duration")
        return JobRun(job=str(app.get("name") or app.get("id")), run_id=str(app.get("id", "")),
                      state=str(app.get("state", "")).lower(), started_at=from_millis(app.get("starttime")),
                      duration_s=duration / 1000 if isinstance(duration, (int, float)) else None,
                      detail=f"{app.get('cores', 0)} core(s), {app.get('memoryperexecutor', 0)} MB per executor, "
                             f"user {app.get('user', '?')}", source=self.name)

    def _driver(self, driver: Mapping[str, Any]) -> JobRun:
        return JobRun(job=str(driver.get("mainclass") or driver.get("id")), run_id=str(driver.get("id", "")),
                      state=str(driver.get("state", "")).lower(), started_at=from_millis(driver.get("starttime")),
                      detail=f"cluster-mode driver on {driver.get('worker', '?')}", source=self.name)


def _newest(items: Any) -> list[Mapping[str, Any]]:
    return sorted(items or [], key=lambda i: i.get("starttime") or 0, reverse=True)
