"""Databricks REST JSON -> opsconsole domain rows (pure functions).

The driver turns SDK responses into their documented JSON shape (``as_dict()``)
and maps them here, so the mapping reads like the REST reference, is tested
without any network, and no SDK type leaks into :mod:`opsconsole.model`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from opsconsole.model import Health, JobRun, QueryRecord, ServiceStatus

APP_COMPUTE_HEALTH = {"ACTIVE": Health.OK, "STARTING": Health.WARNING, "UPDATING": Health.WARNING,
                      "STOPPING": Health.WARNING, "STOPPED": Health.CRITICAL, "ERROR": Health.CRITICAL,
                      "DELETING": Health.CRITICAL}
APP_STATUS_HEALTH = {"RUNNING": Health.OK, "DEPLOYING": Health.WARNING, "UNAVAILABLE": Health.CRITICAL,
                     "CRASHED": Health.CRITICAL}
CLUSTER_HEALTH = {"RUNNING": Health.OK, "PENDING": Health.WARNING, "RESTARTING": Health.WARNING,
                  "RESIZING": Health.WARNING, "TERMINATING": Health.WARNING, "TERMINATED": Health.WARNING,
                  "ERROR": Health.CRITICAL, "UNKNOWN": Health.UNKNOWN}
QUERY_STATUS = {"FINISHED": "FINISHED", "FAILED": "FAILED", "CANCELED": "CANCELED", "RUNNING": "RUNNING",
                "QUEUED": "RUNNING", "STARTED": "RUNNING", "COMPILING": "RUNNING", "COMPILED": "RUNNING"}


def from_ms(value: Any) -> datetime | None:
    """Epoch milliseconds (the REST API's timestamps) to an aware UTC datetime."""
    if value in (None, "", 0):
        return None
    return datetime.fromtimestamp(int(value) / 1000.0, tz=UTC)


def app_status(app: Mapping[str, Any], *, source: str, checked_at: datetime,
               latency_ms: float | None = None) -> ServiceStatus:
    """The app row: compute status, app status and the active deployment (seed 000 "App is Down")."""
    compute = (app.get("compute_status") or {}).get("state") or "UNKNOWN"
    status = (app.get("app_status") or {}).get("state") or "UNKNOWN"
    deployment = app.get("active_deployment") or {}
    dep_state = (deployment.get("status") or {}).get("state") or ""
    health = Health.worst([APP_COMPUTE_HEALTH.get(compute, Health.UNKNOWN),
                           APP_STATUS_HEALTH.get(status, Health.UNKNOWN) if compute == "ACTIVE" else Health.OK])
    detail = f"compute {compute} · app {status}"
    if deployment:
        detail += f" · deployment {deployment.get('deployment_id', '?')} {dep_state}".rstrip()
    message = (app.get("compute_status") or {}).get("message") or ""
    if health is not Health.OK and message:
        detail += f" · {message}"
    return ServiceStatus(
        name=f"app {app.get('name', '?')}", health=health, detail=detail, latency_ms=latency_ms,
        checked_at=checked_at, source=source,
        extra={"kind": "app", "state": compute, "compute_state": compute, "app_state": status,
               "url": app.get("url", ""), "deployment_id": deployment.get("deployment_id", ""),
               "deployment_state": dep_state, "source_code_path": deployment.get("source_code_path", "")})


def warehouse_status(wh: Mapping[str, Any], *, source: str, checked_at: datetime,
                     latency_ms: float | None = None) -> ServiceStatus:
    """The warehouse row (seed 000 alert 3).

    STOPPED is normal for a warehouse with auto-stop (the next statement starts
    it again), so it is OK with the auto-stop shown; STARTING/STOPPING warn;
    DELETING/DELETED are CRITICAL.
    """
    state = wh.get("state") or "UNKNOWN"
    wh_health = (wh.get("health") or {}).get("status") or ""
    if state == "STOPPED":
        health = Health.OK
    elif state in ("STARTING", "STOPPING"):
        health = Health.WARNING
    elif state != "RUNNING":
        health = Health.CRITICAL
    else:
        health = {"DEGRADED": Health.WARNING, "FAILED": Health.CRITICAL}.get(wh_health, Health.OK)
    lo, hi = wh.get("min_num_clusters"), wh.get("max_num_clusters")
    detail = (f"{state} · {wh.get('cluster_size', '?')} · clusters {wh.get('num_clusters', 0)} "
              f"(min {lo}, max {hi})")
    if state == "STOPPED" and wh.get("auto_stop_mins"):
        detail += f" · auto-stopped after {wh['auto_stop_mins']} min idle; the next query starts it"
    if wh_health:
        detail += f" · health {wh_health}"
    summary = (wh.get("health") or {}).get("summary")
    if summary:
        detail += f" · {summary}"
    return ServiceStatus(
        name=f"warehouse {wh.get('name') or wh.get('id', '?')}", health=health, detail=detail,
        latency_ms=latency_ms, checked_at=checked_at, source=source,
        extra={"kind": "warehouse", "id": wh.get("id", ""), "state": state, "cluster_size": wh.get("cluster_size"),
               "num_clusters": wh.get("num_clusters", 0), "min_num_clusters": lo, "max_num_clusters": hi,
               "health": wh_health, "warehouse_type": wh.get("warehouse_type", ""),
               "serverless": bool(wh.get("enable_serverless_compute")),
               "num_active_sessions": wh.get("num_active_sessions", 0)})


def cluster_workers(cluster: Mapping[str, Any]) -> tuple[int, str]:
    """(live workers, configured size as text) of a cluster."""
    live = len(cluster.get("executors") or [])
    autoscale = cluster.get("autoscale")
    if autoscale:
        return live, f"{autoscale.get('min_workers', '?')}-{autoscale.get('max_workers', '?')} (autoscale)"
    return live, str(cluster.get("num_workers", 0))


def cluster_status(cluster: Mapping[str, Any], *, source: str, checked_at: datetime) -> ServiceStatus:
    """A cluster row with state and workers (seed 001's ``clusters list | jq ...``)."""
    state = cluster.get("state") or "UNKNOWN"
    live, configured = cluster_workers(cluster)
    detail = f"{state} · workers {live}/{configured}"
    if cluster.get("state_message") and state != "RUNNING":
        detail += f" · {cluster['state_message']}"
    return ServiceStatus(
        name=f"cluster {cluster.get('cluster_name') or cluster.get('cluster_id')}",
        health=CLUSTER_HEALTH.get(state, Health.UNKNOWN), detail=detail, checked_at=checked_at, source=source,
        extra={"kind": "cluster", "cluster_id": cluster.get("cluster_id", ""), "state": state,
               "workers": live, "configured_workers": configured})


def query_record(info: Mapping[str, Any], *, source: str) -> QueryRecord:
    """One Query History API entry as a QueryRecord."""
    started = from_ms(info.get("query_start_time_ms")) or datetime.now(UTC)
    status = QUERY_STATUS.get(str(info.get("status") or ""), str(info.get("status") or "UNKNOWN"))
    duration = info.get("duration")
    if duration is None and info.get("query_end_time_ms") and info.get("query_start_time_ms"):
        duration = int(info["query_end_time_ms"]) - int(info["query_start_time_ms"])
    return QueryRecord(
        query_id=str(info.get("query_id", "")), text=str(info.get("query_text") or ""), status=status,
        started_at=started, duration_ms=float(duration) if duration is not None else None,
        rows=info.get("rows_produced"), user=str(info.get("user_name") or ""),
        warehouse=str(info.get("warehouse_id") or ""), error=str(info.get("error_message") or ""), source=source)


FAILED_TERMINATION = {"CLIENT_ERROR": "FAILED", "INTERNAL_ERROR": "INTERNAL_ERROR", "CLOUD_FAILURE": "INTERNAL_ERROR"}
"""``status.termination_details.type`` of a failed run -> the outcome that
:mod:`opsconsole.drivers.databricks.jobhealth` scores."""
UNDECIDED_CODES = {"USER_CANCELED": "CANCELED", "CANCELED": "CANCELED", "SKIPPED": "SKIPPED",
                   "DISABLED": "SKIPPED"}
"""Termination codes of runs a person or scheduler stopped: no outcome, whatever their type says."""


def run_outcome(status: Mapping[str, Any]) -> str:
    """Outcome of a Jobs 2.2 ``status`` (``state`` + ``termination_details``), in the legacy vocabulary.

    SUCCESS / SUCCESS_WITH_FAILURES for type SUCCESS; FAILED for CLIENT_ERROR;
    INTERNAL_ERROR for INTERNAL_ERROR and CLOUD_FAILURE; CANCELED or SKIPPED
    (undecided) for those codes; the life-cycle state while not terminated.
    """
    life = str(status.get("state") or "UNKNOWN")
    if life != "TERMINATED":
        return life
    details = status.get("termination_details") or {}
    code, kind = str(details.get("code") or ""), str(details.get("type") or "")
    if code in UNDECIDED_CODES:
        return UNDECIDED_CODES[code]
    if kind == "SUCCESS":
        return "SUCCESS_WITH_FAILURES" if code == "SUCCESS_WITH_FAILURES" else "SUCCESS"
    return FAILED_TERMINATION.get(kind, "TERMINATED")


def job_run(run: Mapping[str, Any], *, source: str) -> JobRun:
    """A Jobs API run as a JobRun: the outcome once terminated, else the life-cycle state.

    ``status`` (Jobs 2.2) is read first; the deprecated ``state`` only when a
    run has no ``status``.
    """
    status = run.get("status") or {}
    state_obj = run.get("state") or {}
    if status.get("state"):
        state = run_outcome(status)
        terminated = status.get("state") == "TERMINATED"
        message = (status.get("termination_details") or {}).get("message") or state_obj.get("state_message") or ""
    else:
        life = state_obj.get("life_cycle_state") or ""
        result = state_obj.get("result_state") or ""
        state = result or life or "UNKNOWN"
        terminated = life in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED") or bool(result)
        message = state_obj.get("state_message") or ""
    duration_ms = run.get("run_duration") or (
        (run.get("setup_duration") or 0) + (run.get("execution_duration") or 0) + (run.get("cleanup_duration") or 0))
    if not duration_ms and run.get("end_time") and run.get("start_time"):
        duration_ms = int(run["end_time"]) - int(run["start_time"])
    return JobRun(job=str(run.get("run_name") or f"job {run.get('job_id', '?')}"), run_id=str(run.get("run_id", "")),
                  state=state, started_at=from_ms(run.get("start_time")),
                  duration_s=duration_ms / 1000.0 if (duration_ms and terminated) else None,
                  detail=str(message), source=source)
