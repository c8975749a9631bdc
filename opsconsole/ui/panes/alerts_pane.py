"""Alerts pane: what is firing now, each with the runbook that answers it."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Vertical

from opsconsole.model import Alert, Health, Severity
from opsconsole.ui.format import SEVERITY_NAME, age, clip
from opsconsole.ui.panes.pane_table import PaneTable, cell

SEVERITY_HEALTH = {Severity.CRITICAL: Health.CRITICAL, Severity.WARNING: Health.WARNING, Severity.INFO: Health.OK}


class AlertsPane(Vertical):
    """Firing alerts; ``enter`` on a row opens its runbook (when the library has it)."""

    def __init__(self, *, index: int) -> None:
        super().__init__(id="pane-alerts", classes="dashboard-pane")
        self.border_title = f"[{index}] Alerts"
        self.alerts: list[Alert] = []
        self.first_seen: dict[str, object] = {}

    def compose(self) -> ComposeResult:
        table = PaneTable(cursor_type="row", id="table-alerts")
        table.add_column("Sev", key="sev", width=5)
        table.add_column("Alert", key="rule", width=20)
        table.add_column("Subject", key="subject", width=16)
        table.add_column("Message", key="message")
        table.add_column("Runbook", key="runbook", width=18)
        table.add_column("Since", key="since", width=6)
        yield table

    def show(self, alerts: Sequence[Alert]) -> None:
        keys = {a.key for a in alerts}
        for alert in alerts:
            self.first_seen.setdefault(alert.key, alert.since)
        for key in list(self.first_seen):
            if key not in keys:
                del self.first_seen[key]
        self.alerts = list(alerts)
        rows = [[cell(SEVERITY_NAME[alert.severity], style=self.app.health_style(SEVERITY_HEALTH[alert.severity])),
                 cell(alert.rule), cell(alert.subject), cell(clip(alert.message, 200)), cell(alert.runbook or "—"),
                 cell(age(self.first_seen.get(alert.key)))]  # type: ignore[arg-type]
                for alert in alerts]
        self.query_one(PaneTable).set_rows(rows)  # in place: unchanged alerts are not re-rendered
        counts = {s: sum(1 for a in alerts if a.severity == s) for s in Severity}
        subtitle = (f"{counts[Severity.CRITICAL]} crit · {counts[Severity.WARNING]} warn · "
                    f"{counts[Severity.INFO]} info" if alerts else "all clear")
        if subtitle != self.border_subtitle:  # setting it repaints the whole pane, even when unchanged
            self.border_subtitle = subtitle

    def selected(self) -> Alert | None:
        table = self.query_one(PaneTable)
        if not table.row_count:
            return None
        return self.alerts[table.cursor_row] if table.cursor_row < len(self.alerts) else None
