"""Runbooks, audited actions and the audit browser in the TUI, with Pilot on the real embedded demo."""

from __future__ import annotations

import json
import os
from pathlib import Path

from opsconsole.audit import AuditLog
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.screens.dashboard import DashboardScreen
from opsconsole.ui.screens.dialogs import PickScreen
from opsconsole.ui.widgets.data_pane import DashboardPane
from tests.pilot_helpers import dashboard_ready, until
from tests.test_ui_pilot import demo_profile


def audit_records() -> list[dict]:
    path = Path(os.environ["OPSCONSOLE_DATA_DIR"]) / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_action_picked_in_the_ui_is_audited_before_and_after(tmp_path: Path) -> None:
    profile, _ = demo_profile(tmp_path)
    app = OpsConsoleApp(profile)
    async with app.run_test(size=(80, 24)) as pilot:
        await dashboard_ready(pilot, app)
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


def runbook_profile(tmp_path: Path, extra: str = "", read_only: bool = False):  # type: ignore[no-untyped-def]
    """The real demo with profile-level settings (alert thresholds, keys, notify) appended."""
    from opsconsole.config import load

    path = tmp_path / "profiles.yaml"
    path.write_text(f"""\
profiles:
  demo:
    title: test demo
    read_only: {str(read_only).lower()}
    drivers:
      pipeline:
        type: demo
        options: {{data_dir: {tmp_path / 'demo'}, batch_interval: 0.5, batch_size: 3, transform_interval: 1}}
    poll: {{services: 1, tables: 1, lag: 1, queries: 1, jobs: 1}}
{extra}""")
    return load(path).profile("demo")


def screen_text(app: OpsConsoleApp) -> str:
    from textual.widgets import Static

    return "\n".join(str(w.render()) for w in app.screen.query(Static))


def log_text(screen) -> str:  # type: ignore[no-untyped-def]
    from textual.widgets import RichLog

    return "\n".join(line.text for line in screen.query_one(RichLog).lines)


async def test_run_a_runbook_with_confirmation_from_the_picker(tmp_path: Path) -> None:
    from opsconsole.ui.screens.dialogs import ConfirmScreen
    from opsconsole.ui.screens.runbooks import RunbookPickScreen, RunbookPreviewScreen, RunbookRunScreen

    app = OpsConsoleApp(runbook_profile(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        dashboard = await dashboard_ready(pilot, app)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RunbookPickScreen))
        picker = app.screen
        ids = [rb.id for rb in picker.runbooks]
        assert "demo-compaction" in ids and "service-down" in ids
        assert "compaction" not in ids and "ontos-app-down" not in ids  # need drivers the demo does not have
        assert picker.mutating["demo-drill-stop-api"] and not picker.mutating["service-down"]
        await pilot.press(*"stop-api")
        await until(pilot, lambda: picker.query_one("#runbook-list").option_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunbookPreviewScreen))
        assert "demo.fault-stop-http() on pipeline" in screen_text(app)
        assert audit_records() == []  # a preview runs nothing
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Shuts the ingestion HTTP service down" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, RunbookRunScreen) and app.screen.finished)
        assert app.screen.outcome == "ok"
        assert "ok" in log_text(app.screen)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is dashboard)
        services = dashboard.query_one("#pane-services", DashboardPane)

        def api_down() -> bool:
            rows = {r.name: r for r in (services.result.rows if services.result else ())}
            return "ingestion-api" in rows and rows["ingestion-api"].health.name == "CRITICAL"

        await until(pilot, api_down, timeout=20)
        phases = [(r["procedure"], r["phase"], r.get("outcome", "")) for r in audit_records()]
        assert phases == [("demo-drill-stop-api", "run-start", ""), ("demo-drill-stop-api", "start", ""),
                          ("demo-drill-stop-api", "end", "ok"), ("demo-drill-stop-api", "run-end", "ok")]
        assert "runbook demo-drill-stop-api ended: ok" in "\n".join(dashboard.activity.lines)
        await pilot.press("q")


