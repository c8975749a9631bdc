"""``opsconsole run PROCEDURE``: run a runbook without the TUI.

Same engine, same safety rules, same audit log as the TUI: dry-run prints what
would run; dangerous steps ask ``[y/N]`` on the terminal (``--yes`` answers for
you); irreversible steps always need the target's name typed on stdin, even
with ``--yes``, because a script that can say "yes" to dropping volumes by
accident is exactly what this rule exists to stop.

Exit codes: 0 the procedure completed (or dry-run; diagnosis steps marked
``on_failure: continue`` may have failed, and say so), 1 a step failed or timed out,
2 configuration or parameter error, 3 refused (read-only, not confirmed, busy
target), 130 cancelled with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
from typing import Any, TextIO

from opsconsole.audit import AuditLog
from opsconsole.config import load_profile
from opsconsole.errors import ConfigError, OpsConsoleError
from opsconsole.runbooks.engine import PlanError, RunbookEngine
from opsconsole.runbooks.library import Library, load_library
from opsconsole.runbooks.model import PlannedStep, Runbook, StepResult, StepStatus
from opsconsole.runbooks.params import parse_assignments

MARKS = {StepStatus.OK: "ok", StepStatus.FAILED: "FAILED", StepStatus.TIMED_OUT: "TIMED OUT",
         StepStatus.SKIPPED: "skipped", StepStatus.REFUSED: "REFUSED", StepStatus.CANCELLED: "cancelled",
         StepStatus.DRY_RUN: "would run"}


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Run a runbook procedure headless (dry-run, params, confirmations, audit log)."""
    parser.add_argument("procedure", nargs="?",
                        help="runbook id, or a driver action TYPE.ACTION such as docker.restart_service "
                             "(omit with --list)")
    parser.add_argument("--profile", "-p", dest="run_profile", metavar="NAME", help="profile to run against")
    parser.add_argument("--config", dest="run_config", metavar="PATH", help="profiles file")
    parser.add_argument("--dry-run", action="store_true", help="print exactly what would run; change nothing")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="runbook parameter")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="confirm dangerous steps without asking (irreversible ones still need the name typed)")
    parser.add_argument("--read-only", dest="run_read_only", action="store_true",
                        help="refuse every mutating step")
    parser.add_argument("--list", action="store_true", help="list the runbooks this profile can run")


class StdinConfirmer:
    """Asks on stderr, reads answers from stdin (a terminal or a pipe)."""

    def __init__(self, yes: bool, stdin: TextIO | None = None, out: TextIO | None = None) -> None:
        self.yes = yes
        self.stdin = stdin or sys.stdin
        self.out = out or sys.stderr

    def _ask(self, prompt: str) -> str:
        self.out.write(prompt)
        self.out.flush()
        line = self.stdin.readline()
        return line.rstrip("\n") if line else ""

    def _explain(self, step: PlannedStep) -> None:
        self.out.write(f"\n  step {step.index + 1}: {step.step.title}\n  runs: {step.description}\n")
        if step.effect:
            self.out.write(f"  effect: {step.effect}\n")

    def confirm(self, step: PlannedStep) -> bool:
        if self.yes:
            return True
        self._explain(step)
        return self._ask("  Proceed? [y/N] ").strip().lower() in {"y", "yes"}

    def typed(self, step: PlannedStep, target_name: str) -> str:
        self._explain(step)
        return self._ask(f"  This cannot be undone. Type {target_name!r} to proceed: ")


def _line(result: StepResult, total: int) -> str:
    p = result.planned
    head = f"[{result.index + 1}/{total}] {result.step_id}"
    if result.status is StepStatus.STARTED:
        return f"{head}: {result.message}"
    if result.status is StepStatus.OUTPUT:
        return f"    | {result.output}"
    if result.status is StepStatus.DRY_RUN and p is not None:
        flags = ", ".join(f for f, on in (("mutating", p.mutating), ("dangerous", p.dangerous),
                                          ("irreversible: type " + repr(p.target), p.irreversible)) if on)
        text = f"{head}: would run {p.description}" + (f"  [{flags}]" if flags else "  [read-only]")
        if p.effect:
            text += f"\n    effect: {p.effect}"
        return text
    took = f" ({result.duration_s:.1f}s)" if result.duration_s is not None else ""
    mark = MARKS.get(result.status, result.status.value)
    if result.status in (StepStatus.SKIPPED, StepStatus.REFUSED, StepStatus.CANCELLED) and result.started_at is None:
        return f"{head}: {mark}: {result.message}"
    return f"    -> {mark}{took}: {result.message}"


