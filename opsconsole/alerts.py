"""Alert rules: pure functions from pane results and thresholds to alerts.

``evaluate`` is called after every poll. Thresholds come from the profile's
``alerts:`` mapping (see :data:`opsconsole.config.ALERT_THRESHOLDS`); each alert
names the runbook that answers it, so the on-call engineer is one key away from
the procedure.

Severity follows seed 001's tiers: **critical** when something is down or lost
(ServiceDown, IcebergCatalogDown, MinIODown, WarehouseDown, PipelineFailure),
**warning** when it is degraded or late (ServiceDegraded, HighLatency,
HighErrorRate, HighP95Latency, KafkaConsumerLagHigh, StagingStale, DataStale,
EntityCoverageLow), **info** for housekeeping (TableNeedsCompaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from opsconsole.clickhouse_alerts import clickhouse_alerts, is_clickhouse
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

# Services whose outage has a named alert and runbook in seed 002.
NAMED_OUTAGES: Mapping[str, tuple[str, str]] = {
    "iceberg-catalog": ("IcebergCatalogDown", "iceberg-catalog-down"),
    "iceberg-rest": ("IcebergCatalogDown", "iceberg-catalog-down"),
    "minio": ("MinIODown", "minio-down"),
    "ingestion-api": ("IngestionDown", "ingestion-stopped"),
    "staging-duckdb": ("DuckDBLocked", "duckdb-lock"),
}


ERROR_RATE_WINDOW = timedelta(hours=1)
"""Seed 000 alert 1 watches the error rate per hour; a sliding hour ending now (not the
calendar hour) keeps a spike firing across the top of the hour instead of resolving it."""
P95_WINDOW = timedelta(minutes=5)
"""Seed 000 alert 2 watches p95 per minute; five minutes ending now smooths a poll that
lands in a nearly empty minute, while still reacting within minutes."""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _special_service_alert(row: ServiceStatus, thresholds: Mapping[str, Any], now: datetime) -> list[Alert] | None:
    """Rows with a dedicated rule (warehouse, coverage, freshness); None for the generic up/down rule."""
    extra = row.extra or {}
    if extra.get("kind") == "warehouse" and "state" in extra:
        state = str(extra.get("state") or "UNKNOWN")
        if state != "RUNNING":
            return [Alert("WarehouseDown", Severity.CRITICAL, row.name,
                          f"warehouse {state}: queries queue or time out (seed 000 alert 3)",
                          "ontos-warehouse-timeout", now)]
        return None  # running: degraded health still goes through the generic rule
    coverage = _number(extra.get("coverage"))
    if coverage is not None:
        limit = float(thresholds.get("coverage_min", 0.90))
        if coverage < limit:
            year = f" in {extra['coverage_year']}" if extra.get("coverage_year") else ""
            return [Alert("EntityCoverageLow", Severity.WARNING, row.name,
                          f"entity coverage {coverage:.0%}{year} < {limit:.0%}", "entity-coverage-low", now)]
        return []
    if _number(extra.get("freshness_hours")) is not None:
        return []  # the Lag pane reports freshness per source (DataStale): one alert per stale source
    return None


def _service_alerts(rows: Iterable[ServiceStatus], now: datetime,
                    thresholds: Mapping[str, Any] | None = None) -> list[Alert]:
    thresholds = thresholds or {}
    latency_max = float(thresholds.get("service_latency_ms_max", 2_000))
    alerts = []
    for row in rows:
        special = _special_service_alert(row, thresholds, now)
        if special is not None:
            alerts += special
            continue
        if row.health == Health.OK and row.latency_ms is not None and row.latency_ms > latency_max:
            alerts.append(Alert("HighLatency", Severity.WARNING, row.name,
                                f"answered in {row.latency_ms:,.0f} ms (> {latency_max:,.0f} ms)",
                                "azure-high-latency", now))
        if row.health == Health.CRITICAL:
            rule, runbook = NAMED_OUTAGES.get(row.name, ("ServiceDown", "service-down"))
            alerts.append(Alert(rule, Severity.CRITICAL, row.name, row.detail or "down", runbook, now))
        elif row.health == Health.WARNING:
            alerts.append(Alert("ServiceDegraded", Severity.WARNING, row.name, row.detail or "degraded",
                                "service-down", now))
    return alerts


def _table_alerts(rows: Iterable[TableStats], thresholds: Mapping[str, Any], now: datetime) -> list[Alert]:
    limit = thresholds.get("table_files_max", 100)
    return [Alert("TableNeedsCompaction", Severity.INFO, row.name,
                  f"{row.file_count} data files > {limit}: compact to speed up scans", "compaction", now)
            for row in rows if row.file_count is not None and row.file_count > limit]


def _lag_alerts(rows: Iterable[LagSample], thresholds: Mapping[str, Any], now: datetime) -> list[Alert]:
    alerts = []
    for row in rows:
        if row.unit == "messages":
            limit = thresholds.get("consumer_lag_max", 10_000)
            if row.lag > limit or row.detail == "growing":
                why = f"lag {row.lag:,.0f} > {limit:,}" if row.lag > limit else f"lag {row.lag:,.0f} keeps growing"
                alerts.append(Alert("KafkaConsumerLagHigh", Severity.WARNING, row.name, why, "kafka-consumer-lag", now))
        elif row.unit == "rows" and row.lag > thresholds.get("lag_rows_max", 500):
            alerts.append(Alert("StagingStale", Severity.WARNING, row.name,
                                f"{row.lag:,.0f} rows behind (> {thresholds.get('lag_rows_max')})",
                                "staging-stale", now))
        elif row.unit == "seconds" and row.lag > thresholds.get("lag_seconds_max", 300):
            alerts.append(Alert("StagingStale" if "staging" in row.name else "IngestionStopped", Severity.WARNING,
                                row.name, f"{row.lag:,.0f}s behind (> {thresholds.get('lag_seconds_max')}s)",
                                "staging-stale" if "staging" in row.name else "ingestion-stopped", now))
        elif row.unit == "hours" and row.lag > thresholds.get("freshness_hours_max", 24):
            alerts.append(Alert("DataStale", Severity.WARNING, row.name,
                                f"data {row.lag:.1f} h old (> {thresholds.get('freshness_hours_max')} h)",
                                "stale-data", now))
    return alerts


def _job_alerts(rows: Iterable[JobRun], now: datetime) -> list[Alert]:
    latest: dict[str, JobRun] = {}
    for run in rows:
        current = latest.get(run.job)
        if current is None or (run.started_at and current.started_at and run.started_at > current.started_at):
            latest[run.job] = run
    return [Alert("PipelineFailure", Severity.CRITICAL, run.job, f"run {run.run_id} failed: {run.detail}",
                  "pipeline-failure", now)
            for run in latest.values() if run.state.lower() in {"failed", "error", "internal_error", "timedout"}]


def _query_alerts(rows: list[QueryRecord], thresholds: Mapping[str, Any], now: datetime) -> list[Alert]:
    """Seed 000's High Error Rate (> 5 %) and Slow Query Performance (p95 > 10 s), per warehouse."""
    rate_max = float(thresholds.get("error_rate_max", 0.05))
    p95_max = float(thresholds.get("p95_ms_max", 10_000))
    alerts = []
    for warehouse in sorted({r.warehouse or r.source or "queries" for r in rows}):
        mine = [r for r in rows if (r.warehouse or r.source or "queries") == warehouse]
        total, failed, rate, _p95, _avg = summarize(filter_records(mine, since=now - ERROR_RATE_WINDOW))
        if total and rate > rate_max:
            alerts.append(Alert("HighErrorRate", Severity.WARNING, warehouse,
                                f"{rate:.1%} of {total} queries failed in the last hour ({failed}; "
                                f"> {rate_max:.0%})", "ontos-high-error-rate", now))
        total, _failed, _rate, p95, _avg = summarize(filter_records(mine, since=now - P95_WINDOW))
        if p95 is not None and p95 > p95_max:
            alerts.append(Alert("HighP95Latency", Severity.WARNING, warehouse,
                                f"p95 {p95 / 1000:,.1f} s over {total} queries in the last 5 min "
                                f"(> {p95_max / 1000:g} s)", "ontos-slow-queries", now))
    return alerts


