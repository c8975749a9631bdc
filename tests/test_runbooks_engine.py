"""The runbook engine's safety rules, exercised through a small real driver.

``KitDriver`` is a genuine :class:`Driver` whose state is a JSON file on disk, so
each test can observe what a step really changed (or did not change). Real
backends are exercised in test_runbooks_peers.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from opsconsole.audit import AuditLog
from opsconsole.drivers import REGISTRY
from opsconsole.drivers.base import Driver, OptionSpec
from opsconsole.model import ActionResult, ActionSpec, Health, Pane, ServiceStatus
from opsconsole.runbooks.engine import PlanError, RunbookEngine
from opsconsole.runbooks.library import load_file, parse_runbook
from opsconsole.runbooks.model import PlannedStep, StepResult, StepStatus


class KitDriver(Driver):
    """A service whose state lives in a JSON file: ``{"up": bool, "restarts": int, "rows": int}``."""

    kind = "kit"
    panes = frozenset({Pane.SERVICES})
    options = (OptionSpec("state", str, required=True),)
    actions: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("restart", "Restart", "Restarts the service; in-flight requests fail.", dangerous=True,
                   params=("delay",)),
        ActionSpec("drop", "Drop all rows", "Deletes every row.", dangerous=True, irreversible=True),
        ActionSpec("status", "Status", "Read-only.", mutating=False),
        ActionSpec("fail", "Fail", "Always fails.", mutating=False),
    )

    @property
    def path(self) -> Path:
        return Path(self.config["state"])

    def state(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())

    def save(self, **changes: Any) -> None:
        self.path.write_text(json.dumps({**self.state(), **changes}))

    async def health(self) -> list[ServiceStatus]:
        st = self.state()
        return [ServiceStatus("kit-api", Health.OK if st["up"] else Health.CRITICAL, f"rows={st['rows']}"),
                ServiceStatus("kit-db", Health.OK, "")]

    async def action_restart(self, delay: float = 0.0) -> ActionResult:
        self.save(up=False, restarts=self.state()["restarts"] + 1)

        async def come_back() -> None:
            await asyncio.sleep(delay)
            self.save(up=True)

        if delay:
            asyncio.get_running_loop().create_task(come_back())
        else:
            self.save(up=True)
        return ActionResult(True, "restart requested", "line one\nline two")

    async def action_drop(self) -> ActionResult:
        self.save(rows=0)
        return ActionResult(True, "dropped")

    async def action_status(self) -> ActionResult:
        return ActionResult(True, json.dumps(self.state()))

    async def action_fail(self) -> ActionResult:
        return ActionResult(False, "backend said no")


RUNBOOK = """
id: kit-recover
title: Recover the kit service
params:
  delay: {type: float, default: 0}
  wait: {type: float, default: 5}
steps:
  - id: check
    probe: kit.health
    select: {name: kit-api}
    expect: "health == ok"
  - id: restart
    action: kit.restart
    params: {delay: "${delay}"}
  - id: wait-up
    probe: kit.health
    select: {name: "kit-*"}
    expect: "health == ok"
    until: true
    timeout: ${wait}
    interval: 0.05
  - id: drop
    action: kit.drop
    target: "kit-prod-db"
