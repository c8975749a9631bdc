"""Executing one planned step: a driver action, a probe (with wait-until), or a shell command.

A mixin of :class:`~opsconsole.runbooks.engine.RunbookEngine`; the engine decides
whether a step may run (read-only, confirmations, locks) and audits it, this
runs it and streams its :class:`StepResult` events.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsconsole.audit import redact_text
from opsconsole.errors import OpsConsoleError
from opsconsole.runbooks.model import (
    PlannedStep,
    RunbookStep,
    StepKind,
    StepResult,
    StepStatus,
)
from opsconsole.runbooks.params import substitute
from opsconsole.runbooks.probes import check_condition, select_rows, summarize_row
from opsconsole.runbooks.shell import Lifeline, ShellOutput
from opsconsole.runbooks.templates import render

if TYPE_CHECKING:
    from opsconsole.drivers.base import Driver

DEFAULT_SHELL_TIMEOUT = 3600.0
MAX_SUMMARY_ROWS = 20


DEFAULT_SHELL_TIMEOUT = 3600.0
MAX_SUMMARY_ROWS = 20


def now() -> datetime:
    return datetime.now(UTC)


class StepRunner:
    """Needs the engine's ``drivers``, ``secrets``, ``_cancel`` and ``_secret_names``."""

    drivers: Mapping[str, Driver]
    secrets: list[str]

    async def _execute(self, p: PlannedStep, values: Mapping[str, Any],
                       base: Mapping[str, Any]) -> AsyncIterator[StepResult]:
        started = now()
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
            final = StepResult(p.index, p.step.id, StepStatus.FAILED, redact_text(describe_error(exc), self.secrets))
        assert final is not None
        if final.output:
            chunk = final.output.encode("utf-8", "replace")
            hasher.update(chunk + b"\n")
            size += len(chunk) + 1
        result = StepResult(p.index, p.step.id, final.status, final.message, final.output, final.exit_code,
                            started_at=started, ended_at=now(), planned=p)
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
                state = f"unreachable: {describe_error(exc)}"
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
            kill_group(proc)
            await proc.wait()
            yield StepResult(p.index, step.id, StepStatus.TIMED_OUT, f"killed after {limit:g}s",
                             exit_code=proc.returncode)
            return
        except BaseException:
            kill_group(proc)
            raise
        if code == 0:
            note = f"; wrote {output.commit()}" if output else ""
            yield StepResult(p.index, step.id, StepStatus.OK, f"exit code 0{note}", exit_code=0)
        else:
            note = f"; {output.path} left as it was" if output else ""
            yield StepResult(p.index, step.id, StepStatus.FAILED, f"exit code {code}{note}", exit_code=code)

def kill_group(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def step_flags(p: PlannedStep) -> tuple[str, ...]:
    return tuple(name for name, on in (("mutating", p.mutating), ("dangerous", p.dangerous),
                                       ("irreversible", p.irreversible), ("confirm", p.confirm)) if on)


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) and not str(exc):
        return "timed out"
    from opsconsole.drivers.base import describe

    return str(exc) if isinstance(exc, OpsConsoleError) else describe(exc)
