"""Remappable keys: every binding id the console knows, its default keys, and the ``keymap:`` validator.

Why a module without Textual: ``config.py`` validates a profile's ``keymap:``
(binding id -> key or keys) strictly, with file, line and key, before any
screen exists, and the core must not import the TUI. The UI uses the same
table for the help screen and applies the validated mapping with
``App.set_keymap``; a test checks that every ``Binding(id=...)`` in the UI is
listed here and the other way round, so this list cannot drift.

Scopes say which bindings are active together (the app's and the dashboard's
on the dashboard; the table view's and the table cursor's in the table view,
...): a remapped key that another binding of the same screen already uses is
a configuration error, not a silent clash.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opsconsole.errors import ConfigError


@dataclass(frozen=True)
class KeyBinding:
    """One remappable binding: its id (the ``keymap:`` key), where it is active, default keys, what it does."""

    id: str
    scope: str
    keys: str
    """Default keys, Textual names, comma-separated."""
    description: str


def _nav(prefix: str) -> list[KeyBinding]:
    return [KeyBinding(f"{prefix}-up", "cursor", "up,k", "row up"),
            KeyBinding(f"{prefix}-down", "cursor", "down,j", "row down"),
            KeyBinding(f"{prefix}-page-up", "cursor", "pageup", "page up"),
            KeyBinding(f"{prefix}-page-down", "cursor", "pagedown", "page down"),
            KeyBinding(f"{prefix}-top", "cursor", "home,g", "first row"),
            KeyBinding(f"{prefix}-bottom", "cursor", "end,G", "last row"),
            KeyBinding(f"{prefix}-left", "cursor", "left,h", "column left"),
            KeyBinding(f"{prefix}-right", "cursor", "right,l", "column right")]


KEY_BINDINGS: tuple[KeyBinding, ...] = (
    KeyBinding("quit-ctrl-c", "app", "ctrl+c", "quit (everywhere)"),
    KeyBinding("refresh", "dashboard", "r", "refresh every pane now"),
    KeyBinding("zoom", "dashboard", "z", "zoom the focused pane"),
    KeyBinding("back", "dashboard", "escape", "back one level (restore a zoomed pane)"),
    KeyBinding("actions", "dashboard", "a", "run a driver action"),
    KeyBinding("profile", "dashboard", "p", "switch profile"),
    KeyBinding("help", "dashboard", "question_mark", "this help"),
    KeyBinding("quit", "dashboard", "q", "quit"),
    KeyBinding("runbooks", "dashboard", "R", "runbooks"),
    KeyBinding("audit-log", "dashboard", "L", "audit log"),
    KeyBinding("incident", "dashboard", "I", "incident mode"),
    KeyBinding("diagnostics", "dashboard", "D", "write a diagnostics bundle"),
    *(KeyBinding(f"pane-{i}", "dashboard", str(i), f"focus pane {i}") for i in range(1, 8)),
    KeyBinding("filter", "dashboard", "slash", "filter the focused pane (full-screen table)"),
    KeyBinding("table-view", "dashboard", "v", "focused pane as a full-screen table"),
    KeyBinding("sort", "dashboard", "s", "focused pane as a full-screen table, sorted (s again: next order)"),
    KeyBinding("detail", "dashboard", "d", "full record of the row under the cursor, wrapped, with history"),
    KeyBinding("logs", "dashboard", "g", "tail the logs of the selected service (docker)"),
    KeyBinding("command", "dashboard", "colon", "command line (:tables, :profile NAME, :runbook ID)"),
    KeyBinding("table-close", "table", "escape", "back (clears the filter first)"),
    KeyBinding("table-filter", "table", "slash", "filter rows"),
    KeyBinding("table-sort", "table", "s", "sort by the column under the cursor (again: reverse)"),
    KeyBinding("table-copy-cell", "table", "c", "copy the cell (OSC 52)"),
    KeyBinding("table-copy-row", "table", "y", "copy the row (OSC 52)"),
    *_nav("table"),
    KeyBinding("detail-close", "detail", "escape,q", "close the detail view"),
    KeyBinding("detail-copy-cell", "detail", "c", "copy the field's value"),
    KeyBinding("detail-copy-row", "detail", "y", "copy all fields"),
    KeyBinding("logs-close", "logs", "escape,q", "close the logs"),
    KeyBinding("logs-follow", "logs", "f", "follow the logs"),
    KeyBinding("logs-filter", "logs", "slash", "filter the logs"),
    KeyBinding("logs-reload", "logs", "r", "reload the logs"),
    KeyBinding("logs-end", "logs", "end", "jump to the end"),
    KeyBinding("help-close", "help", "escape,q,question_mark", "close the help"),
)
BINDING_IDS: Mapping[str, KeyBinding] = {b.id: b for b in KEY_BINDINGS}

SCREENS: Mapping[str, tuple[str, ...]] = {
    "dashboard": ("app", "dashboard"),
    "table view": ("app", "table", "cursor"),
    "detail view": ("app", "detail", "cursor"),
    "logs": ("app", "logs"),
    "help": ("app", "help"),
}
"""Scopes active together on one screen: a key may mean one thing per screen."""

RESERVED: Mapping[str, frozenset[str]] = {
    "dashboard": frozenset({"up", "down", "left", "right", "pageup", "pagedown", "home", "end", "enter", "tab",
                            "shift+tab", "ctrl+p"}),
}
"""Keys the focused pane table, focus cycling and the command palette already use on that screen."""

MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
NAMED_KEYS = frozenset({"escape", "enter", "tab", "space", "backspace", "delete", "insert", "home", "end",
                        "pageup", "pagedown", "up", "down", "left", "right"})
_FUNCTION_KEY = re.compile(r"^f([1-9]|1[0-9]|2[0-4])$")
_REPLACEMENTS = {"solidus": "slash", "reverse_solidus": "backslash", "commercial_at": "at",
                 "hyphen_minus": "minus", "plus_sign": "plus", "low_line": "underscore"}


def normalize_key(key: str) -> str:
    """A key as Textual names it (``?`` -> ``question_mark``, ``/`` -> ``slash``), or ValueError why not."""
    key = key.strip()
    if not key:
        raise ValueError("empty key")
    *mods, base = key.split("+") if len(key) > 1 else [key]
    for mod in mods:
        if mod not in MODIFIERS:
            raise ValueError(f"unknown modifier {mod!r} in {key!r} (modifiers: {', '.join(MODIFIERS)})")
    if len(base) == 1:
        if not base.isprintable() or base.isspace():
            raise ValueError(f"unprintable key {key!r}")
        if not base.isalnum():
            base = _REPLACEMENTS.get(name := unicodedata.name(base, base).lower().replace("-", "_")
                                     .replace(" ", "_"), name)
    elif not (base in NAMED_KEYS or _FUNCTION_KEY.match(base) or _is_character_name(base)):
        raise ValueError(f"unknown key {base!r} in {key!r} (a single character, a name such as escape, enter, "
                         f"pageup, f5, question_mark, slash, optionally with ctrl+/shift+/alt+)")
    return "+".join([*mods, base])


def _is_character_name(name: str) -> bool:
    inverse = {v: k for k, v in _REPLACEMENTS.items()}
    try:
        char = unicodedata.lookup(inverse.get(name, name).replace("_", " "))
    except KeyError:
        return False
    return ord(char) < 256 and not char.isalnum()  # keys on a keyboard, not "banana" (an emoji's name)


def key_list(keys: str) -> list[str]:
    return [normalize_key(k) for k in keys.split(",")]


def parse_keymap(raw: Any, *, path: str, where: str, line: Callable[[Any, str], int | None],
                 runbook_keys: Mapping[str, str] | None = None) -> dict[str, str]:
    """Validate a profile's ``keymap:`` into binding id -> normalised comma-separated keys.

    Errors name the file, the line and the entry: an unknown binding id (with the
    known ones), a key Textual cannot bind, or a key another binding of the same
    screen keeps (remap that one too), or one the profile's ``keys:`` gives a runbook.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("keymap must be a mapping of binding id -> key (or list of keys)", path=path,
                          key=where)
    keymap: dict[str, str] = {}
    for binding_id, value in raw.items():
        key = f"{where}.{binding_id}"
        if binding_id not in BINDING_IDS:
            raise ConfigError(f"unknown binding id {binding_id!r} (known: {', '.join(BINDING_IDS)})",
                              path=path, line=line(raw, binding_id), key=key)
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise ConfigError(f"expected a key or a list of keys, got {value!r}", path=path,
                              line=line(raw, binding_id), key=key)
        try:
            keys = [k for v in values for k in key_list(v)]
        except ValueError as exc:
            raise ConfigError(str(exc), path=path, line=line(raw, binding_id), key=key) from None
        keymap[binding_id] = ",".join(dict.fromkeys(keys))
    _check_clashes(keymap, path=path, where=where, line=lambda b: line(raw, b), runbook_keys=runbook_keys or {})
    return keymap


