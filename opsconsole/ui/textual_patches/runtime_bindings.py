"""Bind a key on a screen at run time: a profile's ``keys:`` launch its runbooks from the dashboard.

Textual declares bindings on the class (``BINDINGS``) and keeps the live map in the
private ``Screen._bindings``; binding a profile's keys per instance needs that map.
``tests/test_textual_patches.py`` fails when it moves.
"""

from __future__ import annotations

from textual.screen import Screen


def bind_key(screen: Screen[object], key: str, action: str, description: str) -> None:
    """Bind ``key`` to ``action`` on this screen instance only (shown in the footer and help)."""
    screen._bindings.bind(key, action, description)
