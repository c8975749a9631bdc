"""The TUI with Textual's Pilot at 80x24 and 120x40, on the real demo and on failing backends."""

from __future__ import annotations

import asyncio
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from pilot_helpers import answer_pong, dashboard_ready, until
from textual.widgets import Input

from opsconsole import drivers
from opsconsole.config import load, load_profile
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.screens.dashboard import DashboardScreen
from opsconsole.ui.screens.dialogs import ConfirmScreen, HelpScreen, ParamsScreen, PickScreen
from opsconsole.ui.widgets.data_pane import DashboardPane


def demo_profile(tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    text = textwrap.dedent(f"""\
        profiles:
          demo:
            title: test demo
            read_only: {str(overrides.get('read_only', False)).lower()}
            drivers:
              pipeline:
                type: demo
                options: {{data_dir: {tmp_path / 'demo'}, batch_interval: 0.5, batch_size: 3,
                           transform_interval: 1}}
            poll: {{services: 1, tables: 1, lag: 1, queries: 1, jobs: 1}}
          other:
            title: other profile
            drivers:
              pipeline:
                type: demo
                options: {{data_dir: {tmp_path / 'demo2'}, batch_interval: 1}}
        """)
    path = tmp_path / "profiles.yaml"
    path.write_text(text)
    return load(path).profile("demo"), path


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_demo_panes_fill_with_real_figures(tmp_path: Path, size: tuple[int, int]) -> None:
    profile, _ = demo_profile(tmp_path)
    app = OpsConsoleApp(profile)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        screen = app.screen
        titles = [p.border_title for p in screen.query(".dashboard-pane")]
        assert [str(t).split("] ")[1] for t in titles] == ["Services", "Queries", "Tables", "Lag", "Jobs", "Alerts"]
        await until(pilot, lambda: (p := screen.query_one("#pane-tables", DashboardPane)).result is not None
                    and p.result.rows and p.result.rows[0].file_count)
        tables = screen.query_one("#pane-tables", DashboardPane)
        raw = tables.result.rows[0]
        index = next(i for i, r in enumerate(tables.shown_rows) if r.name == "raw.orders")
        cell = tables.table.get_cell_at((index, 1))
        assert str(cell) == f"{raw.file_count:,}"
        services = screen.query_one("#pane-services", DashboardPane)
        await until(pilot, lambda: services.result is not None and services.table.row_count == 5)
        assert not services.is_stale
        assert services.region.width > 0
        if size[0] < 100:  # below 100 columns the panes are tabs: Tables is one key away
            await pilot.press("3")
            await pilot.pause()
        assert tables.region.width > 0
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("q")
    assert app.return_code == 0


async def test_action_with_confirmation_changes_the_demo(tmp_path: Path) -> None:
    profile, _ = demo_profile(tmp_path)
    app = OpsConsoleApp(profile)
    async with app.run_test(size=(120, 40)) as pilot:
        await dashboard_ready(pilot, app)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, PickScreen))
        picker = app.screen
        ids = [picker.query_one("#pick-list").get_option_at_index(i).id
               for i in range(picker.query_one("#pick-list").option_count)]
        assert "pipeline|fault-stop-http" in ids and "pipeline|compact" in ids
        picker.dismiss("pipeline|fault-stop-http")
        services = app.screen.query_one("#pane-services", DashboardPane)

        def api_down() -> bool:
            rows = {r.name: r for r in (services.result.rows if services.result else ())}
            return "ingestion-api" in rows and rows["ingestion-api"].health.name == "CRITICAL"

        await until(pilot, api_down, timeout=15)
        # The alert is evaluated when the screen handles the pane's Polled message, just after the rows land.
        await until(pilot, lambda: any(a.rule == "IngestionDown" for a in app.screen.alerts), timeout=5)
        # A dangerous action asks first; answering no changes nothing.
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, PickScreen))
        app.screen.dismiss("pipeline|compact")
        # Its parameter is asked for, prefilled with the action's default, then the effect is confirmed.
        await until(pilot, lambda: isinstance(app.screen, ParamsScreen))
        assert app.screen.query_one("#param-table", Input).value == "raw.orders"
        app.screen.query_one("#param-table", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "table=raw.orders" in str(app.screen.effect)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        log_text = "\n".join(app.screen.activity.lines)
        assert "fault-stop-http" in log_text and "compact" not in log_text
        await pilot.press("q")


async def test_read_only_removes_every_mutating_action(tmp_path: Path) -> None:
    profile, _ = demo_profile(tmp_path, read_only=True)
    app = OpsConsoleApp(profile)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert "READ-ONLY" in str(app.screen.query_one("#header").render())
        assert app.allowed_actions() == []
        assert app.check_action("actions", ()) is False
        await pilot.press("a")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("q")


@pytest.fixture
def tcp_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(drivers.REGISTRY, "tcp-probe", "tcp_probe_driver:TcpProbeDriver")


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A real socket that accepts and never answers: a hung backend."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def tcp_profile(tmp_path: Path, port: int):  # type: ignore[no-untyped-def]
    path = tmp_path / "tcp.yaml"
    path.write_text(textwrap.dedent(f"""\
        profiles:
          tcp:
            drivers:
              backend: {{type: tcp-probe, timeout: 1, options: {{port: {port}}}}}
            poll: {{services: 1}}
        """))
    return load_profile("tcp", path)


async def test_hung_backend_goes_stale_and_ui_stays_responsive(tmp_path: Path, tcp_driver: None,
                                                              silent_listener: int) -> None:
    app = OpsConsoleApp(tcp_profile(tmp_path, silent_listener))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        pane = app.screen.query_one("#pane-services", DashboardPane)
        await until(pilot, lambda: pane.is_stale, timeout=10)
        status = str(pane.query_one(".pane-status").render())
        assert "UNREACHABLE" in status and "no answer within 1s" in status
        assert pane.has_class("stale")
        await pilot.press("question_mark")  # the UI still reacts while the backend hangs
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), timeout=2)
        await pilot.press("escape")
        await pilot.press("q")
    assert app.return_code == 0


async def test_dead_backend_recovers_when_it_returns(tmp_path: Path, tcp_driver: None) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens: connection refused
    app = OpsConsoleApp(tcp_profile(tmp_path, port))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        pane = app.screen.query_one("#pane-services", DashboardPane)
        await until(pilot, lambda: pane.is_stale, timeout=10)
        assert "connection refused" in pane.stale_reason
        await until(pilot, lambda: any(a.rule == "SourceUnreachable" for a in app.screen.alerts), timeout=5)

        server = await asyncio.start_server(answer_pong, "127.0.0.1", port)
        try:
            await until(pilot, lambda: not pane.is_stale, timeout=10)
            assert pane.table.row_count == 1
            await until(pilot, lambda: not any(a.rule == "SourceUnreachable" for a in app.screen.alerts), timeout=5)
        finally:
            server.close()
        await pilot.press("q")


async def test_profile_switcher_opens_another_profile(tmp_path: Path) -> None:
    profile, path = demo_profile(tmp_path)
    app = OpsConsoleApp(profile, config_path=str(path))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        first = app.screen
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, PickScreen))
        app.screen.dismiss("other")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen is not first)
        assert app.screen.profile.name == "other"
        assert "other profile" in str(app.screen.query_one("#header").render())
        await pilot.press("q")
