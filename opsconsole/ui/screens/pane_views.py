"""``/``, ``v`` and ``s`` on the dashboard: the focused pane, whichever it is, as a full-screen table.

Table panes show their rows (Queries: the drivers' whole history); Alerts its
alerts; Activity its lines. ``enter``/``d`` in any of them opens the whole record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text

from opsconsole.ui.format import SEVERITY_NAME, age
from opsconsole.ui.screens.table import LazyRows, TableScreen

HISTORY_LIMIT = 100_000


def plain_rows(cells_of: Callable[[Any], Sequence[Any]], objects: Sequence[Any]) -> list[tuple[str, ...]]:
    """Pane cells (rich Text or str) as plain strings, for the virtual table."""
    return [tuple(c.plain if isinstance(c, Text) else str(c) for c in cells_of(obj)) for obj in objects]


def focused_container(screen: Any) -> Any | None:
    """The pane (or the Activity log) holding the focus, or None when nothing is focused."""
    widget = screen.focused
    while widget is not None and not widget.has_class("dashboard-pane") and widget.id != "activity":
        widget = widget.parent
    return widget


def focused_pane(screen: Any) -> Any | None:
    """The focused data pane (one with cells), or the first one when the focus is elsewhere."""
    widget = focused_container(screen)
    if widget is not None and hasattr(widget, "cells"):
        return widget
    panes = getattr(screen, "panes", [])
    return panes[0] if panes else None


ALERT_COLUMNS = (("sev", "Sev", 5), ("rule", "Alert", None), ("subject", "Subject", None),
                 ("message", "Message", None), ("runbook", "Runbook", None), ("since", "Since", 6),
                 ("state", "State", 8))
ACTIVITY_COLUMNS = (("time", "Time", 8), ("message", "Message", None))


def _alerts_table(pane: Any, **options: Any) -> TableScreen:
    rows = [(SEVERITY_NAME[t.alert.severity], t.alert.rule, t.alert.subject, t.alert.message,
             t.alert.runbook or "—", age(t.first_seen), t.state.value) for t in pane.tracked]
    return TableScreen("Alerts", ALERT_COLUMNS, rows, [t.alert for t in pane.tracked], **options)


def _activity_table(log: Any, **options: Any) -> TableScreen:
    rows = [tuple(line.split(" ", 1)) if " " in line else ("", line) for line in log.lines if line.strip()]
    return TableScreen("Activity", ACTIVITY_COLUMNS, rows, None, **options)


async def open_pane_table(screen: Any, *, filter_first: bool, sort_first: bool = False) -> None:
    """Open the focused pane's rows full screen; for Queries, the drivers' whole history (up to 100k)."""
    options: dict[str, Any] = {"filter_first": filter_first, "sort_column": 0 if sort_first else None}
    container = focused_container(screen)
    if container is not None and container.id == "pane-alerts":
        screen.app.push_screen(_alerts_table(container, **options))
        return
    if container is not None and container.id == "activity":
        screen.app.push_screen(_activity_table(container, **options))
        return
    pane = focused_pane(screen)
    if pane is None:
        return
    objects: list[Any] = list(pane.shown_rows) if pane.result else []
    title = pane.title
    if pane.pane.value == "queries":
        from opsconsole.drivers.base import describe

        history: list[Any] = []
        sources = [d for d in screen.drivers if pane.pane in d.panes]
        for driver in sources:
            try:
                history += await driver.query_history(limit=HISTORY_LIMIT)
            except Exception as exc:
                screen.app.notify(f"{driver.name}: query history: {describe(exc)}", severity="warning")
        if history:
            objects = sorted(history, key=lambda q: q.started_at, reverse=True)
            title = f"Query history ({len(sources)} source{'s' if len(sources) > 1 else ''})"
    rows = LazyRows(objects, pane.cells, [key for key, _label, _width in pane.columns])
    screen.app.push_screen(TableScreen(title, pane.columns, rows, objects, **options))
