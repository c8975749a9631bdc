"""``opsconsole check``: one poll of every pane, Nagios exit codes, JSON output."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest


def run_check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsconsole", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def down_profile(tmp_path: Path) -> Path:
    """A profile whose only backend (a demo engine that is never started) is down."""
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(f"""\
        profiles:
          down:
            drivers:
              pipeline:
                type: demo
                options: {{data_dir: {tmp_path / 'never'}, autostart: false}}
        """))
    return path


def test_check_demo_reports_real_figures_and_exit_code(tmp_path: Path, root: Path) -> None:
    demo_dir = tmp_path / "demo"
    result = run_check("--config", str(root / "profiles.yaml"), "check", "--json",
                       env={"OPSCONSOLE_DEMO_DIR": str(demo_dir)})
    report = json.loads(result.stdout)
    assert report["profile"] == "demo"
    assert result.returncode == {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}[report["status"]]
    services = {row["name"]: row for row in report["panes"]["services"]["rows"]}
    assert services["ingestion-api"]["health"] == "ok" and services["iceberg-catalog"]["health"] == "ok"
    raw = next(r for r in report["panes"]["tables"]["rows"] if r["name"] == "raw.orders")
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("demo", uri=f"sqlite:///{demo_dir / 'catalog.db'}",
                         warehouse=(demo_dir / "warehouse").as_uri())
    table = catalog.load_table("raw.orders")
    assert raw["snapshot_count"] == len(table.snapshots())
    assert raw["file_count"] == table.inspect.files().num_rows
    state = json.loads((demo_dir / "engine.json").read_text())
    assert not Path(f"/proc/{state['pid']}").exists() or "zombie" in Path(f"/proc/{state['pid']}/status").read_text()


def test_check_exit_2_when_a_backend_is_down(tmp_path: Path) -> None:
    path = down_profile(tmp_path)
    result = run_check("--config", str(path), "check", "--wait", "0")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "CRITICAL" in result.stdout and "engine process not running" in result.stdout


def test_check_unknown_profile_lists_profiles(root: Path) -> None:
    result = run_check("--config", str(root / "profiles.yaml"), "--profile", "nope", "check")
    assert result.returncode == 3  # UNKNOWN: the check could not judge anything
    assert "unknown profile 'nope'" in result.stderr and "iceberg-local" in result.stderr


def test_check_piped_into_a_reader_that_leaves_exits_quietly(tmp_path: Path) -> None:
    """`opsconsole check | head -1`: no traceback when the reader closes the pipe first."""
    path = down_profile(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "opsconsole", "--config", str(path), "check", "--wait", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the report is written
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


NAGIOS_LINE = re.compile(r"^OPSCONSOLE (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+?)(?: \| ((?:'[^'=]+'=-?[0-9.]+"
                         r"[a-zA-Z%]*(?:;-?[0-9.]*){0,4} ?)+))?$")


def perfdata(text: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"'([^']+)'=(-?[0-9.]+)", text)}


def test_check_nagios_line_on_a_fresh_demo(tmp_path: Path, root: Path) -> None:
    """One plugin line with performance data, exit 0 on a healthy cold demo, figures equal to pyiceberg's."""
    demo_dir = tmp_path / "demo"
    result = run_check("--config", str(root / "profiles.yaml"), "check", "--format", "nagios",
                       env={"OPSCONSOLE_DEMO_DIR": str(demo_dir)})
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    match = NAGIOS_LINE.match(lines[0])
    assert match, lines[0]
    assert result.returncode == {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[match.group(1)]
    assert result.returncode == 0, lines[0]  # a healthy demo, cold: the first probe's warm-up is not latency
    perf = perfdata(match.group(3))
    assert perf["alerts_critical"] == 0 and perf["sources_unreachable"] == 0
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("demo", uri=f"sqlite:///{demo_dir / 'catalog.db'}",
                         warehouse=(demo_dir / "warehouse").as_uri())
    # The engine keeps writing after the check: the file count then can only have grown.
    assert perf["files_raw.orders"] <= catalog.load_table("raw.orders").inspect.files().num_rows
    assert "latency_ingestion-api" in perf and "'latency_ingestion-api'=" in lines[0]


def test_check_text_output_is_short_on_a_healthy_platform(tmp_path: Path, root: Path) -> None:
    result = run_check("--config", str(root / "profiles.yaml"), "check",
                       env={"OPSCONSOLE_DEMO_DIR": str(tmp_path / "demo")})
    assert result.returncode == 0, result.stdout
    assert len(result.stdout.splitlines()) <= 12, result.stdout
    assert result.stdout.startswith("opsconsole check: profile demo: OK")


def test_check_config_errors_are_unknown_in_every_format(tmp_path: Path, root: Path) -> None:
    missing = run_check("--config", str(tmp_path / "nope.yaml"), "check", "--format", "nagios")
    assert missing.returncode == 3
    assert missing.stdout.startswith("OPSCONSOLE UNKNOWN - ") and "file not found" in missing.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("profiles:\n  x:\n    drivers: {a: {type: nosuch}}\n")
    broken = run_check("--config", str(bad), "check")
    assert broken.returncode == 3 and "bad.yaml:3" in broken.stderr and "nosuch" in broken.stderr


def test_check_polls_sources_concurrently_and_only_unreachable_is_unknown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A backend that accepts and never answers, behind three panes: bounded by one timeout, not three."""
    from opsconsole import drivers
    from opsconsole.cli.main import main

    monkeypatch.setitem(drivers.REGISTRY, "tcp-probe-panes", "tcp_probe_driver:TcpProbeAllPanesDriver")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    path = tmp_path / "hung.yaml"
    path.write_text(textwrap.dedent(f"""\
        profiles:
          hung:
            drivers:
              backend: {{type: tcp-probe-panes, timeout: 2, options: {{port: {listener.getsockname()[1]}}}}}
        """))
    try:
        started = time.monotonic()
        code = main(["--config", str(path), "check", "--wait", "0"])
        took = time.monotonic() - started
    finally:
        listener.close()
    out = capsys.readouterr().out
    assert code == 3, out  # nothing could be read: UNKNOWN, not CRITICAL
    assert out.count("UNREACHABLE backend: no answer within 2s") == 3, out
    assert took < 5, f"three panes took {took:.1f}s: polled in turn (3 x 2 s), not concurrently"


def test_check_notify_sends_once_across_cron_runs(tmp_path: Path) -> None:
    """`check --notify` from cron: the first run announces the outage, the next runs do not repeat it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    bodies: list[str] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = down_profile(tmp_path)
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    notify = f"    notify:\n      channels:\n        hook: {{type: webhook, url: \"{hook}\"}}\n"
    path.write_text(path.read_text() + notify)
    try:
        first = run_check("--config", str(path), "check", "--wait", "0", "--notify")
        sent_first = list(bodies)
        second = run_check("--config", str(path), "check", "--wait", "0", "--notify")
    finally:
        server.shutdown()
    assert first.returncode == second.returncode == 2, first.stdout + first.stderr
    assert any("ServiceDown" in b and "engine process not running" in b for b in sent_first), sent_first
    assert "notify hook: firing ServiceDown:demo-engine" in first.stderr, first.stderr
    assert bodies == sent_first, "the second run announced the same outage again"
    assert "notify hook" not in second.stderr
