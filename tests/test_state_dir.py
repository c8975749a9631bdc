"""A shared state directory for jump boxes (issue 18): one audit log, one set of target locks, real logins.

Two engineers ``sudo`` into one box: each run records who they are (``SUDO_USER``),
and a run by one on a target blocks the other's run on the same target.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT

from opsconsole.audit import AuditLog

PROFILES = """\
version: 1
profiles:
  t:
    drivers:
      bus: {type: kafka, options: {bootstrap: "127.0.0.1:9"}}
"""
RUNBOOK = """\
id: hold-target
title: Hold the target
steps:
  - {id: hold, shell: "echo holding; sleep 20"}
"""


def _env(tmp_path: Path, who: str, **extra: str) -> dict[str, str]:
    config_dir = tmp_path / f"config-{who}"  # each engineer has their own config and data dirs
    (config_dir / "runbooks").mkdir(parents=True, exist_ok=True)
    (config_dir / "runbooks" / "hold.yaml").write_text(RUNBOOK)
    return {**os.environ, "PYTHONPATH": str(ROOT), "SUDO_USER": who, "OPSCONSOLE_CONFIG_DIR": str(config_dir),
            "OPSCONSOLE_DATA_DIR": str(tmp_path / f"data-{who}"), **extra}


def test_two_engineers_share_audit_and_locks_through_state_dir(tmp_path: Path) -> None:
    (tmp_path / "profiles.yaml").write_text(PROFILES)
    shared = tmp_path / "shared"
    base = [sys.executable, "-m", "opsconsole", "--config", str(tmp_path / "profiles.yaml")]
    alice = subprocess.Popen([*base, "--state-dir", str(shared), "run", "hold-target", "-p", "t", "--yes"],
                             env=_env(tmp_path, "alice"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        log = AuditLog(shared / "audit.jsonl")
        deadline = time.monotonic() + 30
        while not any(e.phase == "start" for e in log.read()):
            assert time.monotonic() < deadline and alice.poll() is None, alice.communicate()
            time.sleep(0.05)
        bob = subprocess.run([*base, "run", "hold-target", "-p", "t", "--yes"], capture_output=True, text=True,
                             timeout=60, env=_env(tmp_path, "bob", OPSCONSOLE_STATE_DIR=str(shared)))
        assert bob.returncode == 3, bob.stdout + bob.stderr
        assert "busy: procedure 'hold-target' run by alice" in bob.stdout, bob.stdout
    finally:
        alice.kill()
        alice.wait(10)
    who = {e.who.split(" ")[0] for e in AuditLog(shared / "audit.jsonl").read()}
    assert who == {"alice", "bob"}, who
    assert not (tmp_path / "data-alice" / "audit.jsonl").exists()
    assert stat.S_IMODE((shared / "audit.jsonl").stat().st_mode) == 0o660  # the team's group may read it


def test_state_dir_from_the_profiles_file(tmp_path: Path) -> None:
    (tmp_path / "profiles.yaml").write_text("state_dir: ./team-state\n" + PROFILES)
    env = _env(tmp_path, "carol")
    env.pop("OPSCONSOLE_STATE_DIR", None)
    result = subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(tmp_path / "profiles.yaml"), "run",
                             "hold-target", "-p", "t", "--dry-run"], capture_output=True, text=True, timeout=60,
                            env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    events = AuditLog(tmp_path / "team-state" / "audit.jsonl").read()
    assert events and events[0].who.startswith("carol"), events


def test_state_dir_must_be_a_string(tmp_path: Path) -> None:
    from opsconsole.config import load
    from opsconsole.errors import ConfigError

    path = tmp_path / "profiles.yaml"
    path.write_text("state_dir: [a]\n" + PROFILES)
    try:
        load(path)
    except ConfigError as exc:
        assert f"{path}:1: state_dir" in str(exc) and "expected str" in str(exc), str(exc)
    else:
        raise AssertionError("state_dir: [a] was accepted")

