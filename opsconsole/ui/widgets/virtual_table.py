"""A virtualised table widget: draws only the visible rows of a very long list (100k query-history rows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from opsconsole.ui.widgets.table_data import Column, LazyRows, filter_lines, filter_rows, sort_rows


class VirtualTable(ScrollView, can_focus=True):
    """A read-only table that renders only visible lines; a row cursor and a column cursor."""

    DEFAULT_CSS = """
    VirtualTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False, id="table-up"),
        Binding("down,j", "move(1)", "Down", show=False, id="table-down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table-page-up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table-page-down"),
        Binding("home,g", "jump(0)", "Top", show=False, id="table-top"),
        Binding("end,G", "jump(-1)", "Bottom", show=False, id="table-bottom"),
        Binding("left,h", "column(-1)", "Column left", show=False, id="table-left"),
        Binding("right,l", "column(1)", "Column right", show=False, id="table-right"),
    ]

    cursor_row: reactive[int] = reactive(0)
    cursor_column: reactive[int] = reactive(0)

    class Selected(Message):
        """``enter`` on a row (carries the index into the unfiltered rows)."""

        def __init__(self, table: VirtualTable, index: int) -> None:
            super().__init__()
            self.table = table
            self.index = index

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(self, columns: Sequence[Column], rows: Sequence[Sequence[str]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = list(columns)
        self.rows: Sequence[Sequence[str]] = rows if isinstance(rows, LazyRows) else list(rows)
        self.order: list[int] = list(range(len(self.rows)))
        self.filter_text = ""
        self.sort_column: int | None = None
        self.sort_reverse = False
        self.widths = self._measure()

    # ------------------------------------------------------------------ model
    def _measure(self, sample: int = 500) -> list[int]:
        widths = []
        for c, (_key, label, width) in enumerate(self.columns):
            if width is not None:
                widths.append(width)
                continue
            longest = max((len(self.rows[i][c]) for i in range(min(sample, len(self.rows)))), default=0)
            widths.append(max(len(label) + 2, min(longest, 80)))
        return widths

    def _update_size(self) -> None:
        self.virtual_size = Size(sum(self.widths) + len(self.widths), len(self.order) + 1)
        self.cursor_row = min(self.cursor_row, max(0, len(self.order) - 1))
        self.refresh()

    def set_filter(self, text: str) -> None:
        # Typing on only narrows: search the current hits (they keep their sorted order).
        narrower = bool(self.filter_text) and text.lower().startswith(self.filter_text.lower())
        self.filter_text = text
        if isinstance(self.rows, LazyRows):
            self.order = filter_lines(self.rows.haystack(), text, self.order if narrower else None)
        else:
            self.order = filter_rows(self.rows, text)
        if self.sort_column is not None and not (narrower and isinstance(self.rows, LazyRows)):
            self.order = sort_rows(self.rows, self.order, self.sort_column, reverse=self.sort_reverse)
        self.cursor_row = 0
        self._update_size()

    def sort_by(self, column: int) -> None:
        """Sort by ``column``; sorting by the same column again reverses the order."""
        self.sort_reverse = not self.sort_reverse if self.sort_column == column else False
        self.sort_column = column
        self.order = sort_rows(self.rows, self.order, column, reverse=self.sort_reverse)
        self.cursor_row = 0
        self._update_size()

    @property
    def selected_index(self) -> int | None:
        return self.order[self.cursor_row] if self.order else None

    def selected_row(self) -> Sequence[str] | None:
        index = self.selected_index
        return None if index is None else self.rows[index]

    def selected_cell(self) -> str | None:
        row = self.selected_row()
        return None if row is None else row[self.cursor_column]

    # ------------------------------------------------------------------ rendering
    def on_mount(self) -> None:
        self._update_size()

    def _cells(self, values: Sequence[str], base: Style, *, header: bool = False) -> list[Segment]:
        segments: list[Segment] = []
        for c, (value, width) in enumerate(zip(values, self.widths, strict=False)):
            text = value if len(value) <= width else value[: max(0, width - 1)] + "…"
            style = base
            if header:
                marker = ""
                if c == self.sort_column:
                    marker = "▼" if self.sort_reverse else "▲"
                text = (text + marker)[:width]
                if c == self.cursor_column:
                    style = base + Style(underline=True)
            elif c == self.cursor_column and base.reverse:
                style = base + Style(bold=True)
            segments.append(Segment(text.ljust(width) + " ", style))
        return segments

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y == 0:
            header = self._cells([label for _k, label, _w in self.columns], Style(bold=True), header=True)
            return Strip(header).crop(scroll_x, scroll_x + width).extend_cell_length(width)
        position = scroll_y + y - 1
        if position >= len(self.order):
            return Strip.blank(width)
        row = self.rows[self.order[position]]
        base = Style(reverse=True) if position == self.cursor_row and self.has_focus else Style()
        if position == self.cursor_row and not self.has_focus:
            base = Style(underline=True)
        strip = Strip(self._cells(row, base)).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, base if base.reverse else None)

    # ------------------------------------------------------------------ movement
    def watch_cursor_row(self, old: int, new: int) -> None:
        visible = max(1, self.size.height - 1)
        if new < self.scroll_y:
            self.scroll_to(y=new, animate=False)
        elif new >= self.scroll_y + visible:
            self.scroll_to(y=new - visible + 1, animate=False)
        self.refresh()

    def watch_cursor_column(self) -> None:
        self.refresh()

    def action_move(self, delta: int) -> None:
        if self.order:
            self.cursor_row = max(0, min(len(self.order) - 1, self.cursor_row + delta))

    def action_page(self, direction: int) -> None:
        self.action_move(direction * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        if self.order:
            self.cursor_row = 0 if where == 0 else len(self.order) - 1

    def action_column(self, delta: int) -> None:
        self.cursor_column = max(0, min(len(self.columns) - 1, self.cursor_column + delta))
        left = sum(self.widths[: self.cursor_column]) + self.cursor_column
        if left < self.scroll_x or left + self.widths[self.cursor_column] > self.scroll_x + self.size.width:
            self.scroll_to(x=left, animate=False)

    def on_click(self, event: Any) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:  # header: sort by that column
            x = offset.x + self.scroll_x
            edge = 0
            for c, width in enumerate(self.widths):
                edge += width + 1
                if x < edge:
                    self.cursor_column = c
                    self.sort_by(c)
                    return
        elif self.order:
            self.cursor_row = min(len(self.order) - 1, self.scroll_y + offset.y - 1)

    def key_enter(self) -> None:
        if self.selected_index is not None:
            self.post_message(self.Selected(self, self.selected_index))
