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
