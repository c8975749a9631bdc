"""Read-only means read-only (issue 18): a runbook's ``mutating: false`` is believed only for allowlisted commands.

``--read-only`` once let ``backup-metadata`` truncate an existing backup to 0 bytes:
its shell step said ``mutating: false`` and the engine trusted it. These tests run
the library's own runbooks read-only and check that nothing on disk changes and
that no command outside the read-only allowlist is even started.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, require_peer

from opsconsole.audit import AuditLog
from opsconsole.runbooks.engine import RunbookEngine
from opsconsole.runbooks.library import load_library, parse_runbook
from opsconsole.runbooks.model import StepKind, StepStatus
from opsconsole.runbooks.params import substitute
from opsconsole.runbooks.readonly import is_read_only

LIBRARY = load_library(include_user=False)
PROFILES = """
version: 1
default_profile: t
profiles:
  t:
    drivers:
      bus: {type: kafka, options: {bootstrap: "127.0.0.1:9"}}
"""


def sample_values(rb, where: Path) -> dict[str, object]:
    """Parameter values for a run: defaults, else a path inside the sandbox (or 1 for numbers)."""
    values: dict[str, object] = {}
    for p in rb.params:
        if p.default is not None:
            values[p.name] = p.default
        elif p.choices:
            values[p.name] = p.choices[0]
        elif p.type.value in ("int", "float"):
            values[p.name] = 1
        else:
            values[p.name] = str(where / p.name)
    return values


def test_library_read_only_claims_are_on_the_allowlist() -> None:
    """Every shell step the library marks ``mutating: false`` really is a reader (else the claim is a lie)."""
    lies = []
    for rb in LIBRARY.all():
        values = {**sample_values(rb, Path("/sandbox")), "profile": "p"}
        for step in rb.steps:
            if step.kind is StepKind.SHELL and step.mutating is False:
                command = (substitute(step.command, values, quote=True) if isinstance(step.command, str)
                           else [str(substitute(a, values)) for a in step.command])
                if not is_read_only(command):
                    lies.append(f"{Path(rb.source).name}:{step.line} {rb.id}.{step.id}: {command}")
    assert not lies, "marked mutating: false but not a read-only command:\n" + "\n".join(lies)


@pytest.mark.parametrize("words", [
    "docker build -t x .", "docker pull python:3.11-slim", "tar -czf x.tgz logs", "npm run build",
    "databricks workspace export-dir a b", "docker compose logs > out.txt", "df -h; rm -rf /tmp/x",
    "echo $(touch /tmp/x)", "git log --output=/tmp/x", "docker exec -u root c df", "docker exec c rm -rf /data",
    "opsconsole notify --test", "find /var/log | xargs -r tar -czf l.tgz", "date -s 2020-01-01",
])
def test_writers_are_not_read_only(words: str) -> None:
    assert not is_read_only(words)
    assert not is_read_only(shlex.split(words)) or any(c in words for c in "$;>|")


@pytest.mark.parametrize("words", ["df -h", "docker logs --tail 100 c", "docker exec pg pg_isready", "free -m",
                                   "git log --oneline -10", "docker stats --no-stream"])
def test_readers_are_read_only(words: str) -> None:
    assert is_read_only(words) and is_read_only(shlex.split(words))


def _sandbox(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A PATH where every program the library names is a stand-in that records how it was called."""
    shims, calls = tmp_path / "bin", tmp_path / "calls.log"
    shims.mkdir()
    names = {"python3", "xargs", "find", "date"}
    for rb in LIBRARY.all():
        for step in rb.steps:
            if step.kind is StepKind.SHELL:
                words = shlex.split(step.command) if isinstance(step.command, str) else list(step.command)
                names.update(w for w in words if w.isidentifier() or ("-" in w and "/" not in w and "$" not in w))
    for name in names:
        if "/" in name or name.startswith("-"):
            continue
        shim = shims / name
        shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "{name} $*" >> {shlex.quote(str(calls))}\n')
        shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{shims}:/usr/bin:/bin"}
    return shims, calls, env


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


