"""Alerts pane: what is firing (or lost from sight) now, each with the runbook that answers it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.containers import Vertical

from opsconsole.model import Alert, Health, Severity
from opsconsole.monitor import AlertState, TrackedAlert
from opsconsole.ui.format import SEVERITY_NAME, age, clip
from opsconsole.ui.widgets.pane_table import PaneTable, cell

if TYPE_CHECKING:
    from opsconsole.ui.host import ConsoleHost
    pass

SEVERITY_HEALTH = {Severity.CRITICAL: Health.CRITICAL, Severity.WARNING: Health.WARNING, Severity.INFO: Health.OK}


class AlertsPane(Vertical):
    """Active alerts, worst first; ``enter`` on a row shows the whole alert and offers its runbook.

    The cursor stays on the alert it was on when alerts come and go: an on-call
    engineer reading one alert is not moved to another by the next poll.
    """

    ALLOW_MAXIMIZE = True

    def __init__(self, *, index: int) -> None:
        super().__init__(id="pane-alerts", classes="dashboard-pane")
        self.border_title = f"[{index}] Alerts"
        self.tracked: list[TrackedAlert] = []

    @property
    def alerts(self) -> list[Alert]:
        return [t.alert for t in self.tracked]

    def compose(self) -> ComposeResult:
        table = PaneTable(cursor_type="row", id="table-alerts")
        # Narrow (80 columns): severity, subject and message stay; the rest is one `enter` away.
        table.define([("sev", "Sev", 5), ("rule", "Alert", 20), ("subject", "Subject", 16),
                      ("message", "Message", None), ("runbook", "Runbook", 18), ("since", "Since", 6)],
                     drop=("runbook", "since", "rule"))
        yield table

    def show(self, tracked: Sequence[TrackedAlert]) -> None:
        table = self.query_one(PaneTable)
        current = self.tracked_at(table.cursor_row) if table.row_count else None
        ordered = sorted(tracked, key=lambda t: (-t.alert.severity, t.first_seen))
        self.tracked = ordered
        rows = []
        for t in ordered:
            alert = t.alert
            unknown = t.state is AlertState.UNKNOWN
            sev = f"{SEVERITY_NAME[alert.severity]}?" if unknown else SEVERITY_NAME[alert.severity]
            style = self.app.health_style(Health.UNKNOWN if unknown else SEVERITY_HEALTH[alert.severity])
            message = f"(unknown: {t.reason}) {alert.message}" if unknown else alert.message
            rows.append([cell(sev, style=style), cell(alert.rule), cell(alert.subject), cell(clip(message, 200)),
                         cell(alert.runbook or "—"), cell(age(t.first_seen))])
        table.set_rows(rows)  # in place: unchanged alerts are not re-rendered
        if current is not None:
            keys = [t.key for t in ordered]
            if current.key in keys and keys.index(current.key) != table.cursor_row:
                table.move_cursor(row=keys.index(current.key), animate=False, scroll=False)
        counts = {s: sum(1 for t in ordered if t.alert.severity == s and t.state is AlertState.FIRING)
                  for s in Severity}
        unknown = sum(1 for t in ordered if t.state is AlertState.UNKNOWN)
        subtitle = (f"{counts[Severity.CRITICAL]} crit · {counts[Severity.WARNING]} warn · "
                    f"{counts[Severity.INFO]} info" + (f" · {unknown} unknown" if unknown else "")
                    if ordered else "all clear")
        if subtitle != self.border_subtitle:  # setting it repaints the whole pane, even when unchanged
            self.border_subtitle = subtitle

    def open_detail(self) -> bool:
        """``d`` (like ``enter``): the whole alert, and its runbook one key on."""
        table = self.query_one(PaneTable)
        tracked = self.tracked_at(table.cursor_row) if table.row_count else None
        if tracked is None:
            return False
        cast("ConsoleHost", self.app).open_alert_detail(tracked)
        return True

    def tracked_at(self, row: int) -> TrackedAlert | None:
        return self.tracked[row] if 0 <= row < len(self.tracked) else None

    def selected(self) -> Alert | None:
        table = self.query_one(PaneTable)
        tracked = self.tracked_at(table.cursor_row) if table.row_count else None
        return tracked.alert if tracked else None
