"""``opsconsole run`` as a user runs it: a real subprocess, real stdin, real audit file.

Includes the crash test: a procedure killed with SIGKILL in the middle of a step
loses no audit record already written, and leaves no stale target lock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opsconsole.audit import AuditLog

PROFILES = """
version: 1
default_profile: t
profiles:
  t:
    drivers:
      bus: {type: kafka, options: {bootstrap: "127.0.0.1:9"}}
  demo:
    drivers:
      pipeline:
        type: demo
        options: {data_dir: "DEMO_DIR", batch_interval: 0.3, batch_size: 5, transform_interval: 1}
"""

RUNBOOKS = """
runbooks:
  - id: wipe-volumes
    title: Remove the volumes
    params:
      marker: {required: true}
    steps:
      - {id: look, shell: "echo looking", mutating: false}
      - id: wipe
        shell: "touch ${marker}"
        irreversible: true
        target: prod-volumes
  - id: long-job
    title: A long job
    steps:
      - {id: first, shell: "echo first done", mutating: false}
      - {id: second, shell: "echo sleeping; sleep 15"}
      - {id: third, shell: "echo never"}
  - id: two-naps
    title: Two naps
    steps:
      - {id: nap, shell: "sleep 1.5; echo napped", mutating: false}
      - {id: after, shell: "echo never"}
