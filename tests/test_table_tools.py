"""Tables: filter, sort by any column, drill-down detail, copy cell/row, 100k-row history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pilot_helpers import until
from ui_profiles import http_profile

from opsconsole.model import QueryRecord
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.screens.dashboard import DashboardScreen
from opsconsole.ui.screens.table import (
    DetailScreen,
    LazyRows,
    TableScreen,
    VirtualTable,
    filter_rows,
    row_as_tsv,
    sort_key,
)
from opsconsole.ui.widgets.data_panes import QueriesPane


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
            pane = QueriesPane(10, index=2)
            rows = LazyRows(records, lambda r: pane.cells.__func__(_Stub(), r),  # type: ignore[attr-defined]
                            [key for key, _label, _width in pane.columns])
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
        # Only what was drawn, copied or opened was formatted: the rest stayed domain objects.
        assert sum(1 for r in table.rows._formatted if r is not None) < 1_000


def test_lazy_rows_sort_by_raw_value_and_filter_on_every_text_field() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records = [QueryRecord("a", "select 1", "FINISHED", start, duration_ms=900.0, user="alice"),
               QueryRecord("b", "select 2", "FINISHED", start + timedelta(seconds=5), duration_ms=1_200.0, user="bob"),
               QueryRecord("c", "select 3", "FAILED", start + timedelta(seconds=1), duration_ms=None,
                           error="division by zero", user="carol")]
    formatted: list[str] = []

    def cells(r: QueryRecord) -> list[str]:
        formatted.append(r.query_id)
        return [r.query_id, r.status.lower(), f"{r.duration_ms} ms"]

    rows = LazyRows(records, cells, ["id", "status", "duration"])
    table = VirtualTable([("id", "Id", 4), ("status", "Status", 8), ("duration", "Duration", 10)], rows)
    assert formatted == []  # nothing formatted until a row is read
    table.sort_by(2)  # durations by value (900 < 1200), missing last; still nothing formatted
    assert [records[i].query_id for i in table.order] == ["a", "b", "c"] and formatted == []
    table.sort_by(2)
    assert [records[i].query_id for i in table.order][:2] == ["b", "a"]
    table.set_filter("bob")  # the user is not a column, but it is in the record
    assert [records[i].query_id for i in table.order] == ["b"]
    table.set_filter("")
    table.set_filter("div")
    table.set_filter("division zero")  # typing on narrows
    assert [records[i].query_id for i in table.order] == ["c"]
    assert table.selected_row() == ("c", "failed", "None ms") and formatted == ["c"]


class _Stub:
    """Just enough of an app for QueriesPane.cells outside a running dashboard."""

    class app:
        @staticmethod
        def health_style(_health: object) -> str:
            return ""


def test_humanized_durations_and_ages_sort_by_time() -> None:
    """What opsconsole.humanize writes sorts by what it means: 59.0 s < 4m 05s < 2h 03m, 30s < 4m < 3.0h."""
    from datetime import UTC, datetime, timedelta

    from opsconsole.humanize import age, duration

    values = [duration(s) for s in (7_380, 59, 245, 90_000)]
    assert values == ["2h 03m", "59.0 s", "4m 05s", "1d 1h"]
    assert sorted(values, key=sort_key) == ["59.0 s", "4m 05s", "2h 03m", "1d 1h"]
    now = datetime.now(UTC)
    ages = [age(now - timedelta(seconds=s), now) for s in (10_800, 30, 240)]
    assert sorted(ages, key=sort_key) == ["30s", "4m", "3.0h"]