def test_read_only_runs_of_every_library_runbook_start_no_writer_and_touch_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shell steps of every library runbook, run read-only: only allowlisted readers start, no file changes."""
    _shims, calls, env = _sandbox(tmp_path)
    monkeypatch.setenv("PATH", env["PATH"])
    work = tmp_path / "work"
    work.mkdir()
    for name in ("iceberg_catalog_backup.sql", "airflow_backup.sql", "old.log"):
        (work / name).write_text("previous contents\n")
    before = _tree(work)
    monkeypatch.chdir(work)
    started = []

    async def run_all() -> None:
        for rb in LIBRARY.all():
            shell_only = [s for s in rb.steps if s.kind is StepKind.SHELL]
            if not shell_only:
                continue
            rb_shell = parse_runbook({"id": rb.id, "title": rb.title, "params": {
                p.name: {"default": v} for p, v in zip(rb.params, sample_values(rb, work).values(), strict=True)},
                "steps": [{"id": s.id, "shell": list(s.command) if isinstance(s.command, tuple) else s.command,
                           **({"cwd": s.cwd} if s.cwd else {}), **({"output": s.output} if s.output else {}),
                           **({"mutating": s.mutating} if s.mutating is not None else {}),
                           "on_failure": "continue"} for s in shell_only]}, rb.source)
            engine = RunbookEngine({}, profile="t", read_only=True, audit=AuditLog(tmp_path / "audit.jsonl"),
                                   locks_dir=tmp_path / "locks")
            async for event in engine.run(rb_shell):
                if event.status is StepStatus.STARTED:
                    started.append(f"{rb.id}.{event.step_id}")

    asyncio.run(run_all())
    ran = calls.read_text().splitlines() if calls.exists() else []
    writers = [line for line in ran if not is_read_only(shlex.split(line))]
    assert not writers, f"read-only started commands that write: {writers}"
    assert started, "no step ran at all: the test would prove nothing"
    assert _tree(work) == before, "a read-only run changed files"


def test_backup_metadata_read_only_leaves_an_existing_backup_untouched(tmp_path: Path) -> None:
    out = tmp_path / "backups"
    out.mkdir()
    backup = out / "iceberg_catalog_backup.sql"
    backup.write_text("-- last good dump\nCREATE TABLE t (id int);\n")
    before = (backup.read_bytes(), backup.stat().st_mtime_ns)
    (tmp_path / "profiles.yaml").write_text(PROFILES)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(tmp_path / "profiles.yaml"),
                             "--read-only", "run", "backup-metadata", "-p", "t", "--yes", "--param",
                             f"out_dir={out}"], capture_output=True, text=True, env=env, timeout=120)
    assert "read-only" in result.stdout and "REFUSED" in result.stdout, result.stdout + result.stderr
    assert (backup.read_bytes(), backup.stat().st_mtime_ns) == before
    assert sorted(p.name for p in out.iterdir()) == ["iceberg_catalog_backup.sql"]


@pytest.mark.peer("docker")
def test_failed_backup_keeps_the_previous_one(tmp_path: Path) -> None:
    """pg_dump through a real Docker that fails (no such container) must not replace the last good dump."""
    require_peer("OPSC_DOCKER", "Docker Engine (scripts/peers/docker.sh)")
    out = tmp_path / "backups"
    out.mkdir()
    backup = out / "iceberg_catalog_backup.sql"
    backup.write_text("-- last good dump\n")
    (tmp_path / "profiles.yaml").write_text(PROFILES)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(tmp_path / "profiles.yaml"),
                             "run", "backup-metadata", "-p", "t", "--yes", "--param", f"out_dir={out}"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0 and "left as it was" in result.stdout, result.stdout + result.stderr
    assert backup.read_text() == "-- last good dump\n"
    assert sorted(p.name for p in out.iterdir()) == ["iceberg_catalog_backup.sql"], "a partial file was left"


async def test_successful_output_replaces_the_file_atomically(tmp_path: Path) -> None:
    rb = parse_runbook({"id": "dump", "title": "Dump", "steps": [
        {"id": "d", "shell": ["/bin/echo", "new dump"], "output": str(tmp_path / "dump.sql")}]}, "t.yaml")
    (tmp_path / "dump.sql").write_text("old\n")
    engine = RunbookEngine({}, profile="t", audit=AuditLog(tmp_path / "a.jsonl"), locks_dir=tmp_path / "locks")
    results = [e async for e in engine.run(rb) if e.status.final]
    assert results[-1].status is StepStatus.OK, results[-1].message
    assert (tmp_path / "dump.sql").read_text() == "new dump\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".part")) == []
