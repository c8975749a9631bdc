"""Between the TUI and the runbook engine: one engine per run, modal confirmations, audited ad-hoc actions.

Every change the console makes goes through :class:`RunbookEngine`, so the
audit log, read-only refusal, target locks and confirmations are enforced in
one place. An action picked from the Actions list is run as a one-step
procedure named ``ad-hoc``: it is audited before and after exactly like a
runbook step, and refused the same way when another procedure holds the target.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opsconsole.audit import AuditLog
from opsconsole.model import ActionResult, ActionSpec
from opsconsole.runbooks.engine import PlanError, RunbookEngine
from opsconsole.runbooks.model import PlannedStep, Runbook, RunbookStep, StepKind, StepStatus
from opsconsole.ui.screens.dialogs import ConfirmScreen, TypedConfirmScreen

if TYPE_CHECKING:
    from textual.app import App

    from opsconsole.drivers.base import Driver

ADHOC = "ad-hoc"


class ModalConfirmer:
    """The engine's ``Confirmer`` answered with the console's modal dialogs.

    Must be used by an engine running inside a Textual worker: ``push_screen_wait``
    only works there, and it keeps the UI responsive while the dialog is open.
    """

    def __init__(self, app: App[Any]) -> None:
        self.app = app

    @staticmethod
    def _text(step: PlannedStep) -> str:
        lines = [f"step {step.index + 1}: {step.step.title}", f"runs: {step.description}"]
        if step.effect:
            lines.append(f"effect: {step.effect}")
        return "\n".join(lines)

    async def confirm(self, step: PlannedStep) -> bool:
        return bool(await self.app.push_screen_wait(ConfirmScreen(step.step.title, self._text(step))))

    async def typed(self, step: PlannedStep, target_name: str) -> str:
        ok = await self.app.push_screen_wait(TypedConfirmScreen(step.step.title, self._text(step), target_name))
        return target_name if ok else ""


class AlreadyConfirmed:
    """For an ad-hoc action the operator already confirmed (or typed the target of) in the Actions flow."""

    def confirm(self, step: PlannedStep) -> bool:
        return True

    def typed(self, step: PlannedStep, target_name: str) -> str:
        return target_name


def make_engine(app: Any, confirmer: Any) -> RunbookEngine:
    """An engine over the current dashboard's (connected) drivers, with the app's profile and mode."""
    screen = app.dashboard
    drivers = {d.name: d for d in (screen.drivers if screen is not None else [])}
    return RunbookEngine(drivers, profile=app.profile.name, read_only=app.read_only, confirmer=confirmer,
                         audit=AuditLog(), secrets=app.profile.secrets())


def adhoc_runbook(driver: Driver, spec: ActionSpec, timeout: float,
                  params: Mapping[str, Any] | None = None) -> Runbook:
    """A one-step procedure calling ``spec`` on ``driver``: what the audit log records for an Actions pick."""
    step = RunbookStep(id=spec.name if spec.name.replace("-", "").isalnum() else "action", title=spec.title,
                       kind=StepKind.ACTION, driver_type=driver.kind, name=spec.name, driver=driver.name,
                       timeout=timeout, params=dict(params or {}))
    return Runbook(id=ADHOC, title=f"{spec.title} [{driver.name}]", steps=(step,), summary="picked from Actions")


async def run_audited_action(app: Any, driver: Driver, spec: ActionSpec, *, timeout: float,
                             params: Mapping[str, Any] | None = None) -> ActionResult:
    """Run one driver action through the engine (audited, locked, read-only aware) and say how it ended."""
    engine = make_engine(app, AlreadyConfirmed())
    try:
        events = [r async for r in engine.run(adhoc_runbook(driver, spec, timeout, params))]
    except PlanError as exc:
        return ActionResult(False, str(exc))
    final = [r for r in events if r.status.final]
    output = "\n".join(r.output for r in events if r.status is StepStatus.OUTPUT)
    if not final:
        return ActionResult(False, "no result")
    last = final[-1]
    result = ActionResult(last.status is StepStatus.OK, last.message or last.status.value, output)
    incident = app.incident
    if incident is not None:  # the Actions flow logs to the activity log itself; the timeline is ours
        incident.add("action", f"ad-hoc {driver.name}.{spec.name} {last.status.value}: {result.message}")
    return result
