"""Command palette (ctrl+p): panes, console commands, driver actions, profiles and themes.

Why one provider for all of them: on a jump box the palette is the one place
to find everything by typing part of a name ("prof stag", "theme high"), so it
lists what the console can do *now*: the panes of the active profile, the
dashboard's commands (with their current, possibly remapped keys), the driver
actions read-only mode allows (each still asks before it changes anything
dangerous), the profiles of the profiles file and the registered themes.
Runbooks come from :class:`~opsconsole.ui.commands.runbooks.RunbookCommands`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from opsconsole.ui.host import ConsoleHost

Entry = tuple[str, Callable[[], Any], str]
"""(text shown and matched, what selecting it does, help line)."""


class ConsoleCommands(Provider):
    """"Pane: …", "Command: …", "Action: …", "Profile: …", "Theme: …"."""

    _profiles: tuple[str, ...] = ()

    async def startup(self) -> None:
        app = cast("ConsoleHost", self.app)
        profile = app.profile
        from opsconsole.config import discover, load
        from opsconsole.errors import ConfigError

        source = app.config_path or profile.source
        try:
            # In a thread: the palette opens at once even when the profiles file is on a slow mount.
            self._profiles = await asyncio.to_thread(lambda: load(discover(source)).names)
        except ConfigError:
            self._profiles = (profile.name,)

    def entries(self) -> list[Entry]:
        app = cast("ConsoleHost", self.app)
        dashboard = app.dashboard
        out: list[Entry] = []
        if dashboard is not None:
            for number, (title, _widget_id) in dashboard.numbered_panes.items():  # data panes, alerts, activity
                out.append((f"Pane: {title}", lambda i=number: dashboard.action_focus_pane(i),
                            f"focus pane [{number}] {title}"))
            for binding in dashboard.BINDINGS:
                if not (isinstance(binding, Binding) and binding.description and binding.id) \
                        or binding.id.startswith("pane-") or binding.action == "app.command_palette":
                    continue
                keys = app.bound_keys_display(binding)
                out.append((f"Command: {binding.description}", self._binding_runner(dashboard, binding),
                            f"key {keys}"))
        for driver, spec in app.allowed_actions():
            choice = f"{driver.name}|{spec.name}"
            danger = " (asks first: dangerous)" if spec.dangerous or spec.irreversible else ""
            out.append((f"Action: {spec.title} ({driver.name})", lambda c=choice: app.choose_action(c),
                        f"{spec.effect}{danger}"))
        current = app.profile.name
        for name in self._profiles:
            if name != current:
                out.append((f"Profile: {name}", lambda n=name: app.switch_profile(n), "switch to this profile"))
        for name in sorted(app.available_themes):
            if name != app.theme:
                out.append((f"Theme: {name}", lambda n=name: setattr(app, "theme", n), "switch theme"))
        return out

    def _binding_runner(self, dashboard: Any, binding: Binding) -> Callable[[], Any]:
        app: Any = self.app
        return lambda: app.call_later(app.run_action, binding.action, dashboard)

    async def discover(self) -> Hits:
        for text, run, help_text in self.entries():
            if not text.startswith("Theme:"):  # themes only when asked for: they would crowd out the rest
                yield DiscoveryHit(text, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, run, help_text in self.entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), run, help=help_text)