def evaluate(results: Mapping[Pane, PaneResult], thresholds: Mapping[str, Any],
             now: datetime | None = None) -> list[Alert]:
    """All alerts firing for the latest pane results, most severe first."""
    now = now or datetime.now(UTC)
    alerts: list[Alert] = []
    for pane, result in results.items():
        if pane == Pane.SERVICES:
            alerts += _service_alerts((r for r in result.rows if isinstance(r, ServiceStatus)), now, thresholds)
        elif pane == Pane.QUERIES:
            alerts += _query_alerts([r for r in result.rows if isinstance(r, QueryRecord)], thresholds, now)
        elif pane == Pane.TABLES:
            tables = [r for r in result.rows if isinstance(r, TableStats)]
            alerts += _table_alerts((r for r in tables if not is_clickhouse(r)), thresholds, now)
            alerts += clickhouse_alerts(tables, thresholds, now)
        elif pane == Pane.LAG:
            alerts += _lag_alerts((r for r in result.rows if isinstance(r, LagSample)), thresholds, now)
        elif pane == Pane.JOBS:
            alerts += _job_alerts((r for r in result.rows if isinstance(r, JobRun)), now)
        for source, error in result.errors.items():
            alerts.append(Alert("SourceUnreachable", Severity.WARNING, f"{source}/{pane.value}", error, None, now))
    seen: set[str] = set()
    unique = []
    for alert in sorted(alerts, key=lambda a: -a.severity):
        if alert.key not in seen:
            seen.add(alert.key)
            unique.append(alert)
    return unique


def overall_health(results: Mapping[Pane, PaneResult], alerts: Iterable[Alert]) -> Health:
    """One word for the header: the worst of alerts and unreachable sources."""
    states = [Health.OK]
    for alert in alerts:
        states.append({Severity.CRITICAL: Health.CRITICAL, Severity.WARNING: Health.WARNING}.get(alert.severity,
                                                                                                   Health.OK))
    if any(r.errors and not r.rows for r in results.values()):
        states.append(Health.UNKNOWN)
    return Health.worst(states)