"""


class Answers:
    """A Confirmer that records what it was asked and answers from a script."""

    def __init__(self, confirm: bool = True, typed: str = "") -> None:
        self.answer, self.typed_answer = confirm, typed
        self.asked: list[tuple[str, str]] = []

    async def confirm(self, step: PlannedStep) -> bool:
        self.asked.append(("confirm", step.step.id))
        return self.answer

    def typed(self, step: PlannedStep, target_name: str) -> str:
        self.asked.append(("typed", target_name))
        return self.typed_answer


@pytest.fixture(autouse=True)
def _kit_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, "kit", f"{__name__}:KitDriver")


@pytest.fixture
def kit(tmp_path: Path) -> KitDriver:
    state = tmp_path / "kit.json"
    state.write_text(json.dumps({"up": False, "restarts": 0, "rows": 42}))
    return KitDriver("kit1", {"state": str(state)})


def runbook(text: str = RUNBOOK, wait: float = 5):
    import yaml

    from opsconsole.yamlio import load_yaml

    text = text.replace("timeout: ${wait}", f"timeout: {wait}")
    assert yaml.safe_load(text)
    return parse_runbook(load_yaml(text, "test.yaml"), "test.yaml")


async def collect(engine: RunbookEngine, rb, params=None, **kw) -> list[StepResult]:
    return [r async for r in engine.run(rb, params or {}, **kw)]


def finals(results: list[StepResult]) -> dict[str, StepStatus]:
    return {r.step_id: r.status for r in results if r.status.final}


async def test_full_run_changes_state_and_asks_the_right_questions(kit: KitDriver, tmp_path: Path) -> None:
    answers = Answers(confirm=True, typed="kit-prod-db")
    audit = AuditLog(tmp_path / "audit.jsonl")
    engine = RunbookEngine({"kit1": kit}, profile="p", confirmer=answers, audit=audit)
    results = await collect(engine, runbook())
    assert finals(results) == {"check": StepStatus.FAILED, "restart": StepStatus.OK, "wait-up": StepStatus.OK,
                               "drop": StepStatus.OK}
    assert kit.state() == {"up": True, "restarts": 1, "rows": 0}
    # dangerous -> confirm; irreversible -> typed target name (and not a yes/no)
    assert answers.asked == [("confirm", "restart"), ("typed", "kit-prod-db")]
    outputs = [r.output for r in results if r.status is StepStatus.OUTPUT and r.step_id == "restart"]
    assert outputs == ["line one", "line two"]


async def test_dry_run_changes_nothing_and_says_what_would_run(kit: KitDriver, tmp_path: Path) -> None:
    engine = RunbookEngine({"kit1": kit}, profile="p", audit=AuditLog(tmp_path / "a.jsonl"))
    results = await collect(engine, runbook(), {"delay": "2"}, dry_run=True)
    assert [r.status for r in results] == [StepStatus.DRY_RUN] * 4
    assert results[1].message == "kit.restart(delay=2.0) on kit1"
    assert "wait until all rows: health == ok" in results[2].message
    assert kit.state()["restarts"] == 0 and kit.state()["rows"] == 42


async def test_read_only_refuses_mutating_steps_but_still_diagnoses(kit: KitDriver, tmp_path: Path) -> None:
    engine = RunbookEngine({"kit1": kit}, profile="p", read_only=True, confirmer=Answers(),
                           audit=AuditLog(tmp_path / "a.jsonl"))
    results = await collect(engine, runbook())
    status = finals(results)
    assert status["check"] is StepStatus.FAILED  # the probe ran
    assert status["restart"] is StepStatus.REFUSED
    assert status["wait-up"] is StepStatus.SKIPPED and status["drop"] is StepStatus.SKIPPED
    assert "read-only" in next(r.message for r in results if r.step_id == "restart" and r.status.final)
    assert kit.state()["restarts"] == 0


@pytest.mark.parametrize(("answers", "expected_restarts", "expected_rows"), [
    (None, 0, 42),                                  # nobody to ask: refuse
    (Answers(confirm=False), 0, 42),                # said no
    (Answers(confirm=True, typed="kit-prod"), 1, 42),  # typed the wrong name: drop refused
    (Answers(confirm=True, typed=" kit-prod-db\n"), 1, 0),
])
async def test_confirmation_gates(kit: KitDriver, tmp_path: Path, answers, expected_restarts: int,
                                  expected_rows: int) -> None:
    engine = RunbookEngine({"kit1": kit}, profile="p", confirmer=answers, audit=AuditLog(tmp_path / "a.jsonl"))
    await collect(engine, runbook())
    assert kit.state()["restarts"] == expected_restarts
    assert kit.state()["rows"] == expected_rows


async def test_wait_until_times_out_with_last_observation(kit: KitDriver, tmp_path: Path) -> None:
    engine = RunbookEngine({"kit1": kit}, profile="p", confirmer=Answers(), audit=AuditLog(tmp_path / "a.jsonl"))
    results = await collect(engine, runbook(wait=0.3), {"delay": "30"})
    end = next(r for r in results if r.step_id == "wait-up" and r.status.final)
    assert end.status is StepStatus.TIMED_OUT
    assert "gave up after 0.3s" in end.message and "health=critical" in end.message
    assert finals(results)["drop"] is StepStatus.SKIPPED
    assert kit.state()["rows"] == 42


async def test_wait_until_sees_the_service_come_back(kit: KitDriver, tmp_path: Path) -> None:
    engine = RunbookEngine({"kit1": kit}, profile="p", confirmer=Answers(typed="kit-prod-db"),
                           audit=AuditLog(tmp_path / "a.jsonl"))
    results = await collect(engine, runbook(wait=5), {"delay": "0.3"})
    progress = [r.output for r in results if r.step_id == "wait-up" and r.status is StepStatus.OUTPUT]
    assert any("health=critical" in line for line in progress)  # it watched it being down...
    assert finals(results)["wait-up"] is StepStatus.OK            # ...and come back
    assert kit.state()["up"] is True


async def test_cancel_stops_between_steps_and_interrupts_a_wait(kit: KitDriver, tmp_path: Path) -> None:
    engine = RunbookEngine({"kit1": kit}, profile="p", confirmer=Answers(typed="kit-prod-db"),
                           audit=AuditLog(tmp_path / "a.jsonl"))
    seen: list[StepResult] = []
    async for r in engine.run(runbook(wait=30), {"delay": "60"}):
        seen.append(r)
        if r.step_id == "wait-up" and r.status is StepStatus.OUTPUT:
            engine.cancel()
    status = finals(seen)
    assert status["wait-up"] is StepStatus.CANCELLED
    assert status["drop"] is StepStatus.SKIPPED
    assert kit.state()["rows"] == 42


async def test_parameters_are_validated_before_anything_runs(kit: KitDriver, tmp_path: Path) -> None:
    engine = RunbookEngine({"kit1": kit}, profile="p", audit=AuditLog(tmp_path / "a.jsonl"))
    with pytest.raises(PlanError, match="delay: expected a number"):
        engine.plan(runbook(), {"delay": "soon"})
    with pytest.raises(PlanError, match="dealy: not a parameter"):
        engine.plan(runbook(), {"dealy": "1"})
    with pytest.raises(PlanError, match="needs a kit driver"):
        RunbookEngine({}, profile="empty").plan(runbook())
    assert not (tmp_path / "a.jsonl").exists()


async def test_one_mutating_procedure_per_target(kit: KitDriver, tmp_path: Path) -> None:
    slow = runbook(wait=30)
    first = RunbookEngine({"kit1": kit}, profile="p", confirmer=Answers(), audit=AuditLog(tmp_path / "a.jsonl"))
    second = RunbookEngine({"kit1": kit}, profile="p", confirmer=Answers(), audit=AuditLog(tmp_path / "a.jsonl"))
    gen = first.run(slow, {"delay": "60"})
    async for r in gen:
        if r.step_id == "wait-up" and r.status is StepStatus.STARTED:
            break
    blocked = await collect(second, slow)
    assert blocked[0].status is StepStatus.REFUSED
    assert "busy" in blocked[0].message and "kit-recover" in blocked[0].message
    assert kit.state()["restarts"] == 1  # only the first run restarted it
    # read-only diagnosis is not blocked by the lock
    diag = await collect(RunbookEngine({"kit1": kit}, profile="p", read_only=True,
                                       audit=AuditLog(tmp_path / "a.jsonl")), slow)
    assert finals(diag)["check"] is StepStatus.FAILED  # it ran, and saw the service down mid-restart
    assert "read-only" in next(r.message for r in diag if r.step_id == "restart" and r.status.final)
    first.cancel()
    async for _ in gen:
        pass
    again = await collect(second, runbook(wait=5))
    assert finals(again)["restart"] is StepStatus.OK


async def test_failed_action_stops_unless_told_to_continue(kit: KitDriver, tmp_path: Path) -> None:
    text = """
