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

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable

from opsconsole.ui.textual_patches.datatable_cells import update_cells_in_place
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


FLEX_MIN = 8
"""The flexing column never shrinks below this: a message cut to 3 characters says nothing."""
FLEX_READABLE = 16
"""Below this, the pane drops its least useful columns (``drop``) to give the flex column room."""

ColumnSpec = tuple[str, str, int | None]
"""(key, label, width or None for the flex column)."""


class PaneTable(StylePerPass, SteadyScroll, DataTable[Cell]):
    """The table inside a dashboard pane (its height comes from the stylesheet).

    Columns fit the pane's width (:meth:`define`): one column may *flex*, taking the
    width the others leave, so at 200 columns a message is shown whole instead of cut
    beside 30 empty columns; on a narrow pane the least useful columns (``drop``, in
    order) go first, so at 80 columns the subject and message stay readable. Rows
    always carry every column's cell; the table shows the ones that fit.
    """

    flex: str | None = None
    specs: tuple[ColumnSpec, ...] = ()
    drop: tuple[str, ...] = ()
    _rows: Sequence[Sequence[Cell]] = ()
    _shown: tuple[str, ...] = ()
    _fitting = False

    def define(self, columns: Sequence[ColumnSpec], *, drop: Sequence[str] = ()) -> None:
        """Declare every column (flex: the one with width None) and the order narrow panes drop them in."""
        self.specs = tuple(columns)
        self.drop = tuple(drop)
        self.flex = next((key for key, _label, width in self.specs if width is None), None)
        self._show_columns(tuple(key for key, _l, _w in self.specs))

    def _show_columns(self, keys: tuple[str, ...]) -> None:
        cursor = self.cursor_row
        self.clear(columns=True)
        for key, label, width in self.specs:
            if key in keys:
                self.add_column(label, key=key, width=width)
        self._shown = keys
        if self._rows:
            self.set_rows(self._rows)
            self.move_cursor(row=min(cursor, len(self._rows) - 1), animate=False)

    def _on_resize(self, event: events.Resize) -> None:
        super()._on_resize(event)
        self.fit_columns()

    def _available(self) -> int:
        # Reserve the scrollbar's column even before rows overflow: no re-fit when it appears.
        return self.size.width - (0 if self.show_vertical_scrollbar else self.styles.scrollbar_size_vertical)

    def columns_for(self, available: int) -> tuple[str, ...]:
        """The columns that fit ``available`` cells: drop (in order) until the flex column is readable."""
        pad = 2 * self.cell_padding
        shown = [key for key, _l, _w in self.specs]
        widths = self.fitted_widths()
        needed = FLEX_READABLE + pad if self.flex else 0

        def fixed() -> int:
            return sum((widths[k] or 0) + pad for k in shown if k != self.flex)

        for key in self.drop:
            if fixed() + needed <= available:
                break
            if key in shown:
                shown.remove(key)
        return tuple(shown)

    def fitted_widths(self) -> dict[str, int | None]:
        """Each fixed column as wide as its widest cell (or label), never wider than declared: a pane of
        short service names does not spend 16 cells on them while the message beside it is cut."""
        out: dict[str, int | None] = {}
        for index, (key, label, width) in enumerate(self.specs):
            if width is None or not self._rows:
                out[key] = width
                continue
            widest = max((cell_len(c.plain if isinstance(c, Text) else str(c))
                          for cells in self._rows if index < len(cells) for c in (cells[index],)), default=0)
            out[key] = max(1, min(width, max(widest, cell_len(label))))
        return out

    def fit_columns(self) -> None:
        """Show the columns that fit, and give the flex column the width the others leave."""
        if not self.specs or not self.size.width or self._fitting:
            return
        self._fitting = True
        try:
            self._fit()
        finally:
            self._fitting = False

    def _fit(self) -> None:
        available = self._available()
        keys = self.columns_for(available)
        if keys != self._shown:
            self._show_columns(keys)
        from textual.widgets._data_table import ColumnKey as Key

        changed = False
        for key, width in self.fitted_widths().items():
            column = self.columns.get(Key(key))
            if column is not None and width is not None and column.width != width:
                column.width, column.auto_width, changed = width, False, True
        flex = self.columns.get(Key(self.flex)) if self.flex in keys else None
        if flex is not None:
            fixed = sum(c.get_render_width(self) for key, c in self.columns.items() if key != flex.key)
            width = max(FLEX_MIN, available - fixed - 2 * self.cell_padding)
            if flex.auto_width or flex.width != width:
                flex.auto_width, flex.width, changed = False, width, True
        if changed:
            self._update_count += 1  # part of every render-cache key: re-render at the new width
            self._require_update_dimensions = True
            self.refresh()

    def set_rows(self, rows: Sequence[Sequence[Cell]]) -> None:
        """Show ``rows`` in order, keyed by position (``r0``, ``r1``, ...), changing only what differs.

        Positional keys make a newest-first list that shifts by one a matter of changed
        cells rather than removed and re-added rows, so the cursor and scroll stay put.
        Needs the table's columns to be added, in the order of the cells.
        """
        self._rows = rows
        if self.specs and len(self._shown) != len(self.specs):  # narrow: only the cells of the shown columns
            keep = [i for i, (key, _l, _w) in enumerate(self.specs) if key in self._shown]
            rows = [[cells[i] for i in keep] for cells in rows]
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
        if self.specs and not self._fitting:
            self.fit_columns()  # a longer name or message may change what fits

    def update_cells(self, changes: Mapping[str, Mapping[str, Cell]]) -> None:
        """Set ``changes[row_key][column_key] = value`` and repaint only what changed."""
        if not changes:
            return
        try:
            update_cells_in_place(self, changes)
        except AttributeError:  # Textual's internals moved: the public way, a full re-render
            for row, cells in changes.items():
                for column, value in cells.items():
                    self.update_cell(row, column, value)