def action_runbook(ref: str) -> Runbook:
    """A one-step runbook running driver action ``type.action`` with its declared params (``--param``).

    Lets ``opsconsole run docker.restart_service --param service=minio`` work like a
    procedure: planned, confirmed as the action's flags demand, audited.
    """
    from opsconsole.drivers import driver_class
    from opsconsole.runbooks.library import parse_runbook

    kind, _, name = ref.partition(".")
    spec = driver_class(kind).action(name)
    params = {p: {"required": True} for p in spec.params}
    step: dict[str, Any] = {"id": "action", "title": spec.title, "action": ref,
                            "params": {p: "${" + p + "}" for p in spec.params}}
    if spec.params:
        step["target"] = "${" + spec.params[0] + "}"
    return parse_runbook({"id": "action-" + re.sub(r"[^a-z0-9]+", "-", ref.lower()).strip("-"),
                          "title": f"{spec.title} ({ref})", "severity": "info", "params": params,
                          "steps": [step]}, f"driver action {ref}")


def procedure(library: Library, name: str) -> Runbook:
    """A runbook by id, or a driver action ``type.action`` run directly."""
    if name in library.runbooks or "." not in name:
        try:
            return library.get(name)
        except ConfigError as exc:
            raise ConfigError(f"{exc.message}; or run a driver action directly as TYPE.ACTION "
                              "(e.g. docker.restart_service --param service=NAME)") from None
    try:
        return action_runbook(name)
    except OpsConsoleError as exc:
        message = exc.message if isinstance(exc, ConfigError) else str(exc)
        raise ConfigError(f"{name!r} is not a procedure nor a driver action: {message}") from None


async def run_procedure(args: argparse.Namespace, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    profile = load_profile(args.run_profile or getattr(args, "profile", None),
                           args.run_config or getattr(args, "config", None))
    library = load_library()
    for warning in library.warnings:
        print(f"opsconsole: {warning}", file=sys.stderr)
    if args.list or not args.procedure:
        from opsconsole.monitor import build_drivers
        from opsconsole.runbooks.library import offered_runbooks

        for rb in offered_runbooks(library, build_drivers(profile), profile.name):
            out.write(f"{rb.id:36} {rb.severity:8} {rb.title}\n")
        return 0 if args.list else 2
    runbook = procedure(library, args.procedure)
    from opsconsole.monitor import build_drivers

    drivers = {d.name: d for d in build_drivers(profile)}
    read_only = bool(args.run_read_only or getattr(args, "read_only", False) or profile.read_only)
    engine = RunbookEngine(drivers, profile=profile.name, read_only=read_only,
                           confirmer=StdinConfirmer(args.yes, stdin), audit=AuditLog(), secrets=profile.secrets())
    try:
        params = parse_assignments(args.param)
        planned = engine.plan(runbook, params)
    except (ValueError, PlanError) as exc:
        print(f"opsconsole run: {exc}", file=sys.stderr)
        return 2
    out.write(f"{runbook.id}: {runbook.title} (profile {profile.name}"
              + (", DRY RUN" if args.dry_run else "") + (", read-only" if read_only else "") + ")\n")
    used = {p.driver for p in planned if p.driver}
    loop = asyncio.get_running_loop()
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        if interrupted:
            raise KeyboardInterrupt
        interrupted = True
        print("\ncancelling after the current step (Ctrl-C again to abort now)", file=sys.stderr)
        engine.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    except (NotImplementedError, RuntimeError):
        pass
    statuses: list[StepStatus] = []
    try:
        if not args.dry_run:
            for name in sorted(used):
                await drivers[name].connect()
                waiter = drivers[name].wait_ready
                if waiter is not None:
                    await waiter(30.0)
        async for result in engine.run(runbook, params, dry_run=args.dry_run):
            out.write(_line(result, len(planned)) + "\n")
            out.flush()
            if result.status.final and (result.planned is None or result.planned.step.on_failure == "stop"
                                        or result.status in (StepStatus.REFUSED, StepStatus.CANCELLED)):
                statuses.append(result.status)
    finally:
        try:
            loop.remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError):
            pass
        for driver in drivers.values():
            await driver.close()
    if StepStatus.CANCELLED in statuses:
        return 130
    if StepStatus.REFUSED in statuses:
        return 3
    if any(s in (StepStatus.FAILED, StepStatus.TIMED_OUT) for s in statuses):
        return 1
    return 0


def run_run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run_procedure(args))
    except ConfigError as exc:
        print(f"opsconsole run: {exc}", file=sys.stderr)
        return 2