id: kit-fail
title: t
steps:
  - {id: a, action: kit.fail}
  - {id: b, action: kit.status}
  - {id: c, action: kit.fail, on_failure: continue}
"""
    engine = RunbookEngine({"kit1": kit}, profile="p", audit=AuditLog(tmp_path / "a.jsonl"))
    assert finals(await collect(engine, runbook(text))) == {"a": StepStatus.FAILED, "b": StepStatus.SKIPPED,
                                                            "c": StepStatus.SKIPPED}
    text = text.replace("{id: a, action: kit.fail}", "{id: a, action: kit.fail, on_failure: continue}")
    assert finals(await collect(engine, runbook(text))) == {"a": StepStatus.FAILED, "b": StepStatus.OK,
                                                            "c": StepStatus.FAILED}


async def test_shell_step_streams_output_and_exit_code(kit: KitDriver, tmp_path: Path) -> None:
    text = """
id: kit-shell
title: t
params:
  word: {default: "hello; touch PWNED"}
steps:
  - id: echo
    shell: "echo start; echo ${word}; echo done >&2; exit 3"
    cwd: "TMP"
    mutating: false
""".replace("TMP", str(tmp_path))
    engine = RunbookEngine({"kit1": kit}, profile="p", audit=AuditLog(tmp_path / "a.jsonl"))
    results = await collect(engine, runbook(text))
    lines = [r.output for r in results if r.status is StepStatus.OUTPUT]
    assert lines == ["start", "hello; touch PWNED", "done"]
    end = results[-1]
    assert end.status is StepStatus.FAILED and end.exit_code == 3
    assert not (tmp_path / "PWNED").exists()  # parameters are quoted, never executed


async def test_shell_step_timeout_kills_the_command(kit: KitDriver, tmp_path: Path) -> None:
    text = """
id: kit-sleep
title: t
steps:
  - {id: nap, shell: [sh, -c, "echo napping; sleep 30"], timeout: 0.5, mutating: false}
"""
    engine = RunbookEngine({"kit1": kit}, profile="p", audit=AuditLog(tmp_path / "a.jsonl"))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    results = await collect(engine, runbook(text))
    assert results[-1].status is StepStatus.TIMED_OUT
    assert loop.time() - t0 < 10


def test_library_files_parse(tmp_path: Path) -> None:
    path = tmp_path / "rb.yaml"
    path.write_text(RUNBOOK.replace("${wait}", "5"))
    (rb,) = load_file(path)
    assert [s.ref for s in rb.steps] == ["kit.health", "kit.restart", "kit.health", "kit.drop"]
