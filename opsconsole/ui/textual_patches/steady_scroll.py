"""Scroll views that grow without re-laying-out the screen.

Textual declares ``Widget.virtual_size`` with ``layout=True``: a widget whose
*content* grows may need a bigger box. The dashboard's tables and activity log
get their box from the stylesheet (``1fr``), never from their content, yet every
new log line or alert row re-laid-out the whole screen and repainted all of it:
about 14 ms plus a full repaint, on every poll that fired an alert.

:class:`SteadyScroll` redeclares ``virtual_size`` without ``layout`` and updates
the scrollbars itself (Textual's ``_scroll_update``, what a layout pass would
have called). When a scrollbar appears or disappears the content box does
change, and Textual still lays out then (``show_vertical_scrollbar`` has
``layout=True``). Only for widgets whose height is not ``auto``.
"""

from __future__ import annotations

from typing import Any

from textual.geometry import Size
from textual.reactive import Reactive


class SteadyScroll:
    """Mixin for fixed-size scroll views: list it before the Textual widget class.

    It is deliberately not a Widget: Textual follows the first DOM base for CSS
    and component classes, which must stay the wrapped widget (DataTable, Log).
    """

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self: Any, size: Size) -> None:
        if self.is_mounted and self.container_size:
            self._scroll_update(size)
