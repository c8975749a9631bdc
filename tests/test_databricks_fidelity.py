"""Databricks as a real workspace answers (issue 15): Jobs 2.2 status, throttling, paging limits,
job clusters, full warehouse edits, pending app deployments, grants, RESTORE time zones.

Each test drives the real databricks-sdk through the driver against the emulator,
whose bodies are the SDK's own dataclasses; the first test proves that.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import test_databricks_driver as base
from databricks.sdk.service import apps, catalog, compute, iam, jobs, sql
from databricks_emulator import GOOD_TOKEN, DatabricksEmulator

from opsconsole.config import ALERT_THRESHOLDS, load
from opsconsole.drivers.databricks import jobhealth
from opsconsole.drivers.databricks.client import Throttled
from opsconsole.drivers.databricks.driver import DatabricksDriver
from opsconsole.errors import DriverError
from opsconsole.model import Health, Pane, PaneResult, Severity
from opsconsole.monitor.rules import evaluate

APP, WH, make, statements = base.APP, base.WH, base.make, base.statements
emu, driver, _no_user_databricks_config = base.emu, base.driver, base._no_user_databricks_config  # the fixtures

RESPONSE_TYPES: tuple[tuple[str, str, type], ...] = (
    ("GET", r"/api/2\.0/preview/scim/v2/Me", iam.User),
    ("GET", r"/api/2\.0/apps/[^/]+", apps.App),
    ("POST", r"/api/2\.0/apps/[^/]+/(stop|start)", apps.App),
    ("POST", r"/api/2\.0/apps/[^/]+/deployments", apps.AppDeployment),
    ("GET", r"/api/2\.0/apps/[^/]+/deployments/[^/]+", apps.AppDeployment),
    ("GET", r"/api/2\.0/sql/warehouses/[^/]+", sql.GetWarehouseResponse),
    ("POST", r"/api/2\.0/sql/statements/?", sql.StatementResponse),
    ("GET", r"/api/2\.0/sql/statements/[^/]+", sql.StatementResponse),
    ("GET", r"/api/2\.0/sql/history/queries", sql.ListQueriesResponse),
    ("GET", r"/api/2\.2/jobs/runs/list", jobs.ListRunsResponse),
    ("GET", r"/api/2\.1/clusters/list", compute.ListClustersResponse),
    ("GET", r"/api/2\.1/clusters/get", compute.ClusterDetails),
    ("GET", r"/api/2\.1/unity-catalog/permissions/.+", catalog.GetPermissionsResponse),
    ("PATCH", r"/api/2\.1/unity-catalog/permissions/.+", catalog.UpdatePermissionsResponse),
)
"""What the SDK parses each endpoint's body into (the SDK's own method signatures)."""
EMPTY_BODIES = (r"/api/2\.0/sql/warehouses/[^/]+/(start|edit)", r"/api/2\.0/sql/statements/[^/]+/cancel",
                r"/api/2\.1/clusters/(restart|start)")
HOST_METADATA = "/.well-known/databricks-config"
"""The SDK's host probe: configuration, not a service response (no dataclass in databricks.sdk.service)."""

def job_alerts(runs, thresholds, now):  # type: ignore[no-untyped-def]
    """Seed 004's alerts as the monitor raises them: the JobHealthLow / JobDurationAnomaly rules on Jobs rows."""
    from opsconsole.model import Pane, PaneResult
    from opsconsole.monitor.rules import evaluate as evaluate_rules

    result = PaneResult(Pane.JOBS, tuple(runs), {}, now, 0.0)
    return [a for a in evaluate_rules({Pane.JOBS: result}, thresholds, now)
            if a.rule in ("JobHealthLow", "JobDurationAnomaly")]



