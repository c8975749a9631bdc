"""The on-call screen at 80x24 (issue 17): zoom, status strip, worst-first rows, flexing columns.

Real HTTP probes over real sockets (tests/ui_profiles.py style): a live local server
and dead ports, so a CRITICAL row exists within a second, with no demo engine to wait for.
"""

from __future__ import annotations

import textwrap
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pilot_helpers import until
from ui_profiles import http_profile

from opsconsole.config import load
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.screens.dashboard import DashboardScreen
from opsconsole.ui.widgets.data_pane import DashboardPane

LONG_TITLE = "production lakehouse behind the jump box in the Frankfurt region (docker compose)"


def five_services(tmp_path: Path, *, read_only: bool = False, extra: str = ""):  # type: ignore[no-untyped-def]
    """Profile ``web``: four services up, the fifth (``zz-billing``, listed last) refused: CRITICAL."""
    return http_profile(tmp_path, up=("api", "auth", "catalog", "search"), down=("zz-billing",), title=LONG_TITLE,
                        read_only=read_only, extra=extra)


def services(app: OpsConsoleApp) -> DashboardPane:
    return app.screen.query_one("#pane-services", DashboardPane)


@asynccontextmanager
async def oncall(tmp_path: Path, size: tuple[int, int], **options: bool):  # type: ignore[no-untyped-def]
    """The console on :func:`five_services` at ``size``, once all five services are listed."""
    with five_services(tmp_path, **options) as (profile, _):
        app = OpsConsoleApp(profile)
        async with app.run_test(size=size) as pilot:
            yield app, pilot, await started(pilot, app)


async def started(pilot, app: OpsConsoleApp) -> DashboardScreen:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and services(app).table.row_count == 5)
    return app.screen  # type: ignore[return-value]


async def test_z_zooms_any_pane_and_esc_restores(tmp_path: Path) -> None:
    async with oncall(tmp_path, (80, 24)) as (app, pilot, screen):
        for key, pane_id in (("1", "pane-services"), ("2", "pane-alerts")):
            await pilot.press(key, "z")
            await pilot.pause()
            assert screen.maximized is not None and screen.maximized.id == pane_id
            assert screen.query_one(f"#{pane_id}").region.height >= 20  # the whole screen, not a sliver
            await pilot.press("escape")
            await pilot.pause()
            assert screen.maximized is None and isinstance(app.screen, DashboardScreen)


async def test_z_with_nothing_focused_says_what_to_do(tmp_path: Path) -> None:
    async with oncall(tmp_path, (80, 24)) as (app, pilot, screen):
        screen.set_focus(None)
        await pilot.press("z")
        await pilot.pause()
        assert screen.maximized is None
        assert any("focus a pane" in n.message for n in app._notifications)


def visible_lines(widget) -> list[str]:  # type: ignore[no-untyped-def]
    """What the widget shows on screen now, line by line (as the terminal would draw it)."""
    from textual.geometry import Region

    width, height = widget.size
    return ["".join(seg.text for seg in strip) for strip in widget.render_lines(Region(0, 0, width, height))]


def screen_text(app: OpsConsoleApp) -> str:
    """Every character on the screen now (from Textual's own SVG export), lines joined."""
    import html
    import re

    svg = app.export_screenshot()
    return html.unescape("".join(re.findall(r"<text[^>]*>(.*?)</text>", svg))).replace("\xa0", " ")


async def test_status_strip_keeps_state_read_only_incident_and_counts_at_80_columns(tmp_path: Path) -> None:
    from opsconsole.ui.screens.incidents import IncidentOpenScreen

    async with oncall(tmp_path, (80, 24), read_only=True) as (app, pilot, screen):
        await until(pilot, lambda: screen.tracked)  # zz-billing refused: an alert fires
        await pilot.press("I")
        await until(pilot, lambda: isinstance(app.screen, IncidentOpenScreen))
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.incident is not None and isinstance(app.screen, DashboardScreen))
        await until(pilot, lambda: "INCIDENT" in visible_lines(screen.query_one("#header"))[0])
        strip = visible_lines(screen.query_one("#header"))[0]
        firing = sum(1 for t in screen.tracked if t.state.value == "firing")
        for shown in ("web", "CRITICAL", "READ-ONLY", f"INCIDENT {app.incident.id} P1", f"{firing} firing"):
            assert shown in strip, (shown, strip)
        assert len(strip.rstrip()) <= 80


