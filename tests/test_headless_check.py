"""``opsconsole check``: one poll of every pane, Nagios exit codes, JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


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
