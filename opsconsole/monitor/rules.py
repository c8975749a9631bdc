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
from dataclasses import replace
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from opsconsole.errors import ConfigError
from opsconsole.model import (
    Alert,
    Pane,
    PaneResult,
    Severity,
)
from opsconsole.monitor.checks import CHECKS, Context, Finding, Rule

if TYPE_CHECKING:
    from opsconsole.config import Profile
    from opsconsole.drivers.base import Driver



def _rule(name: str, check: str, severity: Severity, *runbooks: str, **fields: Any) -> Rule:
    return Rule(name, check, severity, tuple(runbooks), **fields)


C, W, INFO = Severity.CRITICAL, Severity.WARNING, Severity.INFO
DEFAULT_RULES: tuple[Rule, ...] = (
    # Specific outages first: a service matched by one of these is not also a generic ServiceDown.
    _rule("AppDown", "app_down", C, "ontos-app-down", summary="the Databricks app is not serving"),
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
    _rule("ClickHouseTooManyParts", "too_many_parts", W, "clickhouse-too-many-parts",
          threshold_key="clickhouse_parts_max"),
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
    # Seed 004: the critical rule first, so a job below both thresholds gets the critical alert only.
    _rule("JobHealthLow", "job_health", C, "dataops-job-health-review", threshold_key="job_health_critical"),
    _rule("JobHealthLow", "job_health", W, "dataops-job-health-review", threshold_key="job_health_warning"),
    _rule("JobDurationAnomaly", "job_duration_anomaly", W, "dataops-job-health-review",
          threshold_key="job_duration_z_max"),
    _rule("HighErrorRate", "error_rate", W, "ontos-high-error-rate", "azure-error-spike", "clickhouse-slow-queries",
          "demo-staging-stale",
          threshold_key="error_rate_max"),
    _rule("HighP95Latency", "p95", W, "ontos-slow-queries", "azure-high-latency", "clickhouse-slow-queries",
          "demo-staging-stale",
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
        if ctx.checks:
            rows = tuple(r for r in rows if rule.check in ctx.checks.get(getattr(r, "source", ""), {rule.check}))
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
             history: Callable[[str], Sequence[tuple[float, float]]] | None = None,
             drivers: Sequence[Driver] = ()) -> list[Alert]:
    """All alerts whose condition holds in these pane results, most severe first (no lifecycle).

    Sources that could not be read add a ``SourceUnreachable`` warning each.
    """
    now = now or datetime.now(UTC)
    kinds = dict(driver_kinds or {}) | {d.name: d.kind for d in drivers}
    ctx = Context(now, thresholds, kinds, history or (lambda _key: ()), {d.name: d.alert_checks() for d in drivers})
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


def rules_that_can_fire(rules: Iterable[Rule], drivers: Sequence[Driver]) -> list[Rule]:
    """The rules some driver of the profile can trigger (its check declared, its driver type present)."""
    return [r for r in rules if r.enabled and any(
        r.check in d.alert_checks() and (not r.driver_types or d.kind in r.driver_types) for d in drivers)]


def profile_rules(profile: Profile, drivers: Sequence[Driver] | None = None) -> tuple[Rule, ...]:
    """Packaged rules, then the drivers' own (scoped to their type), then the profile's ``rules:``."""
    from opsconsole.drivers import driver_class

    rules = DEFAULT_RULES
    kinds = {d.kind: type(d) for d in drivers} if drivers is not None else {
        d.kind: driver_class(d.kind) for d in profile.drivers}
    for kind, cls in sorted(kinds.items()):
        own = {name: {"driver_types": [kind], **fields} for name, fields in cls.alert_rules.items()}
        if own:
            rules = merge_rules(own, rules)
    return merge_rules(getattr(profile, "rules", {}) or {}, rules)
