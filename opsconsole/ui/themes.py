"""Themes as user-editable files: ``themes/*.yaml`` loaded at start into Textual themes.

Why files: an incident room wants a high-contrast theme, a jump box behind
``screen`` has 16 colors, a projector wants light; users should fix a color
without touching code. Packaged themes ship in ``themes/`` (``opsconsole/data/themes``
in a wheel); a file of the same name in ``<config dir>/themes/`` overrides one.
Files are validated strictly (unknown keys and unparseable colors are errors
naming file, line and key); a broken user file is reported, never fatal.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import BUILTIN_THEMES, Theme

from opsconsole.errors import ConfigError
from opsconsole.yamlio import line_of, load_yaml, read_text, user_config_dir

DEFAULT_THEME = "dark"
SIXTEEN_COLOR_THEME = "screen-16"
COLOR_KEYS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground", "background",
              "surface", "panel", "boost")
OTHER_KEYS = {"name": str, "description": str, "dark": bool, "ansi": bool, "luminosity_spread": (int, float),
              "text_alpha": (int, float), "variables": dict}
ALLOWED = set(COLOR_KEYS) | set(OTHER_KEYS)
assert ALLOWED - {"description"} <= {f.name for f in fields(Theme)}


@dataclass(frozen=True)
class ThemeFile:
    """One loaded theme and where it came from (shown in the palette and error messages)."""

    theme: Theme
    description: str
    path: Path


def packaged_theme_dir() -> Path:
    here = Path(__file__).resolve().parents[1]
    wheel_copy = here / "data" / "themes"
    return wheel_copy if wheel_copy.is_dir() else here.parent / "themes"


def theme_dirs() -> list[Path]:
    """Packaged themes first, then the user's: later files override earlier ones of the same name."""
    return [packaged_theme_dir(), user_config_dir() / "themes"]


def _check_color(value: Any, *, path: str, line: int | None, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"expected a color string, got {type(value).__name__}", path=path, line=line, key=key)
    try:
        Color.parse(value)
    except ColorParseError:
        raise ConfigError(f"not a color: {value!r} (use #rrggbb, a color name or ansi_<name>)",
                          path=path, line=line, key=key) from None
    return value


def parse_theme_file(path: Path) -> ThemeFile:
    """Read and validate one theme file."""
    where = str(path)
    data = load_yaml(read_text(where, "theme"), where)
    if not isinstance(data, dict):
        raise ConfigError("a theme file is a mapping of theme keys", path=where, line=1)
    for key, value in data.items():
        line = line_of(data, key)
        if key not in ALLOWED:
            raise ConfigError(f"unknown theme key {key!r} (allowed: {', '.join(sorted(ALLOWED))})",
                              path=where, line=line, key=key)
        if key in COLOR_KEYS:
            _check_color(value, path=where, line=line, key=key)
        elif not isinstance(value, OTHER_KEYS[key]) or (OTHER_KEYS[key] is not bool and isinstance(value, bool)):
            raise ConfigError(f"wrong type {type(value).__name__}", path=where, line=line, key=key)
    if "primary" not in data:
        raise ConfigError("a theme needs at least a 'primary' color", path=where, line=1, key="primary")
    variables: dict[str, str] = {}
    raw_vars = data.get("variables") or {}
    for name, value in raw_vars.items():
        line = line_of(raw_vars, name)
        if not isinstance(value, str):
            raise ConfigError("variable values are strings", path=where, line=line, key=f"variables.{name}")
        if name.startswith(("health-", "lag-")):
            _check_color(value, path=where, line=line, key=f"variables.{name}")
        variables[str(name)] = value
    name = str(data.get("name") or path.stem)
    kwargs = {k: data[k] for k in data if k in ALLOWED and k not in {"name", "description", "variables"}}
    theme = Theme(name=name, variables=variables, **kwargs)
    return ThemeFile(theme, str(data.get("description", "")), path)


def load_theme_files(dirs: Iterable[Path] | None = None) -> tuple[dict[str, ThemeFile], list[ConfigError]]:
    """All theme files of ``dirs`` (later dirs win) and the errors of the files that failed."""
    found: dict[str, ThemeFile] = {}
    errors: list[ConfigError] = []
    for directory in theme_dirs() if dirs is None else dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
            try:
                loaded = parse_theme_file(path)
            except ConfigError as exc:
                errors.append(exc)
                continue
            found[loaded.theme.name] = loaded
    return found, errors


def available_theme_names(files: Mapping[str, ThemeFile] | None = None) -> list[str]:
    """File themes plus Textual's built-in ones (what ``--theme`` accepts)."""
    if files is None:
        files, _errors = load_theme_files()
    return sorted(set(files) | set(BUILTIN_THEMES))


def terminal_default_theme(environ: Mapping[str, str] | None = None) -> str:
    """The dark theme, or the 16-color one when the terminal does not announce more colors."""
    env = os.environ if environ is None else environ
    term = env.get("TERM", "")
    rich_colors = env.get("COLORTERM", "") in {"truecolor", "24bit"} or "256color" in term or "direct" in term
    if term and not rich_colors and (term.startswith(("screen", "tmux", "linux", "vt", "ansi", "xterm"))
                                     and not term.startswith(("xterm-kitty", "xterm-ghostty"))):
        return SIXTEEN_COLOR_THEME
    return DEFAULT_THEME


def unknown_theme_message(name: str, names: Iterable[str]) -> str:
    return f"unknown theme {name!r}; available themes: {', '.join(sorted(names))}"


def validate_theme_name(name: str, source: str = "--theme") -> None:
    """Raise a ConfigError listing the themes when ``name`` is not one (for ``--theme``)."""
    files, _errors = load_theme_files()
    names = available_theme_names(files)
    if name not in names:
        raise ConfigError(unknown_theme_message(name, names), path=source)


def validate_profile_theme(profile: Any) -> None:
    """A profile's ``theme:`` naming no theme is an error with the profile file and line (not a silent default)."""
    if not profile.theme:
        return
    files, _errors = load_theme_files()
    names = available_theme_names(files)
    if profile.theme not in names:
        raise ConfigError(unknown_theme_message(profile.theme, names), path=profile.source,
                          line=profile.theme_line, key=f"profiles.{profile.name}.theme")


def install_themes(app: Any, requested: str | None) -> list[str]:
    """Register the theme files on ``app`` and set its theme; returns messages for the user.

    Called from the app's ``__init__`` so the first frame is styled with the chosen
    theme (setting it later would restyle every widget once more). An unknown name
    falls back to the terminal's default theme with a message listing the themes.
    """
    files, errors = load_theme_files()
    for loaded in files.values():
        app.register_theme(loaded.theme)
    app.theme_files = files
    messages = [f"theme file skipped: {error}" for error in errors]
    fallback = terminal_default_theme()
    if requested and requested not in app.available_themes:
        messages.insert(0, unknown_theme_message(requested, app.available_themes) + f"; using {fallback!r}")
        requested = None
    app.theme = requested or fallback
    return messages
