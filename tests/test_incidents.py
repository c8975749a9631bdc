"""Diagnostics bundle from a real driver, and incident mode through to the review."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsconsole.audit import AuditLog
from opsconsole.config import load
from opsconsole.model import Alert, Severity
from opsconsole.monitor import build_drivers
from opsconsole.monitor.incidents import Incident, collect_diagnostics, load_open_incidents

PROFILES = """
profiles:
  demo:
    drivers:
      pipeline:
        type: demo
        options: {data_dir: "DEMO", batch_interval: 0.5, batch_size: 5, transform_interval: 1}
  lake:
    drivers:
      bus: {type: kafka, options: {bootstrap: "127.0.0.1:9"}}
      cat:
        type: iceberg
        options: {catalog_uri: "sqlite:///DEMO/none.db", catalog_password: "hunter2-very-secret"}
"""


@pytest.fixture
def profiles(tmp_path: Path):
    path = tmp_path / "profiles.yaml"
    path.write_text(PROFILES.replace("DEMO", str(tmp_path / "demo")))
    (tmp_path / "demo").mkdir()
    return load(path)


async def test_diagnostics_bundle_of_the_running_demo(profiles, tmp_path: Path) -> None:
    profile = profiles.profile("demo")
    drivers = build_drivers(profile)
    try:
        for d in drivers:
            await d.connect()
            await d.wait_ready(30)
        alert = Alert("TableNeedsCompaction", Severity.INFO, "raw.orders", "120 files", "demo-compaction")
        path = await collect_diagnostics(profile, drivers, alerts=[alert], audit=AuditLog(tmp_path / "a.jsonl"))
    finally:
        for d in drivers:
            await d.close()
    text = path.read_text()
    assert path.parent.name == "diagnostics" and path.name.startswith("demo-")
    for pane in ("services", "queries", "tables", "lag", "jobs"):
        assert f"=== pipeline (demo): {pane} ===" in text
    assert "name=ingestion-api" in text and "name=raw.orders" in text
    assert "INFO     TableNeedsCompaction raw.orders: 120 files (runbook demo-compaction)" in text


async def test_diagnostics_records_unreachable_sources_and_hides_secrets(profiles, tmp_path: Path) -> None:
    profile = profiles.profile("lake")
    drivers = build_drivers(profile)
    try:
        path = await collect_diagnostics(profile, drivers, audit=AuditLog(tmp_path / "a.jsonl"),
                                         directory=tmp_path / "diag")
    finally:
        for d in drivers:
            await d.close()
    text = path.read_text()
    assert path.parent == tmp_path / "diag" and path.name.startswith("lake-")
    assert "=== bus (kafka): lag ===" in text
    assert "health=critical" in text or "UNREACHABLE" in text  # the broker at port 9 is not there
    assert "hunter2-very-secret" not in text and "catalog_password=••••" in text


def test_incident_timeline_and_review_in_seed_001_template(tmp_path: Path) -> None:
    inc = Incident.open("P1", "Error rate above 5 %", "ontos-prod", directory=tmp_path)
    assert inc.id == f"INC-{datetime.now(UTC).year}-001"
    t0 = datetime.now(UTC)
    inc.record_alerts([Alert("HighErrorRate", Severity.CRITICAL, "warehouse", "error rate 7.5 % > 5 %",
                             "ontos-high-error-rate", t0)])
    inc.record_alerts([Alert("HighErrorRate", Severity.CRITICAL, "warehouse", "error rate 7.1 % > 5 %",
                             "ontos-high-error-rate", t0)])  # still firing: not repeated
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.write(audit.event(run_id="r1", phase="end", procedure="ontos-warehouse-timeout", profile="ontos-prod",
                            step="start", ref="databricks.warehouse-start", outcome="ok",
                            message="warehouse is RUNNING", end=t0.isoformat()))
    audit.write(audit.event(run_id="r2", phase="end", procedure="x", profile="other-profile", step="s",
                            outcome="ok"))
    inc.record_audit(audit.read())
    inc.record_alerts([])
    inc.add("note", "on-call engineer acknowledged")
    assert [i.id for i in load_open_incidents(tmp_path)] == [inc.id]
    inc.close(root_cause="Warehouse auto-stopped during peak", resolution=["Started the warehouse"],
              action_items=["Raise auto-stop to 60 minutes"], impact="5 % of queries failed")
    assert load_open_incidents(tmp_path) == []

    reloaded = Incident.load(inc.path)
    review = reloaded.review()
    assert review.startswith("## Incident Post-Mortem\n\n**Incident ID:** INC-")
    for heading in ("**Date:**", "**Duration:** 0 minutes", "**Impact:** 5 % of queries failed", "### Timeline",
                    "### Root Cause\nWarehouse auto-stopped during peak", "### Resolution\n- Started the warehouse",
                    "### Action Items\n- [ ] Raise auto-stop to 60 minutes"):
        assert heading in review
    timeline = review.split("### Timeline\n")[1].split("\n\n")[0].splitlines()
    kinds = [line.split(" - ", 1)[1] for line in timeline]
    assert kinds[0].startswith("incident opened (P1)")
    assert sum("alert HighErrorRate on warehouse" in k for k in kinds) == 1
    assert any("ran ontos-warehouse-timeout/start (databricks.warehouse-start): ok" in k for k in kinds)
    assert not any("other-profile" in k or "ran x/" in k for k in kinds)
    assert any("resolved" in k for k in kinds) and kinds[-1] == "incident closed"
    out = reloaded.export_review()
    assert out.read_text() == review and json.loads(Path(inc.path).read_text())["severity"] == "P1"
    with pytest.raises(ValueError, match="P0, P1, P2, P3"):
        Incident.open("P5", "x", "p", directory=tmp_path)