async def test_critical_service_listed_last_is_shown_first_at_80x24(tmp_path: Path) -> None:
    async with oncall(tmp_path, (80, 24)) as (app, pilot, _screen):
        pane = services(app)
        await until(pilot, lambda: any(r.health.name == "CRITICAL" for r in pane.shown_rows))
        await pilot.pause()
        shown = visible_lines(pane.table)
        assert pane.shown_rows[0].name == "zz-billing"
        assert any("zz-billing" in line for line in shown), shown


async def test_message_column_takes_the_spare_width(tmp_path: Path) -> None:
    async with oncall(tmp_path, (200, 50)) as (app, pilot, screen):
        await until(pilot, lambda: screen.tracked)
        await pilot.press("1", "z")  # Services alone on the screen: its Detail column spreads
        await pilot.pause()
        table = services(app).table
        detail = next(c for c in table.columns.values() if c.key.value == "detail")
        assert detail.width > 100
        row = next(i for i, r in enumerate(services(app).shown_rows) if r.name == "zz-billing")
        message = services(app).shown_rows[row].detail
        line = visible_lines(table)[row + 1]
        assert " ".join(message.split())[:90] in line  # whole, not cut beside empty columns
        await pilot.press("escape", "2")
        await pilot.pause()
        alerts = screen.query_one("#table-alerts")
        message_col = next(c for c in alerts.columns.values() if c.key.value == "message")
        fixed = sum(c.get_render_width(alerts) for c in alerts.columns.values() if c is not message_col)
        assert message_col.get_render_width(alerts) + fixed >= alerts.size.width - 1


async def test_demo_lock_fault_critical_row_above_the_fold_at_80x24(tmp_path: Path) -> None:
    """The issue's walk-through: during the lock fault the critical row was below the fold at 80x24."""
    from test_ui_pilot import demo_profile

    from opsconsole.ui.screens.dialogs import PickScreen

    profile, _ = demo_profile(tmp_path)
    app = OpsConsoleApp(profile)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.connected)
        pane = services(app)
        await until(pilot, lambda: pane.table.row_count == 5)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, PickScreen))
        app.screen.dismiss("pipeline|fault-hold-lock")
        await until(pilot, lambda: any(r.name == "staging-duckdb" and r.health.name == "CRITICAL"
                                       for r in pane.shown_rows), timeout=30)
        await pilot.pause()
        shown = visible_lines(pane.table)
        critical = [r.name for r in pane.shown_rows if r.health.name == "CRITICAL"]
        assert all(any(name in line for line in shown) for name in critical), (critical, shown)
        await pilot.press("q")


async def test_below_100_columns_panes_are_tabs_the_alerts_stay_and_a_hidden_critical_is_marked(
        tmp_path: Path) -> None:
    """At 80x24 one data pane at a time gets the whole width (not 40-column slivers); Alerts never hides;
    the tab of a pane with a critical row says so; at 120 columns the panes are side by side again."""
    from test_ui_pilot import demo_profile
    from textual.widgets import Tab

    from opsconsole.ui.screens.dialogs import PickScreen

    profile, _ = demo_profile(tmp_path)
    app = OpsConsoleApp(profile)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.connected)
        screen = app.screen
        pane = services(app)
        await until(pilot, lambda: pane.table.row_count == 5)
        tables = screen.query_one("#pane-tables", DashboardPane)
        alerts = screen.query_one("#pane-alerts")
        assert pane.region.width == 80 and tables.region.width == 0 and alerts.region.height > 0
        assert len(visible_lines(pane.table)) - 1 >= 5  # all five services, not a 3-row sliver
        await pilot.press("3")
        await pilot.pause()
        assert tables.region.width == 80 and pane.region.width == 0
        assert app.focused is tables.table
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, PickScreen))
        app.screen.dismiss("pipeline|fault-hold-lock")
        await until(pilot, lambda: any(t.alert.rule == "DuckDBLocked" for t in screen.tracked), timeout=30)
        await pilot.pause()
        label = str(screen.query_one("#tab-pane-services", Tab).label)
        assert label.startswith("1 Services") and "✖" in label, label  # critical, though not shown
        assert any("DuckDBLocked" in line for line in visible_lines(alerts.query_one("DataTable")))
        await pilot.press("1")
        await pilot.pause()
        assert any("staging-duckdb" in line for line in visible_lines(pane.table))
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not screen.has_class("tabbed")
        assert all(w.region.width > 0 for w in (pane, tables, alerts)) and pane.region.width < 80
        await pilot.press("q")


