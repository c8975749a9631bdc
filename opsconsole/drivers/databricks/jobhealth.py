"""Per-job health scores and duration anomalies (seed 004, DataOps Intelligence).

Seed 004's ``HealthAnalyzer`` scores each job 0-100 from its success rate and
performance stability with a trend, and its ``AnomalyDetector`` flags runs with
unusual durations "using statistical methods". The seed gives no formula, so
this module fixes one, documented here and kept pure (lists of
:class:`~opsconsole.model.JobRun` in, model objects out) so it can be tested and
reused by the alerts and the headless CLI:

* **success rate**: ``SUCCESS`` / decided runs. Failed outcomes are ``FAILED``,
  ``TIMEDOUT``, ``INTERNAL_ERROR``, ``MAXIMUM_CONCURRENT_RUNS_REACHED`` and
  ``UPSTREAM_FAILED``; cancelled or skipped runs were a person's or a
  scheduler's decision and are left out; running runs have no outcome yet.
* **stability**: ``1 - min(1, CV)`` of the successful runs' durations, where CV
  is the coefficient of variation (stdev / mean). A job that always takes about
  as long scores 1; one whose duration swings by its own mean scores 0. With
  fewer than two timed successes there is no evidence of instability: 1.0.
* **trend**: the decided runs are split in an older and a newer half
  (chronologically); ``degrading`` when the newer half's success rate is at
  least 10 points lower or its median duration at least 25 % longer,
  ``improving`` for the reverse, else ``stable``; ``unknown`` under 4 runs.
* **score** = ``100 * (0.6 * success + 0.3 * stability + 0.1 * trend)``, the
  trend term being 0 for ``degrading`` and 1 otherwise (no penalty without
  evidence), rounded to one decimal.
* **anomalies**: the modified z-score of Iglewicz and Hoaglin,
  ``0.6745 * (x - median) / MAD`` over a job's timed runs, flags
  ``|z| > 3.5``. The median and MAD are robust: the outlier being judged does
  not drag the baseline towards itself, unlike mean and stdev. When MAD is 0
  (most runs identical) the mean absolute deviation * 1.2533 stands in, as the
  method prescribes. At least 5 timed runs are needed to judge.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from opsconsole.model import Health, HealthScore, JobRun

SUCCESS_STATES = frozenset({"SUCCESS", "SUCCEEDED", "SUCCESS_WITH_FAILURES"})
FAILURE_STATES = frozenset({"FAILED", "TIMEDOUT", "INTERNAL_ERROR", "MAXIMUM_CONCURRENT_RUNS_REACHED",
                            "UPSTREAM_FAILED", "ERROR"})
WEIGHTS = (0.6, 0.3, 0.1)
ANOMALY_THRESHOLD = 3.5
MIN_ANOMALY_RUNS = 5
MIN_TREND_RUNS = 4


@dataclass(frozen=True, slots=True)
class DurationAnomaly:
    """A run whose duration is far from its job's usual duration."""

    job: str
    run_id: str
    started_at: datetime | None
    duration_s: float
    baseline_s: float
    """Median duration of the job's timed runs."""
    z_score: float
    """Modified z-score; positive means slower than usual."""

    @property
    def kind(self) -> str:
        return "slow" if self.z_score > 0 else "fast"


def _chronological(runs: Iterable[JobRun]) -> list[JobRun]:
    epoch = datetime.min.replace(tzinfo=UTC)

    def key(run: JobRun) -> datetime:
        if run.started_at is None:
            return epoch
        return run.started_at if run.started_at.tzinfo else run.started_at.replace(tzinfo=UTC)

    return sorted(runs, key=key)


def _decided(runs: Sequence[JobRun]) -> list[JobRun]:
    return [r for r in runs if r.state in SUCCESS_STATES or r.state in FAILURE_STATES]


def success_rate(runs: Sequence[JobRun]) -> float | None:
    """Share of decided runs that succeeded, or None when no run is decided."""
    decided = _decided(runs)
    if not decided:
        return None
    return sum(1 for r in decided if r.state in SUCCESS_STATES) / len(decided)


