"""The dashboard of one profile: header, panes, activity log, footer.

A view of the monitoring engine, never its owner: the app owns the
:class:`~opsconsole.monitor.Monitor`, this screen subscribes to it and shows each
update. Opening a modal screen on top changes nothing about the monitoring: the
engine keeps polling and evaluating, and this screen keeps applying its updates.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Log, Static

from opsconsole.config import Profile
from opsconsole.drivers.base import Driver
from opsconsole.model import Alert, Health, Pane, PaneResult
from opsconsole.monitor import AlertState, Monitor, MonitorSnapshot, MonitorUpdate, TrackedAlert
from opsconsole.ui.screens.tabbed_panes import TabbedPanes
from opsconsole.ui.textual_patches.batched_render import RenderWhenShown
from opsconsole.ui.textual_patches.steady_scroll import SteadyScroll
from opsconsole.ui.widgets.alerts_pane import AlertsPane
from opsconsole.ui.widgets.data_pane import DashboardPane
from opsconsole.ui.widgets.data_panes import PANE_CLASSES
from opsconsole.ui.widgets.footer import KeysFooter
from opsconsole.ui.widgets.pane_table import StylePerPass

if TYPE_CHECKING:
    from opsconsole.ui.host import ConsoleHost


class HeaderBar(Static):
    """Profile, overall health and mode, always visible."""


class ActivityLog(StylePerPass, SteadyScroll, Log):
    """What happened: polls that failed, alerts fired and resolved, actions run.

    ``enter`` (or ``d``) shows every line whole, wrapped.

    Plain lines in Textual's ``Log``: ``RichLog`` would pull in ``rich.pretty`` (and
    with it ``attrs``), 15 ms of start-up for a log that never pretty-prints.
    """

    BINDINGS = [Binding("enter", "screen.detail", "Detail", show=False)]

    def record(self, message: str) -> None:
        self.write_line(f"{datetime.now():%H:%M:%S} {message}")


class DashboardScreen(TabbedPanes, RenderWhenShown, Screen[None]):
    BINDINGS = [
        Binding("r", "refresh_all", "Refresh", id="refresh"),
        Binding("z", "toggle_maximize", "Zoom", id="zoom"),
        Binding("escape", "back", "Back", show=False, id="back"),
        Binding("a", "app.actions", "Actions", id="actions"),
        Binding("p", "app.pick_profile", "Profile", id="profile"),
        Binding("question_mark", "app.help", "Help", id="help", key_display="?"),
        Binding("q", "app.quit", "Quit", id="quit"),
        Binding("R", "app.runbooks", "Runbooks", id="runbooks"),
        Binding("L", "app.audit_log", "Audit", id="audit-log"),
        Binding("I", "app.incident", "Incident", id="incident"),
        Binding("D", "app.diagnostics", "Diagnostics", show=False, id="diagnostics"),
        *[Binding(str(i), f"focus_pane({i})", f"Pane {i} (a tab below 100 columns)", show=False, id=f"pane-{i}")
          for i in range(1, 8)],
        Binding("slash", "open_table(True)", "Filter", show=False, id="filter", key_display="/"),
        Binding("v", "open_table(False)", "Table view", show=False, id="table-view"),
        Binding("s", "open_table(False, True)", "Sort", show=False, id="sort"),
        Binding("d", "detail", "Detail", show=False, id="detail"),
        Binding("g", "tail_logs", "Logs", show=False, id="logs"),
        Binding("colon", "command_line", "Command", show=False, id="command", key_display=":"),
    ]

    class Updated(Message):
        """The engine published updates; handled on the screen's own queue, in order."""

    def __init__(self, profile: Profile, monitor: Monitor, *, read_only: bool,
                 health_style: Callable[[Health], str] = lambda _h: "") -> None:
        super().__init__()
        self.profile = profile
        self.monitor = monitor
        self.read_only = read_only
        self.health_style = health_style
        self.results: dict[Pane, PaneResult] = {}
        self.tracked: list[TrackedAlert] = []
        self.health = Health.UNKNOWN
        self.incident_text = ""
        """``INCIDENT <id> <severity>`` while one is open (set by the app)."""
        self.carried_lines: list[str] = []
        """Activity of the previous profile (a switch keeps the story), shown first."""
        self.numbered_panes: dict[int, tuple[str, str]] = {}
        """Pane number (the ``1``-``7`` keys) -> (title, widget id), as composed."""
        self.startup_notes: list[str] = []
        """Lines for the activity log once it exists (e.g. profile keys that could not be bound)."""
        self.tab_marks: dict[str, Health] = {}
        """Worst health of each data pane (widget id): what its tab shows below 100 columns."""
        self._pending: list[MonitorUpdate] = []
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def drivers(self) -> list[Driver]:
        return self.monitor.drivers

    @property
    def alerts(self) -> list[Alert]:
        """Active alerts (firing or unknown), in the Alerts pane's order."""
        return [t.alert for t in self.tracked]

    @property
    def connected(self) -> bool:
        return self.monitor.connected is not None and self.monitor.connected.is_set()

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        self._shown_header = self._header_text()
        yield HeaderBar(self._shown_header, id="header")
        panes = self.monitor.panes
        alerts_at = len(panes) + 1
        self.numbered_panes = {i: (PANE_CLASSES[pane].title, f"pane-{pane.value}") for i, pane in enumerate(panes, 1)}
        self.numbered_panes[alerts_at] = ("Alerts", "pane-alerts")
        self.numbered_panes[alerts_at + 1] = ("Activity", "activity")
        with Grid(id="dashboard", classes=f"panes-{len(panes) + 1}"):
            for index, pane in enumerate(panes, 1):
                widget = PANE_CLASSES[pane](self.profile.poll.get(pane.value, 10), index=index)
                widget.history = self.monitor.history.get
                yield widget
            yield AlertsPane(index=alerts_at)
            log = ActivityLog(id="activity", max_lines=500)
            log.border_title = f"[{alerts_at + 1}] Activity"
            yield log
        yield KeysFooter()  # the ``:`` line (an Input and its styles) is mounted on first use: not in the first frame

    def _header_text(self) -> Text:
        """The status strip (ui/status_strip.py): essentials first, whatever the width."""
        from opsconsole.ui.widgets.status_strip import Status, status_text

        status = Status(profile=self.profile.name, title=self.profile.title, health=self.health,
                        health_style=self.health_style(self.health), read_only=self.read_only,
                        incident=self.incident_text,
                        firing=sum(1 for t in self.tracked if t.state is AlertState.FIRING),
                        unknown=sum(1 for t in self.tracked if t.state is AlertState.UNKNOWN))
        width = (self.size.width or self.app.size.width) - 2  # the strip's padding
        return status_text(status, max(10, width), ascii_only=cast("ConsoleHost", self.app).ascii_only)

    def refresh_header(self) -> None:
        header = self._header_text()
        if header != self._shown_header:  # fixed height: no re-layout; unchanged: no repaint either
            self._shown_header = header
            self.query_one(HeaderBar).update(header, layout=False)

    @property
    def panes(self) -> list[DashboardPane]:
        return list(self.query(DashboardPane))

    @property
    def activity(self) -> ActivityLog:
        return self.query_one(ActivityLog)

    # ------------------------------------------------------------------ engine -> screen
    def on_mount(self) -> None:
        for line in self.carried_lines:
            self.activity.write_line(line)
        self.activity.record(f"profile {self.profile.name} from {self.profile.source}")
        for note in self.startup_notes:
            self.activity.record(note)
        self._unsubscribe = self.monitor.subscribe(self._engine_update)
        snapshot = self.monitor.snapshot()
        if snapshot.sources:
            self._show_snapshot(snapshot, None)
        from opsconsole.ui.cached_rows import show_cached_rows

        # Last session's rows, dimmed, until the first poll: one refresh later than the first frame (the
        # start-up refresh Textual holds back does not count), so they do not delay it (~25 ms of rows).
        self.call_after_refresh(self.call_after_refresh, show_cached_rows, self)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def _engine_update(self, update: MonitorUpdate) -> None:
        """Called by the engine (same event loop): queue it, and wake the screen once per burst."""
        self._pending.append(update)
        if len(self._pending) == 1:
            self.post_message(self.Updated())

    def on_dashboard_screen_updated(self, _event: Updated) -> None:
        updates, self._pending = self._pending, []
        if not updates:
            return
        for update in updates:
            self._log_update(update)
        panes = {u.pane for u in updates}
        self._show_snapshot(updates[-1].snapshot, None if None in panes else panes)

    def _log_update(self, update: MonitorUpdate) -> None:
        log = self.activity
        for change in update.changes:
            if change.kind == "recovered":
                log.record(f"{change.pane.value}: {change.source} recovered")
            else:
                log.record(f"{change.pane.value}: {change.error}")
        for transition in update.transitions:
            alert = transition.tracked.alert
            if transition.kind == "fired":
                log.record(f"ALERT {alert.severity.name} {alert.rule} {alert.subject}: {alert.message}")
            elif transition.kind == "resolved":
                log.record(f"resolved {alert.key}")
            elif transition.kind == "unknown":
                log.record(f"unknown {alert.key}: source lost ({transition.tracked.reason})")
            else:
                log.record(f"firing again {alert.key}: source back, condition still holds")
        for note in update.notes:
            log.record(note)

    def _show_snapshot(self, snapshot: MonitorSnapshot, panes: set[Pane | None] | None) -> None:
        for widget in self.panes:
            if panes is not None and widget.pane not in panes:
                continue
            view = snapshot.pane(widget.pane)
            if widget.pane not in self.results and view.last_ok is not None:
                # A pane's first data imported its driver's SDK (pyiceberg, pyarrow, duckdb, ...): move those
                # long-lived objects out of the cyclic GC's view too, or every full collection rescans them.
                gc.freeze()
            if view.last_ok is not None or view.errors:
                self.results[widget.pane] = view.as_result()
            widget.show(view)
            worst = widget.worst_health()
            self.tab_marks[widget.id or ""] = worst
        self.mark_tabs()
        self.tracked = list(snapshot.alerts)
        alerts = self.query_one(AlertsPane)
        alerts.show(self.tracked)
        alerts.set_class(not self.tracked, "quiet")  # below 100 columns an empty Alerts pane gives its rows away
        self.health = snapshot.health
        self.refresh_header()
        self.app.sub_title = self.health.label

    # ------------------------------------------------------------------ lifecycle
    def on_resize(self, event: events.Resize) -> None:
        # On a 24-line jump-box terminal the activity log gives its rows to the panes; below 100
        # columns the panes become tabs (widgets/pane_tabs.py) instead of 40-column slivers.
        self.query_one("#dashboard").set_class(event.size.height < 34, "compact")
        self.layout_for_width(event.size.width)
        self.refresh_header()

    # ------------------------------------------------------------------ actions
    def action_refresh_all(self) -> None:
        self.monitor.refresh()

    def action_open_table(self, filter_first: bool, sort_first: bool = False) -> None:
        """Full-screen table of the focused pane, whichever it is (filter, sort, detail, copy): pane_views.py."""
        from opsconsole.ui.screens.pane_views import open_pane_table

        self.run_worker(open_pane_table(self, filter_first=filter_first, sort_first=sort_first), group="table",
                        exit_on_error=False)

    def action_detail(self) -> None:
        """``d`` (``enter`` too): the full record under the cursor of the focused pane, wrapped."""
        from opsconsole.ui.screens.pane_views import focused_container

        container = focused_container(self)
        if container is None:
            self.app.notify("focus a pane first (1-7 or tab), then d shows the row under the cursor", timeout=4)
        elif container.id == "activity":
            self.open_activity_detail()
        elif not container.open_detail():
            self.app.notify("no row to show yet", timeout=3)

    def open_activity_detail(self) -> None:
        """The activity log's lines, each whole and wrapped (the log itself cuts them at its width)."""
        from opsconsole.ui.screens.detail import DetailScreen

        lines = [line.split(" ", 1) if " " in line else ["", line] for line in self.activity.lines if line.strip()]
        screen = DetailScreen("Activity", [(when, text) for when, text in lines])
        self.app.push_screen(screen)

    def action_focus_pane(self, index: int) -> None:
        if index not in self.numbered_panes:
            return
        widget = self.query_one(f"#{self.numbered_panes[index][1]}")
        self.reveal(widget.id or "")
        target = widget.query_one("DataTable") if widget.query("DataTable") else widget
        target.focus()

    def action_tail_logs(self) -> None:
        """Logs of the selected Services row, when its driver can stream logs (docker compose)."""
        pane = self.focused.parent if self.focused is not None else None
        selected = getattr(pane, "selected_row", None)
        row = selected() if callable(selected) else None
        driver = next((d for d in self.drivers if row is not None and d.name == getattr(row, "source", None)), None)
        if row is None or driver is None or not driver.can_stream_logs:
            self.app.notify("select a service whose driver has logs (docker compose, demo) in the Services pane, "
                            "then press g")
            return
        from opsconsole.ui.screens.logs import LogsScreen

        self.app.push_screen(LogsScreen(driver, str((row.extra or {}).get("service") or row.name)))

    def action_toggle_maximize(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        focused = self.focused
        while focused is not None and not focused.has_class("dashboard-pane") and focused.id != "activity":
            focused = focused.parent  # type: ignore[assignment]
        if focused is None or not self.maximize(focused, container=False):
            self.app.notify("focus a pane first (1-7 or tab), then z zooms it", title="zoom", timeout=4)

    def action_back(self) -> None:
        """``esc`` goes back one level: out of a zoomed pane first."""
        if self.maximized is not None:
            self.minimize()

    async def action_command_line(self) -> None:
        """``:``: the command line (ui/command_line.py), completed from panes, profiles and runbooks."""
        from opsconsole.ui.widgets import command_line

        found = self.query(command_line.CommandLine)
        line = found.first() if found else command_line.CommandLine()
        if not found:
            await self.mount(line, before=self.query_one(KeysFooter))
        panes = [p.pane.value for p in self.panes] + ["alerts", "activity"]
        line.open(command_line.candidates(panes, self._profile_names()))

        async def offer_runbooks() -> None:

            library = await self.app.runbook_library()
            line.offer(f"runbook {rb.id}" for rb in cast("ConsoleHost", self.app).offered_runbooks(library))

        self.run_worker(offer_runbooks(), group="command-line", exit_on_error=False)

    def _profile_names(self) -> list[str]:
        from opsconsole.config import load
        from opsconsole.errors import ConfigError

        try:
            return list(load(self.profile.source).names)
        except (ConfigError, OSError):
            return [self.profile.name]

    def on_input_submitted(self, event: Any) -> None:
        from opsconsole.ui.widgets import command_line

        if event.input.id != "command-line":
            return
        event.stop()
        word, arg = command_line.parse(event.value)
        event.input.action_close()
        if word:
            self.run_command(word, arg)

    def run_command(self, word: str, arg: str) -> None:
        """One command of the ``:`` line: a pane (focused and zoomed), a profile, a runbook, help, quit."""
        from opsconsole.ui.widgets import command_line

        app: Any = self.app
        target = {"services": "#pane-services", "queries": "#pane-queries", "tables": "#pane-tables",
                  "lag": "#pane-lag", "jobs": "#pane-jobs", "alerts": "#pane-alerts", "activity": "#activity"}
        if word in target:
            found = self.query(target[word])
            if not found:
                app.notify(f"this profile has no {word} pane", title="command", severity="warning")
                return
            widget = found.first()
            self.reveal(widget.id or "")
            (widget.query_one("DataTable") if widget.query("DataTable") else widget).focus()
            self.maximize(widget, container=False)
        elif word == "profile":
            if not arg:
                app.action_pick_profile()
            elif arg not in self._profile_names():
                app.notify(f"no profile {arg!r} (profiles: {', '.join(self._profile_names())})", severity="error")
            else:
                app.switch_profile(arg)
        elif word == "runbook":
            self.run_worker(command_line.open_runbook(app, arg), group="command-line", exit_on_error=False)
        elif word == "help":
            app.action_help()
        elif word in ("quit", "q"):
            self.run_worker(app.action_quit(), group="quit")
        else:
            command_line.unknown(word, app)
