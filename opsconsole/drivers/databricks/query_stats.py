"""Query-history statistics: error rate and p95 latency per time bucket.

Seed 000 watches a SQL warehouse through two views over ``system.query.history``
(error rate per hour, p95 latency per minute) and alerts when the error rate
exceeds 5 % or p95 exceeds 10 s. These pure functions compute the same figures
from :class:`~opsconsole.model.QueryRecord` rows, so the Queries pane, the
alert rules and the headless ``check`` agree on one definition.

Definitions (where the seed was silent):

* Only *completed* queries count (``FINISHED``, ``FAILED``, ``CANCELED``):
  a running query has neither failed nor has a duration yet.
* Error rate = ``FAILED`` / completed. A cancelled query is a user's choice,
  not an error, but it stays in the denominator (it used the warehouse).
* p95 uses linear interpolation between closest ranks, like Spark's
  ``PERCENTILE`` which the seed's view uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opsconsole.model import QueryRecord

COMPLETED = frozenset({"FINISHED", "FAILED", "CANCELED"})
FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class BucketStats:
    """Figures of one time bucket of query history."""

    start: datetime
    total: int
    """Completed queries started in the bucket."""
    failed: int
    error_rate: float
    """``failed / total`` (0.0 for an empty bucket)."""
    p95_ms: float | None
    """95th percentile duration of completed queries with a duration, or None."""
    avg_ms: float | None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) with linear interpolation; None for no values."""
    if not values:
        return None
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within 0..1, got {q}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return float(ordered[lo])
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def bucket_start(moment: datetime, width: timedelta) -> datetime:
    """Start of the bucket holding ``moment`` (buckets aligned on the epoch, in UTC)."""
    seconds = width.total_seconds()
    if seconds <= 0:
        raise ValueError("bucket width must be positive")
    epoch = _as_utc(moment).timestamp()
    return datetime.fromtimestamp(math.floor(epoch / seconds) * seconds, tz=UTC)


def summarize(records: Iterable[QueryRecord]) -> tuple[int, int, float, float | None, float | None]:
    """``(total, failed, error_rate, p95_ms, avg_ms)`` of the completed records."""
    done = [r for r in records if r.status in COMPLETED]
    failed = sum(1 for r in done if r.status == FAILED)
    durations = [r.duration_ms for r in done if r.duration_ms is not None]
    rate = failed / len(done) if done else 0.0
    avg = sum(durations) / len(durations) if durations else None
    return len(done), failed, rate, percentile(durations, 0.95), avg


def per_bucket(records: Iterable[QueryRecord], width: timedelta = timedelta(hours=1)) -> list[BucketStats]:
    """Error rate and p95 latency for each bucket that has completed queries, oldest first."""
    groups: dict[datetime, list[QueryRecord]] = {}
    for record in records:
        if record.status in COMPLETED:
            groups.setdefault(bucket_start(record.started_at, width), []).append(record)
    result = []
    for start in sorted(groups):
        total, failed, rate, p95, avg = summarize(groups[start])
        result.append(BucketStats(start=start, total=total, failed=failed, error_rate=rate, p95_ms=p95, avg_ms=avg))
    return result


def filter_records(records: Iterable[QueryRecord], *, warehouse: str | None = None,
                   since: datetime | None = None, until: datetime | None = None) -> list[QueryRecord]:
    """Records of one warehouse and/or started within ``[since, until)``."""
    lo = _as_utc(since) if since else None
    hi = _as_utc(until) if until else None
    out = []
    for record in records:
        if warehouse and record.warehouse != warehouse:
            continue
        started = _as_utc(record.started_at)
        if lo is not None and started < lo:
            continue
        if hi is not None and started >= hi:
            continue
        out.append(record)
    return out


def slow_queries(records: Iterable[QueryRecord], threshold_ms: float) -> list[QueryRecord]:
    """Queries that ran at least ``threshold_ms``, slowest first (seed 000's "slow queries")."""
    slow = [r for r in records if r.duration_ms is not None and r.duration_ms >= threshold_ms]
    return sorted(slow, key=lambda r: r.duration_ms or 0.0, reverse=True)


def failed_queries(records: Iterable[QueryRecord]) -> list[QueryRecord]:
    """Failed queries, most recent first."""
    return sorted((r for r in records if r.status == FAILED), key=lambda r: _as_utc(r.started_at), reverse=True)


@dataclass(frozen=True, slots=True)
class TargetCheck:
    """One service-level target against the figures of a query history window."""

    name: str
    """``p50``, ``p99`` or ``error rate``."""
    value: float | None
    """Measured figure (ms for latencies, a fraction for the error rate); None without data."""
    target: float
    met: bool | None
    """None when there is no data to judge."""

    def describe(self) -> str:
        if self.value is None:
            return f"{self.name} no data (target < {self._fmt(self.target)})"
        return f"{self.name} {self._fmt(self.value)} {'<' if self.met else '>='} {self._fmt(self.target)}"

    def _fmt(self, value: float) -> str:
        return f"{value:.2%}" if self.name == "error rate" else f"{value:,.0f} ms"


def target_checks(records: Iterable[QueryRecord], *, p50_ms: float | None = None, p99_ms: float | None = None,
                  error_rate: float | None = None) -> list[TargetCheck]:
    """Seed 001's dashboard targets (p50 < 100 ms, p99 < 500 ms, error rate < 0.1 %) on completed queries."""
    done = [r for r in records if r.status in COMPLETED]
    durations = [r.duration_ms for r in done if r.duration_ms is not None]
    checks = []
    for name, q, target in (("p50", 0.50, p50_ms), ("p99", 0.99, p99_ms)):
        if target is not None:
            value = percentile(durations, q)
            checks.append(TargetCheck(name, value, float(target), None if value is None else value < target))
    if error_rate is not None:
        rate = sum(1 for r in done if r.status == FAILED) / len(done) if done else None
        checks.append(TargetCheck("error rate", rate, float(error_rate), None if rate is None else rate < error_rate))
    return checks
