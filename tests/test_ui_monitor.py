"""Monitoring never stops behind a screen: each kind of modal is opened, then things break behind it.

The profile runs the real demo (its ingestion API is stopped through the driver,
as the ``a`` action would) beside a real TCP backend that the test closes. While
the modal is still open, the IngestionDown alert must fire and the TCP pane must
turn STALE with its last good rows; nothing waits for the modal to close.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pilot_helpers import answer_pong, dashboard_ready, until

from opsconsole import drivers
from opsconsole.config import load_profile
from opsconsole.monitor import AlertState
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.widgets.data_pane import DashboardPane


def profile(tmp_path: Path, port: int):  # type: ignore[no-untyped-def]
    path = tmp_path / "profiles.yaml"
    path.write_text(textwrap.dedent(f"""\
        profiles:
          mixed:
            title: demo beside a tcp backend
            drivers:
              pipeline:
                type: demo
                options: {{data_dir: {tmp_path / 'demo'}, batch_interval: 0.5, batch_size: 3,
                           transform_interval: 1}}
              backend: {{type: tcp-probe, timeout: 1, options: {{port: {port}}}}}
            poll: {{services: 1, tables: 1, lag: 1, queries: 1, jobs: 1}}
        """))
    return load_profile("mixed", path)


async def open_help(app: Any, pilot: Any) -> type:
    from opsconsole.ui.screens.dialogs import HelpScreen

    await pilot.press("question_mark")
    return HelpScreen


async def open_actions(app: Any, pilot: Any) -> type:
    from opsconsole.ui.screens.dialogs import PickScreen

    await pilot.press("a")
    return PickScreen


async def open_runbook_picker(app: Any, pilot: Any) -> type:
    from opsconsole.ui.screens.runbooks import RunbookPickScreen

    await pilot.press("R")
    return RunbookPickScreen


async def open_runbook_params(app: Any, pilot: Any) -> type:
    from opsconsole.ui.screens.runbooks import RunbookParamsScreen

    app.action_run_runbook("demo-compaction")
    return RunbookParamsScreen


async def open_runbook_preview(app: Any, pilot: Any) -> type:
    from opsconsole.ui.screens.runbooks import RunbookPreviewScreen

    app.action_run_runbook("demo-clear-faults")
    return RunbookPreviewScreen


async def open_full_table(app: Any, pilot: Any) -> type:
    from opsconsole.ui.screens.table import TableScreen

    await pilot.press("1", "v")
    return TableScreen


async def open_audit_log(app: Any, pilot: Any) -> type:
    from opsconsole.ui.screens.audit import AuditScreen

    await pilot.press("L")
    return AuditScreen


async def open_incident(app: Any, pilot: Any) -> type:
    from opsconsole.ui.screens.incidents import IncidentOpenScreen

    await pilot.press("I")
    return IncidentOpenScreen


@pytest.mark.parametrize("open_modal", [open_help, open_actions, open_runbook_picker, open_runbook_params,
                                        open_runbook_preview, open_full_table, open_audit_log, open_incident],
                         ids=lambda f: f.__name__.removeprefix("open_"))
async def test_alerts_fire_and_panes_go_stale_behind_every_modal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 open_modal: Any) -> None:
    monkeypatch.setitem(drivers.REGISTRY, "tcp-probe", "tcp_probe_driver:TcpProbeDriver")
    server = await asyncio.start_server(answer_pong, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    app = OpsConsoleApp(profile(tmp_path, port))
    async with app.run_test(size=(120, 40)) as pilot:
        dashboard = await dashboard_ready(pilot, app)
        services = dashboard.query_one("#pane-services", DashboardPane)

        def service(name: str) -> Any:
            return next((r for r in (services.result.rows if services.result else ()) if r.name == name), None)

        await until(pilot, lambda: service("tcp-service") is not None and service("ingestion-api") is not None
                    and service("ingestion-api").health.name == "OK", timeout=60)
        modal = await open_modal(app, pilot)
        await until(pilot, lambda: isinstance(app.screen, modal), timeout=15)
        shown = app.screen

        # Break things behind the modal: the demo's ingestion API stops, the TCP backend goes away.
        demo = next(d for d in dashboard.drivers if d.kind == "demo")
        await demo.run_action("fault-stop-http", {})
        server.close()
        await server.wait_closed()

        def fired(rule: str) -> bool:
            return any(a.rule == rule for a in dashboard.alerts)

        await until(pilot, lambda: fired("IngestionDown") and fired("SourceUnreachable"), timeout=20)
        await until(pilot, lambda: services.is_stale, timeout=10)
        assert app.screen is shown, "the modal is still open"
        assert "connection refused" in services.stale_reason
        assert service("tcp-service") is not None  # last good rows kept, not emptied
        assert "STALE" in str(services.border_subtitle)
        assert "IngestionDown" in "\n".join(dashboard.activity.lines)
        assert all(t.state is AlertState.FIRING for t in dashboard.tracked if t.alert.rule == "IngestionDown")
        await demo.run_action("clear-faults", {})
        app.pop_screen()
        await until(pilot, lambda: app.screen is dashboard)
        await pilot.press("q")
    assert demo.engine_pid() is None, "quitting stops the demo engine the console started"


async def test_a_new_alert_does_not_move_the_cursor_off_the_alert_being_read() -> None:
    """Worst first, but the row under the cursor stays the same alert when a more severe one arrives."""
    from datetime import UTC, datetime

    from textual.app import App, ComposeResult

    from opsconsole.model import Alert, Severity
    from opsconsole.monitor import TrackedAlert
    from opsconsole.ui.widgets.alerts_pane import AlertsPane
    from opsconsole.ui.widgets.pane_table import PaneTable

    now = datetime.now(UTC)

    def tracked(rule: str, severity: Severity) -> TrackedAlert:
        return TrackedAlert(Alert(rule, severity, "svc", f"{rule} message", None, now, source="d/services"),
                            AlertState.FIRING, now, now, now)

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield AlertsPane(index=1)

        def health_style(self, _health: object) -> str:
            return ""

    app = Host()
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(AlertsPane)
        table = pane.query_one(PaneTable)
        pane.show([tracked("StagingStale", Severity.WARNING), tracked("HighLatency", Severity.WARNING)])
        await pilot.pause()
        table.move_cursor(row=1)
        reading = pane.tracked_at(table.cursor_row)
        assert reading is not None and reading.alert.rule == "HighLatency"
        pane.show([*pane.tracked, tracked("IngestionDown", Severity.CRITICAL)])  # sorts first
        await pilot.pause()
        assert pane.tracked[0].alert.rule == "IngestionDown"
        now_reading = pane.tracked_at(table.cursor_row)
        assert now_reading is not None and now_reading.alert.rule == "HighLatency"
