"""What ``?`` lists beyond the dashboard's own keys: the focused pane's keys and those of the
views it opens (table view, detail view), with the keys the profile's keymap gives them now.

Built from :data:`opsconsole.keymap.KEY_BINDINGS` (the one list config validation uses too),
so a remapped key shows as remapped and a new binding cannot be forgotten here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsconsole.keymap import BINDING_IDS

Row = tuple[str, str]
HEADER = ""
"""A row whose key is empty is a section title."""


def _keys(keymap: dict[str, str], binding_id: str) -> str:
    keys = keymap.get(binding_id) or BINDING_IDS[binding_id].keys
    names = {"slash": "/", "question_mark": "?", "escape": "esc", "colon": ":"}
    return ", ".join(names.get(k, k) for k in keys.split(","))


def pane_rows(container: Any, keymap: dict[str, str], can_stream_logs: Callable[[Any], bool]) -> list[Row]:
    """Keys of the focused pane (or of the first pane when nothing is focused)."""
    name = str(getattr(container, "border_title", "") or "Services").split("] ")[-1]
    if getattr(container, "id", "") == "activity":
        enter = "every line whole, wrapped"
    elif getattr(container, "id", "") == "pane-alerts":
        enter = "the whole alert; enter again opens its runbook (parameters pre-filled from the alert)"
    else:
        enter = "the row's full record, wrapped, with its history chart"
    rows: list[Row] = [(HEADER, f"focused pane: {name}"),
                       ("enter", enter),
                       (_keys(keymap, "detail"), enter),
                       (_keys(keymap, "zoom"), "zoom this pane to the whole screen (esc restores)"),
                       (_keys(keymap, "filter"), f"{name} as a table, filter box open"),
                       (_keys(keymap, "table-view"), f"{name} as a full-screen table"),
                       (_keys(keymap, "sort"), f"{name} as a table, sorted by its first column"),
                       ("↑ ↓ pgup pgdn", "move the cursor")]
    if can_stream_logs(container):
        rows.append((_keys(keymap, "logs"), "tail the logs of the selected service"))
    return rows


def view_rows(keymap: dict[str, str]) -> list[Row]:
    """The table view and the detail view the pane opens."""
    rows: list[Row] = [(HEADER, "table view (/ v s)")]
    rows += [(_keys(keymap, i), BINDING_IDS[i].description) for i in
             ("table-filter", "table-sort", "table-copy-cell", "table-copy-row", "table-close")]
    rows.append(("enter", "the row's full record"))
    rows.append((HEADER, "detail view (enter d)"))
    rows += [(_keys(keymap, i), BINDING_IDS[i].description) for i in
             ("detail-copy-cell", "detail-copy-row", "detail-close")]
    rows.append((HEADER, "everywhere"))
    rows += [(":", "command line: tables, services, alerts, profile NAME, runbook ID (tab completes)"),
             ("esc", "back one level (zoom, command line, filter, dialog)")]
    return rows
