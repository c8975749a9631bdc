"""One alert, whole: its text wrapped, where it comes from, when it was seen, and what answers it."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from opsconsole.monitor import AlertState, TrackedAlert
from opsconsole.ui.format import age


class AlertDetailScreen(ModalScreen[bool]):
    """``enter`` on an alert: everything about it; ``enter``/``r`` again opens its runbook (dismisses True)."""

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="alert-close"),
        Binding("enter,r", "runbook", "Runbook", id="alert-runbook"),
    ]

    def __init__(self, tracked: TrackedAlert) -> None:
        super().__init__()
        self.tracked = tracked

    def describe(self) -> Text:
        t = self.tracked
        a = t.alert
        now = datetime.now(UTC)
        text = Text()
        text.append(f"{a.severity.name} {a.rule} on {a.subject}\n", style="bold")
        text.append(f"{a.message}\n\n")
        rows = [("state", t.state.value + (f" — source lost: {t.reason}" if t.state is AlertState.UNKNOWN else "")),
                ("source", a.source or "—"),
                ("first seen", f"{t.first_seen.astimezone():%Y-%m-%d %H:%M:%S} ({age(t.first_seen, now)} ago)"),
                ("last seen", f"{t.last_seen.astimezone():%Y-%m-%d %H:%M:%S} ({age(t.last_seen, now)} ago)"),
                ("runbook", a.runbook or "none linked (the library is searched for one answering the rule)")]
        for label, value in rows:
            text.append(f"{label:>11}  ", style="dim")
            text.append(f"{value}\n")
        return text

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="alert-box"):
            with VerticalScroll():
                yield Static(self.describe(), id="alert-text")
            yield Static(Text("enter / r: open its runbook · esc: back", style="dim"))

    def action_close(self) -> None:
        self.dismiss(False)

    def action_runbook(self) -> None:
        self.dismiss(True)
