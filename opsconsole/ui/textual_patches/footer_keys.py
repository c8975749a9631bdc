"""Footer keys created with their footer's ``compact`` value, so each is styled once, not three times.

Textual's ``Footer.compose`` creates a ``FooterKey`` per binding with
``compact`` at its class default (True) and data-binds it to the footer's
(False): on mount the watcher adds ``-compact`` and the binding removes it, a
style pass each. For the dashboard's ten keys that was ~6 ms on the way to the
first frame. Setting the value before the key is mounted leaves nothing to undo.

Relies on the private ``textual.widgets._footer.FooterKey``, its ``compact``
reactive and the ``-command-palette`` class of the one key Textual leaves unbound
(and compact); ``tests/test_textual_patches.py`` fails when they move.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from textual.widget import Widget
from textual.widgets._footer import FooterKey


def keys_already_compact(widgets: Iterable[Widget], compact: bool) -> Iterator[Widget]:
    """``widgets`` as composed, each FooterKey's ``compact`` set without running its watcher."""
    for widget in widgets:
        # The command palette's key is not bound to the footer: it stays compact, as Textual draws it.
        if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
            widget.set_reactive(FooterKey.compact, compact)
        yield widget
