"""Run a runbook against a profile's drivers, step by step, safely.

The engine is an async iterator of :class:`StepResult` events so the TUI, the
headless CLI and tests consume the same stream: ``STARTED``, streamed
``OUTPUT`` lines, then one final status per step. Safety rules live here and
nowhere else, so no front end can forget one:

* dry-run executes nothing and says exactly what would run;
* read-only (``--read-only`` or the profile's ``read_only: true``) refuses every
  mutating step;
* dangerous steps need ``Confirmer.confirm``; irreversible ones need the
  target's name typed back through ``Confirmer.typed``;
* one mutating procedure per target at a time (see :mod:`.locks`);
* cancel stops the procedure between steps (and interrupts a wait);
* every step is written to the audit log before it starts and after it ends.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from opsconsole.audit import AuditLog, redact, redact_text
from opsconsole.runbooks.locks import TargetBusy, TargetLocks
from opsconsole.runbooks.model import (
    PlannedStep,
    Runbook,
    StepKind,
    StepResult,
    StepStatus,
)
from opsconsole.runbooks.params import resolve_params
from opsconsole.runbooks.planner import PlanError, Planner
from opsconsole.runbooks.steps import StepRunner, describe_error, now, step_flags

if TYPE_CHECKING:
    from opsconsole.drivers.base import Driver


__all__ = ["AutoConfirmer", "Confirmer", "PlanError", "RunbookEngine"]


ABORT_CLEANUP_SECONDS = 120.0
"""How long an aborted run (console quit, Ctrl-C) waits for its ``finally:`` steps before giving up."""


class Confirmer(Protocol):
    """What the UI (modals) and the CLI (stdin prompts) implement.

    Either method may be a coroutine function; the engine awaits it if needed.
    """

    def confirm(self, step: PlannedStep) -> bool | Awaitable[bool]:
        """Ask to proceed with a dangerous step; True to run it."""

    def typed(self, step: PlannedStep, target_name: str) -> str | Awaitable[str]:
        """Ask the operator to type ``target_name`` for an irreversible step; return what they typed."""


class AutoConfirmer:
    """Confirms dangerous steps without asking (``--yes``) but never types a name for you."""

    def confirm(self, step: PlannedStep) -> bool:
        return True

    def typed(self, step: PlannedStep, target_name: str) -> str:
        return ""



async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


# --------------------------------------------------------------------------- engine
class RunbookEngine(Planner, StepRunner):
    """Plans and runs runbooks against the driver instances of one profile."""

    def __init__(self, drivers: Mapping[str, Driver], *, profile: str = "", read_only: bool = False,
                 confirmer: Confirmer | None = None, audit: AuditLog | None = None,
                 secrets: Iterable[str] = (), locks_dir: os.PathLike[str] | None = None) -> None:
        self.drivers = dict(drivers)
        self.profile = profile
        self.read_only = read_only
        self.confirmer = confirmer
        self.audit = audit if audit is not None else AuditLog()
        self.secrets = [s for s in secrets if s]
        self._locks_dir = locks_dir
        self._cancel = asyncio.Event()
        self._aborting = False
        self._secret_names: set[str] = set()
        self.running = False

    # -- control ----------------------------------------------------------
    def cancel(self) -> None:
        """Stop the running procedure before its next step (a wait in progress ends now)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # -- running ------------------------------------------------------------
    async def run(self, runbook: Runbook, params: Mapping[str, Any] | None = None, *,
                  dry_run: bool = False) -> AsyncIterator[StepResult]:
        """Run (or dry-run) a runbook, yielding progress and one final result per step.

        Raises PlanError before the first event when the runbook cannot run here.
        """
        planned = self.plan(runbook, params)
        values = {**resolve_params(runbook, params or {}), "profile": self.profile}
        self._cancel = asyncio.Event()
        run_id = uuid.uuid4().hex[:12]
        shown_params = redact({k: v for k, v in values.items() if k != "profile"}, self.secrets,
                              self._secret_names)
        base = {"run_id": run_id, "procedure": runbook.id, "profile": self.profile, "dry_run": dry_run}
        locks = TargetLocks(None if self._locks_dir is None else Path(self._locks_dir))
        mutated_targets = sorted({p.driver or self.profile for p in planned if p.mutating and not p.skip_reason})
        outcome = "ok"
        cleaned: set[int] = set()
        """``finally:`` steps already ended (an abort during the cleanup runs only the rest)."""
        self.running = True
        try:
            if mutated_targets and not dry_run and not self.read_only:
                try:
                    locks.acquire(self.profile, mutated_targets, runbook.id, run_id)
                except TargetBusy as exc:
                    first = next(p for p in planned if p.mutating)
                    self.audit.write(self.audit.event(**base, phase="run-end", params=shown_params,
                                                      outcome="refused", message=str(exc)))
                    yield StepResult(first.index, first.step.id, StepStatus.REFUSED, str(exc), planned=first)
                    outcome = "refused"
                    return
            self.audit.close_dangling()
            self.audit.write(self.audit.event(**base, phase="run-start", params=shown_params,
                                              start=now().isoformat(), flags=("read-only",) if self.read_only else ()))
            stop_reason = ""
            for p in (p for p in planned if not p.cleanup):
                if stop_reason:
                    yield StepResult(p.index, p.step.id, StepStatus.SKIPPED, stop_reason, planned=p)
                    continue
                if self._cancel.is_set():
                    outcome = "cancelled"
                    stop_reason = "not run: procedure cancelled"
                    self._audit_end(base, p, StepStatus.CANCELLED, "cancelled before start", None, None)
                    yield StepResult(p.index, p.step.id, StepStatus.CANCELLED, "cancelled before start", planned=p)
                    continue
                if p.skip_reason:
                    yield StepResult(p.index, p.step.id, StepStatus.SKIPPED, p.skip_reason, planned=p)
                    continue
                if dry_run:
                    yield StepResult(p.index, p.step.id, StepStatus.DRY_RUN, p.description, planned=p)
                    continue
                if p.needs_confirmation and p.step.kind is StepKind.ACTION and p.driver in self.drivers:
                    p = await self._with_preview(p)
                refusal = await self._refusal(p)
                if refusal:
                    self._audit_end(base, p, StepStatus.REFUSED, refusal, None, None)
                    yield StepResult(p.index, p.step.id, StepStatus.REFUSED, refusal, planned=p)
                    outcome = "refused"
                    stop_reason = "not run: an earlier step was refused"
                    continue
                final: StepResult | None = None
                async for event in self._execute(p, values, base):
                    if event.status.final:
                        final = event
                    else:
                        yield event
                assert final is not None
                yield final
                if not final.status.success:
                    if final.status is StepStatus.CANCELLED:
                        outcome = "cancelled"
                        stop_reason = "not run: procedure cancelled"
                    elif p.step.on_failure == "stop":
                        outcome = "failed"
                        stop_reason = f"not run: step {p.step.id!r} {final.status.value}"
                    elif outcome == "ok":
                        outcome = "ok-with-failures"
            cleanup_failed = False
            async for event in self._cleanup([p for p in planned if p.cleanup], values, base, dry_run):
                cleanup_failed = cleanup_failed or (event.status.final and not event.status.success)
                if event.status.final:
                    cleaned.add(event.index)
                yield event
            if cleanup_failed and outcome == "ok":
                outcome = "ok-with-failures"
            if dry_run:
                outcome = "dry-run"
        except asyncio.CancelledError:
            # The task itself was cancelled (the console quit, Ctrl-C on ``run``): the procedure stops here,
            # but its ``finally:`` steps still run, since they are what leaves the system working.
            outcome = "aborted"
            if not dry_run:
                await self._cleanup_after_abort([p for p in planned if p.cleanup and p.index not in cleaned],
                                                values, base)
            raise
        except BaseException:
            outcome = "aborted"
            raise
        finally:
            self.running = False
            locks.release()
            if outcome != "refused" or not mutated_targets or dry_run or self.read_only:
                try:
                    self.audit.write(self.audit.event(**base, phase="run-end", outcome=outcome,
                                                      end=now().isoformat()))
                except OSError:
                    pass

    async def _cleanup(self, planned: list[PlannedStep], values: Mapping[str, Any], base: Mapping[str, Any],
                       dry_run: bool) -> AsyncIterator[StepResult]:
        """The ``finally:`` steps, whatever happened before: each runs even if the previous one failed.

        A cancel stopped the procedure, not its cleanup: the cancel flag is reset first
        (a second cancel interrupts a cleanup wait). Read-only and confirmations still apply.
        """
        self._cancel = asyncio.Event()
        for p in planned:
            if p.skip_reason:
                yield StepResult(p.index, p.step.id, StepStatus.SKIPPED, p.skip_reason, planned=p)
                continue
            if dry_run:
                yield StepResult(p.index, p.step.id, StepStatus.DRY_RUN, f"finally: {p.description}", planned=p)
                continue
            refusal = await self._refusal(p)
            if refusal:
                self._audit_end(base, p, StepStatus.REFUSED, refusal, None, None)
                yield StepResult(p.index, p.step.id, StepStatus.REFUSED, refusal, planned=p)
                continue
            async for event in self._execute(p, values, base):
                yield event

    async def _cleanup_after_abort(self, planned: list[PlannedStep], values: Mapping[str, Any],
                                   base: Mapping[str, Any]) -> None:
        """The ``finally:`` steps of a cancelled task, each audited, with no one left to show them to.

        Runs in a task of its own that a second cancel of ours does not reach (the caller
        waits for it, at most :data:`ABORT_CLEANUP_SECONDS`). A step that needs a
        confirmation is refused: the screen that would ask is going away.
        """
        if not planned:
            return
        self._aborting = True

        async def drain() -> None:
            async for _event in self._cleanup(planned, values, base, False):
                pass

        task = asyncio.ensure_future(drain())
        try:
            await asyncio.wait_for(asyncio.shield(task), ABORT_CLEANUP_SECONDS)
        except (TimeoutError, asyncio.CancelledError):
            pass
        finally:
            self._aborting = False

    async def _with_preview(self, p: PlannedStep) -> PlannedStep:
        """Add the driver's facts about the change (a rollback's target snapshot) to what confirmation shows."""
        try:
            facts = await self.drivers[p.driver or ""].preview_action(p.step.name, dict(p.params))
        except Exception as exc:
            facts = f"(could not describe the change: {describe_error(exc)})"
        return replace(p, effect=f"{p.effect}\n  about to change: {facts}") if facts else p

    async def _refusal(self, p: PlannedStep) -> str:
        if self.read_only and p.mutating:
            return (f"refused: {p.step.ref} changes {p.target} and the console is read-only "
                    "(profile read_only: true or --read-only)")
        if not p.needs_confirmation:
            return ""
        if self._aborting:
            return "refused: the run was aborted and no one is left to confirm this cleanup step"
        if self.confirmer is None:
            return "refused: this step needs confirmation and no one can be asked (run interactively or pass --yes)"
        if p.irreversible:
            typed = await _maybe_await(self.confirmer.typed(p, p.target))
            if (typed or "").strip() != p.target:
                return f"refused: irreversible step not confirmed (type {p.target!r} exactly to proceed)"
            return ""
        if not await _maybe_await(self.confirmer.confirm(p)):
            return "refused: not confirmed"
        return ""

    def _audit_start(self, base: Mapping[str, Any], p: PlannedStep, started: datetime) -> None:
        self.audit.write(self.audit.event(
            **base, phase="start", step=p.step.id, step_index=p.index, ref=p.step.ref, driver=p.driver or "",
            params=redact(p.params, self.secrets, self._secret_names), target=p.target, flags=step_flags(p),
            start=started.isoformat()))

    def _audit_end(self, base: Mapping[str, Any], p: PlannedStep, status: StepStatus, message: str,
                   started: datetime | None, result: StepResult | None, output_hash: str = "",
                   output_bytes: int = 0) -> None:
        self.audit.write(self.audit.event(
            **base, phase="end", step=p.step.id, step_index=p.index, ref=p.step.ref, driver=p.driver or "",
            params=redact(p.params, self.secrets, self._secret_names), target=p.target, flags=step_flags(p),
            start=started.isoformat() if started else "", end=now().isoformat(), outcome=status.value,
            message=redact_text(message, self.secrets)[:2000],
            exit_code=result.exit_code if result else None, output_digest=output_hash,
            output_bytes=output_bytes))
