"""``g`` on a demo service: the engine's own log, followed live (issue 17: ``g`` existed only for docker)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pilot_helpers import until
from test_ui_pilot import demo_profile
from watch_helpers import set_fault

from opsconsole.drivers.file_logs import tail_file
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.screens.dashboard import DashboardScreen
from opsconsole.ui.screens.logs import LogsScreen


async def test_g_on_a_demo_service_follows_the_engine_log_and_shows_a_fault_as_it_happens(tmp_path: Path) -> None:
    profile, _ = demo_profile(tmp_path)
    app = OpsConsoleApp(profile)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.connected)
        services = app.screen.query_one("#pane-services")
        await until(pilot, lambda: services.table.row_count == 5, timeout=30)
        await pilot.press("1", "g")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))
        lines = app.screen.query_one("#logs-lines")
        await until(pilot, lambda: any("events appended" in line for line in lines.lines), timeout=20)
        set_fault(tmp_path / "demo", "stop-http")  # the ingestion API goes down while we watch its log
        try:
            await until(pilot, lambda: any("ingestion-api: stopped (fault stop-http)" in line for line in lines.lines),
                        timeout=20)
        finally:
            set_fault(tmp_path / "demo", "stop-http", on=False)
        await until(pilot, lambda: any("ingestion-api: listening" in line for line in lines.lines), timeout=20)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("q")


async def test_tail_file_tails_filters_follows_and_survives_rotation(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("".join(f"line {i} {'odd' if i % 2 else 'even'}\n" for i in range(10)))
    assert [line async for line in tail_file(log, tail=3)] == ["line 7 odd", "line 8 even", "line 9 odd"]
    assert [line async for line in tail_file(log, tail=2, grep="EVEN")] == ["line 6 even", "line 8 even"]

    seen: list[str] = []

    async def follow() -> None:
        async for line in tail_file(log, tail=1, follow=True, poll=0.02):
            seen.append(line)

    task = asyncio.create_task(follow())
    try:
        await asyncio.sleep(0.1)
        with log.open("a") as fh:
            fh.write("line 10 even\npartial")  # a line still being written is not shown half
        await asyncio.sleep(0.2)
        assert seen == ["line 9 odd", "line 10 even"]
        log.rename(tmp_path / "engine.log.1")  # rotated: the new file is read from its start
        log.write_text("fresh 1\n")
        await asyncio.sleep(0.2)
        assert seen[-1] == "fresh 1"
    finally:
        task.cancel()