def now_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------- the emulator itself
async def test_every_emulator_response_round_trips_through_the_sdk(emu: DatabricksEmulator) -> None:
    emu.add_cluster("0101-a", "streaming", autoscale=(2, 8))
    emu.add_job_clusters(3)
    for i in range(30):
        emu.add_run(1, "etl", "FAILED" if i % 3 else "SUCCESS", now_ms() - (i + 1) * 60_000, 60,
                    legacy_state=bool(i % 2))
    emu.add_run(2, "stream", None, now_ms(), 0, life_cycle="RUNNING")
    emu.add_query("q1", WH, now_ms() - 1000, 120)
    emu.workspace_paths.add("/Workspace/Apps/v2")
    drv = make(emu, clusters=True, jobs=True)
    await drv.health()
    await drv.query_history()
    for action, params in [("app-restart", {}), ("app-deploy", {"source_code_path": "/Workspace/Apps/v2"}),
                           ("warehouse-edit", {"max_num_clusters": 3}), ("table-optimize", {"table": "sheets"}),
                           ("table-analyze", {"table": "nope"}), ("cluster-restart", {"cluster": "streaming"}),
                           ("grant", {"privileges": "SELECT", "principal": "@app", "name": "sheets"})]:
        await drv.run_action(action, params)
    rest = make(emu, warehouse_id=None, app=None, jobs=True)
    await rest.health()  # the identity row
    await rest.run_action("grant", {"privileges": "SELECT", "principal": "ops", "name": "sheets"})  # REST API
    await rest.run_action("grants-show", {"securable": "TABLE", "name": "sheets"})
    await drv.close()
    await rest.close()
    checked: set[str] = set()
    for method, path, status, body in emu.responses:
        if path == HOST_METADATA:
            continue
        if status != 200 or any(re.fullmatch(p, path) for p in EMPTY_BODIES):
            assert status != 200 or body == {}, (path, body)
            continue
        [(pattern, cls)] = [(p, c) for m, p, c in RESPONSE_TYPES if m == method and re.fullmatch(p, path)][:1]
        assert cls.from_dict(body).as_dict() == body, f"{method} {path}: a field the SDK does not know"
        checked.add(pattern)
    assert checked == {p for _, p, _ in RESPONSE_TYPES}, "every modelled endpoint answered at least once"


async def test_start_on_a_running_cluster_is_invalid_state(emu: DatabricksEmulator) -> None:
    emu.add_cluster("0101-a", "streaming")
    drv = make(emu, clusters=True)
    with pytest.raises(DriverError, match=r"unexpected state Running"):
        await drv._call("start cluster", lambda w: w.clusters.start("0101-a").response)
    await drv.close()


# ---------------------------------------------------------------------------- 1. job health from status
async def test_job_failing_3_of_6_status_only_runs_raises_job_health_low(emu: DatabricksEmulator,
                                                                         root: Path) -> None:
    for i in range(6):
        emu.add_run(7, "billing-export", "FAILED" if i % 2 else "SUCCESS", now_ms() - (i + 1) * 3_600_000, 300,
                    legacy_state=False)
    drv = make(emu, app=None, warehouse_id=None, jobs=True)
    runs = await drv.job_runs()
    [score] = jobhealth.health_scores(runs)
    thresholds = load(root / "profiles.yaml").profile("dataops").alerts
    assert score.success_rate == 0.5 and score.score < thresholds["job_health_warning"]
    alerts = evaluate({Pane.JOBS: PaneResult(Pane.JOBS, tuple(runs), {}, datetime.now(UTC), 0.0)}, thresholds)
    [low] = [a for a in alerts if a.rule == "JobHealthLow"]
    assert low.subject == "billing-export" and low.runbook == "dataops-job-health-review"
    assert low.severity in (Severity.WARNING, Severity.CRITICAL) and "50%" in low.message
    await drv.close()


