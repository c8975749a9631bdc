"""Alert rules: pure functions from pane results and thresholds to alerts.

``evaluate`` is called after every poll. Thresholds come from the profile's
``alerts:`` mapping (see :data:`opsconsole.config.ALERT_THRESHOLDS`); each alert
names the runbook that answers it, so the on-call engineer is one key away from
the procedure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from opsconsole.model import Alert, Health, JobRun, LagSample, Pane, PaneResult, ServiceStatus, Severity, TableStats

# Services whose outage has a named alert and runbook in seed 002.
NAMED_OUTAGES: Mapping[str, tuple[str, str]] = {
    "iceberg-catalog": ("IcebergCatalogDown", "iceberg-catalog-down"),
    "iceberg-rest": ("IcebergCatalogDown", "iceberg-catalog-down"),
    "minio": ("MinIODown", "minio-down"),
    "ingestion-api": ("IngestionDown", "ingestion-stopped"),
    "staging-duckdb": ("DuckDBLocked", "duckdb-lock"),
}


def _service_alerts(rows: Iterable[ServiceStatus], now: datetime) -> list[Alert]:
    alerts = []
    for row in rows:
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


def evaluate(results: Mapping[Pane, PaneResult], thresholds: Mapping[str, Any],
             now: datetime | None = None) -> list[Alert]:
    """All alerts firing for the latest pane results, most severe first."""
    now = now or datetime.now(UTC)
    alerts: list[Alert] = []
    for pane, result in results.items():
        if pane == Pane.SERVICES:
            alerts += _service_alerts((r for r in result.rows if isinstance(r, ServiceStatus)), now)
        elif pane == Pane.TABLES:
            alerts += _table_alerts((r for r in result.rows if isinstance(r, TableStats)), thresholds, now)
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