def stability(runs: Sequence[JobRun]) -> float:
    """``1 - min(1, CV)`` of successful durations (1.0 without enough evidence)."""
    durations = [r.duration_s for r in runs if r.state in SUCCESS_STATES and r.duration_s is not None]
    if len(durations) < 2:
        return 1.0
    mean = statistics.fmean(durations)
    if mean <= 0:
        return 1.0
    cv = statistics.pstdev(durations) / mean
    return max(0.0, 1.0 - min(1.0, cv))


def trend(runs: Sequence[JobRun]) -> str:
    """``improving``, ``stable``, ``degrading`` or ``unknown`` (see the module docstring)."""
    decided = _decided(_chronological(runs))
    if len(decided) < MIN_TREND_RUNS:
        return "unknown"
    half = len(decided) // 2
    older, newer = decided[:half], decided[len(decided) - half:]
    old_rate = success_rate(older) or 0.0
    new_rate = success_rate(newer) or 0.0
    if new_rate <= old_rate - 0.1:
        return "degrading"
    if new_rate >= old_rate + 0.1:
        return "improving"
    old_d = [r.duration_s for r in older if r.duration_s is not None and r.state in SUCCESS_STATES]
    new_d = [r.duration_s for r in newer if r.duration_s is not None and r.state in SUCCESS_STATES]
    if old_d and new_d:
        old_m, new_m = statistics.median(old_d), statistics.median(new_d)
        if old_m > 0 and new_m >= old_m * 1.25:
            return "degrading"
        if new_m > 0 and old_m >= new_m * 1.25:
            return "improving"
    return "stable"


def score_job(job: str, runs: Sequence[JobRun]) -> HealthScore | None:
    """Health score of one job from its runs, or None when no run has an outcome yet."""
    rate = success_rate(runs)
    if rate is None:
        return None
    stab = stability(runs)
    direction = trend(runs)
    w_success, w_stab, w_trend = WEIGHTS
    trend_term = 0.0 if direction == "degrading" else 1.0
    value = 100.0 * (w_success * rate + w_stab * stab + w_trend * trend_term)
    return HealthScore(job=job, score=round(max(0.0, min(100.0, value)), 1), success_rate=rate,
                       stability=round(stab, 3), trend=direction, runs=len(_decided(runs)))


def group_by_job(runs: Iterable[JobRun]) -> dict[str, list[JobRun]]:
    groups: dict[str, list[JobRun]] = {}
    for run in runs:
        groups.setdefault(run.job, []).append(run)
    return groups


def health_scores(runs: Iterable[JobRun]) -> list[HealthScore]:
    """One score per job that has decided runs, worst first."""
    scores = [s for job, rs in group_by_job(runs).items() if (s := score_job(job, rs)) is not None]
    return sorted(scores, key=lambda s: (s.score, s.job))


def duration_anomalies(runs: Iterable[JobRun], threshold: float = ANOMALY_THRESHOLD) -> list[DurationAnomaly]:
    """Runs whose duration's modified z-score exceeds ``threshold``, most extreme first."""
    found: list[DurationAnomaly] = []
    for job, job_runs in group_by_job(runs).items():
        timed = [r for r in job_runs if r.duration_s is not None]
        if len(timed) < MIN_ANOMALY_RUNS:
            continue
        durations = [float(r.duration_s) for r in timed if r.duration_s is not None]
        median = statistics.median(durations)
        mad = statistics.median(abs(d - median) for d in durations)
        if mad > 0:
            scale = mad / 0.6745
        else:
            scale = 1.2533 * statistics.fmean(abs(d - median) for d in durations)
        if scale <= 0:
            continue
        for run in timed:
            z = (float(run.duration_s or 0.0) - median) / scale
            if abs(z) > threshold:
                found.append(DurationAnomaly(job=job, run_id=run.run_id, started_at=run.started_at,
                                             duration_s=float(run.duration_s or 0.0), baseline_s=median,
                                             z_score=round(z, 2)))
    return sorted(found, key=lambda a: abs(a.z_score), reverse=True)


def score_health(score: HealthScore, anomalies: int = 0, warning: float = 80.0, critical: float = 50.0) -> Health:
    """Traffic light of a score: >= ``warning`` OK, >= ``critical`` WARNING, else CRITICAL; anomalies warn."""
    if score.score < critical:
        return Health.CRITICAL
    if score.score < warning or anomalies or score.trend == "degrading":
        return Health.WARNING
    return Health.OK


JOB_RUNBOOK = "dataops-job-health-review"
