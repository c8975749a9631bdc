"""What screens, widgets and palette providers may ask of the application: its surface, typed.

Screens post messages up and call these methods; nothing reaches into the
app's private members or probes it with ``hasattr``. :class:`~opsconsole.ui.app.OpsConsoleApp`
implements this protocol (a test checks it does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from textual.binding import Binding

    from opsconsole.config import Profile
    from opsconsole.drivers.base import Driver
    from opsconsole.model import ActionSpec, Alert, Health
    from opsconsole.monitor import Monitor
    from opsconsole.ui.screens.dashboard import DashboardScreen


class ConsoleHost(Protocol):
    profile: Profile
    """The open profile."""
    monitor: Monitor
    """Its monitoring engine, running behind every screen."""
    config_path: str | None

    @property
    def read_only(self) -> bool: ...

    @property
    def dashboard(self) -> DashboardScreen | None: ...

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
