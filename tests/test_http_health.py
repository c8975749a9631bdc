"""HTTP health driver against real HTTP servers on 127.0.0.1.

The seed-002 health paths are probed against real containers in
``test_docker_driver.py``; here a stdlib threaded server plays the awkward
cases a health page meets in production: slow, hanging, 503, 200 with an
unhealthy JSON body, a closed port, credentials in the URL.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from opsconsole.drivers.http_health import HttpHealthDriver, reported_problems
from opsconsole.errors import ConfigError
from opsconsole.model import Health


class Server:
    """Real HTTP server whose paths behave badly on purpose; counts concurrent requests."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0
        self.paths: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.in_flight += 1
                    server.peak = max(server.peak, server.in_flight)
                    server.paths.append(self.path)
                try:
                    self.respond()
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def respond(self) -> None:
                path = self.path.split("?")[0]
                status, body = 200, b"OK"
                if path == "/slow":
                    time.sleep(0.4)
                elif path == "/hang":
                    time.sleep(3)
                elif path == "/busy":
                    time.sleep(0.15)
                elif path == "/503":
                    status, body = 503, b"maintenance"
                elif path == "/401":
                    status, body = 401, b"login"
                elif path == "/airflow-health":
                    body = json.dumps({"metadatabase": {"status": "healthy"},
                                       "scheduler": {"status": "unhealthy",
                                                     "latest_scheduler_heartbeat": None}}).encode()
                elif path == "/trino-info":
                    body = json.dumps({"starting": True, "coordinator": True}).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the probe gave up
                    self.wfile.write(body)

        class Httpd(ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog of 5 drops SYNs: a 1 s retransmit, not our bug

        self.httpd = Httpd(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_each_failure_mode_has_its_own_row(server: Server) -> None:
    b = server.base
    driver = HttpHealthDriver("health", {
        "endpoints": {"ok": f"{b}/ok", "slow": f"{b}/slow", "hang": f"{b}/hang", "down": f"{b}/503",
                      "refused": f"http://127.0.0.1:{closed_port()}/health", "airflow": f"{b}/airflow-health",
                      "trino": f"{b}/trino-info", "login": {"url": f"{b}/401", "expect_status": [401]}},
        "probe_timeout": 1, "slow_ms": 250})
    try:
        rows = {r.name: r for r in await driver.health()}
    finally:
        await driver.close()
    assert list(rows) == ["ok", "slow", "hang", "down", "refused", "airflow", "trino", "login"]
    assert (rows["ok"].health, rows["ok"].detail) == (Health.OK, "HTTP 200")
    assert rows["slow"].health is Health.WARNING and "slow" in rows["slow"].detail
    assert rows["slow"].latency_ms is not None and rows["slow"].latency_ms >= 400
    assert rows["hang"].health is Health.CRITICAL and rows["hang"].detail == "no answer within 1s"
    assert rows["hang"].latency_ms is None
    assert rows["down"].health is Health.CRITICAL and rows["down"].detail == "HTTP 503 Service Unavailable"
    assert rows["refused"].health is Health.CRITICAL and rows["refused"].detail.startswith("cannot connect")
    assert rows["airflow"].health is Health.WARNING and "scheduler unhealthy" in rows["airflow"].detail
    assert rows["trino"].health is Health.WARNING and "starting" in rows["trino"].detail
    assert rows["login"].health is Health.OK
    assert all(r.source == "health" for r in rows.values())


async def test_latency_history_keeps_answered_probes_only(server: Server) -> None:
    driver = HttpHealthDriver("health", {"endpoints": {"ok": f"{server.base}/ok",
                                                       "gone": f"http://127.0.0.1:{closed_port()}/"},
                                         "history": 3, "probe_timeout": 1})
    try:
        for _ in range(5):
            rows = {r.name: r for r in await driver.health()}
    finally:
        await driver.close()
    history = rows["ok"].extra["latency_history"]
    assert isinstance(history, tuple) and len(history) == 3 and all(isinstance(v, float) and v > 0 for v in history)
    assert rows["ok"].extra["p50_ms"] == sorted(history)[1]
    assert rows["gone"].extra["latency_history"] == ()
    assert rows["gone"].extra["consecutive_failures"] == 5
    assert server.paths.count("/ok") == 5


async def test_probes_run_concurrently_but_bounded(server: Server) -> None:
    """30 slow endpoints: the server sees many at once, never more than max_concurrency."""
    driver = HttpHealthDriver("health", {"endpoints": {f"s{i}": f"{server.base}/busy?i={i}" for i in range(30)},
                                         "max_concurrency": 6, "per_client": 4, "probe_timeout": 5})
    try:
        rows = await driver.health()
    finally:
        await driver.close()
    assert all(r.health is Health.OK for r in rows)
    assert 2 <= server.peak <= 6


async def test_credentials_and_query_never_reach_the_screen(server: Server) -> None:
    port = server.base.rsplit(":", 1)[1]
    driver = HttpHealthDriver("health", {"endpoints": {
        "api": f"http://ops:hunter2@127.0.0.1:{port}/ok?token=s3cr3t"}})
    try:
        [row] = await driver.health()
    finally:
        await driver.close()
    assert row.health is Health.OK
    shown = repr(row)
    assert "hunter2" not in shown and "s3cr3t" not in shown
    assert row.extra["url"] == f"http://127.0.0.1:{port}/ok"


@pytest.mark.parametrize("endpoints", [{}, {"x": "ftp://host/file"}, {"x": "not a url"},
                                       {"x": {"url": "http://h/", "expect": 200}},
                                       {"x": {"url": "http://h/", "expect_status": ["200"]}}])
def test_bad_endpoint_config_is_rejected(endpoints: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        HttpHealthDriver("health", {"endpoints": endpoints})


def test_reported_problems_reads_common_health_bodies() -> None:
    assert reported_problems(b'{"status":"ready"}') == []
    assert reported_problems(b'{"status":"DOWN"}') == ["status DOWN"]
    assert reported_problems(b'{"metadatabase":{"status":"unhealthy"}}') == ["metadatabase unhealthy"]
    assert reported_problems(b"OK") == [] and reported_problems(b"{not json") == []


class KeepAliveServer:
    """HTTP/1.1 server that can stop accepting while connections it already has keep being served.

    That is how a dying service looks from outside: established keep-alive
    connections still answer for a while, new clients are refused.
    """

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/health"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def refuse_new_connections(self) -> None:
        self.httpd.shutdown()  # stop accepting...
        self.httpd.socket.close()  # ...and refuse; handler threads of open connections live on


async def test_a_server_refusing_new_connections_is_down_at_the_next_probe() -> None:
    server = KeepAliveServer()
    driver = HttpHealthDriver("health", {"endpoints": {"api": server.url}, "probe_timeout": 1})
    try:
        [first] = await driver.health()
        server.refuse_new_connections()
        [second] = await driver.health()
    finally:
        await driver.close()
        server.httpd.server_close()
    assert first.health is Health.OK
    assert second.health is Health.CRITICAL and second.detail.startswith("cannot connect")


def test_slow_compares_what_it_prints() -> None:
    driver = HttpHealthDriver("health", {"endpoints": {"api": "http://127.0.0.1:1/"}, "slow_ms": 1000})
    endpoint = driver.endpoints[0]
    at_limit = driver._row(endpoint, 200, "OK", b"", 1000.4, "")
    over = driver._row(endpoint, 200, "OK", b"", 1000.6, "")
    assert (at_limit.health, at_limit.detail) == (Health.OK, "HTTP 200")
    assert (over.health, over.detail) == (Health.WARNING, "HTTP 200; slow (1001 ms > 1000 ms)")
