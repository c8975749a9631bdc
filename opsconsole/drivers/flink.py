"""Flink through its REST API: cluster overview and streaming jobs.

In seed 002 Flink moves events from Redpanda into the Iceberg raw layer; when
consumer lag grows, the runbook says "check Flink job status and restart if
needed". This driver shows each job's state, uptime, restarts and checkpoints
(Jobs pane) and the cluster's task managers and slots plus one row per job
(Services pane). A failed job carries its root cause and the restart guidance in
its detail, so the person on call sees what to do next where they see the state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from opsconsole.drivers.base import OptionSpec
from opsconsole.drivers.http_json import HttpJsonDriver, from_millis
from opsconsole.errors import DriverError, DriverUnavailable
from opsconsole.model import ActionResult, ActionSpec, Health, JobRun, Pane, ServiceStatus

if TYPE_CHECKING:
    import httpx  # imported where used: httpx pulls in rich when it is installed

RESTART_GUIDANCE = "check Flink job status and restart"
"""Seed 002's words for a failed streaming job; shown with every failed job."""

JOB_HEALTH: Mapping[str, Health] = {
    "RUNNING": Health.OK,
    "FINISHED": Health.OK,
    "CREATED": Health.WARNING,
    "INITIALIZING": Health.WARNING,
    "RECONCILING": Health.WARNING,
    "RESTARTING": Health.WARNING,
    "FAILING": Health.CRITICAL,
    "FAILED": Health.CRITICAL,
    "CANCELLING": Health.WARNING,
    "CANCELED": Health.WARNING,
    "SUSPENDED": Health.WARNING,
}
"""A streaming job that is not running is not processing: cancelled is a warning, failed critical."""


def human_duration(seconds: float) -> str:
    """``3d4h``, ``2h5m``, ``7m12s``, ``42s``: short enough for a table cell."""
    seconds = int(max(seconds, 0))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def root_cause(exceptions: Mapping[str, Any]) -> str:
    """The innermost ``Caused by`` of a job's latest failure, one line.

    Flink wraps the task's exception in ``JobException: Recovery is suppressed``;
    the useful sentence is the cause at the bottom of that chain.
    """
    entries = (exceptions.get("exceptionHistory") or {}).get("entries") or []
    if entries:
        trace = str(entries[0].get("stacktrace") or "")
    else:
        trace = str(exceptions.get("root-exception") or "")
    lines = [line.strip() for line in trace.splitlines() if line.strip()]
    causes = [line.removeprefix("Caused by: ") for line in lines if line.startswith("Caused by: ")]
    if causes:
        return causes[-1]
    return lines[0] if lines else ""


def restart_guidance(cause: str, checkpoint_path: str | None) -> str:
    """What to do about a failed job, with where to restart it from."""
    if checkpoint_path and not checkpoint_path.startswith("<"):
        where = f"resubmit it from the latest checkpoint: flink run -s {checkpoint_path} <job jar>"
    else:
        where = "no retained checkpoint: resubmit it from a savepoint or from the start"
    return "; ".join(part for part in (cause, f"{RESTART_GUIDANCE}: {where}") if part)


