"""Airflow 3 through its stable REST API (``/api/v2``), natively async with httpx.

Seed 002 drives Airflow with ``docker exec ... airflow dags trigger`` and
``airflow tasks logs``; the REST API does the same from outside the container and
works against any deployment. The driver shows each DAG's latest run in the Jobs
pane (lower-case Airflow states: ``failed`` there is what raises
``PipelineFailure``), the scheduler/metadatabase/dag-processor health in the
Services pane, and offers trigger, full refresh, pause and unpause actions plus
read-only ones that list runs and fetch the logs of failed tasks.

Authentication: ``POST /auth/token`` with username and password gives a JWT
bearer token (Airflow 3's auth managers), fetched once and renewed on a 401.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from opsconsole.drivers.base import Driver, OptionSpec, describe
from opsconsole.errors import AuthError, DriverError, DriverTimeout, DriverUnavailable
from opsconsole.model import ActionResult, ActionSpec, Health, JobRun, Pane, ServiceStatus
from opsconsole.secret import reveal

if TYPE_CHECKING:
    import httpx  # imported where used: httpx pulls in rich when it is installed

COMPONENT_HEALTH: Mapping[str | None, Health] = {"healthy": Health.OK, "unhealthy": Health.CRITICAL}
MAX_CONCURRENT_REQUESTS = 8
"""Parallel API calls per poll: fast with many DAGs, gentle on a small api-server."""
LOG_TAIL_LINES = 200
"""Lines of a failed task's log shown by ``failed_task_logs``: the error is at the end."""


