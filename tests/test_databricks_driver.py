"""The databricks driver, through the real databricks-sdk, against the local REST emulator.

No Databricks workspace exists here; :mod:`databricks_emulator` is a test double
of the documented REST API (see its docstring). What these tests prove is what a
user would notice: rows, states, transitions, refusals, typed errors, and the
exact SQL that reaches the warehouse.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from databricks_emulator import GOOD_TOKEN, READONLY_TOKEN, DatabricksEmulator

from opsconsole.drivers.databricks import query_stats
from opsconsole.drivers.databricks.driver import DatabricksDriver
from opsconsole.errors import ActionRefused, AuthError, DriverError, DriverTimeout, DriverUnavailable
from opsconsole.model import Health, Pane
from opsconsole.secret import Secret

APP = "ontos-ml-workbench"
WH = "wh-ontos"


@pytest.fixture(autouse=True)
def _no_user_databricks_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never pick up the developer's own ~/.databrickscfg or DATABRICKS_* variables."""
    for var in list(os.environ):
        if var.startswith("DATABRICKS_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "databrickscfg"))


@pytest.fixture
def emu() -> Iterator[DatabricksEmulator]:
    emulator = DatabricksEmulator(transition_s=0.1)
    emulator.start()
    emulator.add_app(APP, source="/Workspace/Apps/ontos/v1")
    emulator.add_warehouse(WH, "ontos-prod-wh")
    emulator.add_table("ontos_ml.workbench.sheets", versions=4)
    yield emulator
    emulator.stop()


def make(emu: DatabricksEmulator, token: str = GOOD_TOKEN, timeout: float = 10.0, **options: Any) -> DatabricksDriver:
    base: dict[str, Any] = {"host": emu.url, "token": Secret(token), "app": APP, "warehouse_id": WH,
                            "catalog": "ontos_ml", "schema": "workbench", "poll_interval": 0.02}
    base.update(options)
    return DatabricksDriver("workspace", base, timeout=timeout)


@pytest.fixture
async def driver(emu: DatabricksEmulator) -> Any:
    drv = make(emu)
    yield drv
    await drv.close()


def statements(emu: DatabricksEmulator) -> list[str]:
    return [st.sql for st in emu.statements.values()]


# ---------------------------------------------------------------------------- services
async def test_health_shows_app_and_warehouse_rows(driver: DatabricksDriver) -> None:
    rows = {r.name: r for r in await driver.health()}
    app, wh = rows[f"app {APP}"], rows["warehouse ontos-prod-wh"]
    assert app.health is Health.OK and app.extra["compute_state"] == "ACTIVE"
    assert app.extra["source_code_path"] == "/Workspace/Apps/ontos/v1"
    assert wh.health is Health.OK and wh.extra["state"] == "RUNNING" and "Medium" in wh.detail
    assert app.latency_ms is not None and app.latency_ms < 5000


async def test_auto_stopped_warehouse_is_not_critical(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    emu.warehouse_state[WH].state = "STOPPED"
    wh = next(r for r in await driver.health() if r.name.startswith("warehouse"))
    assert wh.health is Health.OK and wh.extra["state"] == "STOPPED" and "auto-stopped after 30 min" in wh.detail


async def test_facets_follow_options(emu: DatabricksEmulator) -> None:
    drv = make(emu, app=None, warehouse_id="", clusters=True)
    assert drv.panes == frozenset({Pane.SERVICES})
    assert {a.name for a in drv.actions} == {"cluster-restart", "grants-show", "grant"}  # grants: REST API
    with pytest.raises(ActionRefused, match="warehouse_id"):
        await drv.run_action("warehouse-start", {})
    await drv.close()


async def test_profile_without_facets_shows_signed_in_user(emu: DatabricksEmulator) -> None:
    drv = make(emu, app=None, warehouse_id=None)
    [row] = await drv.health()
    assert row.name == "workspace" and "ops@example.com" in row.detail
    await drv.close()


async def test_failing_facet_becomes_unknown_row(emu: DatabricksEmulator) -> None:
    drv = make(emu, app="no-such-app")
    rows = {r.name: r for r in await drv.health()}
    assert rows["app no-such-app"].health is Health.UNKNOWN
    assert "does not exist" in rows["app no-such-app"].detail
    assert rows["warehouse ontos-prod-wh"].health is Health.OK
    await drv.close()


# ---------------------------------------------------------------------------- app
async def test_app_restart_stops_then_starts_until_active(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    seen: list[str] = []
    result = await driver.run_action("app-restart", {"progress": seen.append})
    assert result.ok, result.message
    states = [line.split(": ")[-1] for line in seen]
    assert states[:4] == ["STOPPING", "STOPPED", "STARTING", "ACTIVE"]
    assert states[4].startswith("waiting for pending deployment") and states[-1] == "no pending deployment"
    assert ("POST", f"/api/2.0/apps/{APP}/stop") in emu.requests
    assert ("POST", f"/api/2.0/apps/{APP}/start") in emu.requests
    assert emu.app_compute[APP].current() == "ACTIVE"


async def test_app_restart_from_stopped_only_starts(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    emu.app_compute[APP].state = "STOPPED"
    result = await driver.run_action("app-restart", {})
    assert result.ok
    assert ("POST", f"/api/2.0/apps/{APP}/stop") not in emu.requests


async def test_app_deploy_switches_active_deployment(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    emu.workspace_paths.add("/Workspace/Apps/ontos/v2")
    result = await driver.run_action("app-deploy", {"source_code_path": "/Workspace/Apps/ontos/v2"})
    assert result.ok and "SUCCEEDED" in result.message
    app = next(r for r in await driver.health() if r.name.startswith("app"))
    assert app.extra["source_code_path"] == "/Workspace/Apps/ontos/v2"


async def test_app_deploy_failure_reports_server_message(driver: DatabricksDriver) -> None:
    result = await driver.run_action("app-deploy", {"source_code_path": "/Workspace/missing"})
    assert not result.ok and "does not exist" in result.message
    with pytest.raises(ActionRefused):
        await driver.run_action("app-deploy", {"source_code_path": "relative/path"})


# ---------------------------------------------------------------------------- warehouse
async def test_warehouse_start_waits_until_running(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    emu.warehouse_state[WH].state = "STOPPED"
    seen: list[str] = []
    result = await driver.run_action("warehouse-start", {"progress": seen.append})
    assert result.ok and result.message.endswith("RUNNING")
    assert [line.split(": ")[-1] for line in seen] == ["STARTING", "RUNNING"]


async def test_warehouse_edit_applies_and_shows(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    result = await driver.run_action("warehouse-edit", {"cluster_size": "large", "max_num_clusters": "5"})
    assert result.ok and "Medium -> Large" in result.message
    wh = next(r for r in await driver.health() if r.name.startswith("warehouse"))
    assert (wh.extra["cluster_size"], wh.extra["min_num_clusters"], wh.extra["max_num_clusters"]) == ("Large", 1, 5)


@pytest.mark.parametrize("params, why", [
    ({"cluster_size": "Huge"}, "not one of"),
    ({"max_num_clusters": 31}, "at most 30"),
    ({"min_num_clusters": 3, "max_num_clusters": 2}, "must not exceed"),
    ({"min_num_clusters": 0}, "at least 1"),
])
async def test_warehouse_edit_refuses_values_the_api_rejects(emu: DatabricksEmulator, driver: DatabricksDriver,
                                                             params: dict[str, Any], why: str) -> None:
    with pytest.raises(ActionRefused, match=why):
        await driver.run_action("warehouse-edit", params)
    assert not any(path.endswith("/edit") for _, path in emu.requests)


async def test_test_connection_runs_select_1(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    result = await driver.run_action("warehouse-test", {})
    assert result.ok and result.output.splitlines() == ["1", "1"]
    assert statements(emu) == ["SELECT 1"]


# ---------------------------------------------------------------------------- statements
async def test_optimize_zorder_quotes_identifiers(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    result = await driver.run_action("table-optimize", {"table": "sheets", "zorder": "status, created_at"})
    assert result.ok, result.message
    assert statements(emu) == ["OPTIMIZE `ontos_ml`.`workbench`.`sheets` ZORDER BY (`status`, `created_at`)"]
    assert emu.tables["ontos_ml.workbench.sheets"].versions[-1]["operation"] == "OPTIMIZE"


async def test_restore_to_version_then_history_shows_it(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    result = await driver.run_action("table-restore", {"table": "ontos_ml.workbench.sheets", "version": "1"})
    assert result.ok, result.message
    history = await driver.run_action("table-history", {"table": "sheets", "limit": 2})
    latest = history.output.splitlines()[1].split("\t")
    assert latest[0] == "4" and latest[2] == "RESTORE"


async def test_restore_to_missing_version_fails_with_reason(driver: DatabricksDriver) -> None:
    result = await driver.run_action("table-restore", {"table": "sheets", "version": 99})
    assert not result.ok and "DELTA_VERSION_NOT_FOUND" in result.message


async def test_restore_to_timestamp_sends_normalised_literal(emu: DatabricksEmulator,
                                                             driver: DatabricksDriver) -> None:
    result = await driver.run_action("table-restore", {"table": "sheets", "timestamp": "2026-02-07T10:00:00"})
    assert result.ok
    assert statements(emu)[-1].endswith("TO TIMESTAMP AS OF '2026-02-07 10:00:00'")


@pytest.mark.parametrize("action, params", [
    ("table-optimize", {"table": "sheets; DROP TABLE x"}),
    ("table-optimize", {"table": "sheets", "zorder": "a) ; DROP TABLE x --"}),
    ("table-vacuum", {"table": "sheets", "retain_hours": 24}),
    ("table-restore", {"table": "sheets", "version": 1, "timestamp": "2026-01-01"}),
    ("table-restore", {"table": "sheets", "timestamp": "yesterday'; --"}),
    ("grant", {"privileges": "SELECT; DROP", "principal": "x", "name": "sheets"}),
])
async def test_unsafe_input_is_refused_before_any_sql(emu: DatabricksEmulator, driver: DatabricksDriver,
                                                      action: str, params: dict[str, Any]) -> None:
    with pytest.raises(ActionRefused):
        await driver.run_action(action, params)
    assert statements(emu) == []


async def test_vacuum_keeps_the_retention(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    result = await driver.run_action("table-vacuum", {"table": "sheets", "retain_hours": 168})
    assert result.ok
    assert statements(emu) == ["VACUUM `ontos_ml`.`workbench`.`sheets` RETAIN 168 HOURS"]


async def test_grant_then_show_grants(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    sp = "ontos-app`sp"
    granted = await driver.run_action("grant", {"privileges": "select, modify", "principal": sp, "name": "sheets"})
    assert granted.ok, granted.message
    assert statements(emu)[0].endswith("TO `ontos-app``sp`")
    shown = await driver.run_action("grants-show", {"securable": "table", "name": "sheets"})
    assert {tuple(line.split("\t")[:2]) for line in shown.output.splitlines()[1:]} == {(sp, "SELECT"), (sp, "MODIFY")}


async def test_grants_on_schema_and_catalog_use_profile_defaults(emu: DatabricksEmulator,
                                                                 driver: DatabricksDriver) -> None:
    """Seed 000's permission fix: USE CATALOG / USE SCHEMA for the app's service principal."""
    assert (await driver.run_action("grant", {"privileges": "USE CATALOG", "principal": "4242",
                                              "securable": "catalog"})).ok
    assert (await driver.run_action("grant", {"privileges": "USE SCHEMA, SELECT", "principal": "4242",
                                              "securable": "schema", "name": "workbench"})).ok
    assert statements(emu) == ["GRANT USE CATALOG ON CATALOG `ontos_ml` TO `4242`",
                               "GRANT USE SCHEMA, SELECT ON SCHEMA `ontos_ml`.`workbench` TO `4242`"]
    shown = await driver.run_action("grants-show", {"securable": "SCHEMA"})
    assert [line.split("\t")[1] for line in shown.output.splitlines()[1:]] == ["USE SCHEMA", "SELECT"]
    missing = await driver.run_action("grants-show", {"securable": "schema", "name": "nope"})
    assert not missing.ok and "NO_SUCH_SCHEMA" in missing.message


async def test_backup_snapshot_creates_dated_table(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    result = await driver.run_action("table-backup", {"table": "sheets"})
    assert result.ok, result.message
    today = datetime.now(UTC).strftime("%Y%m%d")
    assert f"ontos_ml.workbench_backups.sheets_backup_{today}" in emu.tables
    again = await driver.run_action("table-backup", {"table": "sheets"})
    assert not again.ok and "ALREADY_EXISTS" in again.message


async def test_unknown_table_fails_like_databricks(driver: DatabricksDriver) -> None:
    result = await driver.run_action("table-analyze", {"table": "nope"})
    assert not result.ok and "TABLE_OR_VIEW_NOT_FOUND" in result.message


async def test_cancelling_the_action_cancels_the_statement(emu: DatabricksEmulator,
                                                           driver: DatabricksDriver) -> None:
    emu.hold_statements = True
    task = asyncio.create_task(driver.run_action("table-optimize", {"table": "sheets"}))
    while not emu.statements or next(iter(emu.statements.values())).state != "RUNNING":
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert next(iter(emu.statements.values())).state == "CANCELED"


async def test_statement_timeout_cancels_on_the_warehouse(emu: DatabricksEmulator) -> None:
    emu.hold_statements = True
    drv = make(emu, statement_timeout=0.3)
    with pytest.raises(DriverTimeout, match="cancelled"):
        await drv.run_action("table-optimize", {"table": "sheets"})
    assert next(iter(emu.statements.values())).state == "CANCELED"
    await drv.close()


async def test_cancel_statements_action(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    emu.hold_statements = True
    task = asyncio.create_task(driver.run_action("table-analyze", {"table": "sheets"}))
    while not driver._running:
        await asyncio.sleep(0.02)
    result = await driver.run_action("statements-cancel", {})
    assert result.ok and "1 statement" in result.message
    outcome = await task
    assert not outcome.ok and "CANCELED" in outcome.message


# ---------------------------------------------------------------------------- query history
def _query(emu: DatabricksEmulator, qid: str, wid: str, minutes_ago: float, ms: int, status: str = "FINISHED") -> None:
    start = int((time.time() - minutes_ago * 60) * 1000)
    emu.add_query(qid, wid, start, ms, status, error="boom" if status == "FAILED" else None)


async def test_query_history_filters_by_warehouse_and_time(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    _query(emu, "a", WH, 5, 200)
    _query(emu, "b", "other-wh", 5, 200)
    _query(emu, "c", WH, 60 * 30, 200)  # 30 hours ago: outside the 24 h window
    _query(emu, "d", WH, 10, 12_000, "FAILED")
    records = await driver.query_history()
    assert [r.query_id for r in records] == ["a", "d"]
    failed = records[1]
    assert failed.status == "FAILED" and failed.error == "boom" and failed.duration_ms == 12_000
    older = await driver.query_history(since=datetime.now(UTC) - timedelta(hours=48),
                                       until=datetime.now(UTC) - timedelta(hours=1))
    assert [r.query_id for r in older] == ["c"]


async def test_query_history_pages_until_limit(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    for i in range(30):
        _query(emu, f"q{i:02d}", WH, i + 1, 100)
    records = await driver.query_history(limit=25)
    assert [r.query_id for r in records] == [f"q{i:02d}" for i in range(25)]
    assert len(await driver.query_history(limit=1000)) == 30


async def test_query_buckets_give_error_rate_and_p95(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    for i in range(19):
        _query(emu, f"ok{i}", WH, 1, 100 * (i + 1))
    _query(emu, "bad", WH, 1, 50, "FAILED")
    [bucket] = await driver.query_buckets(timedelta(days=1))
    assert bucket.total == 20 and bucket.failed == 1 and bucket.error_rate == pytest.approx(0.05)
    durations = [100 * (i + 1) for i in range(19)] + [50]
    assert bucket.p95_ms == pytest.approx(query_stats.percentile(durations, 0.95))


# ---------------------------------------------------------------------------- clusters
async def test_clusters_rows_and_restart_with_progress(emu: DatabricksEmulator) -> None:
    emu.add_cluster("0101-a", "streaming", autoscale=(2, 8))
    emu.add_cluster("0101-b", "batch", state="TERMINATED", workers=4)
    drv = make(emu, app=None, warehouse_id=None, clusters=True)
    rows = {r.name: r for r in await drv.health()}
    assert rows["cluster streaming"].health is Health.OK and rows["cluster streaming"].extra["workers"] == 2
    assert rows["cluster batch"].extra["state"] == "TERMINATED" and rows["cluster batch"].health is Health.WARNING
    seen: list[str] = []
    result = await drv.run_action("cluster-restart", {"cluster": "streaming", "progress": seen.append})
    assert result.ok
    assert [line.split(": ")[-1] for line in seen] == ["RESTARTING", "RUNNING (2/2-8 (autoscale) workers)"]
    started = await drv.run_action("cluster-restart", {"cluster": "0101-b"})
    assert started.ok and ("POST", "/api/2.1/clusters/start") in emu.requests
    with pytest.raises(ActionRefused, match="not found"):
        await drv.run_action("cluster-restart", {"cluster": "ghost"})
    await drv.close()


# ---------------------------------------------------------------------------- jobs
async def test_job_health_scores_and_anomalies(emu: DatabricksEmulator) -> None:
    now = int(time.time() * 1000)
    hour = 3_600_000
    for i in range(30):  # steady job, more than one page of runs (25 per page)
        emu.add_run(1, "nightly-etl", "SUCCESS", now - (i + 1) * hour, 600 + (i % 3))
    emu.add_run(1, "nightly-etl", "SUCCESS", now - 31 * hour, 3000)  # one run 5x slower
    for i in range(8):  # a flaky job: the newest runs fail
        emu.add_run(2, "feature-sync", "FAILED" if i < 4 else "SUCCESS", now - (i + 1) * hour, 120)
    emu.add_run(3, "streaming", None, now - 60_000, 0, life_cycle="RUNNING")
    drv = make(emu, app=None, warehouse_id=None, jobs=True)
    runs = await drv.job_runs()
    assert len(runs) == 40 and runs[0].job == "streaming" and runs[0].state == "RUNNING"
    scores = {s.job: s for s in await drv.job_health()}
    assert set(scores) == {"nightly-etl", "feature-sync"}
    assert scores["feature-sync"].success_rate == 0.5 and scores["feature-sync"].trend == "degrading"
    assert scores["nightly-etl"].score > scores["feature-sync"].score
    [anomaly] = await drv.job_anomalies()
    assert anomaly.job == "nightly-etl" and anomaly.duration_s == 3000 and anomaly.kind == "slow"
    rows = {r.name: r for r in await drv.health()}
    assert rows["job feature-sync"].health is Health.WARNING
    assert "1 duration anomaly" in rows["job nightly-etl"].detail
    await drv.close()


# ---------------------------------------------------------------------------- errors and auth
async def test_bad_token_is_auth_error(emu: DatabricksEmulator) -> None:
    drv = make(emu, token="dapi-wrong")
    with pytest.raises(AuthError, match="Invalid access token"):
        await drv.health()
    await drv.close()


async def test_forbidden_write_is_auth_error(emu: DatabricksEmulator) -> None:
    drv = make(emu, token=READONLY_TOKEN)
    assert (await drv.health())[0].health is Health.OK  # reads are allowed
    with pytest.raises(AuthError, match="CAN_MANAGE"):
        await drv.run_action("app-restart", {})
    await drv.close()


async def test_throttling_is_retried_by_the_sdk(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    await driver.health()  # client built
    emu.fail_next(f"/api/2.0/apps/{APP}", 429, count=1, retry_after=1)
    emu.fail_next(f"/api/2.0/sql/warehouses/{WH}", 503, count=1, retry_after=0)
    rows = await driver.health()
    assert all(r.health is Health.OK for r in rows)
    assert emu.requests.count(("GET", f"/api/2.0/apps/{APP}")) == 3  # first poll, throttled, retried


async def test_persistent_outage_is_driver_unavailable(emu: DatabricksEmulator) -> None:
    drv = make(emu, timeout=1.0)
    await drv.health()
    emu.fail_next("/api/2.0/", 503, count=1000, retry_after=0)
    with pytest.raises(DriverUnavailable):
        await drv.health()
    await drv.close()


async def test_unreachable_workspace_is_driver_unavailable(emu: DatabricksEmulator) -> None:
    url = emu.url
    emu.stop()
    drv = DatabricksDriver("workspace", {"host": url, "token": Secret(GOOD_TOKEN), "app": APP}, timeout=1.0)
    with pytest.raises(DriverUnavailable):
        await drv.health()
    await drv.close()


async def test_auth_from_databrickscfg_profile(emu: DatabricksEmulator, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(f"[prod]\nhost = {emu.url}\ntoken = {GOOD_TOKEN}\n")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
    drv = DatabricksDriver("workspace", {"profile": "prod", "app": APP}, timeout=10.0)
    [row] = await drv.health()
    assert row.health is Health.OK
    await drv.close()
    missing = DatabricksDriver("workspace", {"profile": "staging", "app": APP}, timeout=10.0)
    with pytest.raises(AuthError, match="staging"):
        await missing.health()
    await missing.close()


async def test_statement_errors_keep_the_token_out_of_messages(emu: DatabricksEmulator) -> None:
    drv = make(emu, token="dapi-secret-value")
    with pytest.raises(DriverError) as info:
        await drv.run_action("warehouse-test", {})
    assert "dapi-secret-value" not in str(info.value)
    await drv.close()


def test_importing_the_driver_does_not_import_the_sdk() -> None:
    code = ("import sys, opsconsole.drivers.databricks.driver, opsconsole.drivers.databricks.jobhealth, "
            "opsconsole.drivers.databricks.query_stats; "
            "print('databricks.sdk' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
