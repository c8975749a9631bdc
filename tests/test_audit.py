"""The audit log: what it records, what it never records, and how it survives damage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from opsconsole.audit import REDACTED, AuditLog, default_path, redact
from opsconsole.runbooks.engine import RunbookEngine
from opsconsole.runbooks.library import parse_runbook
from opsconsole.secret import Secret


def test_default_path_follows_opsconsole_data_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPSCONSOLE_DATA_DIR", str(tmp_path / "d"))
    assert default_path() == tmp_path / "d" / "audit.jsonl"


def test_redaction_of_names_values_and_known_secrets() -> None:
    params = {"table": "raw.orders", "password": "pw-123456", "api_key": "k", "token": None,
              "dsn": "postgresql://u:topsecretpw@h/db", "cred": Secret("zzzz"), "nested": {"secret": "x"}}
    shown = redact(params, secrets=["topsecretpw"])
    assert shown == {"table": "raw.orders", "password": REDACTED, "api_key": REDACTED, "token": None,
                     "dsn": f"postgresql://u:{REDACTED}@h/db", "cred": REDACTED, "nested": {"secret": REDACTED}}


def test_torn_last_line_does_not_hide_earlier_records(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(3):
        log.write(log.event(run_id="r", phase="start", procedure="p", step=f"s{i}"))
    with open(log.path, "ab") as fh:
        fh.write(b'{"ts":"2026-01-01","run_id":"r","pha')  # what a crash mid-write leaves
    log.write(log.event(run_id="r", phase="end", procedure="p", step="after-crash"))
    assert [e.step for e in log.read()] == ["s0", "s1", "s2", "after-crash"]
    assert oct(os.stat(log.path).st_mode & 0o777) == "0o600"


def test_two_processes_appending_keep_every_line_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    code = ("import sys; from opsconsole.audit import AuditLog; log = AuditLog(sys.argv[1]);"
            "[log.write(log.event(run_id=sys.argv[2], phase='start', procedure='p', message='x' * 3000, "
            "step=str(i))) for i in range(200)]")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), name], env=env) for name in ("a", "b")]
    for p in procs:
        assert p.wait(60) == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 400 and all(json.loads(line)["message"] == "x" * 3000 for line in lines)


async def test_engine_never_writes_secret_params(tmp_path: Path) -> None:
    from opsconsole.yamlio import load_yaml

    rb = parse_runbook(load_yaml("id: x\ntitle: t\nparams:\n  sas: {secret: true}\n  note: {}\nsteps:\n"
                                  "  - {id: s, shell: 'echo ${sas} ${note}', mutating: false}\n", "t.yaml"), "t.yaml")
    log = AuditLog(tmp_path / "audit.jsonl")
    engine = RunbookEngine({}, profile="p", audit=log, secrets=["profile-secret-value"])
    results = [r async for r in engine.run(rb, {"sas": "sv=2024&sig=abcdef", "note": "profile-secret-value"})]
    assert results[-1].status.value == "ok"
    raw = log.path.read_text()
    assert "sig=abcdef" not in raw and "profile-secret-value" not in raw
    start = next(e for e in log.read() if e.phase == "run-start")
    assert start.params == {"sas": REDACTED, "note": REDACTED} and start.who and start.host
    end = next(e for e in log.read() if e.phase == "end")
    assert end.output_digest.startswith("sha256:") and end.start and end.end and end.outcome == "ok"


def test_audit_records_the_person_behind_sudo_and_the_web_connection(tmp_path: Path, monkeypatch) -> None:
    """On a shared jump box `sudo opsconsole` runs as root: the record names the login; a browser tab says so."""
    monkeypatch.setenv("SUDO_USER", "alice")
    monkeypatch.setenv("OPSCONSOLE_AUDIT_VIA", "web 127.0.0.1 HeadlessChrome")
    log = AuditLog(tmp_path / "audit.jsonl")
    log.write(log.event(run_id="r1", phase="run-start", procedure="p"))
    event = log.read()[-1]
    assert event.who.startswith("alice")
    assert event.via == "web 127.0.0.1 HeadlessChrome"
