"""Pure parts of the Databricks support: SQL building, row mapping, query statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsconsole.drivers.databricks import query_stats, rows
from opsconsole.drivers.databricks import sql as dsql
from opsconsole.errors import ActionRefused
from opsconsole.model import Health, QueryRecord


# ---------------------------------------------------------------------------- SQL
def test_short_names_are_completed_and_quoted() -> None:
    assert dsql.qualified("sheets", "ontos_ml", "workbench") == "`ontos_ml`.`workbench`.`sheets`"
    assert dsql.qualified("other.sheets", "ontos_ml", "workbench") == "`ontos_ml`.`other`.`sheets`"
    assert dsql.qualified("c-1.s.t", None, None) == "`c-1`.`s`.`t`"


@pytest.mark.parametrize("name", ["", "a.b.c.d", "t`x", "t x", "t;drop", "a..b", "ta\nble"])
def test_odd_table_names_are_refused(name: str) -> None:
    with pytest.raises(ActionRefused):
        dsql.qualified(name, "c", "s")


def test_short_name_without_profile_defaults_is_refused() -> None:
    with pytest.raises(ActionRefused, match="not fully qualified"):
        dsql.qualified("sheets", None, None)


def test_principal_backticks_are_doubled() -> None:
    assert dsql.grant("select , all  privileges", "table", "`c`.`s`.`t`", "a`b@x.com") == \
        "GRANT SELECT, ALL PRIVILEGES ON TABLE `c`.`s`.`t` TO `a``b@x.com`"


def test_restore_and_vacuum_rules() -> None:
    assert dsql.restore("T", version="42") == "RESTORE TABLE T TO VERSION AS OF 42"
    with pytest.raises(ActionRefused):
        dsql.restore("T", version=-1)
    with pytest.raises(ActionRefused):
        dsql.restore("T")
    with pytest.raises(ActionRefused, match="168"):
        dsql.vacuum("T", 167)


def test_result_formatting_truncates() -> None:
    text = dsql.format_result(["a", "b"], [[str(i), None] for i in range(5)], limit=2)
    assert text.splitlines() == ["a\tb", "0\t", "1\t", "... 3 more rows"]


# ---------------------------------------------------------------------------- rows
NOW = datetime(2026, 2, 7, 10, tzinfo=UTC)


@pytest.mark.parametrize("compute, status, expected", [
    ("ACTIVE", "RUNNING", Health.OK),
    ("ACTIVE", "CRASHED", Health.CRITICAL),
    ("STARTING", "DEPLOYING", Health.WARNING),
    ("STOPPED", "UNAVAILABLE", Health.CRITICAL),
    ("ERROR", "UNAVAILABLE", Health.CRITICAL),
])
def test_app_health(compute: str, status: str, expected: Health) -> None:
    app = {"name": "x", "compute_status": {"state": compute}, "app_status": {"state": status}}
    assert rows.app_status(app, source="w", checked_at=NOW).health is expected


@pytest.mark.parametrize("state, health, expected", [
    ("RUNNING", "HEALTHY", Health.OK), ("RUNNING", "DEGRADED", Health.WARNING),
    ("STARTING", "", Health.WARNING), ("STOPPED", "", Health.OK), ("DELETED", "", Health.CRITICAL),
])
def test_warehouse_state_health_auto_stop_is_normal(state: str, health: str, expected: Health) -> None:
    wh = {"id": "w", "name": "wh", "state": state, "health": {"status": health} if health else {}}
    row = rows.warehouse_status(wh, source="w", checked_at=NOW)
    assert row.health is expected and row.extra["state"] == state


def test_job_run_mapping_prefers_result_state() -> None:
    run = rows.job_run({"run_id": 7, "run_name": "etl", "start_time": 1_770_458_400_000, "run_duration": 90_000,
                        "state": {"life_cycle_state": "TERMINATED", "result_state": "FAILED"}}, source="w")
    assert (run.job, run.state, run.duration_s) == ("etl", "FAILED", 90.0)
    assert run.started_at == datetime(2026, 2, 7, 10, tzinfo=UTC)
    running = rows.job_run({"run_id": 8, "run_name": "etl", "start_time": 1, "run_duration": 5000,
                            "state": {"life_cycle_state": "RUNNING"}}, source="w")
    assert running.state == "RUNNING" and running.duration_s is None


def status_run(i: int, code: str, kind: str, with_state: bool = False) -> dict[str, object]:
    """A Jobs 2.2 run as a real workspace returns it, ``state`` only when asked."""
    run: dict[str, object] = {"run_id": i, "run_name": "etl", "start_time": 1_770_458_400_000 + i * 3_600_000,
                              "run_duration": 60_000, "run_type": "JOB_RUN",
                              "status": {"state": "TERMINATED", "termination_details": {"code": code, "type": kind}}}
    if with_state:
        run["state"] = {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"}
    return run


@pytest.mark.parametrize("code, kind, expected", [
    ("SUCCESS", "SUCCESS", "SUCCESS"), ("RUN_EXECUTION_ERROR", "CLIENT_ERROR", "FAILED"),
    ("DRIVER_ERROR", "INTERNAL_ERROR", "INTERNAL_ERROR"), ("CLOUD_FAILURE", "CLOUD_FAILURE", "INTERNAL_ERROR"),
    ("USER_CANCELED", "SUCCESS", "CANCELED"), ("SKIPPED", "SUCCESS", "SKIPPED"),
])
def test_job_outcome_from_status_and_termination_type(code: str, kind: str, expected: str) -> None:
    assert rows.job_run(status_run(1, code, kind), source="w").state == expected


def test_status_wins_over_deprecated_state() -> None:
    assert rows.job_run(status_run(1, "RUN_EXECUTION_ERROR", "CLIENT_ERROR", with_state=True),
                        source="w").state == "FAILED"


def test_job_failing_3_of_6_status_only_runs_scores_low() -> None:
    from opsconsole.drivers.databricks import jobhealth

    history = [rows.job_run(status_run(i, *(("RUN_EXECUTION_ERROR", "CLIENT_ERROR") if i % 2 else
                                            ("SUCCESS", "SUCCESS"))), source="w") for i in range(6)]
    [score] = jobhealth.health_scores(history)
    assert score.success_rate == 0.5 and score.score < 80


# ---------------------------------------------------------------------------- query stats
def rec(minute: int, ms: float | None, status: str = "FINISHED", wh: str = "w1") -> QueryRecord:
    return QueryRecord(query_id=f"{minute}-{ms}", text="", status=status, started_at=NOW + timedelta(minutes=minute),
                       duration_ms=ms, warehouse=wh)


def test_percentile_interpolates_like_spark() -> None:
    assert query_stats.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert query_stats.percentile(list(range(1, 101)), 0.95) == pytest.approx(95.05)
    assert query_stats.percentile([], 0.95) is None


def test_per_bucket_error_rate_and_p95() -> None:
    records = [rec(1, 100), rec(2, 200), rec(3, 50, "FAILED"), rec(4, None, "RUNNING"),
               rec(70, 20_000), rec(75, 10, "CANCELED")]
    first, second = query_stats.per_bucket(records, timedelta(hours=1))
    assert (first.start, first.total, first.failed) == (NOW, 3, 1)
    assert first.error_rate == pytest.approx(1 / 3)
    assert first.p95_ms == pytest.approx(query_stats.percentile([100, 200, 50], 0.95))
    assert (second.total, second.failed, second.error_rate) == (2, 0, 0.0)


def test_filters_slow_and_failed() -> None:
    records = [rec(1, 100), rec(2, 15_000, wh="w2"), rec(3, 11_000), rec(4, 5, "FAILED"), rec(9, 1, "FAILED")]
    assert [r.duration_ms for r in query_stats.slow_queries(records, 10_000)] == [15_000, 11_000]
    assert [r.query_id for r in query_stats.failed_queries(records)] == ["9-1", "4-5"]
    assert len(query_stats.filter_records(records, warehouse="w1", since=NOW + timedelta(minutes=2))) == 3
