"""A second launch shows the last session's rows at once, marked as cached, until its first poll lands.

Real HTTP health probes against a real local server whose answers the test can
hold back (a gate), so "before the first poll" is a state the test controls
rather than a race: the first launch polls it and quits (the monitor writes its
snapshot cache); the second launch finds the server silent and must show the
cached rows, dimmed and labelled with their age, then the live rows once the
server answers. A cache written for another profile, or a corrupt one, is
ignored without a word.
"""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pilot_helpers import dashboard_ready, until

from opsconsole.config import Profile, load_profile
from opsconsole.model import QueryRecord
from opsconsole.monitor.snapshot_cache import cache_path, encode_row
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.widgets.data_panes import ServicesPane


@contextmanager
def gated_server() -> Iterator[tuple[int, threading.Event]]:
    """A health endpoint that answers only while ``gate`` is set (requests wait for it)."""
    gate = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            gate.wait(30)
            body = b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1]), gate
    finally:
        gate.set()
        server.shutdown()
        server.server_close()


def web_profile(folder: Path, port: int) -> Profile:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profiles.yaml"
    path.write_text(textwrap.dedent(f"""\
        profiles:
          web:
            title: one gated endpoint
            drivers:
              health:
                type: http
                options:
                  probe_timeout: 20
                  endpoints:
                    api: http://127.0.0.1:{port}/health
            poll: {{services: 60}}
        """))
    return load_profile("web", path)


async def first_launch(profile: Profile) -> None:
    """Poll once, see live rows, quit: the monitor leaves its snapshot cache behind."""
    app = OpsConsoleApp(profile)
    async with app.run_test(size=(120, 40)) as pilot:
        await dashboard_ready(pilot, app)
        pane = app.screen.query_one(ServicesPane)
        await until(pilot, lambda: pane.last_ok is not None)
        await app.action_quit()
    assert cache_path(profile).exists()


def shown_cells(pane: ServicesPane) -> list[str]:
    return [str(getattr(c, "plain", c)) for c in pane.table.get_row_at(0)] if pane.table.row_count else []


async def test_second_launch_shows_cached_rows_then_live_ones(tmp_path: Path) -> None:
    with gated_server() as (port, gate):
        profile = web_profile(tmp_path / "cfg", port)
        gate.set()
        await first_launch(profile)

        gate.clear()  # the second launch's first poll now hangs until the test opens the gate
        app = OpsConsoleApp(profile)
        async with app.run_test(size=(120, 40)) as pilot:
            pane = app.screen.query_one(ServicesPane)
            await until(pilot, lambda: pane.cached_at is not None, timeout=10)
            view = app.monitor.snapshot().pane(pane.pane)
            assert view.last_ok is None and view.rows == ()  # no poll has landed: these rows are the cache's
            assert pane.has_class("cached")
            assert "CACHED" in str(pane.border_subtitle) and "not live" in str(pane.border_subtitle)
            assert "api" in shown_cells(pane)
            assert all("dim" in str(c.style) for c in pane.table.get_row_at(0))  # greyed, not health-coloured
            assert app.screen.tracked == []  # cached rows never feed the alert rules

            gate.set()
            await until(pilot, lambda: pane.last_ok is not None, timeout=30)
            await pilot.pause(0.1)
            assert pane.cached_at is None and not pane.has_class("cached")
            assert "CACHED" not in str(pane.border_subtitle)
            assert "api" in shown_cells(pane)
            assert not any("dim" in str(c.style) for c in pane.table.get_row_at(0))
            await app.action_quit()


@pytest.mark.parametrize("kind", ["other-profile", "corrupt"])
async def test_foreign_or_corrupt_cache_is_ignored(tmp_path: Path, kind: str) -> None:
    with gated_server() as (port, gate):
        writer = web_profile(tmp_path / "platform-a", port)
        gate.set()
        await first_launch(writer)
        # The same profile name in another profiles file: another platform, whose rows must not show here.
        profile = web_profile(tmp_path / "platform-b", port)
        path = cache_path(profile)
        assert path == cache_path(writer)
        if kind == "corrupt":
            path.write_text('{"version": 1, "fingerprint": ' + "\x00garbage")

        gate.clear()
        app = OpsConsoleApp(profile)
        async with app.run_test(size=(120, 40)) as pilot:
            pane = app.screen.query_one(ServicesPane)
            await pilot.pause(0.5)
            assert pane.cached_at is None and not pane.has_class("cached")
            assert pane.table.row_count == 0
            gate.set()
            await dashboard_ready(pilot, app)
            await until(pilot, lambda: pane.last_ok is not None, timeout=30)
            assert "api" in shown_cells(pane)
            await app.action_quit()
        data = json.loads(path.read_text())  # replaced by this profile's own, valid cache
        assert data["profile"] == "web" and data["sources"][0]["driver"] == "health"


def test_cached_rows_are_scrubbed_like_the_model() -> None:
    """Query text is not scrubbed when a row is built (it is shown whole): the cache file must not keep a password."""
    row = QueryRecord("q1", "COPY INTO t FROM 's3://loader:hunter2secret@bucket/x'", "FINISHED",
                      datetime.now(UTC))
    text = json.dumps(encode_row(row))
    assert "hunter2secret" not in text and "loader:" in text
