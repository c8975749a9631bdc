"""Alert rules as data, and the pure checks behind them.

A :class:`Rule` is a row of data: its name (Alertmanager's ``alertname``), the
*check* that decides when it holds (one of :data:`CHECKS`), severity, threshold,
which subjects and driver types it covers, how many polls it must hold before
firing or clearing, and the runbooks that answer it (the first one the profile
offers wins). The packaged defaults are :data:`DEFAULT_RULES`; a profile's
``rules:`` mapping changes any field of a named rule or adds rules of its own,
so nothing about a service's name is hard-coded here.

:func:`evaluate` is pure: pane results (and a little sample history for the
restart-loop check) in, alerts out. The lifecycle around it (firing, unknown,
resolved, damping) is :mod:`opsconsole.monitor.lifecycle`.

Severity follows seed 001's tiers: **critical** when something is down or lost,
**warning** when it is degraded or late, **info** for housekeeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from opsconsole.errors import ConfigError
from opsconsole.model import (
    Alert,
    Health,
    JobRun,
    LagSample,
    Pane,
    PaneResult,
    QueryRecord,
    ServiceStatus,
    Severity,
    TableStats,
)
from opsconsole.query_stats import filter_records, summarize

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


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _special(row: ServiceStatus) -> bool:
    """Rows with a dedicated check (warehouse, coverage, freshness): not judged by up/down."""
    extra = row.extra or {}
    if extra.get("kind") == "warehouse" and "state" in extra:
        return True
    return _number(extra.get("coverage")) is not None or _number(extra.get("freshness_hours")) is not None


# --------------------------------------------------------------------------- checks
def check_service_down(rows: Sequence[Any], rule: Rule, ctx: Context) -> list[Finding]:
    return [Finding(r.name, r.detail or "down", r.source) for r in rows
            if isinstance(r, ServiceStatus) and r.health == Health.CRITICAL and not _special(r)]


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
            if state not in {"RUNNING", *(str(s) for s in extra.get("normal_states", ()))}:
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
        total, _failed, _rate, p95, _avg = summarize(filter_records(mine, since=ctx.now - P95_WINDOW))
        if p95 is not None and p95 > limit:
            found.append(Finding(warehouse, f"p95 {p95 / 1000:,.1f} s over {total} queries in the last 5 min "
                                            f"(> {limit / 1000:g} s)", source))
    return found


Check = Callable[[Sequence[Any], Rule, Context], list[Finding]]

CHECKS: Mapping[str, tuple[Pane, Check]] = {
    "service_down": (Pane.SERVICES, check_service_down),
    "service_degraded": (Pane.SERVICES, check_service_degraded),
    "latency": (Pane.SERVICES, check_latency),
    "warehouse_down": (Pane.SERVICES, check_warehouse_down),
    "coverage": (Pane.SERVICES, check_coverage),
    "restart_loop": (Pane.SERVICES, check_restart_loop),
    "table_files": (Pane.TABLES, check_table_files),
    "consumer_lag": (Pane.LAG, check_consumer_lag),
    "lag_rows": (Pane.LAG, check_lag_rows),
    "lag_seconds": (Pane.LAG, check_lag_seconds),
    "freshness": (Pane.LAG, check_freshness),
    "job_failed": (Pane.JOBS, check_job_failed),
    "error_rate": (Pane.QUERIES, check_error_rate),
    "p95": (Pane.QUERIES, check_p95),
}
"""Check name -> (the pane whose rows it reads, the pure function)."""


def _rule(name: str, check: str, severity: Severity, *runbooks: str, **fields: Any) -> Rule:
    return Rule(name, check, severity, tuple(runbooks), **fields)


C, W, INFO = Severity.CRITICAL, Severity.WARNING, Severity.INFO
DEFAULT_RULES: tuple[Rule, ...] = (
    # Specific outages first: a service matched by one of these is not also a generic ServiceDown.
    _rule("AppDown", "service_down", C, "ontos-app-down", driver_types=("databricks",),
          subjects=("app *",), summary="the Databricks app is not serving"),
    _rule("ServiceDown", "service_down", C, "service-down", "azure-service-down", "ontos-app-down",
          "demo-clear-faults"),
    _rule("ServiceDegraded", "service_degraded", W, "service-down", "azure-service-down", "ontos-app-down",
          "demo-clear-faults"),
    _rule("HighLatency", "latency", W, "service-down", "azure-high-latency", "ontos-app-down",
          "demo-clear-faults", threshold_key="service_latency_ms_max", for_polls=2,
          summary="a service answers slowly on two polls in a row (the first call warms caches)"),
    _rule("ContainerRestartLoop", "restart_loop", C, "service-logs", "service-down",
          threshold_key="restarts_max", window_s=600, clear_polls=3,
          summary="a container keeps restarting"),
    _rule("WarehouseDown", "warehouse_down", C, "ontos-warehouse-timeout"),
    _rule("EntityCoverageLow", "coverage", W, "entity-coverage-low", "stale-data", threshold_key="coverage_min"),
    _rule("TableNeedsCompaction", "table_files", INFO, "compaction", "demo-compaction", "ontos-optimize-tables",
          threshold_key="table_files_max"),
    _rule("KafkaConsumerLagHigh", "consumer_lag", W, "kafka-consumer-lag", "azure-high-latency",
          threshold_key="consumer_lag_max"),
    _rule("StagingStale", "lag_rows", W, "staging-stale", "demo-staging-stale", threshold_key="lag_rows_max"),
    _rule("StagingStale", "lag_seconds", W, "staging-stale", "demo-staging-stale", threshold_key="lag_seconds_max",
          subjects=("*staging*",)),
    _rule("IngestionStopped", "lag_seconds", W, "ingestion-stopped", "demo-ingestion-stopped",
          threshold_key="lag_seconds_max"),
    _rule("DataStale", "freshness", W, "stale-data", threshold_key="freshness_hours_max"),
    _rule("FlinkJobFailed", "job_failed", C, "flink-job-failed", driver_types=("flink",)),
    _rule("SparkAppFailed", "job_failed", C, "spark-app-failed", driver_types=("spark",)),
    _rule("PipelineFailure", "job_failed", C, "pipeline-failure", "osaa-pipeline-complete-failure",
          "dataops-job-health-review", "demo-staging-stale"),
    _rule("HighErrorRate", "error_rate", W, "ontos-high-error-rate", "azure-error-spike", "demo-staging-stale",
          threshold_key="error_rate_max"),
    _rule("HighP95Latency", "p95", W, "ontos-slow-queries", "azure-high-latency", "demo-staging-stale",
          threshold_key="p95_ms_max"),
)
"""Packaged rules; a profile's ``rules:`` changes or adds to them (see :func:`merge_rules`)."""

