"""Show the last session's rows (the monitor's snapshot cache) in the panes that have no live data yet.

Called right after the dashboard's first frame: the frame itself stays as fast
as it was, and the cached rows appear a few milliseconds later, dimmed, each pane
saying how old they are, until that pane's first poll replaces them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsconsole.ui.screens.dashboard import DashboardScreen


def show_cached_rows(screen: DashboardScreen) -> None:
    from opsconsole.monitor.snapshot_cache import load_cached

    cached = load_cached(screen.profile, screen.monitor.drivers)
    for widget in screen.panes:
        found = cached.get(widget.pane)
        if found is not None and found.rows and widget.last_ok is None:  # a live poll already landed: keep it
            widget.show_cached(found.rows, found.last_ok)