class FlinkDriver(HttpJsonDriver):
    """Jobs and cluster capacity of one Flink session cluster (REST API)."""

    kind: ClassVar[str] = "flink"
    service_label: ClassVar[str] = "Flink"
    description: ClassVar[str] = "Flink jobs: state, uptime, restarts, checkpoints; restart guidance (REST API)"
    panes: ClassVar[frozenset[Pane]] = frozenset({Pane.SERVICES, Pane.JOBS})
    options: ClassVar[tuple[OptionSpec, ...]] = (
        OptionSpec("url", str, required=True, help="Flink REST/web UI base URL, e.g. http://localhost:8081"),
        OptionSpec("jobs", list, default=[], help="job names to show; empty shows every job"),
        OptionSpec("verify_tls", bool, default=True, help="verify the server's TLS certificate"),
    )
    actions: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("job_exceptions", "Show job exceptions", effect="none (read-only)", mutating=False,
                   params=("job_id",)),
        ActionSpec("cancel_job", "Cancel job",
                   effect="stops the job: it stops consuming, so consumer lag grows until it is resubmitted",
                   dangerous=True, params=("job_id",)),
    )

    # -- HTTP ----------------------------------------------------------------------
    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._send(method, path, **kwargs)
        if response.status_code == 404:
            raise DriverError(f"{self.name}: {method} {path}: not found")
        if response.status_code >= 400:
            errors = _errors(response)
            raise DriverUnavailable(f"{self.name}: {method} {path} failed with HTTP {response.status_code}"
                                    + (f": {errors}" if errors else ""))
        return response.json() if response.content else {}

    # -- reads -----------------------------------------------------------------------
    async def jobs(self) -> list[dict[str, Any]]:
        """``/jobs/overview`` entries, newest first, filtered by the ``jobs`` option."""
        overview = await self._request("GET", "/jobs/overview")
        wanted = {str(j) for j in self.config.get("jobs") or []}
        jobs = [j for j in overview.get("jobs") or [] if not wanted or j.get("name") in wanted]
        return sorted(jobs, key=lambda j: j.get("start-time") or 0, reverse=True)

    async def _job_facts(self, job: Mapping[str, Any]) -> dict[str, Any]:
        """Restarts, checkpoint counts and (for failed jobs) the root cause of one job."""
        jid = quote(str(job["jid"]), safe="")
        checkpoints, metrics = await asyncio.gather(
            self._request("GET", f"/jobs/{jid}/checkpoints"),
            self._request("GET", f"/jobs/{jid}/metrics", params={"get": "numRestarts"}),
            return_exceptions=True)
        facts: dict[str, Any] = {"restarts": None, "completed": None, "failed": None,
                                 "last_checkpoint": None, "checkpoint_path": None, "cause": ""}
        if isinstance(metrics, list):
            values = {m.get("id"): m.get("value") for m in metrics}
            if values.get("numRestarts") not in (None, ""):
                facts["restarts"] = int(float(values["numRestarts"]))
        if isinstance(checkpoints, dict):
            counts = checkpoints.get("counts") or {}
            facts["completed"], facts["failed"] = counts.get("completed"), counts.get("failed")
            latest = ((checkpoints.get("latest") or {}).get("completed")) or {}
            facts["last_checkpoint"] = from_millis(latest.get("latest_ack_timestamp"))
            facts["checkpoint_path"] = latest.get("external_path")
        if job.get("state") in {"FAILED", "FAILING", "RESTARTING"}:
            try:
                exceptions = await self._request("GET", f"/jobs/{jid}/exceptions", params={"maxExceptions": 1})
                facts["cause"] = root_cause(exceptions)
            except DriverError:
                facts["cause"] = ""
        return facts

    def _detail(self, job: Mapping[str, Any], facts: Mapping[str, Any], now: datetime) -> str:
        parts: list[str] = []
        if job.get("state") == "RUNNING":
            parts.append(f"uptime {human_duration((job.get('duration') or 0) / 1000)}")
        if facts["restarts"] is not None:
            parts.append(f"restarts {facts['restarts']}")
        if facts["completed"] is not None:
            checkpoint = f"checkpoints {facts['completed']} ok/{facts['failed'] or 0} failed"
            if facts["last_checkpoint"] is not None:
                age = (now - facts["last_checkpoint"]).total_seconds()
                checkpoint += f", last {human_duration(age)} ago"
            parts.append(checkpoint)
        if job.get("state") in {"FAILED", "FAILING"}:
            parts.append(restart_guidance(facts["cause"], facts["checkpoint_path"]))
        return "; ".join(parts)

    # -- panes -----------------------------------------------------------------------
    async def job_runs(self) -> list[JobRun]:
        """Every job with state (lower case), uptime, restarts and checkpoints; newest first."""
        jobs = await self.jobs()
        facts = await asyncio.gather(*(self._job_facts(j) for j in jobs))
        now = datetime.now(UTC)
        return [JobRun(job=str(j.get("name") or j["jid"]), run_id=str(j["jid"]), state=str(j.get("state", "")).lower(),
                       started_at=from_millis(j.get("start-time")),
                       duration_s=(j.get("duration") or 0) / 1000 if j.get("duration") is not None else None,
                       detail=self._detail(j, f, now), source=self.name)
                for j, f in zip(jobs, facts, strict=True)]

    async def health(self) -> list[ServiceStatus]:
        """The cluster (task managers, free slots) and the newest job of each name."""
        started = time.perf_counter()
        now = datetime.now(UTC)
        try:
            overview = await self._request("GET", "/overview")
            latency = (time.perf_counter() - started) * 1000
            jobs = await self.jobs()
        except DriverError as exc:
            return [ServiceStatus(name=self.name, health=Health.CRITICAL, detail=str(exc), checked_at=now,
                                  source=self.name, extra={"url": self.base})]
        managers = int(overview.get("taskmanagers") or 0)
        detail = (f"Flink {overview.get('flink-version', '?')}, {managers} taskmanager(s), "
                  f"{overview.get('slots-available', 0)}/{overview.get('slots-total', 0)} slots free, "
                  f"{overview.get('jobs-running', 0)} running, {overview.get('jobs-failed', 0)} failed")
        if not managers:
            detail += ": no taskmanager, jobs cannot run"
        rows = [ServiceStatus(name=self.name, health=Health.OK if managers else Health.CRITICAL, detail=detail,
                              latency_ms=latency, checked_at=now, source=self.name, extra={"url": self.base})]
        newest: dict[str, Mapping[str, Any]] = {}
        for job in jobs:  # newest first: a resubmitted job replaces its failed predecessor
            newest.setdefault(str(job.get("name") or job["jid"]), job)
        for name, job in sorted(newest.items()):
            state = str(job.get("state", ""))
            text = state.lower()
            if state in {"FAILED", "FAILING"}:
                text += f": {RESTART_GUIDANCE}"
            rows.append(ServiceStatus(name=f"{self.name}/{name}", health=JOB_HEALTH.get(state, Health.UNKNOWN),
                                      detail=text, checked_at=now, source=self.name,
                                      extra={"job_id": job["jid"]}))
        return rows

    # -- actions -----------------------------------------------------------------------
    async def action_job_exceptions(self, job_id: str) -> ActionResult:
        exceptions = await self._request("GET", f"/jobs/{quote(job_id, safe='')}/exceptions",
                                         params={"maxExceptions": 5})
        entries = (exceptions.get("exceptionHistory") or {}).get("entries") or []
        if not entries:
            return ActionResult(ok=True, message=f"job {job_id} has no recorded exception")
        cause = root_cause(exceptions)
        traces = "\n\n".join(str(e.get("stacktrace", "")).strip() for e in entries)
        return ActionResult(ok=True, message=cause or f"{len(entries)} exception(s)", output=traces)

    async def action_cancel_job(self, job_id: str) -> ActionResult:
        await self._request("PATCH", f"/jobs/{quote(job_id, safe='')}", params={"mode": "cancel"})
        return ActionResult(ok=True, message=f"cancellation of job {job_id} requested")


def _errors(response: httpx.Response) -> str:
    """Flink's ``{"errors": [...]}`` body, first line of each."""
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return response.text[:200]
    return "; ".join(str(e).strip().splitlines()[0] for e in errors if str(e).strip())
