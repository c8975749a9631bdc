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

import dataclasses
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from opsconsole.ui.screens.detail import DetailScreen, copy
from opsconsole.ui.widgets.footer import KeysFooter

__all__ = ["DetailScreen", "TableScreen", "VirtualTable", "copy", "detail_fields"]

Column = tuple[str, str, int | None]
"""(key, label, width or None for auto)."""

_NUMBER = re.compile(r"^\s*([-+]?\d+(?:[.,]\d+)*)\s*([a-zA-Zµ%]*)")
_COMPOUND = re.compile(r"^\s*(\d+)([dhm]) (\d+)([hms])\s*$")
"""``4m 05s``, ``2h 03m``, ``3d 4h``: opsconsole.humanize's longer durations."""
_SCALE = {"": 1, "k": 1e3, "g": 1e9, "t": 1e12, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "s": 1, "m": 60, "min": 60,
          "h": 3600, "d": 86400, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 1024, "mib": 1024**2,
          "gib": 1024**3, "tib": 1024**4, "msg": 1, "rows": 1, "%": 1}
"""Units as :mod:`opsconsole.humanize` writes them; ``m`` is minutes (ages, durations), counts use separators."""


def sort_key(text: str) -> tuple[int, float, str]:
    """Numbers (with units such as ``ms``, ``k``, ``MiB``) sort by value, before text; text sorts case-free."""
    compound = _COMPOUND.match(text)
    if compound:
        value = int(compound.group(1)) * _SCALE[compound.group(2)] + int(compound.group(3)) * _SCALE[compound.group(4)]
        return (0, value, text.lower())
    match = _NUMBER.match(text)
    if match:
        unit = match.group(2).lower()
        if unit in _SCALE:
            try:
                return (0, float(match.group(1).replace(",", "")) * _SCALE[unit], text.lower())
            except ValueError:
                pass
    return (1, 0.0, text.lower())


def filter_rows(rows: Sequence[Sequence[str]], needle: str) -> list[int]:
    """Indexes of rows where every word of ``needle`` occurs in some cell (case-insensitive)."""
    words = needle.lower().split()
    if not words:
        return list(range(len(rows)))
    out = []
    for i, row in enumerate(rows):
        line = "\t".join(row).lower()
        if all(w in line for w in words):
            out.append(i)
    return out


def filter_lines(lines: Sequence[str], needle: str, order: Sequence[int] | None = None) -> list[int]:
    """Like :func:`filter_rows` over prepared lower-case lines (one per row)."""
    words = needle.lower().split()
    indexes = range(len(lines)) if order is None else order
    if not words:
        return list(indexes)
    return [i for i in indexes if all(w in lines[i] for w in words)]


def sort_rows(rows: Sequence[Sequence[str]], order: list[int], column: int, *, reverse: bool) -> list[int]:
    if isinstance(rows, LazyRows):
        keys = {i: rows.sort_value(i, column) for i in order}
        present = sorted((i for i in order if keys[i][0] != 2), key=keys.__getitem__, reverse=reverse)
        return present + [i for i in order if keys[i][0] == 2]  # missing values last, either way
    return sorted(order, key=lambda i: sort_key(rows[i][column]), reverse=reverse)


RAW_FIELDS: dict[str, tuple[str, ...]] = {
    "when": ("started_at",), "started": ("started_at",), "duration": ("duration_ms", "duration_s"),
    "rows": ("rows", "row_count"), "latency": ("latency_ms",), "files": ("file_count",),
    "snapshots": ("snapshot_count",), "size": ("size_bytes",), "lag": ("lag",), "sql": ("text",),
    "status": ("status",), "name": ("name",), "job": ("job",), "detail": ("detail",),
}
"""Pane column key -> the domain field(s) holding its raw value (sorting 100k rows needs no formatting)."""


