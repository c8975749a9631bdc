"""Incident mode in the TUI: open with a severity (P0-P3), watch the timeline, export the review, close.

The :class:`~opsconsole.monitor.incidents.Incident` saves itself after every entry, so
the screens hold no state worth losing: they read the incident and call its
methods. While an incident is open the app feeds it every alert change and
every action (see :mod:`opsconsole.ui.operations`).
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from opsconsole.monitor.incidents import SEVERITIES, Incident


class IncidentOpenScreen(ModalScreen[tuple[str, str] | None]):
    """Title and severity of a new incident; picking a severity opens it."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.default_title = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(Text("Open an incident", style="bold"))
            yield Input(value=self.default_title, placeholder="what is happening", id="incident-title")
            yield Static(Text("Severity (enter opens the incident; esc cancels):", style="dim"))
            yield OptionList(*(Option(Text(f"{sev}  {what}"), id=sev) for sev, what in SEVERITIES.items()),
                             id="incident-severity")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(Input.Submitted, "#incident-title")
    def _to_severity(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected, "#incident-severity")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        title = self.query_one("#incident-title", Input).value.strip() or self.default_title
        self.dismiss((str(event.option.id), title))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class IncidentScreen(ModalScreen[str | None]):
    """The open incident: its timeline, ``e`` exports the review, ``x`` closes it, esc goes back."""

    BINDINGS = [Binding("escape", "dismiss_none", "Back"), Binding("e", "choose('export')", "Export review"),
                Binding("x", "choose('close')", "Close incident")]
    DEFAULT_CSS = """
    IncidentScreen #incident-timeline { height: auto; max-height: 24; }
    """

    def __init__(self, incident: Incident) -> None:
        super().__init__()
        self.incident = incident

    def compose(self) -> ComposeResult:
        inc = self.incident
        with Vertical(classes="modal-box"):
            yield Static(Text(f"INCIDENT {inc.id}  {inc.severity}  {inc.title}", style="bold reverse"))
            yield Static(Text(f"opened {inc.opened_at} · profile {inc.profile} · {inc.path}", style="dim"))
            with VerticalScroll(id="incident-timeline"):
                yield Static(self.timeline_text(), id="incident-entries")
            yield Static(Text("e: export the post-incident review · x: close the incident · esc: back",
                              style="dim"))

    def timeline_text(self) -> Text:
        text = Text()
        for entry in self.incident.timeline[-200:]:
            style = {"alert": "bold", "resolved": "green", "action": "cyan"}.get(entry.kind, "")
            text.append(f"{entry.at[11:19]} {entry.kind:8} {entry.text}\n", style=style)
        return text

    def action_choose(self, what: str) -> None:
        self.dismiss(what)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
