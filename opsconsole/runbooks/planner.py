"""Planning a runbook against a profile: parameters resolved, drivers chosen, flags merged, preflight.

A mixin of :class:`~opsconsole.runbooks.engine.RunbookEngine`. What a plan says
is what dry-run prints, what confirmations describe and what the audit records.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from opsconsole.audit import REDACTED, redact
from opsconsole.errors import OpsConsoleError
from opsconsole.redact import register_secret
from opsconsole.runbooks.model import (
    PlannedStep,
    Runbook,
    RunbookStep,
    StepKind,
)
from opsconsole.runbooks.params import resolve_params, substitute
from opsconsole.runbooks.readonly import is_read_only

if TYPE_CHECKING:
    from opsconsole.drivers.base import Driver

DEFAULT_SHELL_TIMEOUT = 3600.0
MAX_SUMMARY_ROWS = 20



class PlanError(OpsConsoleError):
    """The runbook cannot run on this profile (a missing driver, action or parameter)."""


class Planner:
    """Needs the engine's ``drivers`` and ``profile``."""

    drivers: Mapping[str, Driver]
    profile: str

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
