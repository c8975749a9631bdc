"""Themes: user-editable files, --theme, terminal defaults, palette switching, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pilot_helpers import until
from ui_profiles import http_profile

from opsconsole.errors import ConfigError
from opsconsole.model import Health
from opsconsole.ui.app import OpsConsoleApp
from opsconsole.ui.screens.dashboard import DashboardScreen
from opsconsole.ui.themes import (
    load_theme_files,
    packaged_theme_dir,
    parse_theme_file,
    terminal_default_theme,
)

ROOT = Path(__file__).resolve().parents[1]




def services_rows(app: OpsConsoleApp) -> dict[str, str]:
    """Service name -> style of its State cell, as drawn."""
    screen = app.screen
    assert isinstance(screen, DashboardScreen)
    pane = next(p for p in screen.panes if p.pane.value == "services")
    table = pane.table
    out = {}
    for row_key in table.rows:
        state, name = table.get_cell(row_key, "state"), table.get_cell(row_key, "name")
        out[str(name)] = str(state.style)
    return out


def test_packaged_themes_parse_and_cover_the_rooms() -> None:
    files, errors = load_theme_files([packaged_theme_dir()])
    assert not errors
    assert {"dark", "light", "high-contrast", "screen-16"} <= set(files)
    assert files["screen-16"].theme.ansi is True
    assert files["light"].theme.dark is False
    for loaded in files.values():
        assert loaded.theme.variables["health-ok"] != loaded.theme.variables["health-critical"]


def test_invalid_theme_file_names_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("name: mine\nprimary: '#112233'\nbackgorund: '#000000'\n")
    with pytest.raises(ConfigError) as info:
        parse_theme_file(bad)
    assert f"{bad}:3: backgorund: unknown theme key" in str(info.value)
    bad.write_text("primary: '#112233'\nvariables:\n  health-ok: not-a-colour\n")
    with pytest.raises(ConfigError, match=r"mine.yaml:3: variables.health-ok: not a color"):
        parse_theme_file(bad)


@pytest.mark.parametrize(("env", "expected"), [
    ({"TERM": "screen"}, "screen-16"),
    ({"TERM": "linux"}, "screen-16"),
    ({"TERM": "xterm-256color"}, "dark"),
    ({"TERM": "screen", "COLORTERM": "truecolor"}, "dark"),
    ({"TERM": "tmux-256color"}, "dark"),
])
def test_terminal_default_theme(env: dict[str, str], expected: str) -> None:
    assert terminal_default_theme(env) == expected


def test_cli_rejects_unknown_theme_listing_them() -> None:
    out = subprocess.run([sys.executable, "-m", "opsconsole", "--theme", "no-such-theme"], capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 2
    assert "unknown theme 'no-such-theme'" in out.stderr
    for name in ("dark", "light", "high-contrast", "screen-16"):
        assert name in out.stderr


async def test_theme_from_flag_and_palette_switch_recolours_cells(tmp_path: Path) -> None:
    light = parse_theme_file(packaged_theme_dir() / "light.yaml").theme
    contrast = parse_theme_file(packaged_theme_dir() / "high-contrast.yaml").theme
    with http_profile(tmp_path) as (profile, _):
        app = OpsConsoleApp(profile, theme="light")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: len(services_rows(app)) == 2)
            assert app.theme == "light"
            assert app.health_style(Health.OK) == light.variables["health-ok"]
            assert services_rows(app)["billing"] == light.variables["health-critical"]
            app.theme = "high-contrast"  # what the palette's theme command does
            await pilot.pause(0.2)
            assert app.health_style(Health.CRITICAL) == contrast.variables["health-critical"]
            assert services_rows(app)["billing"] == contrast.variables["health-critical"]
            assert app.get_css_variables()["background"].upper().startswith("#000000")


async def test_unknown_theme_in_app_falls_back_and_tells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    with http_profile(tmp_path) as (profile, _):
        app = OpsConsoleApp(profile, theme="neon")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.2)
            assert app.theme == "dark"
            messages = [n.message for n in app._notifications]
            assert any("unknown theme 'neon'" in m and "high-contrast" in m for m in messages)


async def test_user_theme_file_overrides_and_broken_one_is_reported(tmp_path: Path) -> None:
    themes = Path(__import__("os").environ["OPSCONSOLE_CONFIG_DIR"]) / "themes"
    themes.mkdir(parents=True)
    (themes / "dark.yaml").write_text("name: dark\nprimary: '#123456'\nvariables:\n  health-ok: '#00FF7F'\n")
    (themes / "broken.yaml").write_text("name: broken\nprimary: [1, 2]\n")
    with http_profile(tmp_path) as (profile, _):
        app = OpsConsoleApp(profile, theme="dark")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: len(services_rows(app)) == 2)
            assert services_rows(app)["api"] == "#00FF7F"
            assert "broken" not in app.available_themes
            messages = [n.message for n in app._notifications]
            assert any("broken.yaml:2: primary" in m for m in messages)


async def test_sixteen_colour_terminal_gets_the_ansi_theme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "screen")
    monkeypatch.delenv("COLORTERM", raising=False)
    with http_profile(tmp_path) as (profile, _):
        app = OpsConsoleApp(profile)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: len(services_rows(app)) == 2)
            assert app.theme == "screen-16"
            assert services_rows(app)["billing"] == "red"
