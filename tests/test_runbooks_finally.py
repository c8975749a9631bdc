"""``finally:`` cleanup steps: the engine runs them after a refusal, a failure and a cancel (issue 17).

Through the real ``KitDriver`` of test_runbooks_engine.py (state in a JSON file), plus
one non-dangerous cleanup action, so each test sees what the cleanup really changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest

from opsconsole.audit import AuditLog
from opsconsole.drivers import REGISTRY
from opsconsole.errors import ConfigError
from opsconsole.model import ActionResult, ActionSpec
from opsconsole.runbooks.engine import RunbookEngine
from opsconsole.runbooks.model import StepStatus
from tests.test_runbooks_engine import Answers, KitDriver, collect, finals, runbook


class CleanKit(KitDriver):
    kind = "cleankit"
    actions: ClassVar[tuple[ActionSpec, ...]] = (*KitDriver.actions,
                                                 ActionSpec("resume", "Resume", "Resumes intake (safe)."))

    async def action_resume(self) -> ActionResult:
        self.save(resumed=self.state().get("resumed", 0) + 1)
        return ActionResult(True, "resumed")


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, "cleankit", f"{__name__}:CleanKit")


@pytest.fixture
def kit(tmp_path: Path) -> CleanKit:
    state = tmp_path / "kit.json"
    state.write_text(json.dumps({"up": True, "restarts": 0, "rows": 42}))
    return CleanKit("kit1", {"state": str(state)})


RUNBOOK = """
id: kit-maintenance
title: Maintenance with a pause
steps:
  - id: pause
    action: cleankit.status
  - id: first
    action: cleankit.{first}
  - id: wait
    probe: cleankit.health
    select: {{name: kit-api}}
    expect: "health == critical"
    until: true
    timeout: 30
    interval: 0.05
finally:
  - id: resume
    title: Resume intake
    action: cleankit.resume
"""


def engine(kit: CleanKit, tmp_path: Path, **kw: object) -> RunbookEngine:
    return RunbookEngine({"kit1": kit}, profile="p", audit=AuditLog(tmp_path / "a.jsonl"), **kw)  # type: ignore[arg-type]


async def test_cleanup_runs_after_a_declined_step(kit: CleanKit, tmp_path: Path) -> None:
    results = await collect(engine(kit, tmp_path, confirmer=Answers(confirm=False)),
                            runbook(RUNBOOK.format(first="restart")))
    status = finals(results)
    assert status["first"] is StepStatus.REFUSED and status["wait"] is StepStatus.SKIPPED
    assert status["resume"] is StepStatus.OK
    assert kit.state()["resumed"] == 1 and kit.state()["restarts"] == 0


async def test_cleanup_runs_after_a_failed_step(kit: CleanKit, tmp_path: Path) -> None:
    results = await collect(engine(kit, tmp_path, confirmer=Answers()), runbook(RUNBOOK.format(first="fail")))
    status = finals(results)
    assert status["first"] is StepStatus.FAILED and status["resume"] is StepStatus.OK
    assert kit.state()["resumed"] == 1


async def test_cleanup_runs_after_a_cancel(kit: CleanKit, tmp_path: Path) -> None:
    eng = engine(kit, tmp_path, confirmer=Answers())
    seen = []
    async for r in eng.run(runbook(RUNBOOK.format(first="status"))):
        seen.append(r)
        if r.step_id == "wait" and r.status is StepStatus.OUTPUT:
            eng.cancel()
    status = finals(seen)
    assert status["wait"] is StepStatus.CANCELLED and status["resume"] is StepStatus.OK
    assert kit.state()["resumed"] == 1
    assert [e.step for e in AuditLog(tmp_path / "a.jsonl").read() if e.phase == "end"][-1] == "resume"


async def test_dry_run_lists_the_cleanup_and_runs_nothing(kit: CleanKit, tmp_path: Path) -> None:
    results = await collect(engine(kit, tmp_path), runbook(RUNBOOK.format(first="restart")), dry_run=True)
    resume = [r for r in results if r.step_id == "resume"]
    assert resume[-1].status is StepStatus.DRY_RUN and "finally" in resume[-1].message
    assert "resumed" not in kit.state()


def test_finally_must_be_a_list_of_steps_with_unique_ids() -> None:
    with pytest.raises(ConfigError, match="'finally' must be a list"):
        runbook("id: x\ntitle: X\nsteps:\n  - {id: a, action: cleankit.status}\nfinally: {id: b}\n")
    with pytest.raises(ConfigError, match="duplicate step id 'a'"):
        runbook("id: x\ntitle: X\nsteps:\n  - {id: a, action: cleankit.status}\n"
                "finally:\n  - {id: a, action: cleankit.resume}\n")


async def cancel_task_while_waiting(eng: RunbookEngine, text: str) -> None:
    """Run ``text`` in a task and cancel the task (not the run) once its ``wait`` probe is polling."""
    import asyncio

    waiting = asyncio.Event()

    async def consume() -> None:
        async for r in eng.run(runbook(text)):
            if r.step_id == "wait" and r.status is StepStatus.OUTPUT:
                waiting.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(waiting.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)


async def test_cleanup_runs_when_the_task_itself_is_cancelled(kit: CleanKit, tmp_path: Path) -> None:
    """The console quits (or Ctrl-C on ``run``) mid-step: the task is cancelled, the finally: steps still run,
    audited, and the cancel still reaches the caller."""
    await cancel_task_while_waiting(engine(kit, tmp_path, confirmer=Answers()), RUNBOOK.format(first="status"))
    assert kit.state().get("resumed") == 1
    events = AuditLog(tmp_path / "a.jsonl").read()
    assert [(e.step, e.phase) for e in events if e.step == "resume"] == [("resume", "start"), ("resume", "end")]
    assert [e.outcome for e in events if e.phase == "run-end"] == ["aborted"]


async def test_an_aborted_run_refuses_a_cleanup_step_that_needs_a_confirmation(kit: CleanKit,
                                                                               tmp_path: Path) -> None:
    """No one is left to answer: the confirming cleanup is refused and audited, never left waiting."""
    import asyncio

    class NeverAnswers(Answers):
        async def confirm(self, _step: object) -> bool:
            await asyncio.sleep(3600)
            return True

    text = RUNBOOK.format(first="status").replace("action: cleankit.resume", "action: cleankit.restart")
    await cancel_task_while_waiting(engine(kit, tmp_path, confirmer=NeverAnswers()), text)
    assert kit.state()["restarts"] == 0
    ends = [e for e in AuditLog(tmp_path / "a.jsonl").read() if e.step == "resume" and e.phase == "end"]
    assert len(ends) == 1 and "no one is left to confirm" in ends[0].message