async def test_parameters_are_validated_and_the_run_can_be_cancelled(tmp_path: Path) -> None:
    from textual.widgets import Input

    from opsconsole.ui.screens.dialogs import ConfirmScreen
    from opsconsole.ui.screens.runbooks import RunbookParamsScreen, RunbookPreviewScreen, RunbookRunScreen

    app = OpsConsoleApp(runbook_profile(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        dashboard = await dashboard_ready(pilot, app)
        # The runbook's first check wants more than one data file: a slow (CI) start has not written them yet.
        await until(pilot, lambda: any(getattr(row, "name", "") == "raw.orders" and (row.file_count or 0) > 1
                                       for result in dashboard.results.values() for row in result.rows), timeout=60)
        app.action_run_runbook("demo-compaction")
        await until(pilot, lambda: isinstance(app.screen, RunbookParamsScreen) and app.screen.query("#param-table"))
        form = app.screen
        assert form.query_one("#param-table", Input).value == "raw.orders"
        form.query_one("#param-max_files", Input).value = "many"
        form.query_one("#param-max_files", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: "expected an integer" in str(form.query_one("#param-errors").render()))
        assert app.screen is form
        # 0 files can never be reached: the last step waits until cancelled.
        form.query_one("#param-max_files", Input).value = "0"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunbookPreviewScreen))
        text = screen_text(app)
        assert "demo.compact(table=raw.orders) on pipeline" in text
        assert "wait until all rows: file_count <= 0" in text and "dangerous: asks first" in text
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=60)
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, RunbookRunScreen)
                    and "file-count-after" in log_text(app.screen), timeout=120)
        run = app.screen
        assert not run.finished, log_text(run)
        await pilot.press("c")
        await until(pilot, lambda: run.finished, timeout=20)
        assert run.outcome == "cancelled"
        ends = {r["step"]: r["outcome"] for r in audit_records() if r["phase"] == "end"}
        assert ends["compact"] == "ok" and ends["resume-ingestion"] == "ok"
        assert ends["file-count-after"] == "cancelled"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("q")


async def test_read_only_marks_and_refuses_mutating_runbooks(tmp_path: Path) -> None:
    from opsconsole.ui.screens.runbooks import RunbookPickScreen, RunbookPreviewScreen, RunbookRunScreen

    app = OpsConsoleApp(runbook_profile(tmp_path, read_only=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await dashboard_ready(pilot, app)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RunbookPickScreen))
        picker = app.screen
        labels = {rb.id: str(picker.label(rb)) for rb in picker.runbooks}
        assert "read-only: changes refused" in labels["demo-drill-stop-api"]
        assert "read-only" not in labels["service-down"]
        picker.dismiss("demo-drill-stop-api")
        await until(pilot, lambda: isinstance(app.screen, RunbookPreviewScreen))
        assert "REFUSED: the console is read-only" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunbookRunScreen) and app.screen.finished)
        assert app.screen.outcome == "refused"
        assert "read-only" in log_text(app.screen)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        services = app.screen.query_one("#pane-services", DashboardPane)
        await until(pilot, lambda: services.result is not None and services.result.rows)
        assert {r.name: r.health.name for r in services.result.rows}["ingestion-api"] == "OK"
        await pilot.press("q")


