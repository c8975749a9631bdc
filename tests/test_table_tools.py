"""Tables: filter, sort by any column, drill-down detail, copy cell/row, 100k-row history."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ui_profiles import http_profile

from opsconsole.model import QueryRecord
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.dashboard_screen import DashboardScreen
from opsconsole.ui.panes.dashboard import QueriesPane
from opsconsole.ui.table_tools import (
    DetailScreen,
    TableScreen,
    VirtualTable,
    filter_rows,
    row_as_tsv,
    sort_key,
)


async def until(pilot, predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("UI condition not met in time")
        await pilot.pause(0.05)


def test_sort_key_orders_numbers_with_units_by_value() -> None:
    values = ["1.2 s", "900 ms", "2k", "999", "—", "abc", "35 MB", "1.5 GB"]
    ordered = sorted(values, key=sort_key)
    assert ordered.index("900 ms") < ordered.index("1.2 s") < ordered.index("999") < ordered.index("2k")
    assert ordered.index("35 MB") < ordered.index("1.5 GB")
    assert ordered[-2:] == ["abc", "—"]


def test_filter_needs_every_word_in_any_cell() -> None:
    rows = [("api", "ok", "GET /health"), ("billing", "critical", "connection refused"), ("api-v2", "ok", "slow")]
    assert filter_rows(rows, "API ok") == [0, 2]
    assert filter_rows(rows, "refused bill") == [1]
    assert filter_rows(rows, "") == [0, 1, 2]
    assert row_as_tsv(["Service", "State"], ("api", "ok")) == "Service\tState\napi\tok"


async def test_filter_sort_detail_and_copy_on_the_services_pane(tmp_path: Path) -> None:
    with http_profile(tmp_path) as (profile, _):
        app = OpsConsoleApp(profile)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                        and app.screen.panes[0].table.row_count == 2)
            await pilot.press("1", "slash")  # focus Services, filter
            await until(pilot, lambda: isinstance(app.screen, TableScreen))
            screen = app.screen
            await pilot.press(*"bill")
            table = screen.query_one(VirtualTable)
            assert [table.rows[i][1] for i in table.order] == ["billing"]
            assert "1 of 2 rows" in str(screen.query_one("#table-title").render())
            await pilot.press("escape")  # clears the filter first
            assert len(table.order) == 2
            await pilot.press("right", "s")  # sort by Service
            assert [table.rows[i][1] for i in table.order] == ["api", "billing"]
            await pilot.press("s")  # again: descending
            assert [table.rows[i][1] for i in table.order] == ["billing", "api"]
            await pilot.press("c")
            assert app.clipboard == "billing"
            await pilot.press("y")
            assert app.clipboard.splitlines()[0].startswith("State\tService")
            assert "billing" in app.clipboard.splitlines()[1]
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, DetailScreen))
            fields = dict(app.screen.fields)
            assert fields["name"] == "billing"
            assert fields["health"].lower() == "critical"
            assert "refused" in fields["detail"].lower() or "connect" in fields["detail"].lower()
            await pilot.press("escape", "escape")
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_enter_on_a_dashboard_row_drills_down(tmp_path: Path) -> None:
    with http_profile(tmp_path) as (profile, _):
        app = OpsConsoleApp(profile)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                        and app.screen.panes[0].table.row_count == 2)
            await pilot.press("1", "enter")
            await until(pilot, lambda: isinstance(app.screen, DetailScreen))
            names = [k for k, _v in app.screen.fields]
            assert {"name", "health", "latency_ms", "checked_at"} <= set(names)


async def test_hundred_thousand_query_rows_filter_and_scroll() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records = [QueryRecord(query_id=f"q{i}", text=f"SELECT * FROM orders_{i % 97} WHERE id = {i}",
                           status="FAILED" if i % 1000 == 0 else "FINISHED", started_at=start + timedelta(seconds=i),
                           duration_ms=float(i % 5000), rows=i, source="bench")
               for i in range(100_000)]

    from textual.app import App

    class TableApp(App[None]):
        def on_mount(self) -> None:
            pane = QueriesPane([], 10, index=2)
            rows = [tuple(c.plain for c in pane.cells.__func__(_Stub(), r)) for r in records]  # type: ignore[attr-defined]
            self.push_screen(TableScreen("Query history", pane.columns, rows, records))

    app = TableApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, TableScreen))
        table = app.screen.query_one(VirtualTable)
        assert len(table.order) == 100_000
        await pilot.press("end")
        assert table.selected_index == 99_999
        assert table.selected_row()[4].endswith("id = 99999")
        await pilot.press("slash", *"failed")
        await pilot.pause(0.1)
        assert len(table.order) == 100
        await pilot.press("enter")  # leaves the filter box
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert dict(app.screen.fields)["status"] == "FAILED"


class _Stub:
    """Just enough of an app for QueriesPane.cells outside a running dashboard."""

    class app:
        @staticmethod
        def health_style(_health: object) -> str:
            return ""