"""


@pytest.fixture
def env(tmp_path: Path, _isolate_user_dirs: Path) -> dict[str, str]:
    config_dir = Path(os.environ["OPSCONSOLE_CONFIG_DIR"])
    (config_dir / "runbooks").mkdir(parents=True)
    (config_dir / "runbooks" / "test.yaml").write_text(RUNBOOKS)
    (tmp_path / "profiles.yaml").write_text(PROFILES.replace("DEMO_DIR", str(tmp_path / "demo")))
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def opsconsole(tmp_path: Path, env: dict[str, str], *args: str, stdin: str = "",
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(tmp_path / "profiles.yaml"),
                           "run", *args], input=stdin, capture_output=True, text=True, env=env, timeout=timeout)


def audit() -> list:
    return AuditLog().read()


def test_irreversible_step_needs_the_name_typed_even_with_yes(tmp_path: Path, env: dict[str, str]) -> None:
    marker = tmp_path / "wiped"
    wrong = opsconsole(tmp_path, env, "wipe-volumes", "--profile", "t", "--yes", "--param", f"marker={marker}",
                       stdin="yes\n")
    assert wrong.returncode == 3, wrong.stdout + wrong.stderr
    assert "Type 'prod-volumes' to proceed" in wrong.stderr
    assert "REFUSED" in wrong.stdout and not marker.exists()

    right = opsconsole(tmp_path, env, "wipe-volumes", "--profile", "t", "--param", f"marker={marker}",
                       stdin="prod-volumes\n")
    assert right.returncode == 0, right.stdout + right.stderr
    assert marker.exists()
    outcomes = [(e.step, e.phase, e.outcome) for e in audit() if e.step == "wipe"]
    assert outcomes == [("wipe", "end", "refused"), ("wipe", "start", ""), ("wipe", "end", "ok")]


def test_read_only_and_dry_run_change_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    marker = tmp_path / "wiped"
    dry = opsconsole(tmp_path, env, "wipe-volumes", "-p", "t", "--dry-run", "--param", f"marker={marker}")
    assert dry.returncode == 0
    assert f"would run $ touch {marker}  [mutating, dangerous, irreversible: type 'prod-volumes']" in dry.stdout
    ro = opsconsole(tmp_path, env, "wipe-volumes", "-p", "t", "--read-only", "--param", f"marker={marker}",
                    stdin="prod-volumes\n")
    assert ro.returncode == 3 and "read-only" in ro.stdout
    assert "looking" in ro.stdout  # the read-only diagnosis step still ran
    assert not marker.exists()


def test_bad_parameters_are_reported_with_exit_2(tmp_path: Path, env: dict[str, str]) -> None:
    result = opsconsole(tmp_path, env, "wipe-volumes", "-p", "t", "--param", "markr=x")
    assert result.returncode == 2
    assert "markr: not a parameter of wipe-volumes" in result.stderr and "marker: required" in result.stderr


def test_kill_9_mid_procedure_loses_no_audit_record(tmp_path: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "opsconsole", "--config", str(tmp_path / "profiles.yaml"),
                             "run", "long-job", "-p", "t", "--yes"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(e.step == "second" and e.phase == "start" for e in audit()):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the procedure never reached its second step: " + proc.communicate()[1])
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    events = audit()
    assert [(e.phase, e.step, e.outcome) for e in events] == [
        ("run-start", "", ""), ("start", "first", ""), ("end", "first", "ok"), ("start", "second", "")]
    first_end = events[2]
    assert first_end.output_digest.startswith("sha256:") and first_end.output_bytes == len("first done\n")
    # every line is complete JSON (nothing torn), and the killed run left no lock behind
    raw = Path(os.environ["OPSCONSOLE_DATA_DIR"], "audit.jsonl").read_text().splitlines()
    assert all(json.loads(line)["procedure"] == "long-job" for line in raw)
    proc2 = subprocess.Popen([sys.executable, "-m", "opsconsole", "--config", str(tmp_path / "profiles.yaml"),
                              "run", "long-job", "-p", "t", "--yes"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(e.phase == "run-start" for e in audit()) < 2:
            time.sleep(0.05)
        assert sum(e.phase == "run-start" for e in audit()) == 2
    finally:
        proc2.kill()
        proc2.wait(10)


def test_ctrl_c_cancels_before_the_next_step(tmp_path: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "opsconsole", "--config", str(tmp_path / "profiles.yaml"),
                             "run", "two-naps", "-p", "t", "--yes"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(e.step == "nap" and e.phase == "start" for e in audit()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # first Ctrl-C: cancel after the current step
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "napped" in out and "never" not in out
    assert [(e.step, e.outcome) for e in audit() if e.phase == "end"] == [("nap", "ok"), ("after", "cancelled")]


def test_busy_target_is_refused_while_another_run_holds_it(tmp_path: Path, env: dict[str, str]) -> None:
    holder = subprocess.Popen([sys.executable, "-m", "opsconsole", "--config", str(tmp_path / "profiles.yaml"),
                               "run", "long-job", "-p", "t", "--yes"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(e.phase == "run-start" for e in audit()):
            time.sleep(0.05)
        second = opsconsole(tmp_path, env, "long-job", "-p", "t", "--yes")
        assert second.returncode == 3
        assert "procedure 'long-job' run by" in second.stdout and f"(pid {holder.pid})" in second.stdout
    finally:
        holder.kill()
        holder.wait(10)


@pytest.mark.slow
def test_demo_compaction_really_merges_small_files(tmp_path: Path, env: dict[str, str]) -> None:
    """The embedded demo pipeline (real pyiceberg table, real engine process) compacted by its runbook."""
    drill = opsconsole(tmp_path, env, "demo-drill-small-files", "-p", "demo", "--yes")
    assert drill.returncode == 0, drill.stdout + drill.stderr
    compact = opsconsole(tmp_path, env, "demo-compaction", "-p", "demo", "--yes", "--param", "max_files=1")
    assert compact.returncode == 0, compact.stdout + compact.stderr
    before = next(line for line in compact.stdout.splitlines() if "file_count=" in line)
    files_before = int(before.split("file_count=")[1].split()[0])
    after = [line for line in compact.stdout.splitlines() if "file_count=" in line][-1]
    assert int(after.split("file_count=")[1].split()[0]) == 1 < files_before
    assert "-> ok" in compact.stdout.split("[3/5] compact")[1].split("\n")[1]
