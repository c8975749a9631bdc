"""The on-call screen at 80x24 (issue 17): zoom, status strip, worst-first rows, flexing columns.

Real HTTP probes over real sockets (tests/ui_profiles.py style): a live local server
and dead ports, so a CRITICAL row exists within a second, with no demo engine to wait for.
"""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path

from pilot_helpers import until
from ui_profiles import _Ok, dead_port

from opsconsole.config import Profile, load
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.dashboard_screen import DashboardScreen
from opsconsole.ui.panes.base import DashboardPane

LONG_TITLE = "production lakehouse behind the jump box in the Frankfurt region (docker compose)"


@contextmanager
def five_services(tmp_path: Path, *, read_only: bool = False, extra: str = "") -> Iterator[tuple[Profile, Path]]:
    """Profile ``web``: four services up, the fifth (``zz-billing``, listed last) refused: CRITICAL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    up = f"http://127.0.0.1:{server.server_address[1]}/health"
    text = textwrap.dedent(f"""\
        profiles:
          web:
            title: {LONG_TITLE}
            read_only: {str(read_only).lower()}
            drivers:
              health:
                type: http
                options:
                  endpoints:
                    api: {up}
                    auth: {up}
                    catalog: {up}
                    search: {up}
                    zz-billing: http://127.0.0.1:{dead_port()}/health
            poll: {{services: 1}}
        """) + textwrap.indent(textwrap.dedent(extra), "    ")
    path = tmp_path / "profiles.yaml"
    path.write_text(text)
    try:
        yield load(path).profile("web"), path
    finally:
        server.shutdown()
        server.server_close()


def services(app: OpsConsoleApp) -> DashboardPane:
    return app.screen.query_one("#pane-services", DashboardPane)


async def started(pilot, app: OpsConsoleApp) -> DashboardScreen:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and services(app).table.row_count == 5)
    return app.screen  # type: ignore[return-value]


async def test_z_zooms_any_pane_and_esc_restores(tmp_path: Path) -> None:
    with five_services(tmp_path) as (profile, _):
        app = OpsConsoleApp(profile)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await started(pilot, app)
            for key, pane_id in (("1", "pane-services"), ("2", "pane-alerts")):
                await pilot.press(key, "z")
                await pilot.pause()
                assert screen.maximized is not None and screen.maximized.id == pane_id
                assert screen.query_one(f"#{pane_id}").region.height >= 20  # the whole screen, not a sliver
                await pilot.press("escape")
                await pilot.pause()
                assert screen.maximized is None and isinstance(app.screen, DashboardScreen)


async def test_z_with_nothing_focused_says_what_to_do(tmp_path: Path) -> None:
    with five_services(tmp_path) as (profile, _):
        app = OpsConsoleApp(profile)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await started(pilot, app)
            screen.set_focus(None)
            await pilot.press("z")
            await pilot.pause()
            assert screen.maximized is None
            assert any("focus a pane" in n.message for n in app._notifications)
