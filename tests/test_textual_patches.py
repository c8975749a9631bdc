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
                               r"_row_locations|_scroll_update|_bindings|_keymap|_watch_theme|_xterm_parser|"
                               r"_batch_count|_compositor_refresh|_repaint_required)\b")
    offenders = []
    for path in sorted(UI.rglob("*.py")):
        if "textual_patches" in path.parts:
            continue
        text = path.read_text()
        if private_import.search(text) or known_private.search(text):
            offenders.append(str(path.relative_to(UI)))
    assert offenders == []


def test_frames_held_back_in_a_batch_are_still_dropped_and_repainted_later() -> None:
    """batched_render skips the render ``App._display`` would drop inside a batch, and relies on
    ``Screen._on_idle`` to repaint a screen marked ``_repaint_required`` once the batch closes."""
    from textual.app import App
    from textual.screen import Screen

    assert "_batch_count" in inspect.getsource(App._display)
    assert "_repaint_required" in inspect.getsource(Screen._on_idle)
    assert "render_update" in inspect.getsource(Screen._compositor_refresh)


async def test_the_dashboard_is_not_rendered_for_a_frame_textual_drops(tmp_path: Path) -> None:
    """At start-up the first layout ran inside Textual's batch: a full render of the dashboard, discarded."""
    from pilot_helpers import dashboard_ready
    from textual._compositor import Compositor
    from ui_profiles import http_profile

    from opsconsole.ui.app import OpsConsoleApp
    from opsconsole.ui.screens.dashboard import DashboardScreen

    wasted: list[int] = []
    render_update = Compositor.render_update

    def counting(self: Compositor, *args: object, **kwargs: object) -> object:
        app = app_ref[0]
        if app._batch_count and isinstance(app.screen, DashboardScreen) and self is app.screen._compositor:
            wasted.append(1)
        return render_update(self, *args, **kwargs)

    with http_profile(tmp_path) as (profile, _config):
        app = OpsConsoleApp(profile)
        app_ref = [app]
        Compositor.render_update = counting  # type: ignore[method-assign]
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                await dashboard_ready(pilot, app)
                await pilot.pause(0.2)
        finally:
            Compositor.render_update = render_update  # type: ignore[method-assign]
    assert wasted == []


def test_footer_keys_still_carry_a_compact_reactive() -> None:
    """footer_keys sets FooterKey.compact before mount (textual.widgets._footer is private)."""
    from textual.reactive import Reactive
    from textual.widgets._footer import Footer, FooterKey

    assert isinstance(FooterKey.__dict__.get("compact"), Reactive)
    source = inspect.getsource(Footer.compose)
    assert "compact=Footer.compact" in source and '"-command-palette"' in source


async def test_footer_keys_are_not_restyled_compact_and_back(tmp_path: Path) -> None:
    """Each key of the dashboard's footer is styled once: no ``-compact`` added only to be removed."""
    from pilot_helpers import dashboard_ready, until
    from textual.widgets._footer import FooterKey
    from ui_profiles import http_profile

    from opsconsole.ui.app import OpsConsoleApp

    toggles: list[str] = []
    add_class = FooterKey.add_class

    def counting(self: FooterKey, *names: str, update: bool = True) -> FooterKey:
        toggles.extend(n for n in names if n == "-compact" and not self.has_class(n)
                       and not self.has_class("-command-palette"))
        return add_class(self, *names, update=update)

    with http_profile(tmp_path) as (profile, _config):
        app = OpsConsoleApp(profile)
        FooterKey.add_class = counting  # type: ignore[method-assign]
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                screen = await dashboard_ready(pilot, app)
                await until(pilot, lambda: len(screen.query(FooterKey)) > 0)
                keys = list(screen.query(FooterKey))
                assert not any(k.has_class("-compact") for k in keys if not k.has_class("-command-palette"))
                assert all(k.has_class("-compact") for k in keys if k.has_class("-command-palette"))  # as Textual
        finally:
            FooterKey.add_class = add_class  # type: ignore[method-assign]
    assert toggles == []
