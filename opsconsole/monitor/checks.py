"""The pure checks behind the alert rules (and the :class:`Rule` they are given): which rows hold a condition now.

Each check reads one pane's rows (plus, for history-based ones, the engine's
sample history) and returns :class:`Finding` s; the rule that uses it gives the
finding its name, severity and runbook (:mod:`opsconsole.monitor.rules`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from opsconsole.model import Health, JobRun, LagSample, Pane, QueryRecord, ServiceStatus, Severity, TableStats

ERROR_RATE_WINDOW = timedelta(hours=1)
"""Seed 000 alert 1 watches the error rate per hour; a sliding hour ending now (not the
calendar hour) keeps a spike firing across the top of the hour instead of resolving it."""
P95_WINDOW = timedelta(minutes=5)
"""Seed 000 alert 2 watches p95 per minute; five minutes ending now smooths a poll that
lands in a nearly empty minute, while still reacting within minutes."""
FAILED_JOB_STATES = frozenset({"failed", "error", "internal_error", "timedout"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One alert rule: when it holds, how loud it is, and what answers it."""

    name: str
    """The alert's name (``alertname``), e.g. ``IngestionDown``."""
    check: str
    """Which pure check decides it: a key of :data:`CHECKS`."""
    severity: Severity = Severity.WARNING
    runbooks: tuple[str, ...] = ()
    """Runbooks that answer it, best first; the first one the profile offers is linked."""
    threshold_key: str = ""
    """The profile ``alerts:`` threshold this rule reads (shared with older profiles)."""
    threshold: float | None = None
    """Overrides the ``alerts:`` threshold for this rule alone."""
    subjects: tuple[str, ...] = ()
    """Service, table or job names (shell-style patterns) it covers; empty: every subject its check sees."""
    driver_types: tuple[str, ...] = ()
    """Driver types whose rows it covers; empty: every driver."""
    for_polls: int = 1
    """Consecutive polls the condition must hold before it fires (Prometheus' ``for:``)."""
    clear_polls: int = 2
    """Consecutive clean polls before a firing alert resolves: a flapping condition stays firing."""
    window_s: float = 600.0
    """Time window of history-based checks (restart loop)."""
    enabled: bool = True
    summary: str = ""

    @property
    def runbook(self) -> str | None:
        return self.runbooks[0] if self.runbooks else None

    def limit(self, thresholds: Mapping[str, Any], default: float) -> float:
        if self.threshold is not None:
            return float(self.threshold)
        value = thresholds.get(self.threshold_key) if self.threshold_key else None
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


@dataclass(frozen=True, slots=True)
class Finding:
    """A condition a check found: the alert without its rule's name, severity and runbook."""

    subject: str
    message: str
    source: str


@dataclass(frozen=True)
class Context:
    """What a check may read besides its pane's rows."""

    now: datetime
    thresholds: Mapping[str, Any]
    driver_kinds: Mapping[str, str] = field(default_factory=dict)
    """Driver instance name -> driver type, for ``Rule.driver_types``."""
    history: Callable[[str], Sequence[tuple[float, float]]] = lambda _key: ()
    """Samples (epoch seconds, value) by key, kept by the engine; ``()`` in a one-shot check."""
    checks: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Driver instance name -> the checks its rows can fire (``Driver.alert_checks``); absent: every check."""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _special(row: ServiceStatus) -> bool:
    """Rows with a dedicated check (warehouse, coverage, freshness): not judged by up/down."""
    extra = row.extra or {}
    if extra.get("kind") == "warehouse" and "state" in extra:
        return True
    if extra.get("kind") == "job":
        return True  # JobHealthLow / JobDurationAnomaly judge jobs, on the profile's thresholds
    return _number(extra.get("coverage")) is not None or _number(extra.get("freshness_hours")) is not None


# --------------------------------------------------------------------------- checks
def check_service_down(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    return [Finding(r.name, r.detail or "down", r.source) for r in rows
            if isinstance(r, ServiceStatus) and r.health == Health.CRITICAL and not _special(r)
            and (r.extra or {}).get("kind") != "app"]


def check_app_down(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    """Seed 000's "App is Down": the Databricks app row (its compute or its status) is critical."""
    return [Finding(r.name, r.detail or "down", r.source) for r in rows
            if isinstance(r, ServiceStatus) and r.health == Health.CRITICAL and (r.extra or {}).get("kind") == "app"]


