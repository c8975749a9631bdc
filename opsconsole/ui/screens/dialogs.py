"""Modal screens: help, profile switcher, action picker, confirmations."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option


class HelpScreen(ModalScreen[None]):
    """Keys, generated from the active bindings so it never goes out of date; it scrolls at 80x24."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help-close")]
    DEFAULT_CSS = """
    HelpScreen #help-box { height: 90%; }
    HelpScreen #help-scroll { height: 1fr; }
    HelpScreen .help-foot { dock: bottom; height: auto; }
    """

    def __init__(self, rows: Sequence[tuple[str, str]], profile_text: str) -> None:
        super().__init__()
        self.rows = rows
        self.profile_text = profile_text

    def compose(self) -> ComposeResult:
        width = min(16, max((len(k) for k, _ in self.rows), default=4)) + 2
        keys = Text()
        for key, desc in self.rows:
            if not key:  # a section title (ui/help_rows.py)
                keys.append(f"\n{desc}\n", style="bold underline")
            else:
                keys.append(f"{key:<{width}}", style="bold")
                keys.append(f"{desc}\n")
        with Vertical(id="help-box", classes="modal-box"):
            yield Static(Text("opsconsole — keys", style="bold"))
            yield Static(Text(self.profile_text))
            with VerticalScroll(id="help-scroll"):
                yield Static(keys, id="help-keys")
            yield Static(Text("↑↓ pgup pgdn scroll · esc closes. Panes show STALE/UNREACHABLE with the error when a "
                              "backend fails; they recover by themselves.", style="dim"), classes="help-foot")


class PickScreen(ModalScreen[str | None]):
    """Pick one item from a list (profiles, actions); esc cancels."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, title: str, options: Sequence[tuple[str, str]], *, note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.options = options
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(Text(self.title_text, style="bold"))
            if self.note:
                yield Static(Text(self.note, style="dim"))
            yield OptionList(*(Option(Text(label), id=value) for value, label in self.options), id="pick-list")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no confirmation for a dangerous step; says what it does to data first."""

    BINDINGS = [Binding("escape,n", "answer(False)", "No"), Binding("y", "answer(True)", "Yes")]

    def __init__(self, title: str, effect: str) -> None:
        super().__init__()
        self.title_text = title
        self.effect = effect

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(Text(self.title_text, style="bold"))
            yield Static(Text(self.effect))
            yield Static(Text("Run it? y = yes, n / esc = no", style="dim"))
            yield Button("Run (y)", id="yes", variant="warning")
            yield Button("Cancel (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class TypedConfirmScreen(ModalScreen[bool]):
    """Irreversible step: the target's name must be typed exactly."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, effect: str, target: str) -> None:
        super().__init__()
        self.title_text = title
        self.effect = effect
        self.target = target

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(Text(self.title_text + " — IRREVERSIBLE", style="bold"))
            yield Static(Text(self.effect))
            yield Static(Text(f"Type {self.target!r} and press enter to run it; esc cancels."))
            yield Input(placeholder=self.target, id="typed")
            yield Static("", id="typed-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.target:
            self.dismiss(True)
        else:
            self.query_one("#typed-error", Static).update(Text(f"does not match {self.target!r}", style="bold"))

    def action_cancel(self) -> None:
        self.dismiss(False)


class ParamsScreen(ModalScreen["dict[str, str] | None"]):
    """Ask for an action's parameters, prefilled from the row under the cursor."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, effect: str, params: Sequence[str], defaults: dict[str, str]) -> None:
        super().__init__()
        self.title_text = title
        self.effect = effect
        self.params = list(params)
        self.defaults = defaults

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(Text(self.title_text, style="bold"))
            yield Static(Text(self.effect))
            for name in self.params:
                yield Static(Text(name, style="dim"))
                yield Input(value=self.defaults.get(name, ""), placeholder=name, id=f"param-{name}")
            yield Static(Text("enter on the last field continues; esc cancels", style="dim"))
            yield Static("", id="params-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index < len(inputs) - 1:
            inputs[index + 1].focus()
            return
        values = {name: self.query_one(f"#param-{name}", Input).value.strip() for name in self.params}
        missing = [name for name, value in values.items() if not value]
        if missing:
            self.query_one("#params-error", Static).update(Text(f"missing: {', '.join(missing)}", style="bold"))
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)
