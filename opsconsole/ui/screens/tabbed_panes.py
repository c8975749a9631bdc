"""The dashboard's panes as tabs below 100 columns: when the tab strip exists, what it shows.

A mixin of :class:`~opsconsole.ui.screens.dashboard.DashboardScreen`: the strip
(``widgets/pane_tabs.py``) is built on the first resize narrower than
:data:`TABS_BELOW_COLUMNS` (a wide start-up never builds it); the screen's
``tabbed`` class hides every data pane but the chosen one (``app.tcss``), Alerts
stays; a number key or ``:pane`` reveals the pane's tab before focusing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from opsconsole.model import Health

if TYPE_CHECKING:
    from textual.widgets import Tabs

    from opsconsole.ui.widgets.pane_tabs import PaneTabs

TABS_BELOW_COLUMNS = 100
"""Narrower than this, two columns of panes cut every message: one pane at a time, as tabs."""


class TabbedPanes:
    """Tabs for the data panes of a narrow screen (mixed into the dashboard)."""

    numbered_panes: dict[int, tuple[str, str]]
    tab_marks: dict[str, Health]

    def layout_for_width(self: Any, width: int) -> None:
        """Tabs below :data:`TABS_BELOW_COLUMNS`, the grid of panes above."""
        narrow = width < TABS_BELOW_COLUMNS
        if narrow and not self.query("#pane-tabs"):
            from opsconsole.ui.widgets.pane_tabs import PaneTabs

            tabs = PaneTabs({i: shown for i, shown in self.numbered_panes.items() if shown[1] != "pane-alerts"})
            self.mount(tabs, before=self.query_one("#dashboard"))
            self.call_after_refresh(tabs.mark_all, self.tab_marks, self.health_style)
        self.set_class(narrow, "tabbed")

    def mark_tabs(self: Any) -> None:
        """Each tab shows its pane's worst health (``tab_marks``), once the strip exists."""
        for tabs in self.query("#pane-tabs"):
            cast("PaneTabs", tabs).mark_all(self.tab_marks, self.health_style)

    @property
    def tabbed(self: Any) -> bool:
        return bool(self.has_class("tabbed"))

    def on_tabs_tab_activated(self: Any, event: Tabs.TabActivated) -> None:
        """Show the chosen tab's pane (the others stay mounted, hidden) and give it the focus."""
        shown = cast("PaneTabs", self.query_one("#pane-tabs")).widget_id(event.tab.id if event.tab else None)
        for _title, widget_id in self.numbered_panes.values():
            if widget_id != "pane-alerts":
                self.query_one(f"#{widget_id}").set_class(widget_id == shown, "tab-shown")
        if self.tabbed and shown is not None and self.is_mounted:
            widget = self.query_one(f"#{shown}")
            self.call_after_refresh((widget.query_one("DataTable") if widget.query("DataTable") else widget).focus)

    def reveal(self: Any, widget_id: str) -> None:
        """Make a pane visible before it is focused: its tab, when the panes are tabs."""
        for tabs in self.query("#pane-tabs"):
            cast("PaneTabs", tabs).select(widget_id)
