"""The dashboard's table, log and footer widgets skip work, never correctness.

``PaneTable`` re-renders only changed cells and ``SteadyScroll`` widgets grow
without a screen layout: what is on screen must still be exactly the data, and
a table or log that outgrows its box must still scroll to its last line.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.containers import Vertical

from opsconsole.ui.screens.dashboard import ActivityLog
from opsconsole.ui.widgets.pane_table import PaneTable, cell


class TableApp(App[None]):
    CSS = "PaneTable { height: 6; } ActivityLog { height: 4; }"

    def compose(self) -> ComposeResult:
        with Vertical():
            table = PaneTable(cursor_type="row")
            table.add_column("Name", key="name", width=8)
            table.add_column("Value", key="value", width=8)
            yield table
            yield ActivityLog(max_lines=50)


def screen_lines(table: PaneTable) -> list[str]:
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


def rows(values: list[str]) -> list[list[object]]:
    return [[cell(f"row{i}"), cell(value)] for i, value in enumerate(values)]


async def test_a_changed_cell_is_redrawn_and_the_others_keep_their_values() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(PaneTable)
        table.set_rows(rows(["1", "2", "3"]))
        await pilot.pause()
        before = screen_lines(table)
        assert any("row1" in line and "2" in line for line in before)
        table.set_rows(rows(["1", "20", "3"]))  # only row1's value changes
        await pilot.pause()
        after = screen_lines(table)
        assert [line for line in after if "row1" in line] == [next(line for line in before if "row1" in line)
                                                              .replace("2", "20", 1)]
        assert [line for line in after if "row0" in line or "row2" in line] == \
            [line for line in before if "row0" in line or "row2" in line]
        # the data behind the screen agrees, and the cursor did not move
        assert table.get_cell("r1", "value").plain == "20"
        assert table.cursor_row == 0


async def test_a_style_only_change_is_redrawn() -> None:
    """A health colour flipping (same text, new style) must reach the screen."""

    def ok_colour(table: PaneTable) -> tuple[int, int, int]:
        line = next(table.render_line(y) for y in range(table.size.height) if "svc" in table.render_line(y).text)
        segment = next(seg for seg in line if seg.text.strip() == "ok")
        assert segment.style is not None and segment.style.color is not None
        return segment.style.color.get_truecolor()

    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(PaneTable)
        # row 1: row 0 carries the cursor highlight, which paints over cell styles
        table.set_rows([[cell("top"), cell("-")], [cell("svc"), cell("ok", style="#00ff00")]])
        await pilot.pause()
        assert ok_colour(table) == (0, 255, 0)
        table.set_rows([[cell("top"), cell("-")], [cell("svc"), cell("ok", style="#ff0000")]])
        await pilot.pause()
        assert ok_colour(table) == (255, 0, 0)


async def test_tables_and_logs_that_outgrow_their_box_still_scroll_to_the_end() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(PaneTable)
        table.set_rows(rows([str(n) for n in range(30)]))  # 30 rows in a 6-line box
        await pilot.pause()
        assert table.virtual_size.height >= 31
        assert table.show_vertical_scrollbar
        table.move_cursor(row=29)
        await pilot.pause()
        assert any("row29" in line for line in screen_lines(table))
        table.set_rows(rows(["x", "y"]))  # shrinks back: no stale rows, no scrollbar
        await pilot.pause()
        assert table.row_count == 2
        assert not any("row29" in line for line in screen_lines(table))
        assert not table.show_vertical_scrollbar

        log = app.query_one(ActivityLog)
        for n in range(12):
            log.record(f"event {n}")
        await pilot.pause()
        shown = [log.render_line(y).text for y in range(log.size.height)]
        assert any("event 11" in line for line in shown), shown
        assert log.max_scroll_y > 0


async def test_footer_keeps_its_keys_across_a_modal(tmp_path: Path) -> None:
    """Opening and closing help must leave the dashboard's footer showing the same keys, without
    rebuilding its key widgets (Textual's Footer rebuilt them on every focus change)."""
    from pilot_helpers import dashboard_ready, until
    from textual.widgets._footer import FooterKey
    from ui_profiles import http_profile

    from opsconsole.ui.app import OpsConsoleApp
    from opsconsole.ui.screens.dashboard import DashboardScreen
    from opsconsole.ui.screens.dialogs import HelpScreen
    from opsconsole.ui.widgets.footer import KeysFooter

    with http_profile(tmp_path) as (profile, _config):
        app = OpsConsoleApp(profile)
        async with app.run_test(size=(120, 40)) as pilot:
            await dashboard_ready(pilot, app)
            footer = app.screen.query_one(KeysFooter)
            await until(pilot, lambda: len(footer.query(FooterKey)) > 0)
            keys_before = list(footer.query(FooterKey))
            labels = [key.description for key in keys_before]
            assert "Quit" in labels and "Help" in labels
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
            await pilot.pause(0.2)
            assert [key.description for key in footer.query(FooterKey)] == labels
            assert list(footer.query(FooterKey)) == keys_before
