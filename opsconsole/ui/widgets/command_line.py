"""``:`` command line, like k9s and vim: ``:tables``, ``:profile prod``, ``:runbook compact``.

Textual's own ``Input`` with a ``SuggestFromList`` suggester: the completion shows
greyed after the cursor, ``tab`` (or →) takes it, ``enter`` runs, ``esc`` closes
and gives the focus back to where it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.binding import Binding
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Input

PANE_WORDS = ("services", "queries", "tables", "lag", "jobs", "alerts", "activity")
WORDS = ("help", "quit")


class CommandLine(Input):
    """A one-line command prompt docked at the bottom of the dashboard, hidden until ``:``."""

    DEFAULT_CSS = """
    CommandLine { dock: bottom; display: none; height: 1; border: none; padding: 0 1; }
    CommandLine.-open { display: block; }
    """
    BINDINGS = [Binding("escape", "close", "Close", show=False), Binding("tab", "complete", "Complete", show=False)]

    def __init__(self) -> None:
        super().__init__(placeholder=": tables · profile NAME · runbook ID · help   (tab completes, esc closes)",
                         id="command-line")
        self._return_to: Widget | None = None

    def open(self, candidates: Iterable[str]) -> None:
        self._return_to = self.screen.focused
        self.suggester = SuggestFromList(sorted(set(candidates)), case_sensitive=False)
        self.value = ""
        self.add_class("-open")
        self.focus()

    def offer(self, candidates: Iterable[str]) -> None:
        """More completions (the runbook library loads in a thread after the line opens)."""
        known = list(getattr(self.suggester, "_suggestions", []))
        self.suggester = SuggestFromList(sorted(set(known) | set(candidates)), case_sensitive=False)

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def action_complete(self) -> None:
        self.action_cursor_right()  # at the end of the line: takes the suggestion

    def action_close(self) -> None:
        self.value = ""
        self.remove_class("-open")
        target = self._return_to
        self._return_to = None
        if target is not None and target.is_attached:
            target.focus()
        else:
            self.screen.set_focus(None)


def parse(text: str) -> tuple[str, str]:
    """``"profile  prod "`` -> ``("profile", "prod")``; a leading ``:`` is allowed."""
    word, _, rest = text.strip().lstrip(":").strip().partition(" ")
    return word.lower(), rest.strip()


def candidates(panes: Iterable[str], profiles: Iterable[str], runbooks: Iterable[str] = ()) -> list[str]:
    return [*panes, *WORDS, "profile", "runbook", *(f"profile {p}" for p in profiles),
            *(f"runbook {r}" for r in runbooks)]


def unknown(word: str, app: Any) -> None:
    app.notify(f"unknown command {word!r}: try tables, services, alerts, profile NAME, runbook ID, help, quit",
               title="command", severity="error", timeout=6)


def match_runbook(arg: str, ids: Iterable[str]) -> tuple[str | None, list[str]]:
    """``compact`` -> ``demo-compaction`` when it is the only id containing it; else (None, the candidates)."""
    ids = list(ids)
    if arg in ids:
        return arg, [arg]
    hits = [i for i in ids if arg.lower() in i.lower()]
    return (hits[0] if len(hits) == 1 else None), hits


async def open_runbook(app: Any, arg: str) -> None:
    """``:runbook [ID]``: the picker without an id, the runbook for a unique (partial) id."""
    if not arg:
        app.action_runbooks()
        return

    library = await app.runbook_library()
    found, hits = match_runbook(arg, [rb.id for rb in app.offered_runbooks(library)])
    if found is not None:
        app.action_run_runbook(found)
    elif hits:
        app.notify(f"{arg!r} matches {', '.join(hits[:6])}: be more precise", title="command", severity="warning")
    else:
        app.notify(f"no runbook this profile can run matches {arg!r}", title="command", severity="error")
