"""One record, whole: every field wrapped (a long SQL statement is read, not cut), with its history.

``enter`` or ``d`` on a row of any pane opens it. Each field is one entry of an
OptionList, so the cursor moves field by field and ``c`` copies the one under it;
the value wraps to the screen's width instead of running off its edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

Samples = Sequence[tuple[float, float]]


def copy(app: Any, text: str, what: str) -> None:
    """Copy through OSC 52 (works over SSH and in tmux with set-clipboard on) and say what was copied."""
    app.copy_to_clipboard(text)
    app.notify(f"copied {what} ({len(text)} chars) to the clipboard", timeout=3)


class DetailScreen(ModalScreen[None]):
    """Every field of one row's domain object, wrapped; ``c`` copies the field under the cursor, ``y`` all of it."""

    DEFAULT_CSS = """
    DetailScreen #detail-box { height: 90%; }
    DetailScreen #detail-fields { height: 1fr; border: none; padding: 0; }
    DetailScreen #detail-chart { height: 12; display: none; }
    DetailScreen #detail-chart.-shown { display: block; }
    DetailScreen .detail-hint { height: 1; }
    """
    BINDINGS = [
        Binding("escape,q", "dismiss", "Close", id="detail-close"),
        Binding("c", "copy_field", "Copy value", id="detail-copy-cell"),
        Binding("y", "copy_all", "Copy all", id="detail-copy-row"),
    ]

    def __init__(self, title: str, fields: Sequence[tuple[str, str]],
                 history: Sequence[tuple[str, Samples]] = ()) -> None:
        super().__init__()
        self.title_text = title
        self.fields = list(fields)
        self.history = [(label, list(samples)) for label, samples in history if samples]
        """(label, [(timestamp, value)]) series drawn as a chart (NaN samples are gaps)."""

    def compose(self) -> ComposeResult:
        width = min(22, max((len(k) for k, _v in self.fields), default=8))
        options = []
        for key, value in self.fields:
            text = Text(f"{key:<{width}} ", style="bold")
            text.append(value if value else "—")
            options.append(Option(text))
        with Vertical(classes="modal-box", id="detail-box"):
            yield Static(Text(self.title_text, style="bold"), classes="detail-hint")
            yield OptionList(*options, id="detail-fields")
            if self.history:
                from opsconsole.ui.widgets.history_chart import history_chart

                yield history_chart(self.history, id="detail-chart")
            yield Static(Text("↑↓ field · c copy value · y copy all · esc close", style="dim"), classes="detail-hint")

    def on_mount(self) -> None:
        fields = self.query_one(OptionList)
        fields.highlighted = 0 if self.fields else None
        fields.focus()
        for chart in self.query("#detail-chart"):
            chart.add_class("-shown")

    def action_copy_field(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is not None and 0 <= index < len(self.fields):
            key, value = self.fields[index]
            copy(self.app, value, key)

    def action_copy_all(self) -> None:
        copy(self.app, "\n".join(f"{k}\t{v}" for k, v in self.fields), "all fields")
