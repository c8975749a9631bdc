"""The Textual application: profiles, themes, actions; panes live in their own modules."""

from __future__ import annotations

import asyncio
import gc
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.driver import Driver as TerminalDriver

from opsconsole.config import Profile, load, load_profile
from opsconsole.drivers.base import Driver, describe
from opsconsole.drivers.threads import DaemonThreadPool
from opsconsole.errors import ConfigError
from opsconsole.model import ActionSpec, Health
from opsconsole.monitor import Monitor, build_drivers
from opsconsole.ui.commands.palette import ConsoleCommands
from opsconsole.ui.idle_gc import CHECK_EVERY, IdleCollector
from opsconsole.ui.operations import OperationsMixin
from opsconsole.ui.screens.dashboard import DashboardScreen

if TYPE_CHECKING:
    from opsconsole.ui.screens.dialogs import HelpScreen

HEALTH_VARIABLES = {
    Health.OK: "health-ok",
    Health.WARNING: "health-warning",
    Health.CRITICAL: "health-critical",
    Health.UNKNOWN: "health-unknown",
}
DEFAULT_THEME = "textual-dark"


def coerce_params(driver: Driver, spec: ActionSpec, values: dict[str, str]) -> dict[str, object]:
    """Typed values for the driver's ``action_<name>`` (ints, floats, bools from its annotations)."""
    import inspect

    handler = getattr(driver, f"action_{spec.name.replace('-', '_')}", None)
    annotations = {}
    if handler is not None:
        annotations = {n: str(p.annotation) for n, p in inspect.signature(handler).parameters.items()}
    out: dict[str, object] = {}
    for name, value in values.items():
        kind = annotations.get(name, "str")
        try:
            if kind.startswith("int"):
                out[name] = int(value)
            elif kind.startswith("float"):
                out[name] = float(value)
            elif kind.startswith("bool"):
                out[name] = value.lower() in {"1", "true", "yes", "y", "on"}
            else:
                out[name] = value
        except ValueError:
            out[name] = value  # the driver's own validation names the bad value
    return out


HELP_SCREEN = "help"


