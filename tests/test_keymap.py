"""Keys remappable from ``profiles.yaml`` (``keymap:``): strict validation, applied in the app, shown in help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pilot_helpers import until
from ui_profiles import http_profile

from opsconsole.config import load
from opsconsole.errors import ConfigError
from opsconsole.keymap import BINDING_IDS, key_list
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.screens.dashboard import DashboardScreen
from opsconsole.ui.screens.dialogs import HelpScreen
from opsconsole.ui.screens.logs import LogsScreen
from opsconsole.ui.screens.table import DetailScreen, TableScreen, VirtualTable


def profile_with(tmp_path: Path, keymap: str, *, keys: str = "") -> Path:
    path = tmp_path / "profiles.yaml"
    path.write_text("profiles:\n  p:\n    drivers:\n      web: {type: http, options: {endpoints: {a: http://127.0.0.1:1/}}}\n"
                    + keys + "    keymap:\n" + keymap)
    return path


def test_keymap_is_normalised_like_textual(tmp_path: Path) -> None:
    path = profile_with(tmp_path, "      help: h\n      refresh: [f5, ctrl+r]\n      table-filter: '?'\n")
    assert load(path).profile("p").keymap == {"help": "h", "refresh": "f5,ctrl+r", "table-filter": "question_mark"}


@pytest.mark.parametrize(("keymap", "line", "key", "words"), [
    ("      refesh: f5\n", 6, "keymap.refesh", ["unknown binding id 'refesh'", "refresh", "table-sort"]),
    ("      refresh: ctrl+banana\n", 6, "keymap.refresh", ["unknown key 'banana'"]),
    ("      refresh: hyper+meta+cmd+r\n", 6, "keymap.refresh", ["unknown modifier 'cmd'"]),
    ("      zoom: f2\n      refresh: q\n", 7, "keymap.refresh", ["'q' is already bound to 'quit'", "dashboard"]),
    ("      table-sort: j\n", 6, "keymap.table-sort", ["'j' is already bound to 'table-down'", "table view"]),
    ("      refresh: enter\n", 6, "keymap.refresh", ["'enter' is reserved"]),
    ("      refresh: []\n", 6, "keymap.refresh", ["expected a key or a list of keys"]),
])
def test_invalid_keymap_names_file_line_and_entry(tmp_path: Path, keymap: str, line: int, key: str,
                                                  words: list[str]) -> None:
    path = profile_with(tmp_path, keymap)
    with pytest.raises(ConfigError) as info:
        load(path).profile("p")
    message = str(info.value)
    assert str(path) in message and f":{line}" in message and f"profiles.p.{key}" in message, message
    for word in words:
        assert word in message, message


def test_keymap_may_not_take_a_runbook_key_but_may_swap_keys(tmp_path: Path) -> None:
    path = profile_with(tmp_path, "      refresh: x\n", keys="    keys: {x: service-down}\n")
    with pytest.raises(ConfigError, match="bound to runbook 'service-down'"):
        load(path).profile("p")
    swapped = profile_with(tmp_path, "      refresh: q\n      quit: r\n")  # a swap is not a clash
    assert load(swapped).profile("p").keymap == {"refresh": "q", "quit": "r"}


def test_every_ui_binding_id_is_known_with_its_default_keys() -> None:
    """The textual-free list used by config validation is the UI's bindings, no more, no less."""
    from textual.binding import Binding

    found = {}
    for cls in (OpsConsoleApp, DashboardScreen, TableScreen, VirtualTable, DetailScreen, LogsScreen, HelpScreen):
        for b in cls.BINDINGS:
            if isinstance(b, Binding) and b.id:
                found[b.id] = key_list(b.key)
    assert found == {i: key_list(b.keys) for i, b in BINDING_IDS.items()}


def test_keymap_module_and_config_do_not_import_textual() -> None:
    code = "import sys, opsconsole.config, opsconsole.keymap; print('textual' in sys.modules, 'rich' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


async def test_remapped_keys_work_old_ones_do_not_and_help_shows_them(tmp_path: Path) -> None:
    extra = """\
        keymap:
          help: h
          table-view: t
          table-sort: o
        """
    with http_profile(tmp_path, extra=extra) as (profile, _):
        assert profile.keymap["help"] == "h"
        app = OpsConsoleApp(profile)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                        and app.screen.panes[0].table.row_count == 2)
            await pilot.press("question_mark")  # the default key no longer opens help
            await pilot.pause(0.1)
            assert isinstance(app.screen, DashboardScreen)
            await pilot.press("h")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
            rows = dict((desc, key) for key, desc in app.screen.rows)
            assert rows["Help"] == "h" and rows["Table view"] == "t" and rows["Refresh"] == "r"
            assert "h" in str(app.screen.query_one("#help-keys").render()).split()
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
            await pilot.press("1", "v")  # v is free now: nothing opens
            await pilot.pause(0.1)
            assert isinstance(app.screen, DashboardScreen)
            await pilot.press("t")
            await until(pilot, lambda: isinstance(app.screen, TableScreen))
            table = app.screen.query_one(VirtualTable)
            await pilot.press("right", "s")  # s no longer sorts
            assert table.sort_column is None
            await pilot.press("o")
            assert table.sort_column == 1 and [table.rows[i][1] for i in table.order] == ["api", "billing"]
            assert "o" in app.screen.active_bindings and "s" not in app.screen.active_bindings  # the footer