async def test_enter_on_an_alert_opens_its_runbook_and_profile_keys_launch_runbooks(tmp_path: Path) -> None:
    from opsconsole.ui.screens.runbooks import RunbookParamsScreen, RunbookPreviewScreen

    profile = runbook_profile(tmp_path, "    alerts: {table_files_max: 1}\n    keys: {x: demo-clear-faults}\n")
    app = OpsConsoleApp(profile)
    async with app.run_test(size=(120, 40)) as pilot:
        dashboard = await dashboard_ready(pilot, app)
        await until(pilot, lambda: any(a.rule == "TableNeedsCompaction" for a in dashboard.alerts), timeout=60)
        table = dashboard.query_one("#table-alerts")
        row = next(i for i, a in enumerate(dashboard.query_one("#pane-alerts").alerts)
                   if a.rule == "TableNeedsCompaction")
        table.focus()
        table.move_cursor(row=row)
        await pilot.press("enter")
        # First the whole alert: its text, source, first/last seen and runbook; the runbook is one key on.
        from opsconsole.ui.screens.alert import AlertDetailScreen

        await until(pilot, lambda: isinstance(app.screen, AlertDetailScreen))
        detail = str(app.screen.query_one("#alert-text").render())
        assert "TableNeedsCompaction" in detail and "first seen" in detail and "pipeline/tables" in detail
        await pilot.press("enter")
        # On the demo the runbook answering it is demo-compaction.
        await until(pilot, lambda: isinstance(app.screen, RunbookParamsScreen))
        assert app.screen.runbook.id == "demo-compaction"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is dashboard)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, RunbookPreviewScreen))
        assert app.screen.runbook.id == "demo-clear-faults"
        await pilot.press("escape")
        await pilot.press("q")


async def test_command_palette_offers_the_profiles_runbooks(tmp_path: Path) -> None:
    from textual.command import CommandList, CommandPalette

    from opsconsole.ui.screens.runbooks import RunbookPreviewScreen

    app = OpsConsoleApp(runbook_profile(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await dashboard_ready(pilot, app)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"clear all demo")
        await until(pilot, lambda: any("demo-clear-faults" in str(o.prompt) for o in
                                       app.screen.query_one(CommandList).options))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunbookPreviewScreen), timeout=15)
        assert app.screen.runbook.id == "demo-clear-faults"
        await pilot.press("escape")
        await pilot.press("q")


def test_each_demo_alert_resolves_to_a_runbook_the_demo_can_run() -> None:
    from opsconsole.model import Alert, Severity
    from opsconsole.runbooks.library import load_library
    from opsconsole.ui.screens.runbooks import runbook_for_alert

    library = load_library(include_user=False)
    demo = library.for_driver_types({"demo"})
    stack = library.for_driver_types({"docker", "http", "kafka", "flink", "iceberg"})
    cases = {("IngestionDown", "ingestion-stopped"): ("demo-ingestion-stopped", "ingestion-stopped"),
             ("StagingStale", "staging-stale"): ("demo-staging-stale", None),
             ("DuckDBLocked", "duckdb-lock"): ("demo-staging-stale", None),
             ("TableNeedsCompaction", "compaction"): ("demo-compaction", "compaction")}
    for (rule, named), (on_demo, on_stack) in cases.items():
        alert = Alert(rule, Severity.WARNING, "x", "y", named)
        assert runbook_for_alert(alert, library, demo).id == on_demo
        found = runbook_for_alert(alert, library, stack)
        assert (found.id if found else None) == on_stack


async def test_a_broken_user_runbook_file_is_named_and_the_rest_still_open(tmp_path: Path) -> None:
    """Issue 18: a binary or alias-bomb runbook of the user's made R do nothing (or froze the TUI)."""
    from opsconsole.config import user_config_dir
    from opsconsole.ui.screens.runbooks import RunbookPickScreen

    folder = user_config_dir() / "runbooks"
    folder.mkdir(parents=True)
    (folder / "binary.yaml").write_bytes(b"\xff\xfe\x00garbage")
    (folder / "bomb.yaml").write_text("id: bomb\ntitle: B\nsymptoms:\n" + "".join(
        f"  - &a{i} [" + ", ".join([f"*a{i - 1}" if i else "lol"] * 9) + "]\n" for i in range(10))
        + "steps: [{id: s, shell: [df]}]\n")
    app = OpsConsoleApp(runbook_profile(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.connected)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RunbookPickScreen))
        assert "service-down" in [rb.id for rb in app.screen.runbooks]
        shown = " ".join(str(n.message) for n in app._notifications)
        assert "binary.yaml" in shown and "not UTF-8 (byte 0)" in shown, shown
        assert "bomb.yaml" in shown and "alias" in shown, shown
