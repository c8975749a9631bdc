"""Airflow 3 driver against a real Airflow (scripts/peers/airflow.sh).

The peer runs api-server + scheduler + dag-processor with the DAGs of
tests/fixtures/dags: ``opsc_pipeline_ok`` succeeds and prints its full_refresh
param, ``opsc_pipeline_fail`` fails in ``transform_staging``. The module fixture
unpauses and triggers them through the driver's own actions, then waits for the
runs to finish (real task processes: ~10-30 s on this machine).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsconsole.drivers.airflow import AirflowDriver, render_log
from opsconsole.errors import AuthError, DriverUnavailable
from opsconsole.model import Health, JobRun

OK_DAG, FAIL_DAG = "opsc_pipeline_ok", "opsc_pipeline_fail"
RUN_WAIT_S = 180


def _driver(url: str, password: str = "admin", **options: object) -> AirflowDriver:
    from opsconsole.secret import Secret

    return AirflowDriver("airflow", {"url": url, "username": "admin", "password": Secret(password), **options},
                         timeout=20)


@pytest.fixture(scope="module")
def airflow_url() -> str:
    from tests.conftest import require_peer

    return require_peer("OPSC_AIRFLOW_URL", "Airflow 3 (scripts/peers/airflow.sh)")


async def _wait_for_dags(driver: AirflowDriver) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if {OK_DAG, FAIL_DAG} <= {d["dag_id"] for d in await driver.dags()}:
            return
        await asyncio.sleep(1)
    raise AssertionError("the test DAGs were not parsed within 90 s")


async def _run_pipelines(url: str) -> dict[str, object]:
    driver = _driver(url)
    try:
        await _wait_for_dags(driver)
        results = {}
        for dag in (OK_DAG, FAIL_DAG):
            results[f"unpause:{dag}"] = await driver.run_action("unpause_dag", {"dag_id": dag})
        results["full_refresh"] = await driver.run_action("full_refresh", {"dag_id": OK_DAG})
        results["trigger"] = await driver.run_action("trigger_dag", {"dag_id": FAIL_DAG})
        run_ids = {dag: str(results[key].message.split()[2])  # "queued run <id> of <dag>"
                   for dag, key in ((OK_DAG, "full_refresh"), (FAIL_DAG, "trigger"))}
        deadline = time.monotonic() + RUN_WAIT_S
        while time.monotonic() < deadline:
            rows = {r.job: r for r in await driver.job_runs()}
            done = {dag: rows[dag] for dag in run_ids
                    if rows[dag].run_id == run_ids[dag] and rows[dag].state in {"success", "failed"}}
            if len(done) == len(run_ids):
                results["rows"] = rows
                results["run_ids"] = run_ids
                return results
            await asyncio.sleep(2)
        raise AssertionError(f"runs {run_ids} did not finish within {RUN_WAIT_S} s: {rows}")
    finally:
        await driver.close()


@pytest.fixture(scope="module")
def pipelines(airflow_url: str) -> Iterator[dict[str, object]]:
    yield asyncio.run(_run_pipelines(airflow_url))


async def test_health_lists_scheduler_database_and_dag_processor(airflow_url: str) -> None:
    driver = _driver(airflow_url)
    try:
        rows = {r.name: r for r in await driver.health()}
    finally:
        await driver.close()
    assert {"airflow/metadatabase", "airflow/scheduler", "airflow/dag_processor"} <= set(rows)
    assert all(r.health is Health.OK for r in rows.values()), rows
    assert "heartbeat" in rows["airflow/scheduler"].detail
    assert "airflow/triggerer" not in rows, "a component that is not deployed is not judged"


def test_latest_runs_show_success_and_failure_with_failed_task(pipelines: dict[str, object]) -> None:
    rows: dict[str, JobRun] = pipelines["rows"]  # type: ignore[assignment]
    ok, failed = rows[OK_DAG], rows[FAIL_DAG]
    assert ok.state == "success" and ok.duration_s and ok.started_at is not None
    assert failed.state == "failed"
    assert "failed tasks: transform_staging" in failed.detail
    assert "extract_raw" not in failed.detail, "only failed tasks are named"
    assert ok.source == failed.source == "airflow"


def test_actions_report_what_they_did(pipelines: dict[str, object]) -> None:
    assert pipelines[f"unpause:{OK_DAG}"].message == f"{OK_DAG} is unpaused"  # type: ignore[attr-defined]
    refresh = pipelines["full_refresh"]
    assert refresh.ok and "'full_refresh': True" in refresh.output  # type: ignore[attr-defined]
    assert "'full_refresh'" not in pipelines["trigger"].output  # type: ignore[attr-defined]


async def test_full_refresh_conf_reaches_the_task(airflow_url: str, pipelines: dict[str, object]) -> None:
    run_id = pipelines["run_ids"][OK_DAG]  # type: ignore[index]
    driver = _driver(airflow_url)
    try:
        log = await driver.task_log(OK_DAG, run_id, "load_staging", 1)
    finally:
        await driver.close()
    assert "full_refresh=True" in log


async def test_failed_task_logs_show_the_exception(airflow_url: str, pipelines: dict[str, object]) -> None:
    driver = _driver(airflow_url)
    try:
        result = await driver.run_action("failed_task_logs", {"dag_id": FAIL_DAG})
        none_failed = await driver.run_action("failed_task_logs", {"dag_id": OK_DAG})
    finally:
        await driver.close()
    assert result.message.startswith("1 failed task(s)")
    assert "== transform_staging" in result.output
    assert "RuntimeError: simulated failure: Iceberg REST catalog unavailable" in result.output
    assert "opsc_pipeline_fail.py:" in result.output, "the failing line is shown"
    assert none_failed.message == f"{OK_DAG} has no failed run"


async def test_list_runs_and_pause(airflow_url: str, pipelines: dict[str, object]) -> None:
    run_id = pipelines["run_ids"][FAIL_DAG]  # type: ignore[index]
    driver = _driver(airflow_url, dags=[FAIL_DAG])
    try:
        listed = await driver.run_action("list_runs", {"dag_id": FAIL_DAG})
        paused = await driver.run_action("pause_dag", {"dag_id": FAIL_DAG})
        rows = await driver.job_runs()
        await driver.run_action("unpause_dag", {"dag_id": FAIL_DAG})
    finally:
        await driver.close()
    assert run_id in listed.output and "failed" in listed.output
    assert paused.ok and paused.message == f"{FAIL_DAG} is paused"
    assert [r.job for r in rows] == [FAIL_DAG], "the dags option filters the Jobs pane"
    assert "paused" in rows[0].detail


async def test_wrong_password_is_an_auth_error(airflow_url: str) -> None:
    driver = _driver(airflow_url, password="not-the-password")
    try:
        with pytest.raises(AuthError, match="refused user 'admin'") as info:
            await driver.job_runs()
        assert "not-the-password" not in str(info.value)
        assert (await driver.health())[0].health is Health.OK, "health needs no login"
    finally:
        await driver.close()


async def test_expired_token_is_renewed_once(airflow_url: str) -> None:
    driver = _driver(airflow_url, dags=[OK_DAG])
    try:
        await driver.job_runs()
        first = driver._token
        driver._token = first[:-8] + "AAAAAAAA"  # what an expired or rotated token looks like: a 401
        rows = await driver.job_runs()
    finally:
        await driver.close()
    assert [r.job for r in rows] == [OK_DAG]
    assert driver._token not in (None, first[:-8] + "AAAAAAAA")


async def test_unreachable_airflow_is_critical_and_jobs_raise() -> None:
    driver = _driver("http://127.0.0.1:9")
    try:
        (row,) = await driver.health()
        assert row.health is Health.CRITICAL and "127.0.0.1:9" in row.detail
        with pytest.raises(DriverUnavailable):
            await driver.job_runs()
    finally:
        await driver.close()


def test_render_log_keeps_events_and_exceptions_and_drops_group_markers() -> None:
    text = render_log([
        {"event": "::group::Pre Execute"},
        {"timestamp": "2024-01-01T00:00:00Z", "level": "error", "event": "Task failed with exception",
         "error_detail": [{"exc_type": "ValueError", "exc_value": "bad row",
                           "frames": [{"filename": "dag.py", "lineno": 7}]}]},
    ])
    assert text.splitlines() == ["2024-01-01T00:00:00Z ERROR Task failed with exception",
                                 "    ValueError: bad row (dag.py:7)"]
    assert render_log("plain log") == "plain log"


def test_iceberg_local_profile_configures_the_orchestration_drivers(root: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """profiles.yaml's seed 002 profile validates against these drivers' options, URLs from the environment."""
    from opsconsole.config import load
    from opsconsole.drivers import driver_class
    from opsconsole.secret import Secret

    monkeypatch.setenv("AIRFLOW_URL", "http://airflow.internal:8080")
    monkeypatch.setenv("AIRFLOW_PASSWORD", "s3cret-pw")
    profile = load(root / "profiles.yaml").profile("iceberg-local")
    specs = {d.kind: d for d in profile.drivers}
    assert {"kafka", "airflow", "flink", "spark"} <= set(specs)
    airflow = driver_class("airflow")(specs["airflow"].name, specs["airflow"].options)
    assert airflow.base == "http://airflow.internal:8080"
    assert isinstance(specs["airflow"].options["password"], Secret)
    assert "s3cret-pw" not in repr(specs["airflow"].options)
    assert specs["flink"].options["url"] == "http://localhost:8083"  # seed 002's port
    assert specs["spark"].options["url"] == "http://localhost:8084"


def test_failed_run_raises_pipeline_failure(pipelines: dict[str, object]) -> None:
    """The Jobs rows feed the alert rules: the failed DAG's latest run is a PipelineFailure."""
    from datetime import UTC, datetime

    from opsconsole.model import Pane, PaneResult
    from opsconsole.monitor.rules import evaluate

    rows: dict[str, JobRun] = pipelines["rows"]  # type: ignore[assignment]
    result = PaneResult(pane=Pane.JOBS, rows=tuple(rows.values()), errors={}, polled_at=datetime.now(UTC),
                        duration_ms=1)
    alerts = [a for a in evaluate({Pane.JOBS: result}, {}) if a.rule == "PipelineFailure"]
    assert [a.subject for a in alerts] == [FAIL_DAG]
    assert "transform_staging" in alerts[0].message