def effective_keys(keymap: Mapping[str, str]) -> dict[str, list[str]]:
    """Binding id -> the keys it answers to under ``keymap`` (defaults for the rest)."""
    return {b.id: (keymap[b.id].split(",") if b.id in keymap else key_list(b.keys)) for b in KEY_BINDINGS}


def _check_clashes(keymap: Mapping[str, str], *, path: str, where: str, line: Callable[[str], int | None],
                   runbook_keys: Mapping[str, str]) -> None:
    keys = effective_keys(keymap)
    runbook = {}
    for k, runbook_id in runbook_keys.items():
        try:
            runbook[normalize_key(str(k))] = runbook_id
        except ValueError:
            continue
    for screen, scopes in SCREENS.items():
        owner: dict[str, str] = {}
        for b in KEY_BINDINGS:
            if b.scope not in scopes:
                continue
            for k in keys[b.id]:
                other = owner.get(k)
                if other is not None and (b.id in keymap or other in keymap):
                    culprit = b.id if b.id in keymap else other
                    holder = other if culprit == b.id else b.id
                    raise ConfigError(f"key {k!r} is already bound to {holder!r} on the {screen}; remap "
                                      f"{holder!r} too or choose another key", path=path, line=line(culprit),
                                      key=f"{where}.{culprit}")
                owner[k] = b.id
                if b.id in keymap and k in RESERVED.get(screen, ()):
                    raise ConfigError(f"key {k!r} is reserved on the {screen} (table cursor, focus, command "
                                      f"palette)", path=path, line=line(b.id), key=f"{where}.{b.id}")
                if b.id in keymap and screen == "dashboard" and k in runbook:
                    raise ConfigError(f"key {k!r} is bound to runbook {runbook[k]!r} in this profile's keys:",
                                      path=path, line=line(b.id), key=f"{where}.{b.id}")
