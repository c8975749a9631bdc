"""Shared by the ``watch`` tests: a fast demo profile, a watch subprocess, scraping and pyiceberg figures."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fast_demo_profile(tmp_path: Path, demo_dir: Path, extra: str = "", name: str = "p.yaml",
                      transform_interval: float = 1) -> Path:
    """The demo with a batch every 0.5 s and every pane polled each second."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(f"""\
        profiles:
          demo:
            drivers:
              pipeline:
                type: demo
                options: {{data_dir: {demo_dir}, batch_interval: 0.5, transform_interval: {transform_interval}}}
            poll: {{services: 1, queries: 1, tables: 1, lag: 1, jobs: 1}}
        """) + textwrap.indent(textwrap.dedent(extra), "    "))
    return path


def start_watch(config: Path, port: int | None, *args: str, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "opsconsole", "watch", "--config", str(config), "--log-format", "json",
           "--listen", f"127.0.0.1:{port}" if port else "none", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("wb"), env=env, cwd=ROOT)


def stop_watch(proc: subprocess.Popen[bytes], timeout: float = 20) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(5)


def log_events(log: Path) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"event": "not-json", "msg": line})
    return out


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """``/metrics`` parsed by the client library's own parser: name -> sorted labels -> value."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return parse(text)


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(metrics: dict[str, Any], name: str, **labels: str) -> float | None:
    for key, v in metrics.get(name, {}).items():
        if all((k, lv) in key for k, lv in labels.items()):
            return v
    return None


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # a server not up yet
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def iceberg_files(demo_dir: Path) -> int:
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("demo", uri=f"sqlite:///{demo_dir / 'catalog.db'}",
                         warehouse=(demo_dir / "warehouse").as_uri())
    return catalog.load_table("raw.orders").inspect.files().num_rows


def duckdb_lag(demo_dir: Path) -> tuple[int, int]:
    """(rows in raw.orders per pyiceberg, rows in stg_orders per DuckDB), read by the test itself."""
    import duckdb
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("demo", uri=f"sqlite:///{demo_dir / 'catalog.db'}",
                         warehouse=(demo_dir / "warehouse").as_uri())
    raw = catalog.load_table("raw.orders").scan().to_arrow().num_rows
    for _ in range(40):  # the transform holds the write lock for a moment now and then
        try:
            con = duckdb.connect(str(demo_dir / "staging.duckdb"), read_only=True)
        except duckdb.IOException:
            time.sleep(0.1)
            continue
        try:
            return raw, int(con.execute("select count(*) from stg_orders").fetchone()[0])
        finally:
            con.close()
    raise AssertionError("staging.duckdb stayed locked")


def set_fault(demo_dir: Path, fault: str, on: bool = True) -> None:
    from opsconsole.demo.layout import DemoPaths

    paths = DemoPaths(demo_dir)
    paths.ensure()
    flag = paths.fault_flag(fault)
    if on:
        flag.touch()
    else:
        flag.unlink(missing_ok=True)
