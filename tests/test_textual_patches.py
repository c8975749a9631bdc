"""The Textual internals ``opsconsole/ui/textual_patches/`` relies on are still there in the pinned Textual.

Each patch has a fallback or a test of its effect elsewhere; these tests say *which*
internal moved, the moment a Textual upgrade moves it, instead of a vague slowdown.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import textual
from textual.drivers.linux_driver import LinuxDriver
from textual.widget import Widget
from textual.widgets import DataTable

UI = Path(__file__).resolve().parents[1] / "opsconsole" / "ui"


def test_textual_is_the_pinned_major_version() -> None:
    assert textual.__version__.split(".")[0] == "8"


def test_the_input_thread_patch_still_matches_textual() -> None:
    """idle_input replaces LinuxDriver.run_input_thread and feeds textual._xterm_parser.XTermParser."""
    from textual._xterm_parser import XTermParser

    source = inspect.getsource(LinuxDriver.run_input_thread)
    assert "selectors" in source or "select" in source
    assert "XTermParser" in source and "feed" in inspect.getsource(XTermParser)
    assert hasattr(LinuxDriver, "exit_event") or "exit_event" in inspect.getsource(LinuxDriver.__init__)


def test_datatable_render_caches_still_exist() -> None:
    """pane_table evicts DataTable's private render caches to repaint only the changed cells."""
    table = DataTable()
    for name in ("_cell_render_cache", "_row_render_cache", "_row_renderable_cache", "_line_cache",
                 "_row_locations", "_data"):
        assert hasattr(table, name), f"DataTable.{name} is gone: pane_table falls back to update_cell"


def test_runtime_bindings_still_live_on_the_screen() -> None:
    """runtime_bindings binds a profile's keys through Screen._bindings."""
    from textual.screen import Screen

    screen = Screen()
    assert callable(getattr(screen._bindings, "bind", None))


def test_scroll_update_still_exists() -> None:
    """steady_scroll sizes the scrollbars itself with Widget._scroll_update."""
    assert callable(getattr(Widget, "_scroll_update", None))
    assert list(inspect.signature(Widget._scroll_update).parameters) == ["self", "virtual_size"]


def test_no_module_outside_textual_patches_touches_textual_internals() -> None:
    """Only ui/textual_patches/ imports ``textual._*`` or reaches into a Textual object's private members."""
    private_import = re.compile(r"^\s*(from|import) textual\._", re.M)
    known_private = re.compile(r"\.(_cell_render_cache|_row_render_cache|_row_renderable_cache|_line_cache|"
                               r"_row_locations|_scroll_update|_bindings|_keymap|_watch_theme|_xterm_parser)\b")
    offenders = []
    for path in sorted(UI.rglob("*.py")):
        if "textual_patches" in path.parts:
            continue
        text = path.read_text()
        if private_import.search(text) or known_private.search(text):
            offenders.append(str(path.relative_to(UI)))
    assert offenders == []
