"""Runbooks, audited actions and the audit browser in the TUI, with Pilot on the real embedded demo."""

from __future__ import annotations

import json
import os
from pathlib import Path

from opsconsole.audit import AuditLog
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.dashboard_screen import DashboardScreen
from opsconsole.ui.panes.base import DashboardPane
from opsconsole.ui.screens import PickScreen
from tests.test_ui_pilot import demo_profile, until


def audit_records() -> list[dict]:
    path = Path(os.environ["OPSCONSOLE_DATA_DIR"]) / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_action_picked_in_the_ui_is_audited_before_and_after(tmp_path: Path) -> None:
    profile, _ = demo_profile(tmp_path)
    app = OpsConsoleApp(profile)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.connected)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, PickScreen))
        app.screen.dismiss("pipeline|fault-stop-http")
        services = app.screen.query_one("#pane-services", DashboardPane)

        def api_down() -> bool:
            rows = {r.name: r for r in (services.result.rows if services.result else ())}
            return "ingestion-api" in rows and rows["ingestion-api"].health.name == "CRITICAL"

        await until(pilot, api_down, timeout=20)
        await until(pilot, lambda: any(r["phase"] == "end" for r in audit_records()))
        steps = [r for r in audit_records() if r["procedure"] == "ad-hoc" and r["phase"] in ("start", "end")]
        assert [r["phase"] for r in steps] == ["start", "end"]
        start, end = steps
        assert start["ref"] == end["ref"] == "demo.fault-stop-http"
        assert start["profile"] == "demo" and start["driver"] == "pipeline" and start["who"] and start["host"]
        assert end["outcome"] == "ok" and end["end"] >= start["start"]
        assert AuditLog().read()[-1].phase == "run-end"
        await pilot.press("q")
