"""A DataTable whose in-place updates re-render only the cells that changed.

``DataTable.update_cell`` bumps one table-wide counter that is part of every
render-cache key, so changing the latency of one service re-renders every
visible cell of the table through Rich (about 0.1 ms a cell here). A dashboard
pane changes a few cells per poll, so :meth:`PaneTable.update_cells` writes the
new values and evicts just those cells' (and their rows') cache entries; the
rest is reused as it is.

It leans on DataTable's private caches (textual 8.x). If a Textual upgrade
renames them, the method falls back to plain ``update_cell``: slower, never
wrong. ``tests/test_ui_widgets.py`` checks the screen against the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets._data_table import ColumnKey, RowKey

from opsconsole.ui.textual_patches.steady_scroll import SteadyScroll

Cell = str | Text


def cell(text: str, style: str = "") -> Text:
    """A table cell on one line, cut with an ellipsis at the column's width.

    Rich word-wraps a wrapping Text before the table crops it to one line: for a
    long query or detail that is ~150 us a cell against ~55 us without.
    """
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


class StylePerPass:
    """Mixin for line-rendering widgets (DataTable, Log): one ``rich_style`` per render pass.

    They ask for ``rich_style`` once per line, and Textual computes it afresh each time
    by walking every ancestor's styles; within one ``render_lines`` call it cannot change.
    """

    _pass_style: Style | None = None

    def render_lines(self: Any, crop: Region) -> list[Strip]:
        self._pass_style = super().rich_style  # type: ignore[misc]
        try:
            return super().render_lines(crop)  # type: ignore[misc, no-any-return]
        finally:
            self._pass_style = None

    @property
    def rich_style(self: Any) -> Style:
        return self._pass_style if self._pass_style is not None else super().rich_style  # type: ignore[misc]


class PaneTable(StylePerPass, SteadyScroll, DataTable[Cell]):
    """The table inside a dashboard pane (its height comes from the stylesheet)."""

    def set_rows(self, rows: Sequence[Sequence[Cell]]) -> None:
        """Show ``rows`` in order, keyed by position (``r0``, ``r1``, ...), changing only what differs.

        Positional keys make a newest-first list that shifts by one a matter of changed
        cells rather than removed and re-added rows, so the cursor and scroll stay put.
        Needs the table's columns to be added, in the order of the cells.
        """
        columns = [column.key.value for column in self.ordered_columns]
        current = self.row_count
        changes: dict[str, dict[str, Cell]] = {}
        for index, cells in enumerate(rows):
            key = f"r{index}"
            if index >= current:
                self.add_row(*cells, key=key)
                continue
            for column, value in zip(columns, cells, strict=True):
                old = self.get_cell(key, column)
                # rich's Text equality ignores the base style: compare it too (health colours, themes)
                if old != value or getattr(old, "style", None) != getattr(value, "style", None):
                    changes.setdefault(key, {})[column] = value
        self.update_cells(changes)
        for index in range(len(rows), current):
            self.remove_row(f"r{index}")

    def update_cells(self, changes: Mapping[str, Mapping[str, Cell]]) -> None:
        """Set ``changes[row_key][column_key] = value`` and repaint only what changed."""
        if not changes:
            return
        try:
            self._update_cells_in_place(changes)
        except AttributeError:  # Textual's internals moved: the public way, a full re-render
            for row, cells in changes.items():
                for column, value in cells.items():
                    self.update_cell(row, column, value)

    def _update_cells_in_place(self, changes: Mapping[str, Mapping[str, Cell]]) -> None:
        data: dict[RowKey, dict[ColumnKey, Any]] = self._data
        cell_cache, row_cache = self._cell_render_cache, self._row_render_cache
        renderable_cache, locations = self._row_renderable_cache, self._row_locations
        touched_cells: set[tuple[RowKey, ColumnKey]] = set()
        touched_rows: set[RowKey] = set()
        touched_indexes: set[int] = set()
        for row, cells in changes.items():
            row_key = RowKey(row)
            row_data = data[row_key]
            for column, value in cells.items():
                column_key = ColumnKey(column)
                row_data[column_key] = value
                touched_cells.add((row_key, column_key))
            touched_rows.add(row_key)
            touched_indexes.add(locations.get(row_key))
        # Cache keys: cell (row_key, column_key, ...), row (row_key, line_no, ...),
        # renderables (update_count, row_index); lines are keyed by screen line, cheap to rebuild.
        for key in [k for k in cell_cache.keys() if (k[0], k[1]) in touched_cells]:
            cell_cache.discard(key)
        for key in [k for k in row_cache.keys() if k[0] in touched_rows]:
            row_cache.discard(key)
        for key in [k for k in renderable_cache.keys() if k[1] in touched_indexes]:
            renderable_cache.discard(key)
        self._line_cache.clear()
        self.refresh()
