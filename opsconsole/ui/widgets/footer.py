"""Textual's Footer, recomposed only when the keys it shows change.

Textual's Footer rebuilds all its key widgets whenever its screen signals a
bindings update, and a screen signals one on every focus change, including a
modal opening over it and closing again. On the dashboard that is some twenty
widgets unmounted, mounted and styled, twice, for each help or picker screen:
most of the time it took to close one. This Footer compares what it would show
(key, label, enabled, tooltip of each shown binding) and keeps its widgets when
nothing changed.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from opsconsole.ui.textual_patches.footer_keys import keys_already_compact


class KeysFooter(Footer):
    """The footer of the console's full screens."""

    _shown: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        """Textual's keys, created with the footer's ``compact`` already set.

        ``FooterKey.compact`` defaults to True and is then bound to the footer's False: each
        key was styled three times on its way to the first frame (mount, ``-compact`` added,
        removed), ~6 ms for the dashboard's ten keys.
        """
        yield from keys_already_compact(super().compose(), self.compact)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        shown = tuple((binding.key, binding.key_display, binding.description, enabled, tooltip)
                      for _node, binding, enabled, tooltip in screen.active_bindings.values() if binding.show)
        if shown == self._shown and self.children:
            return
        self._shown = shown
        super().bindings_changed(screen)