def parse_time(value: Any) -> datetime | None:
    """Airflow timestamps are ISO 8601 with ``Z``; absent ones are ``null``."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def render_log(content: Any) -> str:
    """Plain text of an Airflow task log answer.

    Airflow 3 returns structured events (``{"timestamp", "level", "event",
    "error_detail"}``); older servers return one string. Exceptions are shown as
    ``Type: message`` with their innermost frame, which is what a person needs
    to decide whether to re-trigger or fix something first.
    """
    if isinstance(content, str):
        return content
    lines: list[str] = []
    for item in content or ():
        if isinstance(item, str):
            lines.append(item)
            continue
        if not isinstance(item, dict):
            continue
        event = str(item.get("event", ""))
        if event.startswith("::"):  # collapsible group markers of the web UI
            continue
        stamp = str(item.get("timestamp", ""))
        level = str(item.get("level", "")).upper()
        lines.append(" ".join(part for part in (stamp, level, event) if part))
        for error in item.get("error_detail") or ():
            frames = error.get("frames") or []
            where = f" ({frames[-1].get('filename')}:{frames[-1].get('lineno')})" if frames else ""
            lines.append(f"    {error.get('exc_type', 'Error')}: {error.get('exc_value', '')}{where}")
    return "\n".join(lines)


class AirflowDriver(Driver):
    """DAGs, runs, failed task logs and DAG actions of one Airflow 3 deployment."""

    kind: ClassVar[str] = "airflow"
    description: ClassVar[str] = "Airflow 3 DAG runs, failed task logs, trigger/pause (REST API v2)"
    panes: ClassVar[frozenset[Pane]] = frozenset({Pane.SERVICES, Pane.JOBS})
    options: ClassVar[tuple[OptionSpec, ...]] = (
        OptionSpec("url", str, required=True, help="Airflow API server base URL, e.g. http://localhost:8080"),
        OptionSpec("username", str, default="", help="user for POST /auth/token; empty sends no credentials"),
        OptionSpec("password", str, default="", secret=True, help="password for POST /auth/token"),
        OptionSpec("token", str, default="", secret=True, help="a ready bearer token instead of user/password"),
        OptionSpec("dags", list, default=[], help="DAG ids to show in the Jobs pane; empty shows every DAG"),
        OptionSpec("verify_tls", bool, default=True, help="verify the server's TLS certificate"),
    )
    actions: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("trigger_dag", "Trigger DAG run",
                   effect="queues a new run of the DAG, which writes to the tables its tasks load",
                   params=("dag_id",)),
        ActionSpec("full_refresh", "Trigger full refresh",
                   effect="queues a run with conf full_refresh=true: the DAG rebuilds its downstream layers "
                          "from raw, rewriting their tables", dangerous=True, params=("dag_id",)),
        ActionSpec("pause_dag", "Pause DAG", effect="stops scheduling new runs of the DAG; running runs finish",
                   params=("dag_id",)),
        ActionSpec("unpause_dag", "Unpause DAG", effect="lets the scheduler start runs of the DAG again",
                   params=("dag_id",)),
        ActionSpec("list_runs", "List DAG runs", effect="none (read-only)", mutating=False,
                   params=("dag_id",)),
        ActionSpec("failed_task_logs", "Logs of failed tasks", effect="none (read-only)", mutating=False,
                   params=("dag_id", "run_id")),
    )

    def __init__(self, name: str, options: Mapping[str, Any], *, timeout: float = 10.0) -> None:
        super().__init__(name, options, timeout=timeout)
        self.base = str(self.config["url"]).rstrip("/")
        self._client: httpx.AsyncClient | None = None
        self._token: str | None = reveal(self.config.get("token")) or None
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)

    # -- HTTP ----------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base, timeout=self.timeout,
                                             verify=bool(self.config.get("verify_tls", True)))
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await super().close()

    async def _login(self) -> None:
        username = self.config.get("username") or ""
        if not username:
            return
        response = await self._send("POST", "/auth/token", authed=False,
                                    json={"username": username, "password": reveal(self.config.get("password"))})
        if response.status_code in (401, 403):
            raise AuthError(f"{self.name}: Airflow at {self.base} refused user {username!r} "
                            f"(check the username/password options)")
        self._raise_for_status(response, "POST /auth/token")
        self._token = response.json().get("access_token")

    async def _send(self, method: str, path: str, *, authed: bool = True, **kwargs: Any) -> httpx.Response:
        import httpx

        headers = {"Authorization": f"Bearer {self._token}"} if authed and self._token else {}
        try:
            async with self._slots:
                return await self._http().request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise DriverTimeout(f"{self.name}: {method} {path} timed out after {self.timeout:g}s "
                                f"(is Airflow at {self.base} up?)") from exc
        except httpx.HTTPError as exc:
            raise DriverUnavailable(f"{self.name}: cannot reach Airflow at {self.base}: {describe(exc)}") from exc

    def _raise_for_status(self, response: httpx.Response, what: str) -> None:
        if response.status_code < 400:
            return
        try:
            detail = response.json().get("detail", "")
        except ValueError:
            detail = response.text[:200]
        if response.status_code in (401, 403):
            raise AuthError(f"{self.name}: {what} refused ({response.status_code}): {detail}")
        if response.status_code == 404:
            raise DriverError(f"{self.name}: {what}: not found ({detail})")
        raise DriverUnavailable(f"{self.name}: {what} failed with HTTP {response.status_code}: {detail}")

    async def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``/api/v2``; log in first if needed and once more when the token is refused.

        Airflow answers an expired or invalid JWT with 403 "Invalid JWT token" (not
        only 401), so both trigger one fresh login; a second refusal is an AuthError.
        """
        fresh = False
        if self._token is None and self.config.get("username"):
            await self._login()
            fresh = True
        response = await self._send(method, f"/api/v2{path}", **kwargs)
        if response.status_code in (401, 403) and self.config.get("username") and not fresh:
            await self._login()
            response = await self._send(method, f"/api/v2{path}", **kwargs)
        self._raise_for_status(response, f"{method} /api/v2{path}")
        return response.json() if response.content else {}

    # -- reads -----------------------------------------------------------------------
    async def dags(self) -> list[dict[str, Any]]:
        """DAGs known to Airflow (not stale), filtered by the ``dags`` option."""
        wanted = [str(d) for d in self.config.get("dags") or []]
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = await self._api("GET", "/dags", params={"limit": 100, "offset": offset})
            batch = page.get("dags") or []
            found.extend(batch)
            offset += len(batch)
            if not batch or offset >= int(page.get("total_entries", 0)):
                break
        dags = [d for d in found if not d.get("is_stale")]
        if wanted:
            dags = [d for d in dags if d["dag_id"] in wanted]
        return sorted(dags, key=lambda d: d["dag_id"])

    async def dag_runs(self, dag_id: str, limit: int = 25) -> list[JobRun]:
        """Most recent runs of one DAG, newest first."""
        page = await self._api("GET", f"/dags/{quote(dag_id, safe='')}/dagRuns",
                               params={"limit": limit, "order_by": "-run_after"})
        return [self._run(r) for r in page.get("dag_runs") or []]

    async def failed_tasks(self, dag_id: str, run_id: str) -> list[JobRun]:
        """Failed task instances of one run (``job`` is ``dag.task``, detail the try number)."""
        page = await self._api("GET", f"/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"
                                      "/taskInstances", params={"state": "failed"})
        return [JobRun(job=f"{ti['dag_id']}.{ti['task_id']}", run_id=ti["dag_run_id"], state=ti.get("state") or "",
                       started_at=parse_time(ti.get("start_date")), duration_s=ti.get("duration"),
                       detail=f"try {ti.get('try_number', 1)}", source=self.name)
                for ti in page.get("task_instances") or []]

    async def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """Full log of one task try, as plain text."""
        page = await self._api("GET", f"/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"
                                      f"/taskInstances/{quote(task_id, safe='')}/logs/{int(try_number)}",
                               params={"full_content": "true"})
        return render_log(page.get("content"))

    def _run(self, run: Mapping[str, Any], *, detail: str = "") -> JobRun:
        return JobRun(job=run["dag_id"], run_id=run["dag_run_id"], state=str(run.get("state") or "").lower(),
                      started_at=parse_time(run.get("start_date")), duration_s=run.get("duration"),
                      detail=detail or str(run.get("run_type") or ""), source=self.name)

    # -- panes -----------------------------------------------------------------------
    async def health(self) -> list[ServiceStatus]:
        """Airflow's own component health (``/api/v2/monitor/health``, no login needed)."""
        started = time.perf_counter()
        now = datetime.now(UTC)
        try:
            response = await self._send("GET", "/api/v2/monitor/health", authed=False)
            self._raise_for_status(response, "GET /api/v2/monitor/health")
            body = response.json()
        except DriverError as exc:
            return [ServiceStatus(name=self.name, health=Health.CRITICAL, detail=str(exc), checked_at=now,
                                  source=self.name, extra={"url": self.base})]
        latency = (time.perf_counter() - started) * 1000
        rows: list[ServiceStatus] = []
        for component, info in body.items():
            status = (info or {}).get("status")
            if status is None:
                continue  # component not deployed (e.g. no triggerer): nothing to judge
            heartbeat = next((v for k, v in (info or {}).items() if k.endswith("heartbeat")), None)
            detail = status + (f", heartbeat {heartbeat}" if heartbeat else "")
            rows.append(ServiceStatus(name=f"{self.name}/{component}", health=COMPONENT_HEALTH.get(status,
                                      Health.UNKNOWN), detail=detail, latency_ms=latency, checked_at=now,
                                      source=self.name, extra={"url": self.base}))
        return rows

    async def job_runs(self) -> list[JobRun]:
        """Latest run of every watched DAG; failed ones name their failed tasks."""
        dags = await self.dags()
        latest = await asyncio.gather(*(self.dag_runs(d["dag_id"], limit=1) for d in dags))
        rows: list[JobRun] = []
        for dag, runs in zip(dags, latest, strict=True):
            paused = "paused" if dag.get("is_paused") else ""
            if not runs:
                rows.append(JobRun(job=dag["dag_id"], run_id="", state="",
                                   detail=", ".join(p for p in ("never run", paused) if p), source=self.name))
                continue
            run = runs[0]
            parts = [run.detail, paused]
            if run.state == "failed":
                failed = await self.failed_tasks(run.job, run.run_id)
                if failed:
                    parts.insert(0, "failed tasks: " + ", ".join(t.job.split(".", 1)[1] for t in failed))
            rows.append(JobRun(job=run.job, run_id=run.run_id, state=run.state, started_at=run.started_at,
                               duration_s=run.duration_s, detail="; ".join(p for p in parts if p),
                               source=self.name))
        return rows

    # -- actions ---------------------------------------------------------------------
    async def _trigger(self, dag_id: str, conf: Mapping[str, Any]) -> ActionResult:
        body = await self._api("POST", f"/dags/{quote(dag_id, safe='')}/dagRuns",
                               json={"logical_date": None, "conf": dict(conf)})
        return ActionResult(ok=True, message=f"queued run {body.get('dag_run_id')} of {dag_id}",
                            output=f"state: {body.get('state')}, conf: {body.get('conf')}")

    async def action_trigger_dag(self, dag_id: str) -> ActionResult:
        return await self._trigger(dag_id, {})

    async def action_full_refresh(self, dag_id: str) -> ActionResult:
        return await self._trigger(dag_id, {"full_refresh": True})

    async def _set_paused(self, dag_id: str, paused: bool) -> ActionResult:
        body = await self._api("PATCH", f"/dags/{quote(dag_id, safe='')}", params={"update_mask": "is_paused"},
                               json={"is_paused": paused})
        state = "paused" if body.get("is_paused") else "unpaused"
        return ActionResult(ok=bool(body.get("is_paused")) == paused, message=f"{dag_id} is {state}")

    async def action_pause_dag(self, dag_id: str) -> ActionResult:
        return await self._set_paused(dag_id, True)

    async def action_unpause_dag(self, dag_id: str) -> ActionResult:
        return await self._set_paused(dag_id, False)

    async def action_list_runs(self, dag_id: str, limit: Any = 25) -> ActionResult:
        runs = await self.dag_runs(dag_id, limit=int(limit))
        lines = [f"{r.run_id}  {r.state or '-'}  {r.started_at.isoformat() if r.started_at else '-'}  "
                 f"{f'{r.duration_s:.1f}s' if r.duration_s is not None else '-'}" for r in runs]
        return ActionResult(ok=True, message=f"{len(runs)} run(s) of {dag_id}", output="\n".join(lines))

    async def action_failed_task_logs(self, dag_id: str, run_id: str = "") -> ActionResult:
        """Logs of the failed tasks of a run (default: the latest failed run of the DAG)."""
        if not run_id:
            page = await self._api("GET", f"/dags/{quote(dag_id, safe='')}/dagRuns",
                                   params={"limit": 1, "order_by": "-run_after", "state": "failed"})
            runs = page.get("dag_runs") or []
            if not runs:
                return ActionResult(ok=True, message=f"{dag_id} has no failed run")
            run_id = runs[0]["dag_run_id"]
        failed = await self.failed_tasks(dag_id, run_id)
        sections = []
        for task in failed:
            task_id = task.job.split(".", 1)[1]
            try_number = int(task.detail.removeprefix("try ") or 1)
            text = await self.task_log(dag_id, run_id, task_id, try_number)
            tail = "\n".join(text.splitlines()[-LOG_TAIL_LINES:])
            sections.append(f"== {task_id} (run {run_id}, {task.detail})\n{tail}")
        return ActionResult(ok=True, message=f"{len(failed)} failed task(s) in {dag_id} run {run_id}",
                            output="\n\n".join(sections))

