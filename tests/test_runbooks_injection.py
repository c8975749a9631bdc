"""Runbook parameters cannot inject, secrets stay out of ps, steps die with their runner (issue 18).

Real processes throughout: ``/bin/sh``, ``ps``, ``opsconsole run`` killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import ROOT

from opsconsole.audit import AuditLog
from opsconsole.errors import ConfigError
from opsconsole.runbooks.engine import PlanError, RunbookEngine
from opsconsole.runbooks.library import load_file, parse_runbook
from opsconsole.runbooks.model import StepStatus

PROFILES = "version: 1\nprofiles:\n  t:\n    drivers:\n      bus: {type: kafka, options: {bootstrap: '127.0.0.1:9'}}\n"


@pytest.mark.parametrize("shell", [
    """shell: "echo '${x}'\"""",
    """shell: 'echo "got ${x}"'""",
    """shell: [sh, -c, "echo ${x}"]""",
    """shell: [/bin/bash, -c, "ls; echo ${x}"]""",
])
def test_parameters_inside_quotes_or_shell_scripts_are_refused_at_load(tmp_path: Path, shell: str) -> None:
    path = tmp_path / "rb.yaml"
    path.write_text(textwrap.dedent("""\
        id: quoted
        title: Quoted
        params: {x: {default: a}}
        steps:
          - id: s
            SHELL
        """).replace("SHELL", shell))
    with pytest.raises(ConfigError) as info:
        load_file(path)
    assert f"{path}:6: quoted.steps.s.shell" in str(info.value) and "${x}" in str(info.value), str(info.value)


@pytest.mark.parametrize("payload", ["$(touch MARK)", "`touch MARK`", "a; touch MARK", "a && touch MARK",
                                     "a | touch MARK", "$'\\x41'; touch MARK"])
async def test_injection_payloads_stay_one_word(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "MARK"
    payload = payload.replace("MARK", str(marker))
    for command in ("echo got ${x} --tail=${x}", ["/bin/echo", "got", "${x}"]):
        rb = parse_runbook({"id": "echo", "title": "Echo", "params": {"x": {"required": True}},
                            "steps": [{"id": "s", "shell": command, "mutating": False}]}, "rb.yaml")
        engine = RunbookEngine({}, profile="t", audit=AuditLog(tmp_path / "a.jsonl"), locks_dir=tmp_path / "l")
        out = [e.output async for e in engine.run(rb, {"x": payload}) if e.status is StepStatus.OUTPUT]
        assert not marker.exists(), f"{payload!r} ran as code in {command!r}"
        assert out and out[0].startswith(f"got {payload}"), out


async def test_option_like_values_need_a_pattern(tmp_path: Path) -> None:
    steps = [{"id": "s", "shell": ["/bin/echo", "${x}"]}]
    rb = parse_runbook({"id": "o", "title": "O", "params": {"x": {}}, "steps": steps}, "rb.yaml")
    engine = RunbookEngine({}, profile="t", audit=AuditLog(tmp_path / "a.jsonl"), locks_dir=tmp_path / "l")
    with pytest.raises(PlanError, match="starts with '-' and would be read as an option"):
        engine.plan(rb, {"x": "--output=/etc/passwd"})
    allowed = parse_runbook({"id": "o", "title": "O", "params": {"x": {"pattern": "-[0-9]+"}}, "steps": steps},
                            "rb.yaml")
    assert engine.plan(allowed, {"x": "-10"})


async def test_secret_parameters_never_reach_argv_or_output(tmp_path: Path) -> None:
    secret = "MARKsecretvalue42"
    with pytest.raises(ConfigError, match="secret parameter"):
        parse_runbook({"id": "s", "title": "S", "params": {"token": {"secret": True}},
                       "steps": [{"id": "s", "shell": ["/bin/echo", "${token}"]}]}, "rb.yaml")
    rb = parse_runbook({"id": "s", "title": "S", "params": {"token": {"secret": True, "required": True}},
                        "steps": [{"id": "s", "shell": "echo got=${token}; sleep 2; echo done"}]}, "rb.yaml")
    audit = AuditLog(tmp_path / "a.jsonl")
    engine = RunbookEngine({}, profile="t", audit=audit, locks_dir=tmp_path / "l")
    seen: list[str] = []
    ps_during = ""
    async for event in engine.run(rb, {"token": secret}):
        seen.append(f"{event.status.value} {event.message} {event.output}")
        if event.status is StepStatus.OUTPUT and "got=" in event.output:
            ps_during = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "got=••••" in "\n".join(seen) and "done" in "\n".join(seen)
    assert ps_during and secret not in ps_during, "the secret shows in ps"
    assert secret not in "\n".join(seen) and secret not in audit.path.read_text()
    dry = [e.message async for e in RunbookEngine({}, profile="t", audit=audit).run(rb, {"token": secret},
                                                                                      dry_run=True)]
    assert secret not in "\n".join(dry)


def test_kill_9_of_the_runner_kills_its_step_and_the_next_run_closes_the_record(tmp_path: Path) -> None:
    config_dir = Path(os.environ["OPSCONSOLE_CONFIG_DIR"])
    (config_dir / "runbooks").mkdir(parents=True)
    (config_dir / "runbooks" / "slow.yaml").write_text(textwrap.dedent("""\
        id: slow-step
        title: Slow step
        steps:
          - {id: nap, shell: "echo napping; sleep 37.25; echo woke"}
        """))
    (tmp_path / "profiles.yaml").write_text(PROFILES)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "opsconsole", "--config", str(tmp_path / "profiles.yaml"), "run", "slow-step",
            "-p", "t", "--yes"]
    runner = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sleepers() -> list[str]:
        out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
        return [line for line in out.splitlines() if "sleep 37.25" in line and "ps -eo" not in line]

    deadline = time.monotonic() + 30
    while not sleepers():
        assert time.monotonic() < deadline and runner.poll() is None, "the step never started"
        time.sleep(0.05)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(10)
    deadline = time.monotonic() + 5
    while sleepers():
        assert time.monotonic() < deadline, f"the step outlived its runner: {sleepers()}"
        time.sleep(0.05)
    log = AuditLog()
    assert [(e.phase, e.step) for e in log.read()][-1] == ("start", "nap")
    again = subprocess.run([*argv[:-1], "--dry-run"], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    closed = [e for e in log.read() if e.phase == "end" and e.step == "nap"]
    assert [(e.outcome, e.message.split(" (")[0]) for e in closed] == [("runner-died", "runner died")]


def test_unwritable_audit_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    (tmp_path / "profiles.yaml").write_text(PROFILES)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPSCONSOLE_DATA_DIR": str(blocker / "data")}
    result = subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(tmp_path / "profiles.yaml"), "run",
                             "alert-delivery-failures", "-p", "t", "--yes"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"cannot write the audit log {blocker}/data/audit.jsonl: Not a directory" in result.stderr