def check_service_degraded(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    return [Finding(r.name, r.detail or "degraded", r.source) for r in rows
            if isinstance(r, ServiceStatus) and r.health == Health.WARNING and not _special(r)]


def check_latency(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    limit = rule.limit(ctx.thresholds, 2_000)
    return [Finding(r.name, f"answered in {r.latency_ms:,.0f} ms (> {limit:,.0f} ms)", r.source) for r in rows
            if isinstance(r, ServiceStatus) and r.health == Health.OK and r.latency_ms is not None
            and round(r.latency_ms) > round(limit) and not _special(r)]


def check_warehouse_down(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    found = []
    for r in rows:
        extra = r.extra or {} if isinstance(r, ServiceStatus) else {}
        if extra.get("kind") == "warehouse" and "state" in extra:
            state = str(extra.get("state") or "UNKNOWN")
            if state not in ("RUNNING", "STOPPED"):  # STOPPED: auto-stop; the next statement starts it
                found.append(Finding(r.name, f"warehouse {state}: queries queue or time out (seed 000 alert 3)",
                                     r.source))
    return found


def check_coverage(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    limit = rule.limit(ctx.thresholds, 0.90)
    found = []
    for r in rows:
        coverage = _number((r.extra or {}).get("coverage")) if isinstance(r, ServiceStatus) else None
        if coverage is not None and coverage < limit:
            year = f" in {r.extra['coverage_year']}" if r.extra.get("coverage_year") else ""
            found.append(Finding(r.name, f"entity coverage {coverage:.0%}{year} < {limit:.0%}", r.source))
    return found


def check_restart_loop(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    """Restarts within the rule's window, from the engine's history of each service's restart count."""
    limit = rule.limit(ctx.thresholds, 3)
    found = []
    for r in rows:
        if not isinstance(r, ServiceStatus) or _number((r.extra or {}).get("restarts")) is None:
            continue
        samples = ctx.history(f"restarts:{r.source}:{r.name}")
        since = ctx.now.timestamp() - rule.window_s
        inside = [v for t, v in samples if t >= since]
        if len(inside) >= 2:
            restarts = max(inside) - min(inside)
            if restarts >= limit:
                found.append(Finding(r.name, f"{restarts:.0f} restarts in the last {rule.window_s / 60:g} min "
                                             f"(>= {limit:g}): restart loop", r.source))
    return found


def check_table_files(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    limit = rule.limit(ctx.thresholds, 100)
    return [Finding(r.name, f"{r.file_count} data files > {limit:g}: compact to speed up scans", r.source)
            for r in rows if isinstance(r, TableStats) and r.file_count is not None and r.file_count > limit]


def check_too_many_parts(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    """ClickHouse's active parts in one partition: inserts slow down past ``parts_to_delay_insert`` (150).

    Merges normally keep the count far lower, so a partition climbing past the
    threshold means inserts arrive in batches too small for the merges to keep up
    (or merges are stuck): the rule fires before ClickHouse refuses data with
    "Too many parts" (``parts_to_throw_insert``, 300).
    """
    limit = rule.limit(ctx.thresholds, 150)
    found = []
    for r in rows:
        extra = (r.extra or {}) if isinstance(r, TableStats) else {}
        busiest = int(extra.get("max_partition_parts") or 0)
        if busiest > limit:
            partition = extra.get("busiest_partition") or "(unpartitioned)"
            merges = int(extra.get("merges_running") or 0)
            found.append(Finding(r.name, f"{busiest} active parts in partition {partition} (> {limit:g}); {merges} "
                                         f"merge(s) running: inserts slow down at parts_to_delay_insert and fail "
                                         f"at parts_to_throw_insert", r.source))
    return found


def check_consumer_lag(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    limit = rule.limit(ctx.thresholds, 10_000)
    found = []
    for r in rows:
        if isinstance(r, LagSample) and r.unit == "messages" and (r.lag > limit or r.detail == "growing"):
            why = f"lag {r.lag:,.0f} > {limit:,.0f}" if r.lag > limit else f"lag {r.lag:,.0f} keeps growing"
            found.append(Finding(r.name, why, r.source))
    return found


def check_lag_rows(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    limit = rule.limit(ctx.thresholds, 500)
    return [Finding(r.name, f"{r.lag:,.0f} rows behind (> {limit:,.0f})", r.source) for r in rows
            if isinstance(r, LagSample) and r.unit == "rows" and r.lag > limit]


def check_lag_seconds(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    limit = rule.limit(ctx.thresholds, 300)
    return [Finding(r.name, f"{r.lag:,.0f}s behind (> {limit:,.0f}s)", r.source) for r in rows
            if isinstance(r, LagSample) and r.unit == "seconds" and r.lag > limit]


def check_freshness(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    limit = rule.limit(ctx.thresholds, 24)
    return [Finding(r.name, f"data {r.lag:.1f} h old (> {limit:g} h)", r.source) for r in rows
            if isinstance(r, LagSample) and r.unit == "hours" and r.lag > limit]


def check_job_failed(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    """The latest run of each job failed."""
    latest: dict[tuple[str, str], JobRun] = {}
    for run in rows:
        if not isinstance(run, JobRun):
            continue
        current = latest.get((run.source, run.job))
        if current is None or (run.started_at and current.started_at and run.started_at > current.started_at):
            latest[(run.source, run.job)] = run
    return [Finding(run.job, f"run {run.run_id} failed: {run.detail}", run.source)
            for run in latest.values() if run.state.lower() in FAILED_JOB_STATES]


def _by_source(rows: Sequence[Any]) -> dict[str, list[JobRun]]:
    groups: dict[str, list[JobRun]] = {}
    for r in rows:
        if isinstance(r, JobRun):
            groups.setdefault(r.source, []).append(r)
    return groups


def check_job_health(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    """Seed 004's health score (success rate, stability, trend) per job below the rule's threshold."""
    from opsconsole.drivers.databricks.jobhealth import health_scores

    limit = rule.limit(ctx.thresholds, 80)
    found = []
    for source, runs in sorted(_by_source(rows).items()):
        for score in health_scores(runs):
            if score.score < limit:
                found.append(Finding(score.job, f"health score {score.score:.0f} < {limit:g}: success "
                                                f"{score.success_rate:.0%} of {score.runs} runs, stability "
                                                f"{score.stability:.2f}, trend {score.trend}", source))
    return found


def check_job_duration_anomaly(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    """Seed 004's anomaly detector: a run whose duration's modified z-score exceeds the rule's limit."""
    from opsconsole.drivers.databricks.jobhealth import duration_anomalies

    z_max = rule.limit(ctx.thresholds, 3.5)
    found = []
    for source, runs in sorted(_by_source(rows).items()):
        worst: dict[str, Any] = {}
        for anomaly in duration_anomalies(runs, z_max):
            worst.setdefault(anomaly.job, anomaly)
        for job, a in sorted(worst.items()):
            found.append(Finding(job, f"run {a.run_id} took {a.duration_s:.0f}s vs usual {a.baseline_s:.0f}s "
                                      f"({a.kind}, z {a.z_score:+.1f}; limit {z_max:g})", source))
    return found


def _by_warehouse(rows: Sequence[Any]) -> dict[tuple[str, str], list[QueryRecord]]:
    groups: dict[tuple[str, str], list[QueryRecord]] = {}
    for r in rows:
        if isinstance(r, QueryRecord):
            groups.setdefault((r.source, r.warehouse or r.source or "queries"), []).append(r)
    return groups


def check_error_rate(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    """Seed 000's High Error Rate (> 5 % over the last hour), per warehouse."""
    limit = rule.limit(ctx.thresholds, 0.05)
    found = []
    for (source, warehouse), mine in sorted(_by_warehouse(rows).items()):
        from opsconsole.drivers.databricks.query_stats import filter_records, summarize

        total, failed, rate, _p95, _avg = summarize(filter_records(mine, since=ctx.now - ERROR_RATE_WINDOW))
        if total and rate > limit:
            found.append(Finding(warehouse, f"{rate:.1%} of {total} queries failed in the last hour ({failed}; "
                                            f"> {limit:.0%})", source))
    return found


def check_p95(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    """Seed 000's Slow Query Performance (p95 > 10 s over the last five minutes), per warehouse."""
    limit = rule.limit(ctx.thresholds, 10_000)
    found = []
    for (source, warehouse), mine in sorted(_by_warehouse(rows).items()):
        from opsconsole.drivers.databricks.query_stats import filter_records, summarize

        total, _failed, _rate, p95, _avg = summarize(filter_records(mine, since=ctx.now - P95_WINDOW))
        if p95 is not None and p95 > limit:
            found.append(Finding(warehouse, f"p95 {p95 / 1000:,.1f} s over {total} queries in the last 5 min "
                                            f"(> {limit / 1000:g} s)", source))
    return found


Check = Callable[[Sequence[Any], Rule, Context], list[Finding]]

CHECKS: Mapping[str, tuple[Pane, Check]] = {
    "service_down": (Pane.SERVICES, check_service_down),
    "app_down": (Pane.SERVICES, check_app_down),
    "service_degraded": (Pane.SERVICES, check_service_degraded),
    "latency": (Pane.SERVICES, check_latency),
    "warehouse_down": (Pane.SERVICES, check_warehouse_down),
    "coverage": (Pane.SERVICES, check_coverage),
    "restart_loop": (Pane.SERVICES, check_restart_loop),
    "table_files": (Pane.TABLES, check_table_files),
    "too_many_parts": (Pane.TABLES, check_too_many_parts),
    "consumer_lag": (Pane.LAG, check_consumer_lag),
    "lag_rows": (Pane.LAG, check_lag_rows),
    "lag_seconds": (Pane.LAG, check_lag_seconds),
    "freshness": (Pane.LAG, check_freshness),
    "job_failed": (Pane.JOBS, check_job_failed),
    "job_health": (Pane.JOBS, check_job_health),
    "job_duration_anomaly": (Pane.JOBS, check_job_duration_anomaly),
    "error_rate": (Pane.QUERIES, check_error_rate),
    "p95": (Pane.QUERIES, check_p95),
}
"""Check name -> (the pane whose rows it reads, the pure function)."""