async def test_slash_v_s_and_d_act_on_the_focused_pane_whichever_it_is(tmp_path: Path) -> None:
    from opsconsole.ui.screens.alert import AlertDetailScreen
    from opsconsole.ui.screens.table import DetailScreen, TableScreen, VirtualTable

    async with oncall(tmp_path, (80, 24)) as (app, pilot, screen):
        await until(pilot, lambda: screen.tracked)
        await pilot.press("2", "slash")  # Alerts focused: its alerts, not the Services table
        await until(pilot, lambda: isinstance(app.screen, TableScreen))
        assert app.screen.title_text == "Alerts" and app.screen.query_one("#table-filter").has_focus
        rows = app.screen.query_one(VirtualTable).rows
        assert any("zz-billing" in row for row in rows)
        await pilot.press("escape", "escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("2", "s")
        await until(pilot, lambda: isinstance(app.screen, TableScreen))
        assert app.screen.title_text == "Alerts" and app.screen.query_one(VirtualTable).sort_column == 0
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("2", "d")
        await until(pilot, lambda: isinstance(app.screen, AlertDetailScreen))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("3", "v")  # Activity
        await until(pilot, lambda: isinstance(app.screen, TableScreen))
        assert app.screen.title_text == "Activity"
        assert any("ALERT" in row[1] for row in app.screen.query_one(VirtualTable).rows)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("3", "enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert any("ALERT" in value for _k, value in app.screen.fields)
        await pilot.press("escape", "1", "d")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert dict(app.screen.fields)["name"] == "zz-billing"  # worst first: the cursor's row


async def test_detail_wraps_a_long_sql_statement_at_80x24() -> None:
    from datetime import UTC, datetime

    from textual.app import App

    from opsconsole.model import QueryRecord
    from opsconsole.ui.screens.table import DetailScreen, detail_fields

    sql = "SELECT " + ", ".join(f"column_number_{i}" for i in range(25)) + " FROM lake.orders WHERE the_end = 1"
    record = QueryRecord("q1", sql, "FINISHED", datetime(2026, 1, 1, tzinfo=UTC), duration_ms=12.0, source="x")

    class One(App[None]):
        def on_mount(self) -> None:
            self.push_screen(DetailScreen("Queries: q1", detail_fields(record)))

    app = One()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.pause()
        shown = screen_text(app)
        assert "the_end" in shown and "column_number_24" in shown


def test_history_segments_break_at_failed_polls() -> None:
    from opsconsole.ui.widgets.history_chart import segments

    nan = float("nan")
    runs = segments([(1, 5.0), (2, 6.0), (3, nan), (4, nan), (5, 7.0)])
    assert runs == [[(1, 5.0), (2, 6.0)], [(5, 7.0)]]  # the outage is a gap, not a line from 6 to 7


async def test_detail_of_a_service_charts_its_latency_with_axes(tmp_path: Path) -> None:
    from opsconsole.ui.screens.table import DetailScreen
    from opsconsole.ui.widgets.history_chart import HistoryChart

    async with oncall(tmp_path, (80, 24)) as (app, pilot, screen):
        await until(pilot, lambda: len(app.monitor.history.get(
            f"latency:{services(app).shown_rows[1].source}:{services(app).shown_rows[1].name}")) >= 2)
        await pilot.press("1", "down", "d")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.pause()
        assert app.screen.history, (app.screen.title_text, app.screen.history)
        chart = app.screen.query_one(HistoryChart)
        assert chart.region.height >= 8
        assert "seconds ago" in screen_text(app)  # the x axis is labelled
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)


async def test_alert_subject_and_message_readable_at_80_columns(tmp_path: Path) -> None:
    async with oncall(tmp_path, (80, 24)) as (app, pilot, screen):
        await until(pilot, lambda: screen.tracked)
        await pilot.pause()
        alert = screen.tracked[0].alert
        row = visible_lines(screen.query_one("#table-alerts"))[1]
        assert alert.subject in row  # whole, not cut to 8 characters
        assert " ".join(alert.message.split())[:14] in row, row  # and the start of the message beside it
        services_row = visible_lines(services(app).table)[1]
        assert services(app).shown_rows[0].detail[:12] in services_row  # Services' Detail too


async def test_help_scrolls_and_lists_the_focused_panes_keys(tmp_path: Path) -> None:
    from opsconsole.ui.screens.dialogs import HelpScreen

    async with oncall(tmp_path, (80, 24)) as (app, pilot, _screen):
        await pilot.press("2", "question_mark")  # Alerts focused
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        rows = app.screen.rows
        keys = {key for key, _desc in rows}
        assert {"enter", "s", "c", "y", "d", "z", "/", "v"} <= keys
        assert any("focused pane: Alerts" in desc for key, desc in rows if not key)
        assert any("runbook" in desc for key, desc in rows if key == "enter")
        scroll = app.screen.query_one("#help-scroll")
        assert scroll.max_scroll_y > 0  # more keys than 24 rows hold
        await pilot.press("end")
        await until(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y > 0, timeout=5)
        assert "back one level" in screen_text(app)  # the last line, reached by scrolling
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_colon_command_line_completes_and_runs(tmp_path: Path) -> None:
    from opsconsole.ui.widgets.command_line import CommandLine

    async with oncall(tmp_path, (80, 24)) as (app, pilot, screen):
        await pilot.press("1", "colon")
        line = screen.query_one(CommandLine)
        await until(pilot, lambda: line.has_focus and line.display)
        await pilot.press(*"al", "tab")
        assert line.value == "alerts"  # completed from the panes this profile has
        await pilot.press("enter")
        await pilot.pause()
        assert not line.is_open and screen.maximized is not None and screen.maximized.id == "pane-alerts"
        await pilot.press("escape")  # back one level: the zoom
        await pilot.pause()
        assert screen.maximized is None
        await pilot.press("colon", *"profile nosuch", "enter")
        await pilot.pause()
        assert any("no profile 'nosuch'" in n.message for n in app._notifications)
        await pilot.press("colon", *"pro", "tab")
        assert line.value == "profile"
        await pilot.press("escape")  # closes the line, the focus goes back where it was (:alerts moved it)
        await pilot.pause()
        assert not line.is_open and screen.focused is screen.query_one("#table-alerts")


def test_runbook_command_takes_a_unique_part_of_an_id() -> None:
    from opsconsole.ui.widgets.command_line import match_runbook

    ids = ["demo-compaction", "demo-clear-faults", "service-down"]
    assert match_runbook("compact", ids) == ("demo-compaction", ["demo-compaction"])
    assert match_runbook("demo", ids)[0] is None  # ambiguous: says which
    assert match_runbook("service-down", ids)[0] == "service-down"


def test_trend_has_its_scale_and_gaps() -> None:
    from opsconsole.ui.format import trend

    nan = float("nan")
    text = trend([(1, 5.0), (2, 14.0), (3, nan), (4, 9.0)], "ms")
    glyphs, scale = text.rsplit(" ", 1)
    assert scale == "5–14ms" and glyphs[2] == " " and len(glyphs) == 4  # the failed poll is a blank


async def test_services_trend_shows_the_engines_history_with_its_scale(tmp_path: Path) -> None:
    import re

    async with oncall(tmp_path, (200, 50)) as (app, pilot, _screen):
        pane = services(app)
        key = "latency:health:api"
        await until(pilot, lambda: len(app.monitor.history.get(key)) >= 3)

        def scale_shown() -> bool:  # the engine may have a newer sample than the screen drew: retry
            values = [v for _t, v in app.monitor.history.get(key)][-8:]
            row = next(i for i, r in enumerate(pane.shown_rows) if r.name == "api")
            found = re.search(r"[▁▂▃▄▅▆▇█]+ ([\d.]+)–([\d.]+)ms", visible_lines(pane.table)[row + 1])
            low, high = (float(f"{v:.0f}") if v >= 10 else float(f"{v:.2g}") for v in (min(values), max(values)))
            return bool(found) and (float(found[1]), float(found[2])) == (low, high)

        await until(pilot, scale_shown, timeout=10)


async def test_lang_c_gets_ascii_borders_and_status_words(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from opsconsole.ui import format as fmt

    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_CTYPE", raising=False)
    monkeypatch.delenv("OPSCONSOLE_ASCII", raising=False)
    monkeypatch.setenv("LANG", "C")
    try:
        with five_services(tmp_path) as (profile, _):
            app = OpsConsoleApp(profile)
            async with app.run_test(size=(80, 24)) as pilot:
                screen = await started(pilot, app)
                await until(pilot, lambda: screen.tracked)
                await pilot.pause()
                text = screen_text(app)
                for glyph in "╭╮╰╯│─✖●▲":
                    assert glyph not in text, glyph
                assert "+-" in text  # ASCII corners and edges
                assert "CRIT" in visible_lines(services(app).table)[1]  # the word, not a glyph
                assert "| CRITICAL |" in visible_lines(screen.query_one("#header"))[0]
    finally:
        getattr(fmt, "use_ascii", lambda _on: None)(False)  # the next app in this process draws Unicode again


def test_ascii_terminal_follows_the_posix_locale_order() -> None:
    from opsconsole.ui.format import ascii_terminal

    assert ascii_terminal({"LANG": "C"}) and ascii_terminal({"LC_ALL": "POSIX", "LANG": "en_US.UTF-8"})
    assert not ascii_terminal({"LC_ALL": "", "LC_CTYPE": "de_DE.utf8", "LANG": "C"})
    assert ascii_terminal({"LANG": "de_DE.ISO-8859-1"}) and not ascii_terminal({"LANG": "C.UTF-8"})
    assert ascii_terminal({"LANG": "C.UTF-8", "OPSCONSOLE_ASCII": "1"})
    assert ascii_terminal({"LANG": "C", "LC_CTYPE": "C.UTF-8"})  # what `LANG=C python` sees (PEP 538)


async def test_failed_job_run_and_query_are_above_the_fold_in_a_short_pane() -> None:
    """Newest-first histories put an older failure below the fold: failures go first, newest first among them."""
    from datetime import UTC, datetime, timedelta

    from textual.app import App, ComposeResult

    from opsconsole.model import JobRun, QueryRecord
    from opsconsole.ui.widgets.data_panes import JobsPane, QueriesPane

    start = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    runs = [JobRun("transform", f"r{i}", "success", start - timedelta(minutes=i), 3.0, "", "x") for i in range(11)]
    runs.append(JobRun("transform", "r-old", "failed", start - timedelta(hours=1), 1.0, "lock held", "x"))
    queries = [QueryRecord(f"q{i}", f"select {i}", "FINISHED", start - timedelta(seconds=i), source="x")
               for i in range(11)]
    queries.append(QueryRecord("q-bad", "select broken", "FAILED", start - timedelta(hours=1), source="x",
                               error="Catalog Error: table broken does not exist"))

    class Panes(App[None]):
        CSS = "DashboardPane { height: 7; } DashboardPane DataTable { height: 1fr; }"

        def health_style(self, _health: object) -> str:
            return ""

        def compose(self) -> ComposeResult:
            yield JobsPane(10, index=1)
            yield QueriesPane(10, index=2)

    app = Panes()
    async with app.run_test(size=(80, 24)) as pilot:
        jobs, qs = app.query_one(JobsPane), app.query_one(QueriesPane)
        jobs.update_rows(runs)
        qs.update_rows(queries)
        await pilot.pause()
        assert jobs.shown_rows[0].run_id == "r-old" and any("failed" in line for line in visible_lines(jobs.table))
        assert qs.shown_rows[0].query_id == "q-bad" and any("Catalog Error" in line for line in visible_lines(qs.table))
        assert [r.run_id for r in jobs.shown_rows[1:3]] == ["r0", "r1"]  # the rest stays newest first


async def test_profile_command_switches_and_keeps_the_activity(tmp_path: Path) -> None:
    with five_services(tmp_path) as (_profile, path):
        up = next(line.split(": ", 1)[1] for line in path.read_text().splitlines() if "api:" in line)
        path.write_text(path.read_text() + textwrap.indent(textwrap.dedent(f"""\
              other:
                title: the other platform
                drivers:
                  health: {{type: http, options: {{endpoints: {{portal: {up}}}}}}}
                poll: {{services: 1}}
            """), "  "))
        app = OpsConsoleApp(load(path).profile("web"))
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await started(pilot, app)
            await until(pilot, lambda: any("ALERT" in line for line in screen.activity.lines))
            await pilot.press("colon", *"profile ot", "tab")
            assert screen.query_one("#command-line").value == "profile other"  # completed from profiles.yaml
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen is not screen
                        and app.profile.name == "other")
            lines = "\n".join(app.screen.activity.lines)
            assert "ALERT CRITICAL ServiceDown zz-billing" in lines  # what happened before the switch stays
            assert "switched from profile web" in lines


async def test_an_open_incident_survives_a_restart(tmp_path: Path) -> None:
    from opsconsole.ui.screens.incidents import IncidentOpenScreen

    with five_services(tmp_path) as (profile, _):
        app = OpsConsoleApp(profile)
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot, app)
            await pilot.press("I")
            await until(pilot, lambda: isinstance(app.screen, IncidentOpenScreen))
            await pilot.press("down", "enter")
            await until(pilot, lambda: app.incident is not None)
            opened = app.incident.id
            await pilot.press("q")
        again = OpsConsoleApp(profile)  # the console restarted (same data dir)
        async with again.run_test(size=(80, 24)) as pilot:
            screen = await started(pilot, again)
            await until(pilot, lambda: again.incident is not None and again.incident.id == opened)
            await until(pilot, lambda: f"INCIDENT {opened} P1" in visible_lines(screen.query_one("#header"))[0])
            assert any("still open" in line for line in screen.activity.lines)


