"""Big tables: filter (``/``), sort by any column, drill-down detail, copy cell/row (OSC 52).

Why a table of our own: Textual's DataTable measures every cell and keeps a
Python object per row; 100k rows of query history take seconds to add and tens
of seconds to lay out. :class:`VirtualTable` keeps rows as tuples of strings,
sizes columns from a sample, and renders only the lines on screen (Line API),
so 100k rows show in well under 300 ms. Rows of domain objects are formatted
lazily (:class:`LazyRows`): only the lines drawn, copied or opened are turned
into text; sorting uses the objects' raw values (a datetime, a duration in ms)
and filtering a per-row haystack of their raw fields built on the first
keystroke. Filtering and sorting work on index lists; the pure helpers below
are tested without a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from opsconsole.ui.screens.detail import DetailScreen, copy
from opsconsole.ui.widgets.footer import KeysFooter
from opsconsole.ui.widgets.table_data import (
    Column,
    LazyRows,
    detail_fields,
    filter_lines,
    filter_rows,
    row_as_tsv,
    sort_key,
    sort_rows,
)
from opsconsole.ui.widgets.virtual_table import VirtualTable

__all__ = ["Column", "DetailScreen", "LazyRows", "TableScreen", "VirtualTable", "copy", "detail_fields",
           "filter_lines", "filter_rows", "row_as_tsv", "sort_key", "sort_rows"]

class TableScreen(Screen[None]):
    """A full-screen table: ``/`` filter, ``s`` sort by the column under the cursor, ``enter`` detail,
    ``c`` copy cell, ``y`` copy row."""

    DEFAULT_CSS = """
    TableScreen #table-filter { dock: bottom; display: none; }
    TableScreen #table-filter.-open { display: block; }
    TableScreen #table-title { height: 1; background: $panel; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "close", "Back", id="table-close"),
        Binding("slash", "filter", "Filter", id="table-filter", key_display="/"),
        Binding("s", "sort", "Sort", id="table-sort"),
        Binding("c", "copy_cell", "Copy cell", id="table-copy-cell"),
        Binding("y", "copy_row", "Copy row", id="table-copy-row"),
    ]

    def __init__(self, title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]],
                 objects: Sequence[Any] | None = None, *, filter_first: bool = False,
                 sort_column: int | None = None) -> None:
        super().__init__()
        self.sort_column = sort_column
        """Sort by this column on opening (``s`` on the dashboard)."""
        self.title_text = title
        self.columns = columns
        self.rows = rows
        self.objects = objects
        self.filter_first = filter_first

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="table-title")
        yield VirtualTable(self.columns, self.rows, id="big-table")
        yield Input(placeholder="filter: words that must all appear (enter keeps, esc clears)", id="table-filter")
        yield KeysFooter()

    @property
    def table(self) -> VirtualTable:
        return self.query_one(VirtualTable)

    def _title(self) -> Text:
        table = self.query(VirtualTable).first() if self.is_mounted else None
        shown = len(table.order) if table else len(self.rows)
        text = Text(f"{self.title_text} · {shown:,} of {len(self.rows):,} rows", style="bold")
        if table and table.filter_text:
            text.append(f" · filter: {table.filter_text}")
        if table and table.sort_column is not None:
            text.append(f" · sorted by {self.columns[table.sort_column][1]}{' desc' if table.sort_reverse else ''}")
        return text

    def on_mount(self) -> None:
        self.table.focus()
        if self.sort_column is not None:
            self.table.sort_by(self.sort_column)
            self._retitle()
        if self.filter_first:
            self.action_filter()

    def _retitle(self) -> None:
        self.query_one("#table-title", Static).update(self._title(), layout=False)

    def action_filter(self) -> None:
        box = self.query_one("#table-filter", Input)
        box.add_class("-open")
        box.focus()

    @on(Input.Changed, "#table-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        self._retitle()

    @on(Input.Submitted, "#table-filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def action_close(self) -> None:
        box = self.query_one("#table-filter", Input)
        if box.has_focus or box.value:
            box.value = ""
            box.remove_class("-open")
            self.table.focus()
            return
        self.dismiss()

    def action_sort(self) -> None:
        self.table.sort_by(self.table.cursor_column)
        self._retitle()

    def on_click(self) -> None:
        self.call_after_refresh(self._retitle)  # a header click sorts

    def action_copy_cell(self) -> None:
        cell = self.table.selected_cell()
        if cell is not None:
            copy(self.app, cell, f"cell {self.columns[self.table.cursor_column][1]}")

    def action_copy_row(self) -> None:
        row = self.table.selected_row()
        if row is not None:
            copy(self.app, row_as_tsv([label for _k, label, _w in self.columns], row), "row")

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        if event.table.id != "big-table":
            return
        obj = self.objects[event.index] if self.objects else None
        fields = detail_fields(obj) if obj is not None else list(
            zip([label for _k, label, _w in self.columns], self.rows[event.index], strict=False))
        self.app.push_screen(DetailScreen(self.title_text, fields))
