"""Job health scores and duration anomalies (seed 004), on hand-built run histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsconsole.drivers.databricks import jobhealth
from opsconsole.model import Health, HealthScore, JobRun

T0 = datetime(2026, 2, 1, tzinfo=UTC)

def job_alerts(runs, thresholds, now):  # type: ignore[no-untyped-def]
    """Seed 004's alerts as the monitor raises them: the JobHealthLow / JobDurationAnomaly rules on Jobs rows."""
    from opsconsole.model import Pane, PaneResult
    from opsconsole.monitor.rules import evaluate as evaluate_rules

    result = PaneResult(Pane.JOBS, tuple(runs), {}, now, 0.0)
    return [a for a in evaluate_rules({Pane.JOBS: result}, thresholds, now)
            if a.rule in ("JobHealthLow", "JobDurationAnomaly")]



def runs(job: str, states: list[str], durations: list[float | None] | None = None) -> list[JobRun]:
    """Runs in chronological order (oldest first), one hour apart."""
    durations = durations or [60.0] * len(states)
    return [JobRun(job=job, run_id=f"{job}-{i}", state=s, started_at=T0 + timedelta(hours=i), duration_s=d)
            for i, (s, d) in enumerate(zip(states, durations, strict=True))]


def test_perfect_steady_job_scores_100() -> None:
    score = jobhealth.score_job("etl", runs("etl", ["SUCCESS"] * 10))
    assert score == HealthScore(job="etl", score=100.0, success_rate=1.0, stability=1.0, trend="stable", runs=10)
    assert jobhealth.score_health(score) is Health.OK


def test_success_rate_ignores_cancelled_and_running_runs() -> None:
    history = runs("etl", ["SUCCESS", "FAILED", "CANCELED", "RUNNING", "SUCCESS", "TIMEDOUT"])
    assert jobhealth.success_rate(history) == pytest.approx(0.5)
    assert jobhealth.score_job("etl", runs("etl", ["RUNNING", "CANCELED"])) is None


def test_unstable_durations_lower_the_score() -> None:
    steady = jobhealth.score_job("a", runs("a", ["SUCCESS"] * 8, [100] * 8))
    swinging = jobhealth.score_job("b", runs("b", ["SUCCESS"] * 8, [20, 180] * 4))
    assert steady is not None and swinging is not None
    assert swinging.stability == pytest.approx(0.2) and swinging.trend == "stable"  # CV = 80/100
    assert swinging.score == pytest.approx(100 * (0.6 + 0.3 * 0.2 + 0.1))
    assert swinging.score < steady.score


@pytest.mark.parametrize("states, durations, expected", [
    (["SUCCESS"] * 4 + ["FAILED", "SUCCESS", "FAILED", "FAILED"], None, "degrading"),
    (["FAILED"] * 3 + ["SUCCESS"] * 5, None, "improving"),
    (["SUCCESS"] * 8, [60, 60, 60, 60, 90, 90, 90, 90], "degrading"),
    (["SUCCESS"] * 8, [90, 90, 90, 90, 60, 60, 60, 60], "improving"),
    (["SUCCESS"] * 8, [60, 61, 59, 60, 62, 60, 61, 60], "stable"),
    (["SUCCESS"] * 3, None, "unknown"),
])
def test_trend(states: list[str], durations: list[float] | None, expected: str) -> None:
    assert jobhealth.trend(runs("j", states, durations)) == expected


def test_trend_uses_start_time_not_list_order() -> None:
    history = runs("j", ["SUCCESS"] * 4 + ["FAILED"] * 4)
    assert jobhealth.trend(list(reversed(history))) == "degrading"


def test_degrading_trend_costs_ten_points_and_warns() -> None:
    score = jobhealth.score_job("j", runs("j", ["SUCCESS"] * 6 + ["FAILED"] * 2))
    assert score is not None and score.trend == "degrading"
    assert score.score == pytest.approx(100 * (0.6 * 0.75 + 0.3 * 1.0))
    assert score.score == 75.0 and jobhealth.score_health(score) is Health.WARNING


def test_health_scores_worst_first_per_job() -> None:
    scores = jobhealth.health_scores(runs("good", ["SUCCESS"] * 5) + runs("bad", ["FAILED"] * 5))
    assert [s.job for s in scores] == ["bad", "good"]
    assert jobhealth.score_health(scores[0]) is Health.CRITICAL


def test_one_slow_run_is_an_anomaly() -> None:
    durations: list[float | None] = [600, 610, 590, 605, 595, 600, 3000, 602]
    [anomaly] = jobhealth.duration_anomalies(runs("etl", ["SUCCESS"] * 8, durations))
    assert anomaly.run_id == "etl-6" and anomaly.kind == "slow" and anomaly.baseline_s == 601
    assert anomaly.z_score > 3.5


def test_fast_outlier_among_identical_runs_uses_mean_deviation_fallback() -> None:
    durations: list[float | None] = [100.0] * 9 + [5.0]
    [anomaly] = jobhealth.duration_anomalies(runs("etl", ["SUCCESS"] * 10, durations))
    assert anomaly.kind == "fast" and anomaly.run_id == "etl-9"


def test_no_anomaly_in_normal_noise_or_short_history() -> None:
    noisy: list[float | None] = [100, 120, 90, 110, 95, 105, 115, 85]
    assert jobhealth.duration_anomalies(runs("a", ["SUCCESS"] * 8, noisy)) == []
    assert jobhealth.duration_anomalies(runs("b", ["SUCCESS"] * 4, [10, 10, 10, 900])) == []
    assert jobhealth.duration_anomalies(runs("c", ["SUCCESS"] * 6, [50.0] * 6)) == []


def test_job_alerts_use_the_profile_thresholds() -> None:
    history = runs("etl", ["SUCCESS"] * 8, [600, 610, 590, 605, 595, 600, 1500, 602])
    [anomaly] = job_alerts(history, {"job_duration_z_max": 3.5}, T0)
    assert anomaly.rule == "JobDurationAnomaly" and anomaly.subject == "etl" and "etl-6" in anomaly.message
    assert anomaly.runbook == "dataops-job-health-review"
    assert job_alerts(history, {"job_duration_z_max": 500}, T0) == []
    flaky = runs("sync", ["SUCCESS", "FAILED"] * 4)
    [low] = job_alerts(flaky, {"job_health_warning": 80, "job_health_critical": 50}, T0)
    assert low.rule == "JobHealthLow" and low.severity.name == "WARNING"
    [critical] = job_alerts(flaky, {"job_health_warning": 90, "job_health_critical": 75}, T0)
    assert critical.severity.name == "CRITICAL" and "< 75" in critical.message