async def test_per_job_window_keeps_daily_jobs_next_to_a_minutely_one(emu: DatabricksEmulator) -> None:
    for i in range(600):  # a job running every minute for 10 hours
        emu.add_run(1, "minutely-sync", "SUCCESS", now_ms() - (i + 1) * 60_000, 5)
    for day in range(1, 7):
        emu.add_run(2, "nightly-etl", "FAILED", now_ms() - day * 86_400_000, 900)
    drv = make(emu, app=None, warehouse_id=None, jobs=True, jobs_runs_per_job=50)
    runs = await drv.job_runs()
    per_job = {job: [r for r in runs if r.job == job] for job in ("minutely-sync", "nightly-etl")}
    assert len(per_job["minutely-sync"]) == 50 and len(per_job["nightly-etl"]) == 6
    await drv.close()


# ---------------------------------------------------------------------------- 2./3. throttling
async def test_statement_survives_two_429s_on_its_polls(emu: DatabricksEmulator) -> None:
    emu.transition_s = 1.5
    drv = make(emu, timeout=1.0)
    await drv.health()
    emu.fail_next("/api/2.0/sql/statements/01", 429, count=2, retry_after=1, method="GET")
    seen: list[str] = []
    result = await drv.run_action("table-optimize", {"table": "sheets", "progress": seen.append})
    assert result.ok, result.message
    assert next(iter(emu.statements.values())).state == "SUCCEEDED"
    assert sum("throttled (retry after 1 s)" in line for line in seen) == 2
    await drv.close()


async def test_long_retry_after_is_reported_as_throttled_within_the_budget(emu: DatabricksEmulator) -> None:
    drv = make(emu, timeout=2.0)
    await drv.health()
    emu.fail_next("/api/2.0/", 429, count=100, retry_after=30)
    started = time.monotonic()
    with pytest.raises(Throttled, match=r"throttled \(retry after 30 s\)"):
        await drv.health()
    assert time.monotonic() - started < 2.0
    await drv.close()


def test_check_ontos_prod_throttled_returns_within_the_driver_timeout(emu: DatabricksEmulator, root: Path,
                                                                       tmp_path: Path) -> None:
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(f"[prod]\nhost = {emu.url}\ntoken = {GOOD_TOKEN}\n")
    emu.fail_next("/api/", 429, count=1000, retry_after=30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(DATABRICKS_CONFIG_FILE=str(cfg), DATABRICKS_WAREHOUSE_ID=WH, PYTHONPATH=str(root))
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "opsconsole", "check", "--config", str(root / "profiles.yaml"),
                          "--profile", "ontos-prod"], capture_output=True, text=True, env=env, timeout=60)
    took = time.monotonic() - started
    assert "throttled (retry after 30 s)" in out.stdout, out.stdout + out.stderr
    assert "unreachable (" not in out.stdout.lower()
    assert took < 10 + 5  # the profile's driver timeout (10 s) plus interpreter start-up


# ---------------------------------------------------------------------------- 4./5. paging and clusters
async def test_query_history_of_1000_stays_under_the_page_limit_and_shows_running(emu: DatabricksEmulator,
                                                                                   driver: DatabricksDriver) -> None:
    for i in range(1200):
        emu.add_query(f"q{i}", WH, now_ms() - (i + 10) * 1000, 100)
    emu.hold_statements = True
    task = asyncio.create_task(driver.run_action("table-analyze", {"table": "sheets"}))
    while not driver._running:
        await asyncio.sleep(0.02)
    records = await driver.query_history(limit=1000)
    assert len(records) == 1000 and records[0].status == "RUNNING" and records[0].duration_ms is None
    await driver.run_action("statements-cancel", {})
    await task


async def test_terminated_job_clusters_are_not_listed(emu: DatabricksEmulator) -> None:
    emu.add_cluster("0101-a", "streaming", autoscale=(2, 8))
    emu.add_cluster("0101-b", "batch", state="TERMINATED", source="API")
    emu.add_job_clusters(150)
    drv = make(emu, app=None, warehouse_id=None, clusters=True)
    rows = [r for r in await drv.health() if r.extra.get("kind") == "cluster"]
    assert sorted(r.name for r in rows) == ["cluster batch", "cluster streaming"]
    await drv.close()