class LazyRows(Sequence[tuple[str, ...]]):
    """Domain objects that look like rows of strings, formatted only when a row is read.

    Why: formatting 100k query records with the pane's cell code (rich Text per
    cell) takes over a second; the screen shows 40 of them. Formatted rows are
    cached; sort keys come from raw fields (:data:`RAW_FIELDS`), the filter
    haystack from every text/number field of the object.
    """

    def __init__(self, objects: Sequence[Any], cells_of: Callable[[Any], Sequence[Any]],
                 column_keys: Sequence[str] = ()) -> None:
        self.objects = objects
        self.cells_of = cells_of
        self.column_keys = list(column_keys)
        self._formatted: list[tuple[str, ...] | None] = [None] * len(objects)
        self._haystack: list[str] | None = None

    def __len__(self) -> int:
        return len(self.objects)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        row = self._formatted[index]
        if row is None:
            row = tuple(c.plain if isinstance(c, Text) else str(c) for c in self.cells_of(self.objects[index]))
            self._formatted[index] = row
        return row

    def raw(self, index: int, column: int) -> Any:
        obj = self.objects[index]
        key = self.column_keys[column] if column < len(self.column_keys) else ""
        for name in RAW_FIELDS.get(key, ()):
            if hasattr(obj, name):
                return getattr(obj, name)
        return _FORMATTED

    def sort_value(self, index: int, column: int) -> tuple[Any, ...]:
        value = self.raw(index, column)
        if value is _FORMATTED:
            return sort_key(self[index][column])
        if value is None:
            return (2, 0.0, "")
        if isinstance(value, str):
            return (1, 0.0, value.lower())
        if isinstance(value, datetime):
            return (0, value.timestamp(), "")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, float(value), "")
        return sort_key(self[index][column])

    def haystack(self) -> list[str]:
        """One lower-case line per row: its text and number fields (built once, on the first filter)."""
        if self._haystack is None:
            self._haystack = [_haystack_line(obj) for obj in self.objects]
        return self._haystack


_FORMATTED = object()
_HAYSTACK_MAKERS: dict[type, Callable[[Any], str]] = {}


def _haystack_line(obj: Any) -> str:
    """The text, number and enum fields of a domain object, tab-joined (timestamps and mappings left out)."""
    maker = _HAYSTACK_MAKERS.get(type(obj))
    if maker is None:
        maker = _HAYSTACK_MAKERS[type(obj)] = _haystack_maker(obj)
    return maker(obj)


def _haystack_maker(sample: Any) -> Callable[[Any], str]:
    if not dataclasses.is_dataclass(sample):
        return lambda obj: str(obj).lower()
    names = [f.name for f in dataclasses.fields(sample)]
    enums = [n for n in names if isinstance(getattr(sample, n), Enum)]
    plain = [n for n in names if n not in enums
             and not isinstance(getattr(sample, n), datetime | dict | list | tuple | Mapping)]
    get = operator.attrgetter(*plain) if len(plain) > 1 else (lambda obj: (getattr(obj, plain[0]),)) if plain \
        else (lambda obj: ())

    def line(obj: Any) -> str:  # attrgetter + one join: ~1 µs a row, 100k rows in ~0.1 s
        text = "\t".join([str(v) for v in get(obj) if v is not None])
        for name in enums:
            value = getattr(obj, name)
            text += "\t" + str(getattr(value, "label", getattr(value, "name", value)))
        return text.lower()

    return line


def row_as_tsv(labels: Sequence[str], row: Sequence[str]) -> str:
    """What ``y`` copies: one header line and one value line, tab-separated (pastes into a sheet)."""
    return "\t".join(labels) + "\n" + "\t".join(row)


def detail_fields(obj: Any) -> list[tuple[str, str]]:
    """Every field of a domain object (dataclass) as text, nested ``extra`` mappings flattened."""
    if obj is None:
        return []
    if not dataclasses.is_dataclass(obj):
        return [("value", str(obj))]
    out: list[tuple[str, str]] = []
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if isinstance(value, dict):
            for k, v in value.items():
                out.append((f"{field.name}.{k}", _text(v, k)))
        else:
            out.append((field.name, _text(value, field.name)))
    return out


def _text(value: Any, name: str = "") -> str:
    """A field as a person reads it: ``16.4 ms`` rather than ``16.41853799992532``, local time and age
    rather than a raw ISO timestamp."""
    if value is None:
        return "—"
    if isinstance(value, Enum):
        return str(getattr(value, "label", value.name))
    if isinstance(value, datetime):
        from opsconsole.ui.format import age

        local = value.astimezone() if value.tzinfo else value
        return f"{local:%Y-%m-%d %H:%M:%S}" + (f" ({age(value)} ago)" if value.tzinfo else "")
    if isinstance(value, float):
        text = f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
        return text + (" ms" if name.endswith("_ms") else " s" if name.endswith("_s") else "")
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value[:50]) + (" …" if len(value) > 50 else "")
    return str(value)


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
