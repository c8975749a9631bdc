"""Runbook dialogs at 80x24 on the real demo (issue 17): a declined compaction resumes ingestion,
the parameters form previews on enter, key hints stay on screen, the run log reads like prose,
and a runbook opened from an alert gets the alert's subject as its parameter."""

from __future__ import annotations

import re
from pathlib import Path

from pilot_helpers import until
from test_ui_oncall import screen_text
from test_ui_runbooks import audit_records, log_text, runbook_profile

from opsconsole.demo.layout import DemoPaths
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.screens.dashboard import DashboardScreen


def raw_rows(screen: DashboardScreen) -> int:
    return max((row.row_count or 0 for result in screen.results.values() for row in result.rows
                if getattr(row, "name", "") == "raw.orders"), default=0)


async def test_declining_compaction_resumes_ingestion_and_dialogs_fit_80x24(tmp_path: Path) -> None:
    from opsconsole.ui.screens.dialogs import ConfirmScreen
    from opsconsole.ui.screens.runbooks import RunbookParamsScreen, RunbookPreviewScreen, RunbookRunScreen

    app = OpsConsoleApp(runbook_profile(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.connected)
        dashboard = app.screen
        await until(pilot, lambda: any(getattr(row, "name", "") == "raw.orders" and (row.file_count or 0) > 1
                                       for result in dashboard.results.values() for row in result.rows), timeout=60)
        app.action_run_runbook("demo-compaction")
        await until(pilot, lambda: isinstance(app.screen, RunbookParamsScreen) and app.screen.query("#param-table"))
        await pilot.pause()
        await pilot.press("enter")  # no Tab first: the first field has the focus, enter previews
        await until(pilot, lambda: isinstance(app.screen, RunbookPreviewScreen))
        await pilot.pause()
        assert "enter / y: run it" in screen_text(app)  # the long plan scrolls; its keys stay on screen
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=60)
        flag = DemoPaths(tmp_path / "demo").fault_flag("stop-ingestion")
        assert flag.exists()  # ingestion really is paused while we are asked
        await pilot.press("n")  # decline the compaction
        await until(pilot, lambda: isinstance(app.screen, RunbookRunScreen) and app.screen.finished, timeout=60)
        run = app.screen
        assert run.outcome == "refused"
        assert "esc: close" in screen_text(app)
        statuses = {r.step_id: r.status.value for r in run.results if r.status.final}
        assert statuses["compact"] == "refused" and statuses["resume-ingestion"] == "ok"
        assert not flag.exists()
        text = log_text(run)
        assert "ago" in text and not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text), text
        assert not re.search(r"\d+\.\d{4,}", text), text  # no latency_ms=10.726421999834201
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is dashboard)
        before = raw_rows(dashboard)
        await until(pilot, lambda: raw_rows(dashboard) > before, timeout=30)  # ingestion is really running again
        await pilot.press("q")


async def test_quitting_mid_runbook_declines_the_pending_change_and_runs_finally_before_exit(
        tmp_path: Path) -> None:
    """ctrl+c while the compaction asks: the console does not leave the pipeline paused behind it."""
    from opsconsole.ui.screens.dialogs import ConfirmScreen
    from opsconsole.ui.screens.runbooks import RunbookParamsScreen, RunbookPreviewScreen

    app = OpsConsoleApp(runbook_profile(tmp_path))
    flag = DemoPaths(tmp_path / "demo").fault_flag("stop-ingestion")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.connected)
        app.action_run_runbook("demo-compaction")
        await until(pilot, lambda: isinstance(app.screen, RunbookParamsScreen) and app.screen.query("#param-table"))
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunbookPreviewScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=60)
        assert flag.exists()
        await pilot.press("ctrl+c")
        await until(pilot, lambda: app.return_code is not None, timeout=60)
    assert app.return_code == 0 and not flag.exists()  # ingestion resumed before the console went away
    ends = {r["step"]: r["outcome"] for r in audit_records()
            if r["procedure"] == "demo-compaction" and r["phase"] == "end"}
    assert ends["compact"] == "refused" and ends["resume-ingestion"] == "ok", ends


async def test_runbook_opened_from_an_alert_gets_its_subject(tmp_path: Path) -> None:
    from textual.widgets import Input

    from opsconsole.model import Alert, Severity
    from opsconsole.ui.screens.runbooks import RunbookParamsScreen

    app = OpsConsoleApp(runbook_profile(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.connected)
        alert = Alert("TableNeedsCompaction", Severity.INFO, "staging.stg_orders", "140 files", "demo-compaction",
                      source="pipeline")
        app.open_runbook_for(alert)
        await until(pilot, lambda: isinstance(app.screen, RunbookParamsScreen) and app.screen.query("#param-table"))
        assert app.screen.query_one("#param-table", Input).value == "staging.stg_orders"
        assert app.screen.query_one("#param-max_files", Input).value == "100"  # the others keep their defaults
        await pilot.press("escape")
        await pilot.press("q")