# ---------------------------------------------------------------------------- 6. RESTORE time zone
async def test_restore_timestamp_offset_is_converted_to_utc(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    result = await driver.run_action("table-restore", {"table": "sheets", "timestamp": "2026-02-07T10:00:00+02:00"})
    assert result.ok and "2026-02-07 08:00:00 UTC" in result.message
    assert statements(emu)[-1].endswith("TO TIMESTAMP AS OF '2026-02-07 08:00:00'")


def test_restore_confirmation_shows_the_utc_timestamp(root: Path) -> None:
    from opsconsole.runbooks.engine import RunbookEngine
    from opsconsole.runbooks.library import load_library

    runbook = load_library(include_user=False).runbooks["ontos-restore-table"]
    drv = DatabricksDriver("workspace", {"warehouse_id": WH, "catalog": "c", "schema": "s"})
    planned = RunbookEngine({"workspace": drv}, profile="ontos-prod").plan(
        runbook, {"table": "sheets", "timestamp": "2026-02-07T10:00:00+02:00"})
    [restore] = [p for p in planned if p.step.id == "restore"]
    assert restore.needs_confirmation and "timestamp=2026-02-07 08:00:00+00:00" in restore.description


# ---------------------------------------------------------------------------- 7. grants
async def test_grant_to_the_app_uses_its_application_id(emu: DatabricksEmulator, driver: DatabricksDriver) -> None:
    result = await driver.run_action("grant", {"privileges": "SELECT", "principal": "@app", "name": "sheets"})
    assert result.ok, result.message
    client_id = emu.apps[APP]["service_principal_client_id"]
    assert statements(emu)[-1].endswith(f"TO `{client_id}`")
    assert "4242" not in statements(emu)[-1]


async def test_grants_without_a_warehouse_use_the_unity_catalog_api(emu: DatabricksEmulator) -> None:
    drv = make(emu, warehouse_id=None)
    result = await drv.run_action("grant", {"privileges": "USE SCHEMA, SELECT", "principal": "@app",
                                            "securable": "SCHEMA"})
    assert result.ok, result.message
    shown = await drv.run_action("grants-show", {"securable": "SCHEMA"})
    client_id = emu.apps[APP]["service_principal_client_id"]
    assert {tuple(line.split("\t")[:2]) for line in shown.output.splitlines()[1:]} == {
        (client_id, "USE SCHEMA"), (client_id, "SELECT")}
    assert statements(emu) == []
    await drv.close()


# ---------------------------------------------------------------------------- 8. warehouse
async def test_warehouse_edit_keeps_serverless_photon_tags_and_channel(emu: DatabricksEmulator,
                                                                       driver: DatabricksDriver) -> None:
    result = await driver.run_action("warehouse-edit", {"cluster_size": "Large"})
    assert result.ok, result.message
    wh = emu.warehouses[WH]
    assert wh["cluster_size"] == "Large" and wh["enable_serverless_compute"] and wh["enable_photon"]
    assert wh["warehouse_type"] == "PRO" and wh["tags"] == {"team": "ontos"}
    assert wh["channel"] == "CHANNEL_NAME_CURRENT" and wh["auto_stop_mins"] == 30


async def test_warehouse_edit_accepts_5x_large_and_30_clusters(emu: DatabricksEmulator,
                                                              driver: DatabricksDriver) -> None:
    result = await driver.run_action("warehouse-edit", {"cluster_size": "5X-Large", "max_num_clusters": 30})
    assert result.ok, result.message
    assert (emu.warehouses[WH]["cluster_size"], emu.warehouses[WH]["max_num_clusters"]) == ("5X-Large", 30)


async def test_warehouse_start_falling_back_to_stopped_fails_at_once(emu: DatabricksEmulator) -> None:
    emu.warehouse_state[WH].state = "STOPPED"
    emu.warehouse_start_fails.add(WH)
    drv = make(emu, action_timeout=5)
    started = time.monotonic()
    result = await drv.run_action("warehouse-start", {})
    assert not result.ok and "went back to STOPPED" in result.message
    assert time.monotonic() - started < 3
    await drv.close()


# ---------------------------------------------------------------------------- 9. apps
async def test_deploy_right_after_a_start_waits_for_the_pending_deployment(emu: DatabricksEmulator,
                                                                           driver: DatabricksDriver) -> None:
    emu.app_compute[APP].state = "STOPPED"
    with emu.lock:
        emu._app_start(APP)  # someone started the app: its last deployment is re-deployed
    emu.app_compute[APP].until = 0  # compute is up; the re-deployment is still pending
    emu.workspace_paths.add("/Workspace/Apps/ontos/v2")
    seen: list[str] = []
    result = await driver.run_action("app-deploy", {"source_code_path": "/Workspace/Apps/ontos/v2",
                                                    "progress": seen.append})
    assert result.ok, result.message
    assert any("waiting for pending deployment" in line for line in seen)
    rejected = [body for _m, path, status, body in emu.responses if status == 400 and path.endswith("/deployments")]
    assert rejected == []



# ---------------------------------------------------------------------------- 10. runbooks
def _run(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(root / "profiles.yaml"), "run", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_dataops_runbooks_run_against_a_jobs_only_workspace(emu: DatabricksEmulator, root: Path,
                                                            _isolate_user_dirs: Path) -> None:
    emu.add_table("system.access.audit")
    emu.add_table("dataops_intelligence.monitoring.job_health")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(DATABRICKS_WORKSPACE_URL=emu.url, DATABRICKS_ACCESS_TOKEN=GOOD_TOKEN, PYTHONPATH=str(root),
               DATABRICKS_CONFIG_FILE=os.devnull)
    for procedure in ("dataops-system-table-access", "dataops-delta-write-failures"):
        out = _run(root, env, procedure, "--profile", "dataops", "--yes")
        assert out.returncode == 0, out.stdout + out.stderr
        assert "ok" in out.stdout.lower() and "failed" not in out.stdout.lower(), out.stdout


def test_azure_rt_runbook_commands_exist_in_the_databricks_cli(root: Path, _isolate_user_dirs: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(root)}
    latency = _run(root, env, "azure-high-latency", "--profile", "azure-rt", "--dry-run", "--param", "cluster=stream",
                   "--param", "workers=8")
    review = _run(root, env, "azure-daily-performance-review", "--profile", "azure-rt", "--dry-run")
    text = latency.stdout + review.stdout
    assert latency.returncode == 0 and review.returncode == 0, text + latency.stderr + review.stderr
    assert "sql exec" not in text and "databricks api post /api/2.0/sql/statements" in text
    assert 'clusters resize "$id"' in text and "select(.cluster_name == $n)" in text


# ---------------------------------------------------------------------------- seeds 001 and 004 targets
async def test_seed_001_latency_and_error_targets_against_query_history(emu: DatabricksEmulator) -> None:
    for i in range(99):
        emu.add_query(f"ok{i}", WH, now_ms() - (i + 1) * 1000, 40 + i)
    for i in range(3):
        emu.add_query(f"slow{i}", WH, now_ms() - 500, 4_000)
    emu.add_query("bad", WH, now_ms() - 600, 10, "FAILED")
    drv = make(emu, app=None, p50_ms_target=100, p99_ms_target=500, error_rate_target=0.001)
    [row] = [r for r in await drv.health() if r.name == "query targets"]
    assert row.health is Health.WARNING and row.extra["missed"] == ["p99", "error rate"]
    assert "p50 90 ms < 100 ms" in row.detail and "p99 4,000 ms >= 500 ms" in row.detail
    assert "103 queries" in row.detail
    await drv.close()


def test_dataops_alert_thresholds_come_from_the_profile(root: Path, tmp_path: Path) -> None:
    from datetime import timedelta

    from opsconsole.model import JobRun

    text = (root / "profiles.yaml").read_text().replace("job_health_warning: 80", "job_health_warning: 95")
    (tmp_path / "profiles.yaml").write_text(text)
    thresholds = load(tmp_path / "profiles.yaml").profile("dataops").alerts
    t0 = datetime(2026, 2, 1, tzinfo=UTC)
    runs = [JobRun(job="etl", run_id=str(i), state="FAILED" if i == 9 else "SUCCESS",
                   started_at=t0 + timedelta(hours=i), duration_s=60.0) for i in range(10)]
    [score] = jobhealth.health_scores(runs)
    assert 80 <= score.score < 95  # healthy by the default 80, low by this profile's 95
    [alert] = job_alerts(runs, thresholds, t0)
    assert alert.rule == "JobHealthLow" and alert.severity is Severity.WARNING and "< 95" in alert.message
    assert job_alerts(runs, {k: v[1] for k, v in ALERT_THRESHOLDS.items()}, t0) == []


async def test_throttled_facet_keeps_its_last_data_marked_stale(emu: DatabricksEmulator,
                                                               driver: DatabricksDriver) -> None:
    await driver.health()
    emu.fail_next(f"/api/2.0/apps/{APP}", 429, count=1, retry_after=30)
    rows = {r.name: r for r in await driver.health()}
    app = rows[f"app {APP}"]
    assert app.health is Health.UNKNOWN and app.extra["stale"] and app.extra["compute_state"] == "ACTIVE"
    assert "throttled (retry after 30 s)" in app.detail and "compute ACTIVE" in app.detail
    assert rows["warehouse ontos-prod-wh"].health is Health.OK


async def test_app_deploy_survives_a_throttled_probe(emu: DatabricksEmulator) -> None:
    drv = make(emu, timeout=1.0)
    await drv.health()
    emu.workspace_paths.add("/Workspace/Apps/ontos/v2")
    emu.fail_next(f"/api/2.0/apps/{APP}", 429, count=1, retry_after=1, method="GET")
    seen: list[str] = []
    result = await drv.run_action("app-deploy", {"source_code_path": "/Workspace/Apps/ontos/v2",
                                                 "progress": seen.append})
    assert result.ok, result.message
    assert any("probe failed" in line and "throttled (retry after 1 s)" in line for line in seen)
    await drv.close()


def test_sdk_retry_deadline_on_429s_still_reads_throttled() -> None:
    from databricks.sdk.errors import TooManyRequests

    from opsconsole.drivers.databricks.client import translate

    try:
        try:
            raise TooManyRequests("emulated 429", retry_after_secs=7)
        except TooManyRequests as last:
            raise TimeoutError("Timed out after 0:00:10") from last
    except TimeoutError as exc:
        error = translate(exc, "workspace: list job runs")
    assert isinstance(error, Throttled) and "throttled (retry after 7 s)" in str(error)


def test_azure_rt_storage_optimization_runs_with_the_profiles_warehouse(emu: DatabricksEmulator, root: Path,
                                                                        tmp_path: Path,
                                                                        _isolate_user_dirs: Path) -> None:
    emu.add_warehouse("wh-rt", "rt")
    emu.add_table("hive_metastore.bronze.events")
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(f"[azure-rt]\nhost = {emu.url}\ntoken = {GOOD_TOKEN}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(DATABRICKS_CONFIG_FILE=str(cfg), DATABRICKS_WAREHOUSE_ID="wh-rt", PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(root / "profiles.yaml"), "run",
                          "azure-storage-optimization", "--profile", "azure-rt", "--yes"],
                         input="bronze.events\n", capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert statements(emu)[:2] == [
        "OPTIMIZE `hive_metastore`.`bronze`.`events` ZORDER BY (`event_type`, `customer_id`)",
        "VACUUM `hive_metastore`.`bronze`.`events` RETAIN 168 HOURS"]