RULE_FIELDS = frozenset({"check", "severity", "runbook", "runbooks", "threshold", "subjects", "driver_types",
                         "for_polls", "clear_polls", "window_s", "enabled", "summary"})


def merge_rules(overrides: Mapping[str, Mapping[str, Any]], base: Sequence[Rule] = DEFAULT_RULES) -> tuple[Rule, ...]:
    """The packaged rules with a profile's ``rules:`` applied (validated by the config loader).

    A named rule's fields change in place (every check of that name); a new name
    adds a rule, which must then say its ``check``. Profile rules go first, so a
    rule naming ``subjects`` takes those subjects from the generic rules.
    """
    rules = list(base)
    added: list[Rule] = []
    for name, raw in overrides.items():
        fields = dict(raw)
        if "runbook" in fields:
            fields["runbooks"] = (fields.pop("runbook"),)
        for key in ("runbooks", "subjects", "driver_types"):
            if key in fields:
                fields[key] = tuple(fields[key])
        if "severity" in fields and not isinstance(fields["severity"], Severity):
            fields["severity"] = Severity[str(fields["severity"]).upper()]
        matched = [i for i, r in enumerate(rules) if r.name == name]
        if matched:
            for i in matched:
                rules[i] = replace(rules[i], **fields)
        elif "check" not in fields:
            known = ", ".join(sorted({r.name for r in base}))
            raise ConfigError(f"rules.{name}: not a packaged rule, so it needs a 'check' (packaged rules: {known})")
        else:
            added.append(Rule(name=name, **fields))
    return (*added, *rules)


def link_runbooks(rules: Iterable[Rule], offered: Iterable[str]) -> tuple[Rule, ...]:
    """Each rule keeps, first, the runbook the profile offers (its candidates in order)."""
    have = set(offered)
    linked = []
    for rule in rules:
        best = [r for r in rule.runbooks if r in have]
        linked.append(replace(rule, runbooks=(*best[:1], *(r for r in rule.runbooks if r not in best[:1]))))
    return tuple(linked)


def _matches(pattern: str, name: str) -> bool:
    return fnmatchcase(name, pattern)


def evaluate_findings(results: Mapping[Pane, PaneResult], rules: Sequence[Rule], ctx: Context) -> list[
        tuple[Rule, Finding]]:
    """Every (rule, finding) that holds now; one subject gets one alert per check (the first rule wins)."""
    out: list[tuple[Rule, Finding]] = []
    claimed: set[tuple[str, str, str]] = set()
    for rule in rules:
        if not rule.enabled or rule.check not in CHECKS:
            continue
        pane, check = CHECKS[rule.check]
        result = results.get(pane)
        if result is None:
            continue
        rows = result.rows
        if rule.driver_types:
            rows = tuple(r for r in rows if ctx.driver_kinds.get(getattr(r, "source", ""), "") in rule.driver_types)
        for finding in check(rows, rule, ctx):
            if rule.subjects and not any(_matches(s, finding.subject) for s in rule.subjects):
                continue
            claim = (rule.check, finding.source, finding.subject)
            if claim in claimed:
                continue
            claimed.add(claim)
            out.append((rule, finding))
    return out


def evaluate(results: Mapping[Pane, PaneResult], thresholds: Mapping[str, Any], now: datetime | None = None, *,
             rules: Sequence[Rule] = DEFAULT_RULES, driver_kinds: Mapping[str, str] | None = None,
             history: Callable[[str], Sequence[tuple[float, float]]] | None = None) -> list[Alert]:
    """All alerts whose condition holds in these pane results, most severe first (no lifecycle).

    Sources that could not be read add a ``SourceUnreachable`` warning each.
    """
    now = now or datetime.now(UTC)
    ctx = Context(now, thresholds, driver_kinds or {}, history or (lambda _key: ()))
    alerts = [Alert(rule.name, rule.severity, f.subject, f.message, rule.runbook, now, source=f.source)
              for rule, f in evaluate_findings(results, rules, ctx)]
    for pane, result in results.items():
        for source, error in result.errors.items():
            alerts.append(unreachable_alert(source, pane, error, now))
    seen: set[str] = set()
    unique = []
    for alert in sorted(alerts, key=lambda a: -a.severity):
        if alert.key not in seen:
            seen.add(alert.key)
            unique.append(alert)
    return unique


def unreachable_alert(source: str, pane: Pane, error: str, now: datetime) -> Alert:
    """A source that cannot be read is an alert of its own (absence of data is not health)."""
    return Alert("SourceUnreachable", Severity.WARNING, f"{source}/{pane.value}", error, None, now,
                 source=source)
