"""The shipped Databricks profiles validate and enable the facets their seeds need."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsconsole.config import ConfigError, load
from opsconsole.drivers.databricks.driver import DatabricksDriver
from opsconsole.model import Pane
from opsconsole.secret import Secret


def workspace_driver(root: Path, profile: str) -> DatabricksDriver:
    try:
        prof = load(root / "profiles.yaml").profile(profile)
    except ConfigError as exc:
        if "not available in this build" in str(exc):
            pytest.skip(f"another driver of {profile} is not built yet: {exc}")
        raise
    [cfg] = [d for d in prof.drivers if d.kind == "databricks"]
    return DatabricksDriver(cfg.name, cfg.options, timeout=cfg.timeout)


def test_ontos_prod_watches_app_and_warehouse(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_WAREHOUSE_ID", "abc123")
    monkeypatch.delenv("DATABRICKS_CONFIG_PROFILE", raising=False)
    drv = workspace_driver(root, "ontos-prod")
    assert (drv.app, drv.warehouse_id, drv.catalog, drv.schema) == ("ontos-ml-workbench", "abc123", "ontos_ml",
                                                                   "workbench")
    assert drv.config["profile"] == "prod"
    assert drv.panes == frozenset({Pane.SERVICES, Pane.QUERIES})
    assert {"app-restart", "warehouse-edit", "table-restore", "grant"} <= {a.name for a in drv.actions}


def test_dataops_reads_seed_004_environment(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_WORKSPACE_URL", "https://adb-1.azuredatabricks.net")
    monkeypatch.setenv("DATABRICKS_ACCESS_TOKEN", "dapi-from-env")
    drv = workspace_driver(root, "dataops")
    assert drv.jobs and drv.panes == frozenset({Pane.SERVICES, Pane.JOBS})
    assert isinstance(drv.config["token"], Secret) and "dapi-from-env" not in repr(drv.config)
    assert {a.name for a in drv.actions} == {"grants-show", "grant"}  # Unity Catalog REST API, no warehouse


def test_azure_rt_lists_clusters(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_WAREHOUSE_ID", "wh-rt")
    drv = workspace_driver(root, "azure-rt")
    assert drv.clusters and "cluster-restart" in {a.name for a in drv.actions}
    assert drv.warehouse_id == "wh-rt"  # the data-skew runbook's warehouse
    assert drv._targets() == {"p50_ms": 100, "p99_ms": 500, "error_rate": 0.001}  # seed 001's dashboard targets


def test_dataops_ships_job_alert_thresholds(root: Path) -> None:
    try:
        prof = load(root / "profiles.yaml").profile("dataops")
    except ConfigError as exc:
        pytest.skip(str(exc))
    assert (prof.alerts["job_health_warning"], prof.alerts["job_health_critical"],
            prof.alerts["job_duration_z_max"]) == (80, 50, 3.5)
