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
                      transform_interval: float = 1, autostart: bool = True) -> Path:
    """The demo with a batch every 0.5 s and every pane polled each second."""
    path = tmp_path / name
    options = (f"{{data_dir: {demo_dir}, batch_interval: 0.5, transform_interval: {transform_interval}, "
               f"autostart: {str(autostart).lower()}}}")
    path.write_text(textwrap.dedent(f"""\
        profiles:
          demo:
            drivers:
              pipeline:
                type: demo
                options: {options}
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


def iceberg_snapshots(demo_dir: Path) -> int:
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("demo", uri=f"sqlite:///{demo_dir / 'catalog.db'}",
                         warehouse=(demo_dir / "warehouse").as_uri())
    return len(catalog.load_table("raw.orders").snapshots())


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


# --------------------------------------------------------------------------- real peers of their own
class Webhook:
    """A local HTTP receiver recording every JSON body POSTed to it (Alertmanager's webhook_configs)."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.delay = 0.0
        """Seconds each answer takes (a slow chat service)."""
        received, outer = self.bodies, self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length) or b"{}"))  # delivered: it is here
                outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                time.sleep(outer.delay)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, status: str, alertname: str) -> list[dict[str, Any]]:
        """One entry per notification that carried ``alertname`` in ``status``."""
        return [a for body in list(self.bodies) for a in body.get("alerts", [])
                if a["status"] == status and a["labels"].get("alertname") == alertname]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Alertmanager:
    """A real Alertmanager of the test's own, routing every alert to a webhook; restartable on its port."""

    def __init__(self, binary: str, workdir: Path, webhook_url: str) -> None:
        self.binary, self.dir, self.port = binary, workdir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "am.yml").write_text(textwrap.dedent(f"""\
            route:
              receiver: hook
              group_by: [alertname, subject]
              group_wait: 1s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: hook
                webhook_configs:
                  - url: {webhook_url}
                    send_resolved: true
            """))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.dir / "am.log").open("ab")
        self.proc = subprocess.Popen([self.binary, f"--config.file={self.dir / 'am.yml'}",
                                      f"--storage.path={self.dir / 'data'}",
                                      f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
                                     stdout=log, stderr=log)
        wait_for(lambda: urllib.request.urlopen(f"{self.url}/-/ready", timeout=1).status == 200, 20,
                 "Alertmanager ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def active(self) -> list[dict[str, Any]]:
        return json.loads(urllib.request.urlopen(f"{self.url}/api/v2/alerts?active=true", timeout=2).read())


class Prometheus:
    """A real Prometheus of the test's own scraping ``targets`` every 2 s with ``rules``."""

    def __init__(self, binary: str, workdir: Path, targets: list[str], rules: str) -> None:
        self.binary, self.dir, self.port = binary, workdir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "rules.yml").write_text(textwrap.dedent(rules))
        (workdir / "prom.yml").write_text(textwrap.dedent(f"""\
            global:
              scrape_interval: 2s
              evaluation_interval: 2s
            rule_files: [{workdir / 'rules.yml'}]
            scrape_configs:
              - job_name: opsconsole
                static_configs:
                  - targets: {json.dumps(targets)}
            """))
        log = (workdir / "prom.log").open("ab")
        self.proc = subprocess.Popen([binary, f"--config.file={workdir / 'prom.yml'}",
                                      f"--storage.tsdb.path={workdir / 'tsdb'}",
                                      f"--web.listen-address=127.0.0.1:{self.port}"], stdout=log, stderr=log)
        wait_for(lambda: urllib.request.urlopen(f"{self.url}/-/ready", timeout=1).status == 200, 30,
                 "Prometheus ready")

    def api(self, path: str, **params: str) -> Any:
        import urllib.parse

        query = urllib.parse.urlencode(params)
        body = json.loads(urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=5).read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {tuple(sorted(r["metric"].items())): float(r["value"][1])
                for r in self.api("query", query=promql)["result"]}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


def start_demo_engine(demo_dir: Path) -> subprocess.Popen[bytes]:
    """A fast demo pipeline owned by the test, not by a watch replica (either replica may die)."""
    demo_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "opsconsole.demo.engine", "--data-dir", str(demo_dir),
                             "--batch-interval", "0.5", "--transform-interval", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=(demo_dir / "engine.out").open("wb"))
    wait_for(lambda: (demo_dir / "engine.json").exists(), 30, "demo engine state")
    return proc


def compact_raw(demo_dir: Path) -> None:
    """Rewrite raw.orders into one file in a new snapshot: file and snapshot counts part ways."""
    from pyiceberg.catalog.sql import SqlCatalog

    from opsconsole.drivers.iceberg import ops as iceberg_ops

    catalog = SqlCatalog("demo", uri=f"sqlite:///{demo_dir / 'catalog.db'}",
                         warehouse=(demo_dir / "warehouse").as_uri())
    iceberg_ops.compact(catalog.load_table("raw.orders"), retries=7)
