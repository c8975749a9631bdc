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
import fnmatch
import hashlib
import inspect
import os
import shlex
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from dataclasses import fields, is_dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from opsconsole.audit import REDACTED, AuditLog, redact, redact_text
from opsconsole.errors import OpsConsoleError
from opsconsole.redact import register_secret
from opsconsole.runbooks.locks import TargetBusy, TargetLocks
from opsconsole.runbooks.model import (
    Condition,
    PlannedStep,
    Runbook,
    RunbookStep,
    StepKind,
    StepResult,
    StepStatus,
)
from opsconsole.runbooks.params import resolve_params, substitute
from opsconsole.runbooks.readonly import is_read_only
from opsconsole.runbooks.shell import Lifeline, ShellOutput
from opsconsole.runbooks.templates import render

if TYPE_CHECKING:
    from opsconsole.drivers.base import Driver

DEFAULT_SHELL_TIMEOUT = 3600.0
MAX_SUMMARY_ROWS = 20


class PlanError(OpsConsoleError):
    """A runbook cannot run on this profile (bad parameter, missing driver, unknown action)."""


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


def _now() -> datetime:
    return datetime.now(UTC)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


# --------------------------------------------------------------------------- probes
def field_value(row: Any, name: str) -> Any:
    """``row.a.b`` for dataclass rows, with ``extra`` mappings searched too."""
    value: Any = row
    for part in name.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif hasattr(value, part):
            value = getattr(value, part)
        elif hasattr(value, "extra") and isinstance(value.extra, Mapping) and part in value.extra:
            value = value.extra[part]
        else:
            return None
    return value


def _text(value: Any) -> str:
    if isinstance(value, Enum):
        return value.name.lower()
    return "" if value is None else str(value)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "in":
        return any(_compare(actual, "==", e) for e in expected)
    if actual is None:
        return (op == "==" and expected is None) or (op == "!=" and expected is not None)
    if isinstance(actual, Enum) and isinstance(expected, str):
        member = {m.name.lower(): m for m in type(actual)}.get(expected.lower())
        if member is None:
            return op == "!="
        expected = member
    if isinstance(actual, (int, float)) and not isinstance(actual, bool) and isinstance(expected, (int, float)):
        a, e = actual, expected
    elif isinstance(actual, Enum) and isinstance(expected, Enum):
        a, e = actual, expected
    else:
        a, e = _text(actual).lower(), _text(expected).lower()
    try:
        return {"==": a == e, "!=": a != e, "<": a < e, "<=": a <= e, ">": a > e, ">=": a >= e}[op]
    except TypeError:
        return False


def select_rows(rows: Iterable[Any], select: Mapping[str, Any]) -> list[Any]:
    """Rows whose fields match every ``select`` entry (case-insensitive glob)."""
    result = []
    for row in rows:
        if all(fnmatch.fnmatchcase(_text(field_value(row, k)).lower(), _text(v).lower()) for k, v in select.items()):
            result.append(row)
    return result


def check_condition(rows: list[Any], cond: Condition) -> bool:
    if cond.field == "count":
        return _compare(len(rows), cond.op, cond.value)
    hits = [_compare(field_value(r, cond.field), cond.op, cond.value) for r in rows]
    if cond.match == "none":
        return not any(hits)
    if not rows:
        return False  # nothing observed is not evidence that all is well
    return any(hits) if cond.match == "any" else all(hits)


def summarize_row(row: Any) -> str:
    if not is_dataclass(row):
        return str(row)
    parts = []
    for f in fields(row):
        if f.name in ("extra", "source"):
            continue
        value = getattr(row, f.name)
        if value in (None, "", ()):
            continue
        parts.append(f"{f.name}={human_value(f.name, value)}")
    return " ".join(parts)


def human_value(name: str, value: Any) -> str:
    """A value as a person reads it in a run log: ``latency_ms=10.7 ms``, ``checked_at=12s ago``,
    not ``10.726421999834201`` or ``2026-11-29T11:23:16+00:00``."""
    if isinstance(value, datetime):
        seconds = (_now() - value).total_seconds() if value.tzinfo else None
        if seconds is None or seconds < 0:
            return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if seconds >= size:
                return f"{seconds / size:.0f}{unit} ago"
        return f"{seconds:.0f}s ago"
    if isinstance(value, float):
        text = f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
        return text + (" ms" if name.endswith("_ms") else " s" if name.endswith("_s") else "")
    return _text(value)


