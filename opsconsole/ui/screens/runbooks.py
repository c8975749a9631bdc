"""Run a runbook from the TUI: pick, fill parameters, preview (dry-run), run with live progress.

The flow is one worker awaiting one modal after another, so the dashboard keeps
polling underneath and every backend call stays off the event loop's critical
path. Safety is not re-implemented here: the engine refuses mutating steps in
read-only mode, asks the :class:`~opsconsole.ui.runbook_bridge.ModalConfirmer`
for dangerous and irreversible steps, locks targets and writes the audit log.
The screens only *show* those rules in advance (marks in the picker, REFUSED in
the preview) so nobody is surprised halfway through a procedure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, RichLog, Static
from textual.widgets.option_list import Option

from opsconsole.errors import OpsConsoleError
from opsconsole.runbooks.engine import PlanError
from opsconsole.runbooks.library import Library, load_library
from opsconsole.runbooks.model import PlannedStep, Runbook, StepKind, StepResult, StepStatus
from opsconsole.runbooks.params import resolve_params
from opsconsole.ui.runbook_bridge import ModalConfirmer, make_engine

if TYPE_CHECKING:
    from opsconsole.model import Alert
    from opsconsole.ui.host import ConsoleHost

MUTATING_MARK = "✎"
STATUS_STYLE = {StepStatus.OK: "green", StepStatus.DRY_RUN: "cyan", StepStatus.SKIPPED: "dim",
                StepStatus.FAILED: "bold red", StepStatus.TIMED_OUT: "bold red", StepStatus.REFUSED: "bold yellow",
                StepStatus.CANCELLED: "yellow"}


# --------------------------------------------------------------------------- pure helpers
def changes_things(runbook: Runbook, kinds: Iterable[str]) -> bool:
    """Would the runbook change anything on a profile with these driver types?

    Action steps change things unless their driver declares the action read-only;
    shell steps unless marked ``mutating: false`` and on the read-only allowlist; optional steps whose driver the
    profile lacks are skipped, so they do not count.
    """
    from opsconsole.drivers import driver_class
    from opsconsole.runbooks.readonly import is_read_only

    have = set(kinds)
    for step in runbook.steps:
        if step.optional and step.driver_type and step.driver_type not in have:
            continue
        if step.kind is StepKind.SHELL and (step.mutating is not False or step.output
                                            or not is_read_only(step.command)):
            return True  # the engine's rule: declared read-only AND on the read-only allowlist
        if step.kind is StepKind.ACTION:
            if step.mutating:
                return True
            try:
                if driver_class(step.driver_type or "").action(step.name).mutating:
                    return True
            except OpsConsoleError:
                return True  # unknown action: assume the worst; the engine will refuse to plan it
    return False


def runbook_for_alert(alert: Alert, library: Library, applicable: Sequence[Runbook]) -> Runbook | None:
    """The runbook that answers an alert *on this profile*.

    The alert names a generic runbook (``compaction``); when the profile cannot
    run that one (the demo has no iceberg driver), a runbook this profile can run
    that declares it answers the alert's rule (``demo-compaction``) is used.
    """
    ids = {r.id for r in applicable}
    if alert.runbook and alert.runbook in ids:
        return library.runbooks[alert.runbook]
    for rb in applicable:
        if alert.rule in rb.alerts:
            return rb
    return None


def plan_lines(planned: Sequence[PlannedStep], read_only: bool) -> Text:
    """The dry-run: exactly what each step would run, with its flags and effect."""
    text = Text()
    for p in planned:
        if p.cleanup and (p.index == 0 or not planned[p.index - 1].cleanup):
            text.append("finally (always runs, even after a refusal, failure or cancel):\n", style="bold italic")
        text.append(f"{p.index + 1}. {p.step.title}\n", style="bold")
        text.append(f"   {p.description}\n")
        flags = [name for name, on_ in (("mutating", p.mutating), ("dangerous: asks first", p.dangerous),
                                       (f"irreversible: type {p.target!r}", p.irreversible)) if on_]
        if p.skip_reason:
            text.append(f"   skipped: {p.skip_reason}\n", style="dim")
        elif read_only and p.mutating:
            text.append("   REFUSED: the console is read-only\n", style="bold yellow")
        elif flags:
            text.append(f"   [{', '.join(flags)}]\n", style="yellow" if p.dangerous else "")
        else:
            text.append("   [read-only]\n", style="dim")
        if p.effect:
            text.append(f"   effect: {p.effect}\n", style="italic")
    return text


def result_line(result: StepResult, total: int) -> Text:
    if result.status is StepStatus.STARTED:
        return Text(f"[{result.index + 1}/{total}] {result.step_id}: {result.message}", style="bold")
    if result.status is StepStatus.OUTPUT:
        return Text(f"    | {result.output}")
    took = f" ({result.duration_s:.1f}s)" if result.duration_s is not None else ""
    head = f"    -> {result.status.value}{took}" if result.started_at else \
        f"[{result.index + 1}/{total}] {result.step_id}: {result.status.value}"
    return Text(f"{head}: {result.message}", style=STATUS_STYLE.get(result.status, ""))


# --------------------------------------------------------------------------- screens
class RunbookPickScreen(ModalScreen[str | None]):
    """Runbooks this profile can run; type to filter, enter to pick, esc to cancel."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]
    DEFAULT_CSS = """
    RunbookPickScreen #runbook-list { height: auto; max-height: 16; }
    """

    def __init__(self, runbooks: Sequence[Runbook], mutating: Mapping[str, bool], *, read_only: bool) -> None:
        super().__init__()
        self.runbooks = list(runbooks)
        self.mutating = dict(mutating)
        self.read_only = read_only

    def label(self, rb: Runbook) -> Text:
        text = Text(f"{rb.id}  ", style="bold")
        text.append(rb.title)
        text.append(f"  [{rb.severity}]", style="dim")
        if self.mutating.get(rb.id):
            text.append(f" {MUTATING_MARK}", style="yellow")
            if self.read_only:
                text.append(" read-only: changes refused", style="bold yellow")
        return text

    def compose(self) -> ComposeResult:
        note = f"{MUTATING_MARK} changes something (asks before anything dangerous). Type to filter; esc cancels."
        if self.read_only:
            note = f"READ-ONLY: steps marked {MUTATING_MARK} will be refused. " + note
        with Vertical(classes="modal-box"):
            yield Static(Text(f"Run a runbook ({len(self.runbooks)} for this profile)", style="bold"))
            yield Static(Text(note, style="dim"))
            yield Input(placeholder="filter", id="runbook-filter")
            yield OptionList(*self._options(""), id="runbook-list")

    def _options(self, needle: str) -> list[Option]:
        needle = needle.lower().strip()
        return [Option(self.label(rb), id=rb.id) for rb in self.runbooks
                if not needle or needle in f"{rb.id} {rb.title} {' '.join(rb.alerts)} {' '.join(rb.symptoms)}".lower()]

    @on(Input.Changed, "#runbook-filter")
    def _filter(self, event: Input.Changed) -> None:
        options = self.query_one("#runbook-list", OptionList)
        options.clear_options()
        options.add_options(self._options(event.value))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Submitted, "#runbook-filter")
    def _submit_filter(self) -> None:
        options = self.query_one("#runbook-list", OptionList)
        if options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted or 0).id)

    def on_key(self, event: Any) -> None:
        # Arrow keys move the list while the filter keeps focus.
        if event.key in ("down", "up") and isinstance(self.focused, Input):
            options = self.query_one("#runbook-list", OptionList)
            options.focus()
            options.action_cursor_down() if event.key == "down" else options.action_cursor_up()
            event.stop()

    @on(OptionList.OptionSelected, "#runbook-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class RunbookParamsScreen(ModalScreen[dict[str, str] | None]):
    """One input per parameter, validated exactly like ``opsconsole run --param``; enter submits."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, runbook: Runbook, prefill: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.runbook = runbook
        self.prefill = dict(prefill or {})
        """Values taken from the alert that opened the runbook (ui/runbook_prefill.py)."""

    def on_mount(self) -> None:
        inputs = self.query(Input)
        if inputs:
            inputs.first().focus()  # enter previews at once, as the hint says

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box"):
            yield Static(Text(f"{self.runbook.title}: parameters", style="bold"))
            for p in self.runbook.params:
                hint = p.type.value + (" required" if p.required else "")
                if p.choices:
                    hint += f"; one of {', '.join(str(c) for c in p.choices)}"
                yield Static(Text(f"{p.name} ({hint})" + (f": {p.help}" if p.help else "")))
                value = self.prefill.get(p.name, "" if p.default is None else str(p.default))
                yield Input(value=value, password=p.secret,
                            id=f"param-{p.name}")
            yield Static("", id="param-errors")
            yield Static(Text("enter: preview what would run · esc: cancel", style="dim"))

    def values(self) -> dict[str, str]:
        return {p.name: self.query_one(f"#param-{p.name}", Input).value for p in self.runbook.params}

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        values = self.values()
        try:
            resolve_params(self.runbook, values)
        except ValueError as exc:
            self.query_one("#param-errors", Static).update(Text(str(exc), style="bold red"))
            return
        self.dismiss(values)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class RunbookPreviewScreen(ModalScreen[bool]):
    """Dry-run: the engine's plan, step by step; enter runs it, esc goes back."""

    BINDINGS = [Binding("escape,n", "answer(False)", "Back"), Binding("enter,y", "answer(True)", "Run")]
    DEFAULT_CSS = """
    RunbookPreviewScreen #preview-plan { height: auto; max-height: 30; }
    RunbookPreviewScreen .dialog-keys { dock: bottom; height: 1; }
    """
    """The key hint is docked: at 80x24 a long plan scrolls, the keys stay on screen."""

    def __init__(self, runbook: Runbook, planned: Sequence[PlannedStep], *, read_only: bool) -> None:
        super().__init__()
        self.runbook = runbook
        self.planned = list(planned)
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(Text(f"DRY RUN  {self.runbook.id}: {self.runbook.title}", style="bold"))
            if self.runbook.summary:
                yield Static(Text(self.runbook.summary, style="dim"))
            with VerticalScroll(id="preview-plan"):
                yield Static(plan_lines(self.planned, self.read_only), id="preview-steps")
            yield Static(Text("enter / y: run it · esc / n: back", style="dim"), classes="dialog-keys")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class RunbookRunScreen(ModalScreen[str]):
    """Live progress of a run; esc / c cancel between steps, esc closes once it has ended."""

    BINDINGS = [Binding("escape", "close_or_cancel", "Cancel/close"), Binding("c", "cancel_run", "Cancel")]
    DEFAULT_CSS = """
    RunbookRunScreen .modal-box { height: 90%; }
    RunbookRunScreen #run-log { height: 1fr; }
    RunbookRunScreen #run-hint { dock: bottom; height: 1; }
    """

    def __init__(self, runbook: Runbook, params: Mapping[str, str], total: int) -> None:
        super().__init__()
        self.runbook = runbook
        self.params = dict(params)
        self.total = total
        self.engine: Any = None
        self.outcome = ""
        self.results: list[StepResult] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(Text(f"RUNNING  {self.runbook.id}: {self.runbook.title}", style="bold"), id="run-title")
            yield RichLog(id="run-log", markup=False, wrap=True, max_lines=2000)
            yield Static(Text("c / esc: cancel after the current step", style="dim"), id="run-hint")

    def on_mount(self) -> None:
        self.engine = make_engine(self.app, ModalConfirmer(self.app))
        self._run()

    @property
    def finished(self) -> bool:
        return bool(self.outcome)

    @work(group="runbook-run", exit_on_error=False)
    async def _run(self) -> None:
        log = self.query_one(RichLog)
        final: list[StepResult] = []
        try:
            async for result in self.engine.run(self.runbook, self.params):
                self.results.append(result)
                log.write(result_line(result, self.total))
                if result.status.final:
                    final.append(result)
                    _record(self.app, f"runbook {self.runbook.id} step {result.step_id}: {result.status.value}"
                                      + (f" - {result.message}" if result.message else ""))
        except Exception as exc:  # a crash of the engine itself: say so, never kill the app
            log.write(Text(f"ERROR: {exc}", style="bold red"))
            self.outcome = "error"
        else:
            self.outcome = _outcome(final)
        self.query_one("#run-title", Static).update(
            Text(f"{self.outcome.upper()}  {self.runbook.id}: {self.runbook.title}", style="bold"))
        self.query_one("#run-hint", Static).update(Text("esc: close", style="dim"))
        _record(self.app, f"runbook {self.runbook.id} ended: {self.outcome}")
        host = cast("ConsoleHost", self.app)
        host.monitor.refresh()  # the effect of the run, on screen now
        if host.quit_requested:  # quit was asked mid-run: the cleanup is done, now quit
            self.app.call_later(self.app.action_quit)

    def action_cancel_run(self) -> None:
        if not self.finished and self.engine is not None:
            self.engine.cancel()
            self.query_one("#run-hint", Static).update(Text("cancelling after the current step…", style="yellow"))

    def action_close_or_cancel(self) -> None:
        if self.finished:
            self.dismiss(self.outcome)
        else:
            self.action_cancel_run()


def _outcome(final: Sequence[StepResult]) -> str:
    statuses = [r.status for r in final if r.planned is None or r.planned.step.on_failure == "stop"
                or r.status in (StepStatus.REFUSED, StepStatus.CANCELLED)]
    for status in (StepStatus.CANCELLED, StepStatus.REFUSED, StepStatus.FAILED, StepStatus.TIMED_OUT):
        if status in statuses:
            return status.value
    return "ok"


def _record(app: ConsoleHost, text: str) -> None:
    """Activity log (and the open incident's timeline, when there is one)."""
    app.record_action(text)


# --------------------------------------------------------------------------- the flow
async def pick_runbook(app: Any, library: Library) -> str | None:
    runbooks = app.offered_runbooks(library)
    kinds = {d.kind for d in app.dashboard.drivers}
    mutating = {rb.id: changes_things(rb, kinds) for rb in runbooks}
    return await app.push_screen_wait(RunbookPickScreen(runbooks, mutating, read_only=app.read_only))


async def runbook_flow(app: Any, runbook_id: str | None = None, library: Library | None = None,
                       prefill: Mapping[str, str] | None = None) -> str:
    """Pick (unless given), parameters, preview, run. Returns how it ended (``back`` when abandoned)."""
    if app.dashboard is None:
        return "back"
    try:
        library = library or load_library()
    except OpsConsoleError as exc:
        app.notify(str(exc), title="runbook library", severity="error", timeout=15)
        return "error"
    for warning in library.warnings:
        app.notify(warning, title="runbook library", severity="warning", timeout=15)
    if runbook_id is None:
        runbook_id = await pick_runbook(app, library)
        if runbook_id is None:
            return "back"
    runbook = library.runbooks.get(runbook_id)
    if runbook is None:
        app.notify(f"unknown runbook {runbook_id!r}", severity="error")
        return "error"
    if runbook.id not in {r.id for r in app.offered_runbooks(library)}:
        app.notify(f"{runbook.id} needs drivers this profile does not have "
                   f"({', '.join(sorted(runbook.driver_types))})", severity="error", timeout=10)
        return "error"
    params: dict[str, str] = {}
    while True:
        if runbook.params:
            answer = await app.push_screen_wait(RunbookParamsScreen(runbook, params or prefill))
            if answer is None:
                return "back"
            params = answer
        engine = make_engine(app, None)
        try:
            planned = engine.plan(runbook, params)
        except PlanError as exc:
            app.notify(str(exc), title="cannot run here", severity="error", timeout=15)
            if runbook.params:
                continue
            return "error"
        if await app.push_screen_wait(RunbookPreviewScreen(runbook, planned, read_only=app.read_only)):
            break
        if not runbook.params:
            return "back"
    return await app.push_screen_wait(RunbookRunScreen(runbook, params, len(planned)))


