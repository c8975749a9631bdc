"""Below 100 columns the data panes become tabs, one shown at a time, full width.

Two columns of 40 characters cut every message and give each pane 3 rows; a
tab strip gives the chosen pane the whole width and most of the height. The
Alerts pane is never a tab: what is wrong stays on screen whatever tab is shown.
Each tab carries its number (the ``1``-``7`` key that selects it) and the worst
health of its rows (``Services ✖``), so a critical row in a hidden tab is one
glance and one key away.

The panes stay mounted (their rows, cursor and scroll survive a switch): the
screen only toggles the ``tab-shown`` class, and ``app.tcss`` hides the others
while the screen has the ``tabbed`` class.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import Tab, Tabs

from opsconsole.model import Health
from opsconsole.ui.format import HEALTH_DOT

SHORT = {Health.WARNING: "warn", Health.CRITICAL: "crit", Health.UNKNOWN: "unkn"}


def tab_label(index: int, title: str, health: Health, style: str) -> Text:
    """``1 Services`` while healthy; ``1 Services ✖`` (``crit`` on ASCII terminals) in the health's colour."""
    label = Text(f"{index} {title}")
    if health is not Health.OK:
        label.append(" ")
        label.append(HEALTH_DOT[health] or SHORT[health], style=style)
    return label


class PaneTabs(Tabs, can_focus=False):
    """One tab per data pane (and Activity); selecting a tab is the number key or a click.

    Not focusable: focus belongs to the shown pane's table, so ``d``, ``/``, ``v`` and
    ``z`` act on what is on screen.
    """

    def __init__(self, panes: dict[int, tuple[str, str]]) -> None:
        """``panes``: number -> (title, widget id) of the panes that become tabs."""
        super().__init__(*[Tab(f"{index} {title}", id=f"tab-{widget_id}") for index, (title, widget_id)
                           in panes.items()], id="pane-tabs")
        self.panes = panes
        self._marks: dict[str, Health] = {}

    def widget_id(self, tab_id: str | None) -> str | None:
        return tab_id.removeprefix("tab-") if tab_id else None

    def select(self, widget_id: str) -> bool:
        """Show the tab of ``widget_id``; False when that pane is not a tab (Alerts)."""
        if not self.query(f"#tab-{widget_id}"):
            return False
        self.active = f"tab-{widget_id}"
        return True

    def mark_all(self, marks: dict[str, Health], style_of: Callable[[Health], str]) -> None:
        """Show each pane's worst health on its tab (only where it changed: no repaint otherwise)."""
        for index, (title, widget_id) in self.panes.items():
            health = marks.get(widget_id, Health.OK)
            if self._marks.get(widget_id) is health or not self.query(f"#tab-{widget_id}"):
                continue
            self._marks[widget_id] = health
            self.query_one(f"#tab-{widget_id}", Tab).label = tab_label(index, title, health, style_of(health))
