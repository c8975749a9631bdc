"""A pane that shows one kind of data from the monitoring engine.

The pane never polls: the engine (:mod:`opsconsole.monitor`) does, behind every
screen, and the dashboard hands each pane a :class:`~opsconsole.monitor.state.PaneView`
after every poll. A failed or hung source keeps its last good rows here, dimmed,
with their age and the error; rows are updated in place by position so the cursor
and scroll survive a refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from opsconsole.model import Health, Pane, PaneResult
from opsconsole.monitor.state import PaneView, SourceState
from opsconsole.ui.format import WORST_FIRST, age, clip
from opsconsole.ui.widgets.pane_table import Cell, PaneTable, cell

GROW_CHUNK = 25


class PaneStatus(Static):
    """One line under the pane title: fresh / stale (age, error) / polling."""


class DashboardPane(Vertical, can_focus=False):
    """Base of the data panes: a title, a status line and a DataTable."""

    ALLOW_MAXIMIZE = True
    """``z`` zooms the pane, not just its table: Textual only maximizes focusable widgets by default."""

    pane: ClassVar[Pane]
    title: ClassVar[str]
    columns: ClassVar[Sequence[tuple[str, str, int | None]]] = ()
    grows: ClassVar[bool] = False
    """A newest-first history (queries, runs) whose row count keeps growing."""
    max_rows: ClassVar[int | None] = None
    """Rows kept on the dashboard (newest first); ``v`` opens the pane's full history as a table."""
    """(key, label, width or None for auto)."""
    drop: ClassVar[Sequence[str]] = ()
    """Columns a narrow pane gives up first, in order, so its flex column stays readable."""

    def __init__(self, interval: float, *, index: int) -> None:
        super().__init__(id=f"pane-{self.pane.value}", classes="dashboard-pane")
        self.interval = interval
        self.index = index
        self.border_title = f"[{index}] {self.title}"
        self.result: PaneResult | None = None
        self.shown_rows: list[Any] = []
        """The rows on screen, in table order (deduplicated): what the cursor points at."""
        self.last_ok: datetime | None = None
        self.stale_reason: str = ""
        self.state = SourceState.WAITING
        self.history: Callable[[str], Sequence[tuple[float, float]]] = lambda _key: ()
        """The engine's sample history (trends), set by the dashboard."""
        self.cached_at: datetime | None = None
        """Set while the rows on screen come from the last session's cache (dimmed, not live), not from a poll."""

    def compose(self) -> ComposeResult:
        # No status line yet: it is mounted the first time there is something to say (stale, cached);
        # six hidden widgets fewer to style before the first frame.
        table = PaneTable(cursor_type="row", zebra_stripes=False, id=f"table-{self.pane.value}")
        table.define(self.columns, drop=self.drop)
        yield table

    @property
    def table(self) -> PaneTable:
        return self.query_one(PaneTable)

    def show_cached(self, rows: Sequence[Any], last_ok: datetime) -> None:
        """Rows the last session saw (monitor/snapshot_cache.py): dimmed, with their age, until a poll lands."""
        self.cached_at = last_ok
        self.add_class("cached")
        with self.app.batch_update():
            self.update_rows(rows)
        self._show_status()

    def show(self, view: PaneView) -> None:
        """The engine's latest view of this pane: last good rows, state, age, errors."""
        if self.cached_at is not None:
            if view.last_ok is None and not view.rows:
                # No live rows yet: the cached ones stay, still marked as cached (and as unreachable if so).
                self.state = view.state
                self.stale_reason = "; ".join(view.errors.values())
                self._show_status()
                return
            self.cached_at = None
            self.remove_class("cached")
        self.result = view.as_result()
        self.state = view.state
        self.last_ok = view.last_ok
        self.stale_reason = "; ".join(view.errors.values()) if view.state in (
            SourceState.STALE, SourceState.UNREACHABLE) else ""
        with self.app.batch_update():
            self.update_rows(view.rows)
        self._show_status()

    def apply(self, result: PaneResult) -> None:
        """Re-render the rows already shown (a theme change re-colours health cells at once)."""
        with self.app.batch_update():
            self.update_rows(result.rows)
        self._show_status()

    @property
    def is_stale(self) -> bool:
        return bool(self.stale_reason)

    def _status_line(self) -> PaneStatus:
        found = self.query(PaneStatus)
        if found:
            return found.first()
        status = PaneStatus("", classes="pane-status")
        self.mount(status, before=self.table)
        return status

    def _show_status(self) -> None:
        """Fresh: a short line in the border. Stale: the error too, on its own line."""
        now = datetime.now(UTC)
        status = self._status_line() if self.cached_at is not None or self.stale_reason else None
        if self.cached_at is not None:
            label = "UNREACHABLE · " if self.state is SourceState.UNREACHABLE else ""
            note = f"{label}CACHED rows from {age(self.cached_at, now)} ago, not live"
            waiting = clip(self.stale_reason, 300) if self.stale_reason else "waiting for the first poll"
            assert status is not None
            status.update(Text(f"{note} · {waiting}"), layout=False)
            self.border_subtitle = note
        elif self.stale_reason:
            self.add_class("stale")
            seen = f"last good {age(self.last_ok, now)} ago" if self.last_ok else "never reached"
            label = "UNREACHABLE" if self.state is SourceState.UNREACHABLE else "STALE"
            # layout=False: the status is one line high (app.tcss), so no re-layout of the screen.
            assert status is not None
            status.update(Text(f"{label} · {seen} · {clip(self.stale_reason, 300)}"), layout=False)
            self.border_subtitle = f"{label} · {seen}"
        else:
            self.remove_class("stale")
            n = len(self.shown_rows)
            took = f" · {self.result.duration_ms:.0f} ms" if self.result and self.result.duration_ms else ""
            # The status line is hidden while fresh (app.tcss): only the border subtitle changes.
            self.border_subtitle = f"{n} rows · {now:%H:%M:%S}{took}"

    # ------------------------------------------------------------------ rows
    def row_key(self, row: Any) -> str:
        return f"{getattr(row, 'source', '')}:{getattr(row, 'name', '')}"

    def ordered(self, rows: Sequence[Any]) -> Sequence[Any]:
        """The rows in display order; panes with a health per row put the worst first."""
        return rows

    def row_health(self, row: Any) -> Health:
        """How bad one row is (a failed job, a table over its file limit); OK for panes without a verdict."""
        return Health.OK

    def worst_health(self) -> Health:
        """The pane's worst row, or UNKNOWN while its source is stale: what its tab shows below 100 columns."""
        if self.is_stale:
            return Health.UNKNOWN
        return min((self.row_health(r) for r in self.shown_rows), key=WORST_FIRST.__getitem__, default=Health.OK)

    def cells(self, row: Any) -> list[Cell]:  # pragma: no cover - abstract
        raise NotImplementedError

    def update_rows(self, rows: Sequence[Any]) -> None:
        """Update the table in place, row by position (see :meth:`PaneTable.set_rows`).

        A pane whose list keeps growing (``grows``) allocates rows ``GROW_CHUNK`` at
        a time, the spare ones blank at the bottom, so the table's size (scrollbar,
        scroll range) does not change on every poll of a fresh platform.
        """
        unique: list[Any] = []
        seen: set[str] = set()
        for row in self.ordered(rows):
            key = self.row_key(row)
            if key not in seen:
                seen.add(key)
                unique.append(row)
        if self.max_rows is not None:
            unique = unique[: self.max_rows]
        self.shown_rows = unique
        current = self.table.row_count
        wanted = len(unique)
        if self.grows and wanted > current:
            wanted = -(-wanted // GROW_CHUNK) * GROW_CHUNK
        elif self.grows and current - GROW_CHUNK < wanted <= current:
            wanted = current  # keep the spare rows
        blank = [cell("")] * len(self.columns)
        cells = [self.cells(row) for row in unique]
        if self.cached_at is not None:  # greyed: health colours of an old snapshot must not read as today's
            cells = [[Text(c.plain, style="dim", no_wrap=True, overflow="ellipsis") if isinstance(c, Text)
                      else Text(c, style="dim") for c in row] for row in cells]
        self.table.set_rows(cells + [blank] * (wanted - len(unique)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """``enter`` on a row drills down: every field of the domain object behind it, with its history."""
        if self.open_detail():
            event.stop()

    def history_keys(self, row: Any) -> list[tuple[str, str]]:
        """(label, engine history key) of the figures of ``row`` that have a trend."""
        return []

    def open_detail(self) -> bool:
        """The full record of the selected row, wrapped, with its history chart (``enter`` / ``d``)."""
        row = self.selected_row()
        if row is None:
            return False
        from opsconsole.ui.screens.detail import DetailScreen
        from opsconsole.ui.screens.table import detail_fields

        history = [(label, self.history(key)) for label, key in self.history_keys(row)]
        self.app.push_screen(DetailScreen(f"{self.title}: {self.row_key(row)}", detail_fields(row), history))
        return True

    def selected_row(self) -> Any | None:
        if not self.result or not self.table.row_count:
            return None
        shown = self.shown_rows
        index = self.table.cursor_row
        return shown[index] if 0 <= index < len(shown) else None