# --------------------------------------------------------------------------- engine
class RunbookEngine:
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
        self._secret_names: set[str] = set()
        self.running = False

    # -- planning ----------------------------------------------------------
    def _driver_for(self, step: RunbookStep, values: Mapping[str, Any]) -> tuple[str | None, str]:
        if step.driver:
            name = str(substitute(step.driver, values))
            drv = self.drivers.get(name)
            if drv is None or drv.kind != step.driver_type:
                raise PlanError(f"step {step.id!r}: profile has no {step.driver_type} driver named {name!r}")
            return name, ""
        names = [n for n, d in self.drivers.items() if d.kind == step.driver_type]
        if not names:
            if step.optional:
                return None, f"profile {self.profile!r} has no {step.driver_type} driver"
            raise PlanError(f"step {step.id!r} needs a {step.driver_type} driver; profile {self.profile!r} has "
                            f"{', '.join(sorted({d.kind for d in self.drivers.values()})) or 'no drivers'}")
        if len(names) > 1:
            raise PlanError(f"step {step.id!r}: profile {self.profile!r} has several {step.driver_type} drivers "
                            f"({', '.join(names)}); set 'driver:' on the step")
        return names[0], ""

    def preflight(self, runbook: Runbook) -> str:
        """Why this runbook cannot run on this profile whatever the operator types ("" when it can).

        A step needs a driver of its type, and an action that driver offers with this
        profile's options (a Databricks driver without ``warehouse_id`` offers no table
        actions): a runbook failing that is refused by construction, so it is not offered.
        """
        for step in runbook.steps:
            if step.kind is StepKind.SHELL or not step.driver_type:
                continue
            names = [n for n, d in self.drivers.items() if d.kind == step.driver_type]
            if step.driver and "${" not in step.driver:
                names = [n for n in names if n == step.driver]
            if not names:
                if step.optional:
                    continue
                return f"step {step.id!r} needs a {step.driver_type} driver"
            if step.kind is StepKind.ACTION and not step.optional and not any(
                    step.name in {a.name for a in self.drivers[n].actions} for n in names):
                return f"step {step.id!r}: {step.driver_type} action {step.name!r} is not available with this " \
                       f"profile's options"
        return ""

    def plan(self, runbook: Runbook, params: Mapping[str, Any] | None = None) -> list[PlannedStep]:
        """Resolve parameters, drivers and flags; raise PlanError when it cannot run here."""
        try:
            values = resolve_params(runbook, params or {})
        except ValueError as exc:
            raise PlanError(f"{runbook.id}: {exc}") from None
        values = {**values, "profile": self.profile}
        self._secret_names = {p.name for p in runbook.params if p.secret}
        for name in self._secret_names:  # scrubbed from every output, message and description from now on
            register_secret(str(values.get(name) or ""))
        planned: list[PlannedStep] = []
        cleanup_from = len(runbook.steps)
        for index, step in enumerate(runbook.steps + runbook.cleanup):
            step = self._resolve_seconds(step, values)
            spec = None
            driver_name: str | None = None
            skip = ""
            step_params: dict[str, Any] = {}
            if step.kind is not StepKind.SHELL:
                driver_name, skip = self._driver_for(step, values)
            if step.kind is StepKind.ACTION:
                from opsconsole.drivers import driver_class

                try:
                    cls = type(self.drivers[driver_name]) if driver_name else driver_class(step.driver_type or "")
                    spec = cls.action(step.name)
                except OpsConsoleError as exc:
                    if not skip:
                        raise PlanError(f"step {step.id!r}: {exc}") from None
                    spec = None
                step_params = {k: v for k, v in substitute(dict(step.params), values).items() if v is not None}
                if spec is not None:  # e.g. a RESTORE timestamp in UTC: confirm exactly what will run
                    step_params = cls.normalize_params(step.name, step_params)
                mutating = (spec.mutating if spec else True) or bool(step.mutating)
                dangerous = (spec.dangerous if spec else False) or step.dangerous
                irreversible = (spec.irreversible if spec else False) or step.irreversible
            elif step.kind is StepKind.PROBE:
                mutating = dangerous = irreversible = False
            else:
                # Mutating unless the runbook says otherwise AND the command is on the read-only allowlist.
                mutating = not (step.mutating is False and step.output is None
                                and is_read_only(self._resolved_command(step, values)))
                dangerous, irreversible = step.dangerous, step.irreversible
            dangerous = dangerous or irreversible
            target = str(substitute(step.target, values)) if step.target else (driver_name or self.profile)
            effect = "; ".join(x for x in (spec.effect if spec else "", str(substitute(step.effect, values))) if x)
            planned.append(PlannedStep(
                index=index, step=step, params=step_params, driver=driver_name, spec=spec, mutating=mutating,
                dangerous=dangerous, irreversible=irreversible, confirm=step.confirm or dangerous, target=target,
                description=self._describe(step, driver_name, step_params, values), effect=effect,
                skip_reason=skip, cleanup=index >= cleanup_from))
        return planned

    @staticmethod
    def _resolve_seconds(step: RunbookStep, values: Mapping[str, Any]) -> RunbookStep:
        changes: dict[str, float] = {}
        for key in ("timeout", "interval"):
            value = getattr(step, key)
            if isinstance(value, str):
                resolved = substitute(value, values)
                try:
                    number = float(resolved)
                except (TypeError, ValueError):
                    raise PlanError(f"step {step.id!r}: {key} {value} resolved to {resolved!r}, "
                                    "not a number of seconds") from None
                if number <= 0:
                    raise PlanError(f"step {step.id!r}: {key} must be positive, got {number:g}")
                changes[key] = number
        return replace(step, **changes) if changes else step

    def _describe(self, step: RunbookStep, driver: str | None, params: Mapping[str, Any],
                  values: Mapping[str, Any]) -> str:
        shown = redact(params, self.secrets, self._secret_names)
        if step.kind is StepKind.ACTION:
            args = ", ".join(f"{k}={v}" for k, v in shown.items())
            return f"{step.driver_type}.{step.name}({args}) on {driver or '-'}"
        if step.kind is StepKind.PROBE:
            sel = ", ".join(f"{k}={substitute(v, values)}" for k, v in step.select.items())
            text = f"read {driver or '-'}.{step.name}" + (f" where {sel}" if sel else "")
            if step.expect:
                text += f"; {'wait until' if step.until else 'check'} {substitute(step.expect.describe(), values)}"
            if step.until:
                text += f" (timeout {step.timeout:g}s, every {step.interval:g}s)"
            return text
        return "$ " + self._command_text(step, values)

    def _command_text(self, step: RunbookStep, values: Mapping[str, Any]) -> str:
        shown = {k: (REDACTED if k in self._secret_names else v) for k, v in values.items()}
        if isinstance(step.command, str):
            text = substitute(step.command, shown, quote=True)
        else:
            text = shlex.join(str(substitute(a, shown)) for a in step.command)
        return (f"(cd {substitute(step.cwd, shown)} && {text})" if step.cwd else text)

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
                                              start=_now().isoformat(), flags=("read-only",) if self.read_only else ()))
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
                yield event
            if cleanup_failed and outcome == "ok":
                outcome = "ok-with-failures"
            if dry_run:
                outcome = "dry-run"
        except BaseException:
            outcome = "aborted"
            raise
        finally:
            self.running = False
            locks.release()
            if outcome != "refused" or not mutated_targets or dry_run or self.read_only:
                try:
                    self.audit.write(self.audit.event(**base, phase="run-end", outcome=outcome,
                                                      end=_now().isoformat()))
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

    async def _with_preview(self, p: PlannedStep) -> PlannedStep:
        """Add the driver's facts about the change (a rollback's target snapshot) to what confirmation shows."""
        try:
            facts = await self.drivers[p.driver or ""].preview_action(p.step.name, dict(p.params))
        except Exception as exc:
            facts = f"(could not describe the change: {_describe_exc(exc)})"
        return replace(p, effect=f"{p.effect}\n  about to change: {facts}") if facts else p

    async def _refusal(self, p: PlannedStep) -> str:
        if self.read_only and p.mutating:
            return (f"refused: {p.step.ref} changes {p.target} and the console is read-only "
                    "(profile read_only: true or --read-only)")
        if not p.needs_confirmation:
            return ""
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
            params=redact(p.params, self.secrets, self._secret_names), target=p.target, flags=_flags(p),
            start=started.isoformat()))

    def _audit_end(self, base: Mapping[str, Any], p: PlannedStep, status: StepStatus, message: str,
                   started: datetime | None, result: StepResult | None, output_hash: str = "",
                   output_bytes: int = 0) -> None:
        self.audit.write(self.audit.event(
            **base, phase="end", step=p.step.id, step_index=p.index, ref=p.step.ref, driver=p.driver or "",
            params=redact(p.params, self.secrets, self._secret_names), target=p.target, flags=_flags(p),
            start=started.isoformat() if started else "", end=_now().isoformat(), outcome=status.value,
            message=redact_text(message, self.secrets)[:2000],
            exit_code=result.exit_code if result else None, output_digest=output_hash,
            output_bytes=output_bytes))

    async def _execute(self, p: PlannedStep, values: Mapping[str, Any],
                       base: Mapping[str, Any]) -> AsyncIterator[StepResult]:
        started = _now()
        self._audit_start(base, p, started)
        yield StepResult(p.index, p.step.id, StepStatus.STARTED, p.description, started_at=started, planned=p)
        hasher = hashlib.sha256()
        size = 0
        final: StepResult | None = None
        try:
            if p.step.kind is StepKind.ACTION:
                runner = self._run_action(p)
            elif p.step.kind is StepKind.PROBE:
                runner = self._run_probe(p, values)
            else:
                runner = self._run_shell(p, values)
            async for event in runner:
                if event.output:
                    chunk = event.output.encode("utf-8", "replace")
                    hasher.update(chunk + b"\n")
                    size += len(chunk) + 1
                if event.status.final:
                    final = event
                else:
                    yield StepResult(p.index, p.step.id, event.status, event.message, event.output,
                                     started_at=started, planned=p)
        except asyncio.CancelledError:
            self._audit_end(base, p, StepStatus.CANCELLED, "interrupted", started, None,
                            "sha256:" + hasher.hexdigest() if size else "", size)
            raise
        except Exception as exc:
            final = StepResult(p.index, p.step.id, StepStatus.FAILED, redact_text(_describe_exc(exc), self.secrets))
        assert final is not None
        if final.output:
            chunk = final.output.encode("utf-8", "replace")
            hasher.update(chunk + b"\n")
            size += len(chunk) + 1
        result = StepResult(p.index, p.step.id, final.status, final.message, final.output, final.exit_code,
                            started_at=started, ended_at=_now(), planned=p)
        self._audit_end(base, p, result.status, result.message, started, result,
                        "sha256:" + hasher.hexdigest() if size else "", size)
        yield result

    async def _run_action(self, p: PlannedStep) -> AsyncIterator[StepResult]:
        driver = self.drivers[p.driver or ""]
        call = driver.run_action(p.step.name, dict(p.params))
        res = await (asyncio.wait_for(call, p.step.timeout) if p.step.timeout else call)
        output = redact_text(res.output or "", self.secrets)
        for line in output.splitlines():
            yield StepResult(p.index, p.step.id, StepStatus.OUTPUT, output=line)
        yield StepResult(p.index, p.step.id, StepStatus.OK if res.ok else StepStatus.FAILED,
                         redact_text(res.message, self.secrets))

    async def _observe(self, p: PlannedStep, values: Mapping[str, Any]) -> list[Any]:
        driver = self.drivers[p.driver or ""]
        method = getattr(driver, p.step.name)
        limit = max(driver.timeout * 2, 1.0)
        rows = await asyncio.wait_for(method(), limit)
        select = {k: substitute(v, values) for k, v in p.step.select.items()}
        return select_rows(rows, select)

    async def _run_probe(self, p: PlannedStep, values: Mapping[str, Any]) -> AsyncIterator[StepResult]:
        step = p.step
        if step.expect is not None and isinstance(step.expect.value, str) and "${" in step.expect.value:
            step = replace(step, expect=replace(step.expect, value=substitute(step.expect.value, values)))
        if not step.until:
            rows = await self._observe(p, values)
            for row in rows[:MAX_SUMMARY_ROWS]:
                yield StepResult(p.index, step.id, StepStatus.OUTPUT, output=summarize_row(row))
            if step.expect is None:
                yield StepResult(p.index, step.id, StepStatus.OK, f"{len(rows)} row(s)")
            elif check_condition(rows, step.expect):
                yield StepResult(p.index, step.id, StepStatus.OK, f"holds: {step.expect.describe()}")
            else:
                yield StepResult(p.index, step.id, StepStatus.FAILED,
                                 f"does not hold: {step.expect.describe()} ({len(rows)} row(s) observed)")
            return
        assert step.expect is not None and step.timeout is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + step.timeout
        last = ""
        while True:
            try:
                rows = await self._observe(p, values)
                state = "; ".join(summarize_row(r) for r in rows[:3]) or "no matching rows"
                if check_condition(rows, step.expect):
                    yield StepResult(p.index, step.id, StepStatus.OUTPUT, output=state)
                    yield StepResult(p.index, step.id, StepStatus.OK, f"holds: {step.expect.describe()}")
                    return
            except Exception as exc:
                state = f"unreachable: {_describe_exc(exc)}"
            if state != last:
                yield StepResult(p.index, step.id, StepStatus.OUTPUT, output=state)
                last = state
            remaining = deadline - loop.time()
            if remaining <= 0:
                yield StepResult(p.index, step.id, StepStatus.TIMED_OUT,
                                 f"gave up after {step.timeout:g}s waiting until {step.expect.describe()}; "
                                 f"last seen: {last}")
                return
            try:
                await asyncio.wait_for(self._cancel.wait(), min(step.interval, remaining))
            except TimeoutError:
                continue
            yield StepResult(p.index, step.id, StepStatus.CANCELLED, "cancelled while waiting")
            return

    def _resolved_command(self, step: RunbookStep, values: Mapping[str, Any]) -> str | list[str]:
        return render(step.command, values, self._secret_names)[0]

    async def _run_shell(self, p: PlannedStep, values: Mapping[str, Any]) -> AsyncIterator[StepResult]:
        step = p.step
        command, secret_env = render(step.command, values, self._secret_names)
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else command
        cwd = os.path.expanduser(str(substitute(step.cwd, values))) if step.cwd else None
        output = ShellOutput(step.output, values, cwd) if step.output else None
        lifeline = Lifeline()
        try:
            proc = await asyncio.create_subprocess_exec(
                *lifeline.wrap(argv), stdout=output.fd if output else asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE if output else asyncio.subprocess.STDOUT,
                stdin=lifeline.stdin, cwd=cwd, start_new_session=True,
                env={**os.environ, **secret_env} if secret_env else None)
        except BaseException:
            lifeline.cut()
            if output:
                output.discard()
            raise
        lifeline.started()
        if output:
            output.close_fd()
        try:
            async for result in self._follow(p, proc, output):
                yield result
        finally:
            lifeline.cut()  # the step is over: whatever it left running in its group goes too
            if output:
                output.discard()  # no-op once committed

    async def _follow(self, p: PlannedStep, proc: asyncio.subprocess.Process,
                      output: ShellOutput | None) -> AsyncIterator[StepResult]:
        step = p.step
        stream = proc.stderr if output else proc.stdout
        limit = step.timeout or DEFAULT_SHELL_TIMEOUT
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        assert stream is not None
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError
                line = await asyncio.wait_for(stream.readline(), remaining)
                if not line:
                    break
                yield StepResult(p.index, step.id, StepStatus.OUTPUT,
                                 output=redact_text(line.decode("utf-8", "replace").rstrip("\n"), self.secrets))
            code = await asyncio.wait_for(proc.wait(), max(deadline - loop.time(), 0.1))
        except TimeoutError:
            _kill(proc)
            await proc.wait()
            yield StepResult(p.index, step.id, StepStatus.TIMED_OUT, f"killed after {limit:g}s",
                             exit_code=proc.returncode)
            return
        except BaseException:
            _kill(proc)
            raise
        if code == 0:
            note = f"; wrote {output.commit()}" if output else ""
            yield StepResult(p.index, step.id, StepStatus.OK, f"exit code 0{note}", exit_code=0)
        else:
            note = f"; {output.path} left as it was" if output else ""
            yield StepResult(p.index, step.id, StepStatus.FAILED, f"exit code {code}{note}", exit_code=code)


def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _flags(p: PlannedStep) -> tuple[str, ...]:
    return tuple(name for name, on in (("mutating", p.mutating), ("dangerous", p.dangerous),
                                       ("irreversible", p.irreversible), ("confirm", p.confirm)) if on)


def _describe_exc(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) and not str(exc):
        return "timed out"
    from opsconsole.drivers.base import describe

    return str(exc) if isinstance(exc, OpsConsoleError) else describe(exc)
