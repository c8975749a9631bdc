"""The monitor's last snapshot in the Prometheus exposition format.

On-call teams already run Prometheus: ``opsconsole watch`` serves ``/metrics`` and
``opsconsole check --format prometheus`` writes a node_exporter textfile, both
from :class:`SnapshotCollector`, a custom collector built with the official
client library (``prometheus-client``) so the format, escaping and atomic file
writes are the library's, not ours.

Names are stable and documented in the README: the ``opsconsole_`` prefix, the
unit in the name (``_seconds``, ``_bytes``, ``_ratio``), and bounded labels only
(profile, source = driver instance, pane, and the row's own name: a service, a
table, a lag pair, a job). Never a label from query text, a URL or an error
message: those are unbounded and may hold secrets.

A source that went STALE keeps exporting its last good figures (the TUI keeps
its last rows too), alongside ``opsconsole_source_up 0`` and a growing
``opsconsole_source_data_age_seconds``: an alert on data age catches what a
frozen value would hide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from opsconsole.model import HealthScore, JobRun, LagSample, QueryRecord, ServiceStatus, TableStats

if TYPE_CHECKING:
    from prometheus_client import Metric

    from opsconsole.monitor.state import MonitorSnapshot, SourceSnapshot

PREFIX = "opsconsole_"
LAG_UNITS = {"rows": "rows", "messages": "messages", "seconds": "seconds"}


def _g(name: str, doc: str, labels: list[str], unit: str = "") -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, labels=labels, unit=unit)


class SnapshotCollector(Collector):
    """Builds every metric from the latest snapshot at scrape time (nothing is cached between scrapes)."""

    def __init__(self, snapshot: Callable[[], MonitorSnapshot | None]) -> None:
        self._snapshot = snapshot

    def describe(self) -> list[Metric]:
        # Registering must not call collect(): the monitor may not have a snapshot yet.
        return []

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        if snap is None:
            return
        yield from collect_snapshot(snap)


def collect_snapshot(snap: MonitorSnapshot) -> list[Metric]:
    """Every metric family of one snapshot (families with no sample are still described)."""
    p = snap.profile
    now = snap.taken_at if snap.taken_at.tzinfo else snap.taken_at.replace(tzinfo=UTC)
    src = ["profile", "source", "pane"]
    health = _g("health", "Worst health of the profile: 0 ok, 1 warning, 2 critical, 3 unknown", ["profile"])
    health.add_metric([p], int(snap.health))
    source_up = _g("source_up", "1 when the source's latest poll succeeded and its data is fresh", src)
    age = _g("source_data_age_seconds", "Seconds since the source's last good poll", src)
    last_ok = _g("source_last_success_timestamp_seconds", "Unix time of the source's last good poll", src)
    duration = _g("source_poll_duration_seconds", "Duration of the source's latest poll", src)
    polls = CounterMetricFamily(PREFIX + "source_polls", "Polls of the source since watch started", labels=src)
    failures = CounterMetricFamily(PREFIX + "source_poll_failures", "Failed polls of the source", labels=src)
    interval = _g("source_poll_interval_seconds", "Configured poll interval of the source", src)
    svc = ["profile", "source", "service"]
    svc_health = _g("service_health", "Service health: 0 ok, 1 warning, 2 critical, 3 unknown", svc)
    svc_latency = _g("service_probe_latency_seconds", "Latency of the service's health probe", svc)
    tbl = ["profile", "source", "table", "layer"]
    files = _g("table_data_files", "Live data files of the table (current snapshot)", tbl)
    snapshots = _g("table_snapshots", "Snapshots kept in the table's metadata", tbl)
    rows = _g("table_rows", "Rows in the table", tbl)
    size = _g("table_size_bytes", "Size of the table's data", tbl)
    commit = _g("table_last_commit_timestamp_seconds", "Unix time of the table's last commit", tbl)
    lag_labels = ["profile", "source", "name"]
    lags = {unit: _g(f"lag_{unit}", f"How far the consumer or downstream layer is behind, in {unit}", lag_labels)
            for unit in ("rows", "messages", "seconds")}
    job = ["profile", "source", "job"]
    job_score = _g("job_health_score", "Job health score 0-100 (success rate, stability, trend)", job)
    job_success = _g("job_success_ratio", "Share of the job's decided recent runs that succeeded", job)
    job_duration = _g("job_last_duration_seconds", "Duration of the job's latest finished run", job)
    job_failed = _g("job_last_run_failed", "1 when the job's latest decided run failed", job)
    q = ["profile", "source"]
    q_p95 = _g("query_p95_seconds", "95th percentile duration of the recent completed queries", q)
    q_err = _g("query_error_ratio", "Share of the recent completed queries that failed", q)
    q_count = _g("queries", "Recent completed queries seen in the history", q)
    alert_labels = ["profile", "alertname", "severity", "subject", "state"]
    alert = _g("alert_active", "1 per active alert; state firing, or unknown when its source is lost", alert_labels)
    alert_since = _g("alert_since_timestamp_seconds", "Unix time the active alert was first seen", alert_labels)
    alerts = _g("alerts", "Active alerts by severity and state", ["profile", "severity", "state"])

    for s in snap.sources:
        labels = [p, s.driver, s.pane.value]
        source_up.add_metric(labels, 1 if s.state.value == "fresh" else 0)
        interval.add_metric(labels, s.interval)
        polls.add_metric(labels, s.polls)
        failures.add_metric(labels, s.failures)
        if s.duration_ms is not None:
            duration.add_metric(labels, s.duration_ms / 1000)
        if s.last_ok is not None:
            age.add_metric(labels, max(0.0, (now - s.last_ok).total_seconds()))
            last_ok.add_metric(labels, s.last_ok.timestamp())
        _rows(p, s, svc_health, svc_latency, files, snapshots, rows, size, commit, lags)
        _jobs_and_queries(p, s, job_score, job_success, job_duration, job_failed, q_p95, q_err, q_count)

    counts: dict[tuple[str, str], int] = {}
    for tracked in snap.alerts:
        a = tracked.alert
        labels = [p, a.rule, a.severity.name.lower(), a.subject, tracked.state.value]
        alert.add_metric(labels, 1)
        alert_since.add_metric(labels, tracked.first_seen.timestamp())
        key = (a.severity.name.lower(), tracked.state.value)
        counts[key] = counts.get(key, 0) + 1
    for sev in ("critical", "warning", "info"):
        for state in ("firing", "unknown"):
            alerts.add_metric([p, sev, state], counts.get((sev, state), 0))
    return [health, alerts, alert, alert_since, source_up, age, last_ok, duration, interval, polls, failures,
            svc_health, svc_latency, files, snapshots, rows, size, commit, *lags.values(), job_score, job_success,
            job_duration, job_failed, q_p95, q_err, q_count]


def _rows(p: str, s: SourceSnapshot, svc_health: GaugeMetricFamily, svc_latency: GaugeMetricFamily,
          files: GaugeMetricFamily, snapshots: GaugeMetricFamily, rows: GaugeMetricFamily, size: GaugeMetricFamily,
          commit: GaugeMetricFamily, lags: dict[str, GaugeMetricFamily]) -> None:
    seen: set[tuple[str, ...]] = set()
    for row in s.rows:
        if isinstance(row, ServiceStatus):
            labels = [p, s.driver, row.name]
            if tuple(labels) in seen:  # a duplicate sample would make the whole exposition invalid
                continue
            seen.add(tuple(labels))
            svc_health.add_metric(labels, int(row.health))
            if row.latency_ms is not None:
                svc_latency.add_metric(labels, row.latency_ms / 1000)
        elif isinstance(row, TableStats):
            labels = [p, s.driver, row.name, row.layer]
            if tuple(labels) in seen:
                continue
            seen.add(tuple(labels))
            for family, value in ((files, row.file_count), (snapshots, row.snapshot_count), (rows, row.row_count),
                                  (size, row.size_bytes)):
                if value is not None:
                    family.add_metric(labels, value)
            if row.last_commit is not None:
                commit.add_metric(labels, row.last_commit.timestamp())
        elif isinstance(row, LagSample) and row.unit in LAG_UNITS:
            labels = [p, s.driver, row.name]
            if (row.unit, *labels) in seen:
                continue
            seen.add((row.unit, *labels))
            lags[LAG_UNITS[row.unit]].add_metric(labels, float(row.lag))


def _jobs_and_queries(p: str, s: SourceSnapshot, job_score: GaugeMetricFamily, job_success: GaugeMetricFamily,
                      job_duration: GaugeMetricFamily, job_failed: GaugeMetricFamily, q_p95: GaugeMetricFamily,
                      q_err: GaugeMetricFamily, q_count: GaugeMetricFamily) -> None:
    runs = [r for r in s.rows if isinstance(r, JobRun)]
    scores = [r for r in s.rows if isinstance(r, HealthScore)]
    if runs:
        from opsconsole.drivers.databricks.jobhealth import group_by_job, score_job

        for name, job_runs in sorted(group_by_job(runs).items()):
            labels = [p, s.driver, name]
            score = score_job(name, job_runs)
            if score is not None:
                job_score.add_metric(labels, score.score)
                job_success.add_metric(labels, score.success_rate)
            ordered = sorted(job_runs, key=lambda r: r.started_at or datetime.min.replace(tzinfo=UTC))
            timed = [r for r in ordered if r.duration_s is not None]
            if timed:
                job_duration.add_metric(labels, timed[-1].duration_s)
            decided = [r for r in ordered if r.state.lower() in _DECIDED]
            if decided:
                job_failed.add_metric(labels, 0 if decided[-1].state.lower() in _SUCCESS else 1)
    for score in scores:  # drivers that report scores themselves (Databricks)
        labels = [p, s.driver, score.job]
        if not runs:
            job_score.add_metric(labels, score.score)
            job_success.add_metric(labels, score.success_rate)
    records = [r for r in s.rows if isinstance(r, QueryRecord)]
    if records:
        from opsconsole.drivers.databricks.query_stats import summarize

        total, _failed, rate, p95, _avg = summarize(records)
        labels = [p, s.driver]
        q_count.add_metric(labels, total)
        if total:
            q_err.add_metric(labels, rate)
        if p95 is not None:
            q_p95.add_metric(labels, p95 / 1000)


_SUCCESS = {"success", "succeeded", "ok", "finished", "completed"}
_DECIDED = _SUCCESS | {"failed", "failure", "error", "internal_error", "timedout", "canceled", "cancelled"}


def registry_for(snapshot: Callable[[], MonitorSnapshot | None]) -> CollectorRegistry:
    """A registry holding only the snapshot's metrics (``watch`` adds the process collector)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return registry


def exposition(snap: MonitorSnapshot) -> str:
    """The snapshot in the text exposition format (what ``/metrics`` serves)."""
    from prometheus_client import generate_latest

    return generate_latest(registry_for(lambda: snap)).decode()


def write_textfile(snapshot: MonitorSnapshot, path: str | None) -> str:
    """Write the textfile-collector file atomically (the library writes a temp file and renames); return the text."""
    text = exposition(snapshot)
    if path:
        from prometheus_client import write_to_textfile

        write_to_textfile(path, registry_for(lambda: snapshot))
    return text
