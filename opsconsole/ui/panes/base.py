"""A pane that polls one kind of data from the profile's drivers.

Polling habits from Dolphie and k9s: the interval timer only *starts* a worker;
a poll still running when the next tick comes is not doubled up but reported
(the pane turns stale with its age); workers never exit the app on error; rows
are updated in place by key so the cursor and scroll survive a refresh.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from opsconsole.drivers.base import Driver
from opsconsole.model import Pane, PaneResult
from opsconsole.poller import poll
from opsconsole.ui.format import age, clip
from opsconsole.ui.panes.pane_table import Cell, PaneTable, cell

GROW_CHUNK = 25


class PaneStatus(Static):
    """One line under the pane title: fresh / stale (age, error) / polling."""


class DashboardPane(Vertical, can_focus=False):
    """Base of the data panes: a title, a status line and a DataTable."""

    pane: ClassVar[Pane]
    title: ClassVar[str]
    columns: ClassVar[Sequence[tuple[str, str, int | None]]] = ()
    grows: ClassVar[bool] = False
    """A newest-first history (queries, runs) whose row count keeps growing."""
    max_rows: ClassVar[int | None] = None
    """Rows kept on the dashboard (newest first); ``v`` opens the pane's full history as a table."""
    """(key, label, width or None for auto)."""

    class Polled(Message):
        """A poll finished; the app re-evaluates alerts from all panes' latest results."""

        def __init__(self, pane: DashboardPane, result: PaneResult) -> None:
            super().__init__()
            self.pane = pane
            self.result = result

        @property
        def control(self) -> DashboardPane:
            return self.pane

    def __init__(self, drivers: Sequence[Driver], interval: float, *, index: int) -> None:
        super().__init__(id=f"pane-{self.pane.value}", classes="dashboard-pane")
        self.drivers = list(drivers)
        self.interval = interval
        self.index = index
        self.border_title = f"[{index}] {self.title}"
        self.result: PaneResult | None = None
        self.shown_rows: list[Any] = []
        """The rows on screen, in table order (deduplicated): what the cursor points at."""
        self.last_ok: datetime | None = None
        self.stale_reason: str = ""
        self.poll_started: float | None = None
        self._timer: Timer | None = None
        self._worker: Worker[PaneResult] | None = None

    def compose(self) -> ComposeResult:
        yield PaneStatus("waiting for first poll…", classes="pane-status")
        table = PaneTable(cursor_type="row", zebra_stripes=False, id=f"table-{self.pane.value}")
        for key, label, width in self.columns:
            table.add_column(label, key=key, width=width)
        yield table

    @property
    def table(self) -> PaneTable:
        return self.query_one(PaneTable)

    def on_mount(self) -> None:
        if self._timer is not None:
            # Textual dispatches on_mount to every class in the MRO; a subclass calling super() would
            # otherwise start a second timer that pause() never reaches (polls behind modals).
            return
        self._timer = self.set_interval(self.interval, self.refresh_data, name=f"poll-{self.pane.value}")
        self.call_after_refresh(self._initial_poll)

    def _initial_poll(self) -> None:
        # Not when the owner paused us before the first frame (the dashboard polls after connecting):
        # a poll started now would import SDKs in a thread and delay the first paint.
        if not self._paused:
            self.refresh_data()

    _paused = False

    def pause(self) -> None:
        self._paused = True
        if self._timer is not None:
            self._timer.pause()

    def resume(self) -> None:
        self._paused = False
        if self._timer is not None:
            self._timer.resume()

    # ------------------------------------------------------------------ polling
    def refresh_data(self) -> None:
        """Start a poll unless one is still running (then say it is slow)."""
        if self._worker is not None and self._worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
            running_for = time.monotonic() - (self.poll_started or time.monotonic())
            if running_for > max(2 * self.interval, 5.0):  # a slow poll is skipped, a stuck one is reported
                self.stale_reason = f"poll still running after {running_for:.0f}s (backend hung?)"
                self._show_status()
            return
        self.poll_started = time.monotonic()
        self._worker = self._poll()

    @work(group="poll", exclusive=False, exit_on_error=False, name="poll")
    async def _poll(self) -> PaneResult:
        return await poll(self.pane, self.drivers)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker:
            return
        event.stop()
        if event.state == WorkerState.SUCCESS:
            result: PaneResult = event.worker.result  # type: ignore[assignment]
            self.apply(result)
            self.post_message(self.Polled(self, result))
        elif event.state == WorkerState.ERROR:
            self.stale_reason = f"poll failed: {event.worker.error!r}"
            self._show_status()

    def apply(self, result: PaneResult) -> None:
        self.result = result
        if result.errors:
            self.stale_reason = "; ".join(result.errors.values())
            if result.rows:
                self.last_ok = result.polled_at
        else:
            self.stale_reason = ""
            self.last_ok = result.polled_at
        with self.app.batch_update():
            self.update_rows(result.rows)
        self._show_status()

    @property
    def is_stale(self) -> bool:
        return bool(self.stale_reason)

    def _show_status(self) -> None:
        """Fresh: a short line in the border. Stale: the error too, on its own line."""
        status = self.query_one(PaneStatus)
        now = datetime.now(UTC)
        if self.stale_reason:
            self.add_class("stale")
            seen = f"last good {age(self.last_ok, now)} ago" if self.last_ok else "never reached"
            label = "UNREACHABLE" if not (self.result and self.result.rows) else "STALE"
            # layout=False: the status is one line high (app.tcss), so no re-layout of the screen.
            status.update(Text(f"{label} · {seen} · {clip(self.stale_reason, 300)}"), layout=False)
            self.border_subtitle = f"{label} · {seen}"
        else:
            self.remove_class("stale")
            n = len(self.result.rows) if self.result else 0
            took = f" · {self.result.duration_ms:.0f} ms" if self.result else ""
            # The status line is hidden while fresh (app.tcss): only the border subtitle changes.
            self.border_subtitle = f"{n} rows · {now:%H:%M:%S}{took}"

    # ------------------------------------------------------------------ rows
    def row_key(self, row: Any) -> str:
        return f"{getattr(row, 'source', '')}:{getattr(row, 'name', '')}"

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
        for row in rows:
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
        self.table.set_rows([self.cells(row) for row in unique] + [blank] * (wanted - len(unique)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """``enter`` on a row drills down: every field of the domain object behind it."""
        row = self.selected_row()
        if row is None:
            return
        event.stop()
        from opsconsole.ui.table_tools import DetailScreen, detail_fields

        self.app.push_screen(DetailScreen(f"{self.title}: {self.row_key(row)}", detail_fields(row)))

    def selected_row(self) -> Any | None:
        if not self.result or not self.table.row_count:
            return None
        shown = self.shown_rows
        index = self.table.cursor_row
        return shown[index] if 0 <= index < len(shown) else None
