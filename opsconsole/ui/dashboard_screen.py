"""The dashboard of one profile: header, panes, activity log, footer.

One screen per profile: switching profiles builds a new screen with new
drivers and closes the old ones, so no poller of the previous platform lingers.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from datetime import datetime

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.events import ScreenResume, ScreenSuspend
from textual.screen import Screen
from textual.widgets import Log, Static

from opsconsole.alerts import evaluate, overall_health
from opsconsole.config import Profile
from opsconsole.drivers.base import Driver, describe
from opsconsole.model import Alert, Health, Pane, PaneResult
from opsconsole.poller import panes_of
from opsconsole.ui.footer import KeysFooter
from opsconsole.ui.format import HEALTH_DOT
from opsconsole.ui.panes.alerts_pane import AlertsPane
from opsconsole.ui.panes.base import DashboardPane
from opsconsole.ui.panes.dashboard import PANE_CLASSES
from opsconsole.ui.panes.pane_table import StylePerPass
from opsconsole.ui.steady_scroll import SteadyScroll


class HeaderBar(Static):
    """Profile, overall health and mode, always visible."""


class ActivityLog(StylePerPass, SteadyScroll, Log):
    """What happened: polls that failed, alerts fired and resolved, actions run.

    Plain lines in Textual's ``Log``: ``RichLog`` would pull in ``rich.pretty`` (and
    with it ``attrs``), 15 ms of start-up for a log that never pretty-prints.
    """

    def record(self, message: str) -> None:
        self.write_line(f"{datetime.now():%H:%M:%S} {message}")


class DashboardScreen(Screen[None]):
    BINDINGS = [
        Binding("r", "refresh_all", "Refresh", id="refresh"),
        Binding("z", "toggle_maximize", "Zoom", id="zoom"),
        Binding("a", "app.actions", "Actions", id="actions"),
        Binding("p", "app.pick_profile", "Profile", id="profile"),
        Binding("question_mark", "app.help", "Help", id="help", key_display="?"),
        Binding("q", "app.quit", "Quit", id="quit"),
        Binding("R", "app.runbooks", "Runbooks", id="runbooks"),
        Binding("L", "app.audit_log", "Audit", id="audit-log"),
        Binding("I", "app.incident", "Incident", id="incident"),
        Binding("D", "app.diagnostics", "Diagnostics", show=False, id="diagnostics"),
        *[Binding(str(i), f"focus_pane({i})", f"Pane {i}", show=False, id=f"pane-{i}") for i in range(1, 8)],
        Binding("slash", "open_table(True)", "Filter", show=False, id="filter", key_display="/"),
        Binding("v", "open_table(False)", "Table view", show=False, id="table-view"),
        Binding("g", "tail_logs", "Logs", show=False, id="logs"),
    ]

    def __init__(self, profile: Profile, drivers: Sequence[Driver], *, read_only: bool) -> None:
        super().__init__()
        self.profile = profile
        self.drivers = list(drivers)
        self.read_only = read_only
        self.results: dict[Pane, PaneResult] = {}
        self.alerts: list[Alert] = []
        self.health = Health.UNKNOWN
        self.connected = False

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        self._shown_header = self._header_text()
        yield HeaderBar(self._shown_header, id="header")
        panes = panes_of(self.drivers)
        with Grid(id="dashboard", classes=f"panes-{len(panes) + 1}"):
            index = 1
            for pane in panes:
                yield PANE_CLASSES[pane](self.drivers, self.profile.poll.get(pane.value, 10), index=index)
                index += 1
            yield AlertsPane(index=index)
            log = ActivityLog(id="activity", max_lines=500)
            log.border_title = f"[{index + 1}] Activity"
            yield log
        yield KeysFooter()

    def _header_text(self) -> Text:
        style = self.app.health_style(self.health) if hasattr(self.app, "health_style") else ""
        text = Text("opsconsole ", style="bold")
        text.append(f"│ {self.profile.name} ", style="bold")
        text.append(f"{self.profile.title} ")
        text.append(f"│ {HEALTH_DOT[self.health]} {self.health.label.upper()} ", style=style)
        if self.read_only:
            text.append("│ READ-ONLY ", style="bold reverse")
        incident = getattr(self.app, "incident", None)
        if incident is not None:
            text.append(f"│ INCIDENT {incident.id} {incident.severity} ", style="bold reverse")
        return text

    @property
    def panes(self) -> list[DashboardPane]:
        return list(self.query(DashboardPane))

    @property
    def activity(self) -> ActivityLog:
        return self.query_one(ActivityLog)

    # ------------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        for pane in self.panes:
            pane.pause()
        self.activity.record(f"profile {self.profile.name} from {self.profile.source}")
        if hasattr(self.app, "bind_profile_keys"):
            self.app.bind_profile_keys(self)  # profile keys: -> runbooks
        self.call_after_refresh(self._connect)  # paint first: connecting may import SDKs

    @work(group="connect", exit_on_error=False)
    async def _connect(self) -> None:
        async def one(driver: Driver) -> None:
            try:
                await asyncio.wait_for(driver.connect(), driver.timeout)
            except Exception as exc:
                self.activity.record(f"{driver.name}: connect failed: {describe(exc)}")

        await asyncio.gather(*(one(d) for d in self.drivers))
        self.connected = True
        for pane in self.panes:
            pane.resume()
            pane.refresh_data()

    def on_resize(self, event: events.Resize) -> None:
        # On a 24-line jump-box terminal the activity log gives its rows to the panes.
        self.query_one("#dashboard").set_class(event.size.height < 34, "compact")

    def on_screen_suspend(self, _event: ScreenSuspend) -> None:
        # A modal is open: stop polling so nothing churns behind it.
        for pane in self.panes:
            pane.pause()

    def on_screen_resume(self, _event: ScreenResume) -> None:
        if self.connected:
            for pane in self.panes:
                pane.resume()

    async def close_drivers(self) -> None:
        for pane in self.panes:
            pane.pause()
        await asyncio.gather(*(asyncio.wait_for(d.close(), 5) for d in self.drivers), return_exceptions=True)

    # ------------------------------------------------------------------ polls -> alerts
    def on_dashboard_pane_polled(self, event: DashboardPane.Polled) -> None:
        result = event.result
        previous = self.results.get(result.pane)
        if previous is None:
            # A pane's first poll imported its driver's SDK (pyiceberg, pyarrow, duckdb, ...): move those
            # long-lived objects out of the cyclic GC's view too, or every full collection rescans them.
            gc.freeze()
        for source, error in result.errors.items():
            if not previous or previous.errors.get(source) != error:
                self.activity.record(f"{result.pane.value}: {error}")
        if previous:
            for source in set(previous.errors) - set(result.errors):
                self.activity.record(f"{result.pane.value}: {source} recovered")
        self.results[result.pane] = result
        self.reevaluate()

    def reevaluate(self) -> None:
        alerts = evaluate(self.results, self.profile.alerts)
        before = {a.key for a in self.alerts}
        after = {a.key for a in alerts}
        for alert in alerts:
            if alert.key not in before:
                self.activity.record(f"ALERT {alert.severity.name} {alert.rule} {alert.subject}: {alert.message}")
        for key in before - after:
            self.activity.record(f"resolved {key}")
        self.alerts = alerts
        self.query_one(AlertsPane).show(alerts)
        self.health = overall_health(self.results, alerts)
        header = self._header_text()
        if header != self._shown_header:  # fixed height: no re-layout; unchanged: no repaint either
            self._shown_header = header
            self.query_one(HeaderBar).update(header, layout=False)
        self.app.sub_title = self.health.label
        if hasattr(self.app, "alerts_evaluated"):
            self.app.alerts_evaluated(self, alerts)  # incident timeline, notifications (a worker)

    # ------------------------------------------------------------------ actions
    def action_refresh_all(self) -> None:
        for pane in self.panes:
            pane.refresh_data()

    def action_open_table(self, filter_first: bool) -> None:
        """Full-screen table of the focused pane (filter, sort, detail, copy): see ui/table_tools.py."""
        from opsconsole.ui.table_tools import open_pane_table

        self.run_worker(open_pane_table(self, filter_first=filter_first), group="table", exit_on_error=False)

    def action_focus_pane(self, index: int) -> None:
        for widget in self.query(".dashboard-pane, #activity"):
            title = str(widget.border_title or "")
            if title.startswith(f"[{index}]"):
                target = widget.query_one("DataTable") if widget.query("DataTable") else widget
                target.focus()
                return

    def action_tail_logs(self) -> None:
        """Logs of the selected Services row, when its driver can stream logs (docker compose)."""
        pane = self.focused.parent if self.focused is not None else None
        selected = getattr(pane, "selected_row", None)
        row = selected() if callable(selected) else None
        driver = next((d for d in self.drivers if row is not None and d.name == getattr(row, "source", None)), None)
        if row is None or driver is None or not hasattr(driver, "logs"):
            self.app.notify("select a service of a docker driver in the Services pane, then press g")
            return
        from opsconsole.ui.logs_screen import LogsScreen

        self.app.push_screen(LogsScreen(driver, str((row.extra or {}).get("service") or row.name)))

    def action_toggle_maximize(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        focused = self.focused
        while focused is not None and not focused.has_class("dashboard-pane") and focused.id != "activity":
            focused = focused.parent  # type: ignore[assignment]
        if focused is not None:
            self.maximize(focused, container=False)
