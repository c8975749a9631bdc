"""No secret reaches any output (issue 18): markers planted in URLs, query strings and Secret options.

A profile whose Airflow and S3 endpoints carry ``user:PASSWORD@``, whose HTTP
endpoints carry ``?token=`` / ``?api_key=``, and whose secret options come from
the environment. Every output a person or a machine can read is scanned for the
markers: ``check`` (text and JSON), the TUI's screen, notifications received by
a local webhook receiver, the audit log and the diagnostics bundle (also 0600).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import ROOT

MARKERS = ["MARKairflowpass", "MARKairflowsecret", "MARKs3pass", "MARKs3secret", "MARKhttptoken",
           "MARKdeadkey", "MARKdeadpass", "MARKrunbookpass"]


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """Answers GET /health with 200 and records every POST body (the notification receiver)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_POST(self) -> None:
                outer.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def leaky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Server]]:
    server = Server()
    monkeypatch.setenv("AIRFLOW_PW", "MARKairflowsecret")
    monkeypatch.setenv("S3_SECRET", "MARKs3secret")
    config = tmp_path / "profiles.yaml"
    config.write_text(textwrap.dedent(f"""\
        profiles:
          leaky:
            drivers:
              health:
                type: http
                options:
                  endpoints:
                    api: http://127.0.0.1:{server.port}/health?token=MARKhttptoken
                    billing: http://ops:MARKdeadpass@127.0.0.1:{dead_port()}/health?api_key=MARKdeadkey
              flow:
                type: airflow
                timeout: 3
                options:
                  url: http://admin:MARKairflowpass@127.0.0.1:{dead_port()}
                  username: admin
                  password: ${{AIRFLOW_PW}}
              lake:
                type: s3
                timeout: 3
                options:
                  bucket: lake
                  endpoint: http://minio:MARKs3pass@127.0.0.1:{dead_port()}
                  access_key: minio
                  secret_key: ${{S3_SECRET}}
            notify:
              channels:
                hook: {{type: webhook, url: "http://127.0.0.1:{server.port}/hook"}}
        """))
    yield config, server
    server.server.shutdown()
    server.server.server_close()


def assert_clean(where: str, text: str) -> None:
    found = [m for m in MARKERS if m in text]
    assert not found, f"{where} shows secret markers {found}:\n{text[:3000]}"


def test_check_text_and_json_show_no_secret(leaky: tuple[Path, Server]) -> None:
    config, _ = leaky
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for extra in ([], ["--json"]):
        result = subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(config), "check", *extra],
                                capture_output=True, text=True, env=env, timeout=120)
        assert "billing" in result.stdout and "lake" in result.stdout, result.stdout + result.stderr
        assert_clean(f"check {' '.join(extra)}", result.stdout + result.stderr)
        if extra:
            json.loads(result.stdout)


async def test_notifications_audit_and_bundle_show_no_secret(leaky: tuple[Path, Server], tmp_path: Path) -> None:
    from opsconsole.audit import AuditLog
    from opsconsole.config import load
    from opsconsole.monitor import build_drivers, panes_of
    from opsconsole.monitor.incidents import collect_diagnostics
    from opsconsole.monitor.poll import poll
    from opsconsole.monitor.rules import evaluate
    from opsconsole.notify import Notifier
    from opsconsole.runbooks.engine import RunbookEngine
    from opsconsole.runbooks.library import parse_runbook

    config, server = leaky
    profile = load(config).profile("leaky")
    drivers = build_drivers(profile)
    results = {pane: await poll(pane, drivers) for pane in panes_of(drivers)}
    alerts = evaluate(results, profile.alerts)
    assert alerts, "the dead endpoints should raise alerts"
    assert profile.notify is not None
    deliveries = await Notifier(profile.notify, profile=profile.name).process(alerts)
    assert deliveries and all(d.ok for d in deliveries), deliveries
    assert server.bodies, "the receiver got nothing"
    assert_clean("notifications", "\n".join(server.bodies))

    audit = AuditLog(tmp_path / "audit.jsonl")
    rb = parse_runbook({"id": "probe-endpoint", "title": "Probe", "params": {
        "endpoint": {"default": "http://ops:MARKrunbookpass@127.0.0.1:9/x?token=MARKhttptoken"}},
        "steps": [{"id": "curl", "shell": ["/bin/sh", "-c", "echo \"$0 failed\"; exit 3", "${endpoint}"]}]},
        "rb.yaml")
    engine = RunbookEngine({}, profile=profile.name, audit=audit, secrets=profile.secrets(),
                           locks_dir=tmp_path / "locks")
    outputs = [e.output or e.message async for e in engine.run(rb)]
    assert any("failed" in o for o in outputs)
    assert_clean("runbook output", "\n".join(outputs))
    assert_clean("audit log", audit.path.read_text())

    bundle = await collect_diagnostics(profile, drivers, alerts=alerts, audit=audit, directory=tmp_path / "diag")
    assert "billing" in bundle.read_text()
    assert_clean("diagnostics bundle", bundle.read_text())
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600, oct(bundle.stat().st_mode)


async def test_tui_screen_shows_no_secret(leaky: tuple[Path, Server]) -> None:
    from pilot_helpers import until

    from opsconsole.config import load
    from opsconsole.ui.app import OpsConsoleApp

    config, _ = leaky
    app = OpsConsoleApp(load(config).profile("leaky"))
    async with app.run_test(size=(200, 60)) as pilot:
        await until(pilot, lambda: "billing" in app.export_screenshot() and "lake" in app.export_screenshot())
        await pilot.pause(1.0)
        assert_clean("TUI", app.export_screenshot())