class OpsConsoleApp(OperationsMixin, App[int]):
    """opsconsole's TUI for one profile at a time."""

    CSS_PATH = "app.tcss"
    TITLE = "opsconsole"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = OperationsMixin.COMMANDS | {ConsoleCommands}
    """Textual's system commands, runbooks, and panes/commands/actions/profiles/themes (ui/palette.py)."""
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit-ctrl-c")]

    def __init__(self, profile: Profile, *, config_path: str | None = None, read_only: bool = False,
                 theme: str | None = None, drivers: list[Driver] | None = None) -> None:
        super().__init__()
        self.profile = profile
        self.config_path = config_path
        self.force_read_only = read_only
        self.requested_theme = theme or profile.theme
        self._health_styles: dict[Health, str] = {}
        self.idle_gc = IdleCollector()
        self._help_screen: HelpScreen | None = None
        from opsconsole.ui.format import ascii_terminal, use_ascii

        self.ascii_only = ascii_terminal()
        self.quit_requested = False
        """LANG=C / non-UTF-8 terminal: ASCII borders, status words instead of glyphs (app.tcss ``-ascii``)."""
        use_ascii(self.ascii_only)
        self.monitor = Monitor(profile, drivers if drivers is not None else build_drivers(profile))
        """The monitoring engine of the open profile: it keeps running whatever screen is on top."""
        from opsconsole.ui.themes import install_themes

        self._theme_messages = install_themes(self, self.requested_theme)

    def get_driver_class(self) -> type[TerminalDriver]:
        """Textual's choice, except its Linux terminal driver becomes one that sleeps while idle."""
        driver_class = super().get_driver_class()
        from textual.drivers.linux_driver import LinuxDriver

        if driver_class is LinuxDriver:
            from opsconsole.ui.textual_patches.idle_input import QuietLinuxDriver

            return QuietLinuxDriver
        return driver_class

    # ------------------------------------------------------------------ theme
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {"health-ok": "#4EBF71", "health-warning": "#E0B400", "health-critical": "#F0524F",
                "health-unknown": "#8A8F98", "lag-high": "#E0B400"}

    def health_style(self, health: Health) -> str:
        """A Rich style string for a health state under the current theme."""
        if not self._health_styles:
            variables = self.get_css_variables()
            self._health_styles = {h: variables.get(v, "") for h, v in HEALTH_VARIABLES.items()}
        return self._health_styles.get(health, "")

    def _theme_changed(self, _theme: object) -> None:
        """Textual's ``theme_changed_signal``: health colours come from the new theme's variables."""
        self._health_styles = {}
        for pane in self.dashboard.panes if self.dashboard else []:
            if pane.result is not None:
                pane.apply(pane.result)  # re-colour health cells now, not at the next poll

    @property
    def thresholds(self) -> dict[str, Any]:
        return dict(self.profile.alerts)

    @property
    def read_only(self) -> bool:
        return self.force_read_only or self.profile.read_only

    # ------------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        for message in self._theme_messages:  # unknown --theme / profile theme, broken theme files
            self.notify(message, title="theme", severity="error", timeout=15)
        self.set_class(self.ascii_only, "-ascii")
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.set_keymap(self.profile.keymap)  # profiles.yaml keymap: (binding id -> keys), validated by config
        self.push_screen(self._new_dashboard(self.monitor))
        self.call_after_refresh(self.resume_open_incident)  # an incident survives a restart of the console
        # asyncio.to_thread work must not keep the process alive after quit if a backend hangs.
        asyncio.get_running_loop().set_default_executor(DaemonThreadPool(8, "opsconsole-io"))
        self.call_after_refresh(self._after_first_frame)
        self.call_after_refresh(self._start_monitor)  # paint first: connecting may import SDKs

    def _new_dashboard(self, monitor: Monitor) -> DashboardScreen:
        screen = DashboardScreen(self.profile, monitor, read_only=self.read_only, health_style=self.health_style)
        self.bind_profile_keys(screen)
        return screen

    def _start_monitor(self) -> None:
        if self.monitor.snapshot_writer is None:  # after the first frame: its imports are not needed for it
            self.monitor.keep_snapshots()  # the next launch shows these rows, dimmed, until its first poll lands
        self.run_worker(self.monitor.start(), group="monitor", exit_on_error=False)

    def _after_first_frame(self) -> None:
        # Start-up objects live for the whole session: take them out of the cyclic GC's view, so a
        # full collection (tens of ms on a busy poll) does not stall the event loop while probing.
        gc.freeze()
        gc.enable()  # the CLI disabled it for the start-up (cli.py)
        self.idle_gc.install()
        self.set_interval(CHECK_EVERY, self.idle_gc.collect_if_due, name="idle full GC")

    async def on_unmount(self) -> None:
        # Quitting with `q` already stopped the monitor; any other exit (an error, a test leaving its
        # context) must not leave polls running or a demo engine we started behind.
        try:
            await asyncio.wait_for(self.monitor.stop(), 10)
        except Exception:
            self.monitor.cancel()
        self.idle_gc.uninstall()  # the process (a test run, a caller of run()) gets CPython's GC back

    @property
    def dashboard(self) -> DashboardScreen | None:
        for screen in reversed(self.screen_stack):
            if isinstance(screen, DashboardScreen):
                return screen
        return None

    async def action_quit(self) -> None:
        """Quit cleanly: stop polling, close drivers (and the demo engine we started).

        A runbook still running is cancelled first, and the app quits once its ``finally:``
        steps have run (they may still ask for a confirmation); quitting again does not wait.
        """
        from opsconsole.ui.screens.runbooks import RunbookRunScreen

        running = [s for s in self.screen_stack if isinstance(s, RunbookRunScreen) and not s.finished]
        if running and not self.quit_requested:
            self.quit_requested = True
            for screen in running:
                screen.action_cancel_run()
            from opsconsole.ui.screens.dialogs import ConfirmScreen, TypedConfirmScreen

            if isinstance(self.screen, ConfirmScreen | TypedConfirmScreen):
                self.screen.dismiss(False)  # quitting declines the change being asked about
            self.notify("cancelling the runbook: quitting once its finally: steps have run "
                        "(quit again to stop waiting)", title="quit", timeout=10)
            return
        await self.monitor.stop()
        self.exit(0)

    # ------------------------------------------------------------------ help / profiles
    def action_help(self) -> None:
        rows: list[tuple[str, str]] = []
        screen = self.dashboard
        seen = set()
        for bindings in (screen.BINDINGS if screen else [], self.BINDINGS):
            for b in bindings:
                if isinstance(b, Binding) and b.description and b.key not in seen:
                    if b.action == "app.actions" and not self.allowed_actions():
                        continue
                    seen.add(b.key)
                    rows.append((self.bound_keys_display(b), b.description))
        if not any(k.startswith("pane-") for k in self.profile.keymap):
            rows.append(("1-7", "focus a pane"))
        rows += [("tab", "next pane"), ("ctrl+p", "command palette")]
        if screen is not None:  # the focused pane's keys and those of the views it opens (ui/help_rows.py)
            from opsconsole.ui.screens.help_rows import pane_rows, view_rows
            from opsconsole.ui.screens.pane_views import focused_container

            container = focused_container(screen) or (screen.panes[0] if screen.panes else None)
            rows += pane_rows(container, dict(self.profile.keymap),
                              lambda c: getattr(c, "pane", None) is not None and c.pane.value == "services"
                              and any(d.can_stream_logs for d in screen.drivers))
            rows += view_rows(dict(self.profile.keymap))
        text = f"profile {self.profile.name}: {self.profile.title} ({self.profile.source})"
        # Kept installed between openings: composing and styling it again took most of the ~40 ms `?` cost.
        cached = self._help_screen
        if cached is None or (cached.rows, cached.profile_text) != (rows, text):
            if cached is not None and self.is_screen_installed(HELP_SCREEN):
                self.uninstall_screen(HELP_SCREEN)
            from opsconsole.ui.screens.dialogs import HelpScreen

            self._help_screen = HelpScreen(rows, text)
            self.install_screen(self._help_screen, HELP_SCREEN)
        self.push_screen(HELP_SCREEN)

    def bound_keys_display(self, binding: Binding) -> str:
        """The keys a binding answers to now: the profile's keymap wins over the default."""
        remapped = self.profile.keymap.get(binding.id) if binding.id else None
        if not remapped:
            return binding.key_display or binding.key
        return ", ".join(self.get_key_display(Binding(k, "")) for k in remapped.split(","))

    def action_pick_profile(self) -> None:
        try:
            from opsconsole.config import discover

            names = load(self.profile.source if self.config_path is None else discover(self.config_path)).names
        except ConfigError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        from opsconsole.ui.screens.dialogs import PickScreen

        options = [(n, f"{'● ' if n == self.profile.name else '  '}{n}") for n in names]
        self.clear_notifications()  # toasts sit above every screen: they would cover the list being picked from
        self.push_screen(PickScreen("Switch profile", options), self.switch_profile)

    def switch_profile(self, name: str | None) -> None:
        if not name or name == self.profile.name:
            return
        try:
            profile = load_profile(name, self.config_path or self.profile.source)
            monitor = Monitor(profile, build_drivers(profile))
            monitor.keep_snapshots()
        except ConfigError as exc:
            self.notify(str(exc), title="cannot switch profile", severity="error", timeout=15)
            return
        old_monitor = self.monitor
        old_lines = list(self.dashboard.activity.lines) if self.dashboard is not None else []
        self.profile = profile
        self.monitor = monitor
        self.set_keymap(profile.keymap)
        screen = self._new_dashboard(monitor)
        # What happened before the switch stays readable: an incident's story does not end at a profile change.
        screen.carried_lines = [line for line in old_lines if line.strip()]
        screen.startup_notes.append(f"switched from profile {old_monitor.profile.name}")
        self._replace_dashboard(old_monitor, screen)

    @work(group="switch", exit_on_error=False)
    async def _replace_dashboard(self, old: Monitor, new: DashboardScreen) -> None:
        await old.stop()  # the old platform's polls and drivers end before the new ones start
        await self.switch_screen(new)
        await self.monitor.start()

    # ------------------------------------------------------------------ actions
    def allowed_actions(self) -> list[tuple[Driver, ActionSpec]]:
        screen = self.dashboard
        if screen is None:
            return []
        return [(d, spec) for d in screen.drivers for spec in d.actions
                if not (self.read_only and spec.mutating)]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "actions":
            return bool(self.allowed_actions())
        return True

    def action_actions(self) -> None:
        allowed = self.allowed_actions()
        if not allowed:
            self.notify("no actions available" + (" in read-only mode" if self.read_only else ""))
            return
        from opsconsole.ui.screens.dialogs import PickScreen

        options = [(f"{d.name}|{spec.name}", f"{spec.title}  [{d.name}]" + ("  ⚠" if spec.dangerous else ""))
                   for d, spec in allowed]
        self.push_screen(PickScreen("Run an action", options, note="Each asks before it changes anything "
                                    "dangerous. esc cancels."), self.choose_action)

    def choose_action(self, choice: str | None) -> None:
        if not choice:
            return
        driver_name, _, action_name = choice.partition("|")
        screen = self.dashboard
        if screen is None:
            return
        driver = next(d for d in screen.drivers if d.name == driver_name)
        spec = driver.action(action_name)
        if self.read_only and spec.mutating:  # belt and braces: the list already hides these
            self.notify(f"{spec.title} refused: read-only mode", severity="error")
            return
        if spec.params:
            from opsconsole.ui.screens.dialogs import ParamsScreen

            self.push_screen(ParamsScreen(spec.title, spec.effect, spec.params, self._param_defaults(driver, spec)),
                             lambda values: values is not None and self._confirm_action(driver, spec,
                                                                                         coerce_params(driver, spec,
                                                                                                       values)))
        else:
            self._confirm_action(driver, spec, {})

    def _param_defaults(self, driver: Driver, spec: ActionSpec) -> dict[str, str]:
        """Prefill from the focused pane's selected row (a service, a table) when it belongs to this driver."""
        screen = self.dashboard
        row = None
        if screen is not None and screen.focused is not None:
            pane = screen.focused.parent
            selected = getattr(pane, "selected_row", None)
            row = selected() if callable(selected) else None
        import inspect

        handler = getattr(driver, f"action_{spec.name.replace('-', '_')}", None)
        defaults = {}
        if handler is not None:  # the action's own defaults, e.g. the demo's one table
            defaults = {n: str(p.default) for n, p in inspect.signature(handler).parameters.items()
                        if n in spec.params and p.default is not inspect.Parameter.empty and p.default is not None}
        if row is None or getattr(row, "source", None) != driver.name:
            return defaults
        from opsconsole.model import ServiceStatus, TableStats

        if isinstance(row, TableStats) and "table" in spec.params:
            defaults["table"] = row.name
        elif isinstance(row, ServiceStatus) and "service" in spec.params:
            defaults["service"] = str((row.extra or {}).get("service") or row.name)
        return defaults

    def _confirm_action(self, driver: Driver, spec: ActionSpec, params: dict[str, object]) -> None:
        params = driver.normalize_params(spec.name, params)  # confirm exactly what will run (UTC timestamps)
        target = next((str(params[k]) for k in ("table", "service", "name") if k in params), driver.name)
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        from opsconsole.ui.screens.dialogs import ConfirmScreen, TypedConfirmScreen

        effect = spec.effect + (f"\n\nParameters: {shown}" if shown else "")
        if spec.irreversible:
            self.push_screen(TypedConfirmScreen(spec.title, effect, target),
                             lambda ok: ok and self._run_action(driver, spec, params))
        elif spec.dangerous:
            self.push_screen(ConfirmScreen(spec.title, effect),
                             lambda ok: ok and self._run_action(driver, spec, params))
        else:
            self._run_action(driver, spec, params)

    @work(group="action", exit_on_error=False)
    async def _run_action(self, driver: Driver, spec: ActionSpec, params: dict[str, object] | None = None) -> None:
        screen = self.dashboard
        log = screen.activity if screen else None
        if log:
            log.record(f"action {driver.name}.{spec.name} started: {spec.effect}")
        try:
            # Through the engine: audited before and after, refused when read-only or the target is busy.
            from opsconsole.ui.runbook_bridge import run_audited_action

            result = await run_audited_action(self, driver, spec, timeout=max(driver.timeout * 6, 60),
                                              params=params or {})
        except Exception as exc:
            message = f"{spec.title} failed: {describe(exc)}"
            self.notify(message, severity="error", timeout=10)
            if log:
                log.record(f"action {driver.name}.{spec.name} FAILED: {describe(exc)}")
            return
        self.notify(result.message, title=spec.title, severity="information" if result.ok else "error")
        if log:
            log.record(f"action {driver.name}.{spec.name} {'ok' if result.ok else 'FAILED'}: {result.message}")
        self.monitor.refresh()
