"""Command palette: finds panes, commands, actions, profiles and themes, and acts on the choice."""

from __future__ import annotations

from pathlib import Path

import pytest
from pilot_helpers import dashboard_ready, until
from textual.app import App
from textual.command import CommandPalette
from textual.widgets import OptionList
from ui_profiles import dead_port, http_profile

from opsconsole import drivers
from opsconsole.config import load
from opsconsole.drivers.base import Driver, OptionSpec
from opsconsole.model import ActionResult, ActionSpec, Pane, ServiceStatus
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.commands.palette import ConsoleCommands
from opsconsole.ui.commands.runbooks import RunbookCommands
from opsconsole.ui.screens.dashboard import DashboardScreen
from opsconsole.ui.screens.dialogs import HelpScreen


def hits(app: App[object]) -> list[str]:
    results = app.screen.query_one("CommandList", OptionList)
    return [str(results.get_option_at_index(i).prompt) for i in range(results.option_count)]


async def choose(app: App[object], pilot, query: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    """Open the palette, type ``query``, wait for ``expected`` to be the first hit, pick it."""
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette))
    await pilot.press(*query)
    await until(pilot, lambda: bool(hits(app)) and expected in hits(app)[0])
    results = app.screen.query_one("CommandList", OptionList)
    if results.highlighted is None:
        await pilot.press("down")
    assert results.highlighted == 0 and expected in hits(app)[0]
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(app.screen, CommandPalette))


class NoteDriver(Driver):
    """Writes a line to a real file: an action with an effect the test can see."""

    kind = "note"
    panes = frozenset({Pane.SERVICES})
    options = (OptionSpec("path", str, required=True),)
    actions = (ActionSpec("append", "Append a note", "appends one line to the notes file", mutating=True),
               ActionSpec("count", "Count notes", "reads the notes file", mutating=False))

    async def health(self) -> list[ServiceStatus]:
        return []

    async def action_append(self) -> ActionResult:
        with open(self.config["path"], "a") as fh:
            fh.write("note\n")
        return ActionResult(True, "note appended")

    async def action_count(self) -> ActionResult:
        with open(self.config["path"]) as fh:
            return ActionResult(True, f"{len(fh.readlines())} notes")


@pytest.mark.parametrize("read_only", [False, True])
async def test_palette_runs_driver_actions_read_only_hides_mutating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  read_only: bool) -> None:
    monkeypatch.setitem(drivers.REGISTRY, "note", f"{__name__}:NoteDriver")
    notes = tmp_path / "notes.txt"
    notes.write_text("")
    path = tmp_path / "profiles.yaml"
    path.write_text(f"profiles:\n  n:\n    drivers:\n      notes: {{type: note, options: {{path: {notes}}}}}\n")
    app = OpsConsoleApp(load(path).profile("n"), config_path=str(path), read_only=read_only)
    async with app.run_test(size=(100, 30)) as pilot:
        await dashboard_ready(pilot, app)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"action")
        await until(pilot, lambda: any("Count notes" in h for h in hits(app)))
        # hits come in the provider's order: "Append" (mutating) before "Count" (read-only safe)
        assert any("Action: Append a note (notes)" in h for h in hits(app)) is not read_only
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        if not read_only:
            await choose(app, pilot, "append note", "Action: Append a note")
            await until(pilot, lambda: notes.read_text() == "note\n")


def test_palette_keeps_system_commands_and_runbooks() -> None:
    assert set(App.COMMANDS) <= OpsConsoleApp.COMMANDS
    assert {RunbookCommands, ConsoleCommands} <= OpsConsoleApp.COMMANDS


async def test_palette_switches_profile_theme_and_focuses_a_pane(tmp_path: Path) -> None:
    with http_profile(tmp_path) as (profile, path):
        path.write_text(path.read_text() + f"""\
  other:
    title: the other platform
    drivers:
      health:
        type: http
        options:
          endpoints:
            warehouse: http://127.0.0.1:{dead_port()}/health
""")
        profile = load(path).profile("web")
        app = OpsConsoleApp(profile, config_path=str(path))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                        and app.screen.panes[0].table.row_count == 2)

            await choose(app, pilot, "theme high", "Theme: high-contrast")
            assert app.theme == "high-contrast"

            await choose(app, pilot, "pane alerts", "Pane: Alerts")
            assert app.focused is not None and "Alerts" in str(app.focused.parent.border_title)

            await choose(app, pilot, "command help", "Command: Help")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.press("escape")

            await choose(app, pilot, "profile other", "Profile: other")
            await until(pilot, lambda: app.profile.name == "other" and isinstance(app.screen, DashboardScreen)
                        and app.screen.profile.name == "other")
            await until(pilot, lambda: app.screen.panes[0].table.row_count == 1)
            assert "warehouse" in str(app.screen.panes[0].table.get_row_at(0))
