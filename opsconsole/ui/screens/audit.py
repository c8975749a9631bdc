"""Browse the audit log: newest first, filtered by any text (procedure, step, user, outcome...).

The file is read in a thread (it can hold years of records); only the last
:data:`MAX_ROWS` records are shown, which covers any on-call shift.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from opsconsole.audit import AuditEvent, AuditLog

MAX_ROWS = 5000
OUTCOME_STYLE = {"ok": "green", "failed": "bold red", "timed-out": "bold red", "refused": "bold yellow",
                 "cancelled": "yellow", "aborted": "bold red"}


def haystack(event: AuditEvent) -> str:
    """What the filter searches: every field a person would type."""
    params = " ".join(f"{k}={v}" for k, v in event.params.items())
    return " ".join((event.ts, event.phase, event.procedure, event.profile, event.who, event.host, event.step,
                     event.ref, event.driver, event.target, event.outcome, event.message, params)).lower()


def filter_events(events: Sequence[AuditEvent], needle: str) -> list[AuditEvent]:
    """Newest first; every whitespace-separated word of ``needle`` must occur."""
    words = needle.lower().split()
    return [e for e in reversed(events) if all(w in haystack(e) for w in words)]


class AuditScreen(ModalScreen[None]):
    """The audit log as a table; type to filter, esc closes, r reloads."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close"), Binding("ctrl+r", "reload", "Reload")]
    DEFAULT_CSS = """
    AuditScreen .modal-box { max-width: 160; height: 90%; }
    AuditScreen #audit-table { height: 1fr; }
    """

    def __init__(self, log: AuditLog | None = None) -> None:
        super().__init__()
        self.audit_log = log or AuditLog()
        self.events: list[AuditEvent] = []
        self.shown: list[AuditEvent] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(Text(f"Audit log  {self.audit_log.path}", style="bold"), id="audit-title")
            yield Input(placeholder="filter (e.g. compact failed)", id="audit-filter")
            table: DataTable[Text] = DataTable(cursor_type="row", id="audit-table")
            for label, width in (("Time", 19), ("Who", 14), ("Profile", 10), ("Procedure", 22), ("Step", 16),
                                 ("Phase", 9), ("Outcome", 9), ("Message", None)):
                table.add_column(label, key=label.lower(), width=width)
            yield table
            yield Static(Text("type to filter · ctrl+r reload · esc close", style="dim"))

    def on_mount(self) -> None:
        self.action_reload()

    @work(group="audit-read", exclusive=True, exit_on_error=False)
    async def action_reload(self) -> None:
        events = await asyncio.to_thread(self.audit_log.read, MAX_ROWS)
        self.events = events
        self.show(self.query_one("#audit-filter", Input).value)

    @on(Input.Changed, "#audit-filter")
    def _filter(self, event: Input.Changed) -> None:
        self.show(event.value)

    def show(self, needle: str) -> None:
        self.shown = filter_events(self.events, needle)
        table = self.query_one(DataTable)
        table.clear()
        for i, e in enumerate(self.shown):
            outcome = e.outcome or ("dry-run" if e.dry_run else "")
            table.add_row(Text(e.ts[:19].replace("T", " ")), Text(e.who), Text(e.profile), Text(e.procedure),
                          Text(e.step or ("(run)" if e.phase.startswith("run") else "")), Text(e.phase),
                          Text(outcome, style=OUTCOME_STYLE.get(outcome, "")),
                          Text(e.message or e.ref), key=str(i))
        self.query_one("#audit-title", Static).update(
            Text(f"Audit log  {len(self.shown)} of {len(self.events)} records  {self.audit_log.path}", style="bold"))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