async def test_notifications_do_not_cover_the_profile_picker(tmp_path: Path) -> None:
    from opsconsole.ui.screens.dialogs import PickScreen

    async with oncall(tmp_path, (80, 24)) as (app, pilot, _screen):
        app.notify("a long notification that would sit over the right half of the picker", timeout=30)
        await pilot.pause()
        assert len(app._notifications) == 1
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, PickScreen))
        await pilot.pause()
        assert len(app._notifications) == 0 and "long notification" not in screen_text(app)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)], ids=["80x24", "120x40", "200x50"])
@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_what_is_wrong_is_on_screen_at_every_size_and_theme(tmp_path: Path, size: tuple[int, int],
                                                                  theme: str) -> None:
    """The fault (zz-billing refused) at each size and theme: strip, critical row, alert subject and message."""
    with five_services(tmp_path, read_only=True) as (profile, _):
        app = OpsConsoleApp(profile, theme=theme)
        async with app.run_test(size=size) as pilot:
            screen = await started(pilot, app)
            await until(pilot, lambda: screen.tracked)
            await pilot.pause()
            assert app.theme == theme
            text = screen_text(app)
            strip = visible_lines(screen.query_one("#header"))[0]
            assert all(word in strip for word in ("web", "CRITICAL", "READ-ONLY", "1 firing")), strip
            assert "zz-billing" in visible_lines(services(app).table)[1]
            alert = screen.tracked[0].alert
            alert_row = visible_lines(screen.query_one("#table-alerts"))[1]
            assert alert.subject in alert_row and " ".join(alert.message.split())[:12] in alert_row
            assert len(text) > 0 and app.screen.size == size
