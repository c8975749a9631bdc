"""What screens, widgets and palette providers may ask of the application: its surface, typed.

Screens post messages up and call these methods; nothing reaches into the
app's private members or probes it with ``hasattr``. :class:`~opsconsole.ui.app.OpsConsoleApp`
implements this protocol (a test checks it does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from textual.binding import Binding

    from opsconsole.config import Profile
    from opsconsole.drivers.base import Driver
    from opsconsole.model import ActionSpec, Alert, Health
    from opsconsole.monitor import Monitor, TrackedAlert
    from opsconsole.monitor.incidents import Incident
    from opsconsole.runbooks.library import Library
    from opsconsole.runbooks.model import Runbook


class DashboardView(Protocol):
    """What the palette and commands use of the dashboard screen (``ui/screens/dashboard.py``)."""

    BINDINGS: Any
    numbered_panes: dict[int, tuple[str, str]]
    """Pane number -> (title, widget id), as composed."""

    @property
    def drivers(self) -> list[Driver]: ...

    def action_focus_pane(self, index: int) -> None: ...


class ConsoleHost(Protocol):
    profile: Profile
    """The open profile."""
    monitor: Monitor
    """Its monitoring engine, running behind every screen."""
    config_path: str | None
    ascii_only: bool
    """The terminal cannot draw box and status glyphs (LANG=C): ASCII borders and words."""
    quit_requested: bool
    """Quit was asked while a runbook ran: the app quits once its ``finally:`` steps are done."""

    @property
    def incident(self) -> Incident | None:
        """The open incident, whose timeline collects alerts and actions."""
        ...

    @property
    def thresholds(self) -> dict[str, Any]: ...

    def record_action(self, text: str) -> None:
        """A line in the activity log and the open incident's timeline."""
        ...

    async def runbook_library(self) -> Library: ...

    def offered_runbooks(self, library: Library) -> list[Runbook]:
        """Runbooks this profile can run (their preflight passes here)."""
        ...

    def open_alert_detail(self, tracked: TrackedAlert) -> None:
        """The whole alert; its runbook one key further."""
        ...

    @property
    def read_only(self) -> bool: ...

    @property
    def dashboard(self) -> DashboardView | None: ...

    def health_style(self, health: Health) -> str:
        """A Rich style for a health state under the current theme."""
        ...

    def bound_keys_display(self, binding: Binding) -> str:
        """The keys a binding answers to now (the profile's keymap wins)."""
        ...

    def allowed_actions(self) -> list[tuple[Driver, ActionSpec]]:
        """Driver actions offered now (none that mutate in read-only mode)."""
        ...

    def choose_action(self, choice: str | None) -> None:
        """Run ``driver|action`` through parameters and confirmation."""
        ...

    def switch_profile(self, name: str | None) -> None: ...

    def action_run_runbook(self, runbook_id: str) -> None: ...

    def open_runbook_for(self, alert: Alert) -> None:
        """The runbook answering ``alert`` on this profile, parameters prefilled."""
        ...
