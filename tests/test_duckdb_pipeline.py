"""OSAA pipeline driver against a real DuckDB file, a real lock-holding process
and real pipeline-step subprocesses (seed 003)."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsconsole import config
from opsconsole.drivers.duckdb.pipeline import DuckDBPipelineDriver
from opsconsole.errors import ActionRefused, DriverUnavailable
from opsconsole.model import Health, ServiceStatus
from tests.fixtures.osaa.build_db import PipelineData, build_pipeline_db
from tests.fixtures.osaa.lock_holder import hold_lock

STEP_SCRIPT = Path(__file__).parent / "fixtures" / "osaa" / "pipeline_step.py"
ROOT = Path(__file__).resolve().parents[1]


def make_driver(db: Path, tmp_path: Path, **options: Any) -> DuckDBPipelineDriver:
    opts: dict[str, Any] = {
        "database": str(db),
        "compose_dir": str(tmp_path),
        "run_command": f"{shlex.quote(sys.executable)} {shlex.quote(str(STEP_SCRIPT))} {{step}}",
        "quality_interval": 0,
    }
    opts.update(options)
    driver = DuckDBPipelineDriver("pipeline", opts, timeout=20)
    driver.snapshot_ttl = 0  # type: ignore[misc] - every call in a test sees the file as it is now
    return driver


def by_name(rows: list[ServiceStatus]) -> dict[str, ServiceStatus]:
    return {r.name: r for r in rows}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_pipeline_db(tmp_path / "unosaa_data_pipeline.db")


# --------------------------------------------------------------------------- quality
async def test_clean_database_is_healthy_with_real_figures(db: Path, tmp_path: Path) -> None:
    driver = make_driver(db, tmp_path)
    try:
        rows = by_name(await driver.health())
    finally:
        await driver.close()
    assert rows["duckdb"].health is Health.OK
    assert rows["duckdb"].extra["tables"] == 3
    for check in ("freshness", "completeness", "duplicates", "coverage", "anomalies"):
        assert rows[check].health is Health.OK, rows[check]
        assert rows[check].source == "quality"
    assert rows["completeness"].extra["completeness"] == 1.0
    assert rows["coverage"].extra["coverage"] == 1.0
    assert rows["duplicates"].extra["duplicates"] == 0
    assert rows["anomalies"].extra["anomalies"] == 0
    assert 0.9 < rows["freshness"].extra["freshness_hours"] < 1.1
    assert "pipeline runs" not in rows  # nothing was run from this console


async def test_defects_show_as_warnings_with_their_figures(tmp_path: Path) -> None:
    data = PipelineData(countries=20, duplicate_rows=4, null_values=40, outliers=2, missing_countries={2022: 3},
                        loaded_at={"sdg": datetime.now() - timedelta(hours=30)})
    db = build_pipeline_db(tmp_path / "osaa.db", data)
    driver = make_driver(db, tmp_path)
    try:
        rows = by_name(await driver.health())
        lag = {s.name: s for s in await driver.lag()}
    finally:
        await driver.close()
    sdg_rows = sum(data.countries - data.missing_countries.get(y, 0) for y in data.years) * len(data.indicators)
    wdi_rows = len(data.years) * data.countries * len(data.wdi_indicators) + data.outliers
    total = sdg_rows + wdi_rows + data.duplicate_rows

    assert rows["duplicates"].health is Health.WARNING
    assert rows["duplicates"].extra["duplicates"] == data.duplicate_rows
    assert rows["completeness"].health is Health.WARNING  # 40 of ~500 rows lack a value: < 95 %
    assert rows["completeness"].extra["completeness"] == pytest.approx((total - data.null_values) / total)
    assert "value" in rows["completeness"].detail
    assert rows["coverage"].health is Health.WARNING
    assert rows["coverage"].extra["coverage"] == pytest.approx(17 / 20)
    assert rows["coverage"].extra["coverage_year"] == 2022
    assert "17/20" in rows["coverage"].detail
    assert rows["anomalies"].health is Health.WARNING
    assert rows["anomalies"].extra["anomalies"] == data.outliers
    assert rows["freshness"].health is Health.WARNING
    assert rows["freshness"].detail.startswith("sdg:")
    assert 29.9 < rows["freshness"].extra["freshness_hours"] < 30.1

    assert lag["freshness sdg"].unit == "hours"
    assert 29.9 < lag["freshness sdg"].lag < 30.1
    assert lag["freshness wdi"].lag < 1.1
    assert "latest year 2023" in lag["freshness sdg"].detail


async def test_table_rows_counted_per_source_table(tmp_path: Path) -> None:
    data = PipelineData(countries=7, years=(2020, 2021), duplicate_rows=2)
    db = build_pipeline_db(tmp_path / "osaa.db", data)
    driver = make_driver(db, tmp_path)
    try:
        tables = {t.name: t for t in await driver.table_stats()}
    finally:
        await driver.close()
    sdg = 7 * 2 * len(data.indicators)
    wdi = 7 * 2 * len(data.wdi_indicators)
    assert tables["sources.sdg"].row_count == sdg
    assert tables["sources.wdi"].row_count == wdi
    assert tables["master.indicators"].row_count == sdg + wdi + 2
    assert tables["master.indicators"].layer == "master"
    assert tables["sources.sdg"].last_commit is not None


async def test_missing_table_marks_only_its_check_unknown(db: Path, tmp_path: Path) -> None:
    driver = make_driver(db, tmp_path, anomaly_table="sources.nope")
    try:
        rows = by_name(await driver.health())
    finally:
        await driver.close()
    assert rows["anomalies"].health is Health.UNKNOWN
    assert "sources.nope" in rows["anomalies"].detail
    assert rows["completeness"].health is Health.OK


async def test_missing_database_file_is_critical(tmp_path: Path) -> None:
    driver = make_driver(tmp_path / "absent.db", tmp_path)
    try:
        rows = await driver.health()
        with pytest.raises(DriverUnavailable, match="not found"):
            await driver.table_stats()
    finally:
        await driver.close()
    assert [(r.name, r.health) for r in rows] == [("duckdb", Health.CRITICAL)]
    assert "absent.db" in rows[0].detail


# --------------------------------------------------------------------------- lock
async def test_locked_database_names_the_holder(db: Path, tmp_path: Path) -> None:
    driver = make_driver(db, tmp_path)
    try:
        with hold_lock(db) as holder:
            rows = await driver.health()
            with pytest.raises(DriverUnavailable, match=f"pid {holder.pid}"):
                await driver.lag()
    finally:
        await driver.close()
    assert [r.name for r in rows] == ["duckdb"]  # no quality figures from a database we could not read
    row = rows[0]
    assert row.health is Health.CRITICAL
    assert row.extra["holder_pid"] == holder.pid
    assert "osaa-lock-holder" in row.extra["holder_command"]
    assert f"pid {holder.pid}" in row.detail and "osaa-lock-holder" in row.detail
    assert "never delete" in row.detail


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="light lock checks need /proc/locks")
async def test_between_quality_reads_the_lock_is_still_seen_without_opening(db: Path, tmp_path: Path) -> None:
    """Polls inside quality_interval reuse the figures but still notice a new writer at once."""
    driver = make_driver(db, tmp_path, quality_interval=3600)
    try:
        first = by_name(await driver.health())
        with hold_lock(db) as holder:
            locked = await driver.health()
        after = by_name(await driver.health())
    finally:
        await driver.close()
    assert first["duckdb"].health is Health.OK
    assert [r.name for r in locked] == ["duckdb"]
    assert locked[0].health is Health.CRITICAL and locked[0].extra["holder_pid"] == holder.pid
    assert "osaa-lock-holder" in locked[0].detail
    assert after["duckdb"].health is Health.OK
    assert after["duckdb"].extra["figures_at"] == first["duckdb"].extra["figures_at"]  # not re-read
    assert after["completeness"].extra["completeness"] == first["completeness"].extra["completeness"]


async def test_read_only_holder_does_not_block_the_console(db: Path, tmp_path: Path) -> None:
    driver = make_driver(db, tmp_path)
    try:
        with hold_lock(db, mode="read"):
            rows = by_name(await driver.health())
    finally:
        await driver.close()
    assert rows["duckdb"].health is Health.OK
    assert rows["completeness"].health is Health.OK


async def test_stop_lock_holder_then_checkpoint_keeps_committed_data(db: Path, tmp_path: Path) -> None:
    import duckdb

    driver = make_driver(db, tmp_path)
    try:
        with hold_lock(db) as holder:
            assert os.path.getsize(str(db) + ".wal") > 0  # the holder committed a row into the WAL
            assert f"pid {holder.pid}" in (await driver.health())[0].detail
            assert f"pid {holder.pid}" in driver.describe_effect("stop_lock_holder")
            with pytest.raises(ActionRefused, match=f"locked by pid {holder.pid}"):
                await driver.run_action("checkpoint", {})
            result = await driver.run_action("stop_lock_holder", {"pid": holder.pid})
            assert result.ok, result.message
            assert holder.wait(5) is not None  # the process is really gone
        assert f"pid {holder.pid}" in result.message
        assert os.path.exists(str(db) + ".wal")  # nothing deleted the WAL
        rows = by_name(await driver.health())
        assert rows["duckdb"].health is Health.OK
        checkpoint = await driver.run_action("checkpoint", {})
        assert checkpoint.ok, checkpoint.message
    finally:
        await driver.close()
    wal = str(db) + ".wal"
    assert not os.path.exists(wal) or os.path.getsize(wal) == 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        marker = con.execute("SELECT note FROM main.holder_marker").fetchall()
    finally:
        con.close()
    assert marker == [("committed while holding the lock",)]


async def test_stop_refuses_a_pid_that_does_not_hold_the_lock(db: Path, tmp_path: Path) -> None:
    driver = make_driver(db, tmp_path)
    try:
        with hold_lock(db) as holder:
            with pytest.raises(ActionRefused, match=f"holder now is pid {holder.pid}"):
                await driver.run_action("stop_lock_holder", {"pid": holder.pid + 100000})
            assert holder.poll() is None  # still running: nothing was signalled
        result = await driver.run_action("stop_lock_holder", {})
    finally:
        await driver.close()
    assert not result.ok and "nothing to stop" in result.message


def test_stop_action_is_declared_dangerous_and_never_mentions_deleting() -> None:
    spec = DuckDBPipelineDriver.action("stop_lock_holder")
    assert spec.mutating and spec.dangerous
    assert "never deleted" in spec.effect
    assert not DuckDBPipelineDriver.action("config_test").mutating


# --------------------------------------------------------------------------- pipeline runs
async def test_pipeline_run_streams_output_and_is_recorded(db: Path, tmp_path: Path) -> None:
    driver = make_driver(db, tmp_path)
    seen: list[str] = []
    gate = tmp_path / "go"
    driver.output_listeners.append(lambda run_id, line: seen.append(line))
    try:
        # The step prints its first line, then waits for the gate file: that line must reach
        # the listener while the process is still running.
        task = asyncio.create_task(driver.run_action("etl", {"args": f"--wait-for {gate} --lines 2"}))
        for _ in range(600):
            if seen or task.done():
                break
            await asyncio.sleep(0.05)
        assert seen and not task.done()
        assert driver.live_output() == seen
        running = await driver.job_runs()
        with pytest.raises(ActionRefused, match="already running"):
            await driver.run_action("transform", {})
        gate.touch()
        result = await asyncio.wait_for(task, 60)
        runs = await driver.job_runs()
        rows = by_name(await driver.health())
    finally:
        await driver.close()
    assert seen[0] == f"etl: started in {tmp_path}"  # ran in compose_dir
    assert running[0].state == "RUNNING" and running[0].job == "pipeline etl"
    assert result.ok
    assert "etl: model 2/2 done" in result.output and "etl: SUCCESS" in result.output
    assert "within the 2:00:00 SLA" in result.message
    assert runs[0].state == "SUCCESS" and runs[0].run_id == running[0].run_id
    assert runs[0].duration_s is not None and runs[0].duration_s > 0
    assert rows["pipeline runs"].health is Health.OK
    records = [json.loads(line) for line in driver.history_path.read_text().splitlines()]
    assert str(driver.history_path).startswith(os.environ["OPSCONSOLE_DATA_DIR"])
    assert [r["state"] for r in records] == ["RUNNING", "SUCCESS"]
    assert records[-1]["exit_code"] == 0


async def test_failed_run_is_critical_and_history_survives_restart(db: Path, tmp_path: Path) -> None:
    driver = make_driver(db, tmp_path)
    try:
        result = await driver.run_action("config_test", {"args": "--exit 3"})
    finally:
        await driver.close()
    assert not result.ok and "exit 3" in result.message
    again = make_driver(db, tmp_path)  # a new console session reads the same history
    try:
        runs = await again.job_runs()
        rows = by_name(await again.health())
    finally:
        await again.close()
    assert [(r.job, r.state) for r in runs] == [("pipeline config_test", "FAILED")]
    assert "exit 3" in runs[0].detail and "config_test: ERROR" in runs[0].detail
    assert rows["pipeline runs"].health is Health.CRITICAL


async def test_history_file_is_bounded(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from opsconsole.drivers.duckdb import runs as duckdb_runs

    monkeypatch.setattr(duckdb_runs, "HISTORY_MAX_BYTES", 1)
    monkeypatch.setattr(duckdb_runs, "HISTORY_KEEP_LINES", 2)  # one run: its RUNNING and final record
    driver = make_driver(db, tmp_path)
    try:
        await driver.run_action("ingest", {"args": "--exit 1"})
        await driver.run_action("config_test", {})
        runs = await driver.job_runs()
    finally:
        await driver.close()
    assert len(driver.history_path.read_text().splitlines()) == 2
    assert [(r.job, r.state) for r in runs] == [("pipeline config_test", "SUCCESS")]


async def test_run_over_sla_is_flagged(db: Path, tmp_path: Path) -> None:
    driver = make_driver(db, tmp_path, sla_hours=0.5 / 3600)  # half a second
    try:
        result = await driver.run_action("ingest", {"args": "--sleep 1.0"})
        runs = await driver.job_runs()
        rows = by_name(await driver.health())
    finally:
        await driver.close()
    assert result.ok
    assert "over the" in result.message
    assert runs[0].detail.startswith("over ")
    assert rows["pipeline runs"].health is Health.WARNING


async def test_canceled_run_stops_the_process(db: Path, tmp_path: Path) -> None:
    driver = make_driver(db, tmp_path)
    try:
        task = asyncio.create_task(driver.run_action("etl", {"args": "--sleep 60"}))
        for _ in range(200):
            if driver._run is not None and driver._run.pid and len(driver.live_output()) >= 4:
                break
            await asyncio.sleep(0.05)
        assert driver._run is not None
        pid = driver._run.pid
        assert pid is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        runs = await driver.job_runs()
    finally:
        await driver.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert runs[0].state == "CANCELED"


async def test_etl_refused_while_another_process_holds_the_database(db: Path, tmp_path: Path) -> None:
    driver = make_driver(db, tmp_path)
    try:
        with hold_lock(db) as holder:
            with pytest.raises(ActionRefused, match=f"pid {holder.pid}"):
                await driver.run_action("etl", {})
            ok = await driver.run_action("config_test", {})  # does not need the database
    finally:
        await driver.close()
    assert ok.ok
    assert [r.job for r in await make_driver(db, tmp_path).job_runs()] == ["pipeline config_test"]


async def test_unstartable_command_is_a_failed_run(db: Path, tmp_path: Path) -> None:
    driver = make_driver(db, tmp_path, run_command="/nonexistent/docker compose run --rm {service} {step}")
    try:
        result = await driver.run_action("ingest", {})
        runs = await driver.job_runs()
    finally:
        await driver.close()
    assert not result.ok and "could not start /nonexistent/docker" in result.message
    assert runs[0].state == "FAILED"


def test_default_command_is_the_seeds_docker_compose_run(db: Path, tmp_path: Path) -> None:
    driver = DuckDBPipelineDriver("pipeline", {"database": str(db)})
    assert driver.command_for("etl", "--model sources.sdg") == [
        "docker", "compose", "run", "--rm", "pipeline", "etl", "--model", "sources.sdg"]


# --------------------------------------------------------------------------- profile
def test_osaa_profile_validates_and_builds(monkeypatch: pytest.MonkeyPatch, db: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("OSAA_DB_PATH", str(db))
    monkeypatch.setenv("OSAA_COMPOSE_DIR", str(tmp_path))
    profile = config.load(ROOT / "profiles.yaml").profile("osaa-dev")
    pipeline = next(d for d in profile.drivers if d.kind == "duckdb")
    assert pipeline.options["database"] == str(db)
    driver = DuckDBPipelineDriver(pipeline.name, pipeline.options)
    assert driver.command_for("ingest")[:5] == ["docker", "compose", "run", "--rm", "pipeline"]


# --------------------------------------------------------------------------- runbook
async def test_lock_runbook_frees_the_database_without_losing_data(db: Path, tmp_path: Path) -> None:
    """Seed 003's "DuckDB Lock Error", done the safe way through the runbook engine."""
    import duckdb

    from opsconsole.audit import AuditLog
    from opsconsole.runbooks.engine import AutoConfirmer, RunbookEngine
    from opsconsole.runbooks.library import load_file
    from opsconsole.runbooks.model import StepStatus

    book = {r.id: r for r in load_file(ROOT / "tests" / "fixtures" / "osaa" / "runbooks.yaml")}["osaa-duckdb-lock"]
    driver = make_driver(db, tmp_path)
    engine = RunbookEngine({"pipeline": driver}, profile="osaa-dev", confirmer=AutoConfirmer(),
                           audit=AuditLog(tmp_path / "audit.jsonl"))
    try:
        with hold_lock(db) as holder:
            results = [r async for r in engine.run(book, {"wait": 20})]
            assert holder.wait(5) is not None
    finally:
        await driver.close()
    final = {r.step_id: r for r in results if r.status.final}
    assert {k: v.status for k, v in final.items()} == {
        "who-holds-it": StepStatus.OK, "stop-holder": StepStatus.OK, "wait-unlocked": StepStatus.OK,
        "checkpoint": StepStatus.OK}
    assert f"pid {holder.pid}" in final["stop-holder"].message
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM main.holder_marker").fetchone() == (1,)
    finally:
        con.close()
