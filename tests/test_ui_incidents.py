"""Incident mode, diagnostics, notifications and the audit browser in the TUI (Pilot, real demo, real receivers)."""

from __future__ import annotations

import socket
from pathlib import Path

from opsconsole.monitor.incidents import Incident
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.screens.dashboard import DashboardScreen
from opsconsole.ui.screens.dialogs import PickScreen
from opsconsole.ui.widgets.data_pane import DashboardPane
from tests.pilot_helpers import dashboard_ready, until
from tests.test_notify import Receiver
from tests.test_ui_runbooks import runbook_profile


def activity(screen: DashboardScreen) -> str:
    return "\n".join(screen.activity.lines)


def api_down(screen: DashboardScreen) -> bool:
    services = screen.query_one("#pane-services", DashboardPane)
    rows = {r.name: r for r in (services.result.rows if services.result else ())}
    return "ingestion-api" in rows and rows["ingestion-api"].health.name == "CRITICAL"


async def run_action(pilot, app: OpsConsoleApp, action: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, PickScreen))
    app.screen.dismiss(f"pipeline|{action}")
    await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_incident_records_alerts_and_actions_and_exports_the_review(tmp_path: Path) -> None:
    from opsconsole.ui.screens.incidents import IncidentOpenScreen, IncidentScreen

    app = OpsConsoleApp(runbook_profile(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        dashboard = await dashboard_ready(pilot, app)
        await pilot.press("I")
        await until(pilot, lambda: isinstance(app.screen, IncidentOpenScreen))
        await pilot.press("down", "enter")  # P1
        await until(pilot, lambda: app.incident is not None)
        incident = app.incident
        assert incident.severity == "P1" and incident.profile == "demo"
        assert f"INCIDENT {incident.id} P1" in str(dashboard.query_one("#header").render())
        await run_action(pilot, app, "fault-stop-http")
        await until(pilot, lambda: any(e.kind == "alert" and "IngestionDown" in e.text for e in incident.timeline),
                    timeout=20)
        await run_action(pilot, app, "clear-faults")
        await until(pilot, lambda: any(e.kind == "resolved" and "IngestionDown" in e.text
                                       for e in incident.timeline), timeout=30)
        actions = [e.text for e in incident.timeline if e.kind == "action"]
        assert any("fault-stop-http ok" in t for t in actions) and any("clear-faults ok" in t for t in actions)
        # Saved as it goes: what is on disk is what is on screen.
        assert [e.text for e in Incident.load(incident.path).timeline] == [e.text for e in incident.timeline]
        await pilot.press("I")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen))
        assert "IngestionDown" in str(app.screen.query_one("#incident-entries").render())
        await pilot.press("x")
        await until(pilot, lambda: app.incident is None)
        review = Path(incident.path).with_suffix(".md").read_text()
        assert review.startswith("## Incident Post-Mortem")
        assert f"**Incident ID:** {incident.id}" in review and "**Severity:** P1" in review
        assert "IngestionDown" in review and "fault-stop-http" in review and "incident closed" in review
        assert "INCIDENT" not in str(dashboard.query_one("#header").render())
        await pilot.press("q")


async def test_diagnostics_bundle_is_written_and_its_path_shown(tmp_path: Path) -> None:
    app = OpsConsoleApp(runbook_profile(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        dashboard = await dashboard_ready(pilot, app)
        await until(pilot, lambda: dashboard.query_one("#pane-tables", DashboardPane).result is not None)
        await pilot.press("D")
        await until(pilot, lambda: "diagnostics bundle written" in activity(dashboard), timeout=30)
        path = Path(activity(dashboard).split("diagnostics bundle written: ")[1].splitlines()[0])
        text = path.read_text()
        assert text.startswith("opsconsole diagnostics - profile demo")
        assert "=== pipeline (demo): tables ===" in text and "raw.orders" in text
        await pilot.press("q")


async def test_alerts_are_notified_and_delivery_failures_logged(tmp_path: Path) -> None:
    receiver = Receiver()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    notify = (f"    notify:\n      rate_limit_minutes: 0\n      channels:\n"
              f"        hook: {{type: webhook, url: \"{receiver.url}/hook\"}}\n"
              f"        dead: {{type: webhook, url: \"http://127.0.0.1:{dead}/\", timeout: 1}}\n")
    app = OpsConsoleApp(runbook_profile(tmp_path, notify))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            dashboard = await dashboard_ready(pilot, app)
            await run_action(pilot, app, "fault-stop-http")
            await until(pilot, lambda: any(b["rule"] == "IngestionDown" and b["status"] == "firing"
                                           for _, b, _ in receiver.posts), timeout=20)
            firing = next(b for _, b, _ in receiver.posts if b["rule"] == "IngestionDown")
            assert firing["subject"] == "ingestion-api" and firing["profile"] == "demo"
            await until(pilot, lambda: "notify dead FAILED (firing IngestionDown:ingestion-api)" in activity(dashboard))
            assert "notified hook: firing IngestionDown:ingestion-api" in activity(dashboard)
            await run_action(pilot, app, "clear-faults")
            await until(pilot, lambda: any(b["rule"] == "IngestionDown" and b["status"] == "resolved"
                                           for _, b, _ in receiver.posts), timeout=30)
            # De-duplicated: still firing on every poll, announced once.
            assert sum(1 for _, b, _ in receiver.posts if b["key"] == "IngestionDown:ingestion-api"
                       and b["status"] == "firing") == 1
            await pilot.press("q")
    finally:
        receiver.close()


async def test_audit_browser_shows_newest_first_and_filters(tmp_path: Path) -> None:
    from textual.widgets import DataTable, Input

    from opsconsole.ui.screens.audit import AuditScreen

    app = OpsConsoleApp(runbook_profile(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await dashboard_ready(pilot, app)
        await run_action(pilot, app, "fault-stop-ingestion")
        await until(pilot, lambda: "fault-stop-ingestion ok" in activity(app.screen), timeout=20)
        await run_action(pilot, app, "clear-faults")
        await until(pilot, lambda: "clear-faults ok" in activity(app.screen), timeout=20)
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, AuditScreen) and app.screen.events)
        audit = app.screen
        table = audit.query_one(DataTable)
        assert table.row_count == 8  # two ad-hoc runs: run-start, start, end, run-end each
        assert audit.shown[0].phase == "run-end" and audit.shown[0].ref == ""
        assert audit.shown[1].ref == "demo.clear-faults" and audit.shown[1].outcome == "ok"  # newest first
        assert audit.shown[-1].phase == "run-start"
        audit.query_one(Input).value = "fault-stop-ingestion END"  # every word, any case
        await until(pilot, lambda: table.row_count == 1)
        assert audit.shown[0].ref == "demo.fault-stop-ingestion" and audit.shown[0].phase == "end"
        audit.query_one(Input).value = "no such thing"
        await until(pilot, lambda: table.row_count == 0)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("q")
