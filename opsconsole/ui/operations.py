"""The console's operational actions, mixed into the app: runbooks, audit, incidents, diagnostics, notifications.

Kept out of ``app.py`` so the application class stays about layout, profiles
and themes. Every long-running thing here is a worker: the dashboard keeps
polling while a runbook waits for a confirmation, a notification times out,
or a diagnostics bundle is collected.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.widgets import DataTable

from opsconsole.model import Alert
from opsconsole.ui.commands.runbooks import RunbookCommands
from opsconsole.ui.textual_patches.runtime_bindings import bind_key

# The runbook engine, library, audit and incident screens load on first use, not on start.
if TYPE_CHECKING:
    from opsconsole.monitor.incidents import Incident
    from opsconsole.runbooks.library import Library
    from opsconsole.runbooks.model import Runbook
    from opsconsole.ui.screens.dashboard import DashboardScreen


class OperationsMixin:
    """Actions and hooks of :class:`~opsconsole.ui.app.OpsConsoleApp` beyond the dashboard itself."""

    COMMANDS = App.COMMANDS | {RunbookCommands}
    """Runbooks in the command palette, next to Textual's system commands."""
    _library: Library | None = None

    @property
    def incident(self) -> Incident | None:
        """The open incident: the engine adds alerts to its timeline, the console adds actions."""
        app: Any = self
        return app.monitor.incident

    @incident.setter
    def incident(self, value: Incident | None) -> None:
        app: Any = self
        app.monitor.incident = value

    # ------------------------------------------------------------------ shared
    async def runbook_library(self) -> Library:
        """The runbook library, loaded once in a thread (parsing ~90 YAML runbooks takes ~0.4 s)."""
        if self._library is None:
            app: Any = self
            if app.monitor.library is not None:  # the monitor parsed it already, to link its rules
                self._library = app.monitor.library
            else:
                from opsconsole.runbooks.library import load_library

                self._library = await asyncio.to_thread(load_library)
        return self._library

    def offered_runbooks(self, library: Library) -> list[Runbook]:
        """The runbooks this profile offers: every required step's driver and action exist here."""
        from opsconsole.runbooks.library import offered_runbooks

        app: Any = self
        return offered_runbooks(library, app.monitor.drivers, app.profile.name)

    def record_action(self, text: str) -> None:
        """Activity log, plus the open incident's timeline."""
        app: Any = self
        if app.dashboard is not None:
            app.dashboard.activity.record(text)
        if self.incident is not None:
            self.incident.add("action", text)

    # ------------------------------------------------------------------ runbooks
    def action_runbooks(self) -> None:
        self._start_runbook(None)

    def action_run_runbook(self, runbook_id: str) -> None:
        self._start_runbook(runbook_id)

    def _start_runbook(self, runbook_id: str | None) -> None:
        app: Any = self

        async def flow() -> None:
            from opsconsole.ui.screens.runbooks import runbook_flow

            library = await self.runbook_library()
            await runbook_flow(app, runbook_id, library)

        app.run_worker(flow(), group="runbook-flow", exit_on_error=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """``enter`` on an alert shows all of it (text, source, first/last seen, runbook); its runbook is one key on."""
        if event.data_table.id != "table-alerts":
            return
        app: Any = self
        screen = app.dashboard
        tracked = screen.query_one("#pane-alerts").tracked_at(event.cursor_row) if screen else None
        if tracked is None:
            return
        event.stop()
        self.open_alert_detail(tracked)

    def open_alert_detail(self, tracked: Any) -> None:
        """The whole alert, wrapped; ``enter``/``r`` there opens its runbook."""
        from opsconsole.ui.screens.alert import AlertDetailScreen

        app: Any = self
        app.push_screen(AlertDetailScreen(tracked), lambda run: run and self.open_runbook_for(tracked.alert))

    def open_runbook_for(self, alert: Alert) -> None:
        """The runbook that answers ``alert`` on this profile: parameters, preview, run."""
        app: Any = self

        async def open_for_alert() -> None:
            from opsconsole.ui.screens.runbooks import runbook_flow, runbook_for_alert

            library = await self.runbook_library()
            runbook = runbook_for_alert(alert, library, self.offered_runbooks(library))
            if runbook is None:
                app.notify(f"no runbook this profile can run answers {alert.rule}"
                           + (f" (named: {alert.runbook})" if alert.runbook else ""), severity="warning")
                return
            from opsconsole.ui.runbook_prefill import alert_params

            await runbook_flow(app, runbook.id, library, alert_params(alert, runbook))

        app.run_worker(open_for_alert(), group="runbook-flow", exit_on_error=False)

    def bind_profile_keys(self, screen: DashboardScreen) -> None:
        """Profile ``keys:`` (key -> runbook id) become bindings of the dashboard that launch the runbook."""
        taken = {b.key for b in screen.BINDINGS if hasattr(b, "key")}
        for key, runbook_id in screen.profile.keys.items():
            if key in taken:
                screen.startup_notes.append(f"keys: {key!r} is already bound; {runbook_id} not bound to it")
                continue
            bind_key(screen, key, f"app.run_runbook({runbook_id!r})", f"{runbook_id}")
        if screen.is_attached:
            screen.refresh_bindings()

    # ------------------------------------------------------------------ audit, diagnostics
    def action_audit_log(self) -> None:
        from opsconsole.ui.screens.audit import AuditScreen

        app: Any = self
        app.push_screen(AuditScreen())

    def action_diagnostics(self) -> None:
        app: Any = self
        screen = app.dashboard
        if screen is None:
            return

        async def collect() -> None:
            from opsconsole.monitor.incidents import collect_diagnostics

            screen.activity.record("diagnostics: collecting every pane of every driver…")
            try:
                path = await collect_diagnostics(app.profile, screen.drivers, alerts=screen.alerts)
            except Exception as exc:
                app.notify(f"diagnostics failed: {exc}", severity="error", timeout=15)
                screen.activity.record(f"diagnostics FAILED: {exc}")
                return
            app.notify(str(path), title="diagnostics bundle written", timeout=20)
            self.record_action(f"diagnostics bundle written: {path}")

        app.run_worker(collect(), group="diagnostics", exclusive=True, exit_on_error=False)

    # ------------------------------------------------------------------ incidents
    def action_incident(self) -> None:
        from opsconsole.ui.screens.incidents import IncidentOpenScreen, IncidentScreen

        app: Any = self
        if app.dashboard is None:
            return
        if self.incident is None:
            worst = next(iter(app.dashboard.alerts), None)
            title = f"{worst.rule} on {worst.subject}" if worst else f"{app.profile.title or app.profile.name}"
            app.push_screen(IncidentOpenScreen(title), self._open_incident)
        else:
            app.push_screen(IncidentScreen(self.incident), self._incident_choice)

    def _open_incident(self, answer: tuple[str, str] | None) -> None:
        if answer is None:
            return
        from opsconsole.monitor.incidents import Incident

        app: Any = self
        severity, title = answer
        self.incident = Incident.open(severity, title, app.profile.name)
        if app.dashboard is not None:
            self.incident.record_alerts(app.dashboard.alerts)
            app.dashboard.activity.record(f"incident {self.incident.id} opened ({severity}): {title}")
        self._show_incident_in_title()
        app.notify(f"{self.incident.id} {severity}: alerts and actions now go to its timeline",
                   title="incident opened")

    def _incident_choice(self, choice: str | None) -> None:
        app: Any = self
        incident = self.incident
        if incident is None or choice is None:
            return
        if choice == "close":
            incident.close()
            self.incident = None
            self._show_incident_in_title()
        path = incident.export_review()
        verb = "closed; review" if choice == "close" else "review"
        app.notify(str(path), title=f"{incident.id} {verb} exported", timeout=20)
        if app.dashboard is not None:
            app.dashboard.activity.record(f"incident {incident.id} {verb} exported: {path}")

    def resume_open_incident(self) -> None:
        """After a restart, the profile's incident that is still open (its file has no close time) is open again."""
        from opsconsole.monitor.incidents import load_open_incidents

        app: Any = self
        if self.incident is not None:
            return
        try:
            mine = [i for i in load_open_incidents() if i.profile == app.profile.name]
        except (OSError, ValueError) as exc:
            app.notify(f"cannot read the open incidents: {exc}", severity="warning")
            return
        if not mine:
            return
        self.incident = max(mine, key=lambda i: i.opened_at)
        self._show_incident_in_title()
        if app.dashboard is not None:
            app.dashboard.activity.record(f"incident {self.incident.id} is still open (since "
                                          f"{self.incident.opened_at}): alerts and actions go to its timeline")

    def _show_incident_in_title(self) -> None:
        """The dashboard header says INCIDENT <id> <severity> while one is open."""
        app: Any = self
        screen = app.dashboard
        if screen is not None:
            screen.incident_text = f"INCIDENT {self.incident.id} {self.incident.severity}" if self.incident else ""
            screen.refresh_header()
