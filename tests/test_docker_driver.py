"""Docker compose driver (and the seed's health URLs) against a real Docker Engine.

``scripts/peers/docker.sh`` starts dockerd and builds ``opsconsole-busybox:test``
(busybox FROM scratch serving the seed-002 health paths with ``httpd``). Each
test module run starts a fresh "compose project" of such containers, labelled
exactly as ``docker compose`` labels them, publishes them on 127.0.0.1, and
removes them afterwards. The daemon going away is simulated with a unix-socket
proxy in front of the real daemon, so the shared dockerd keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from opsconsole.drivers.docker_compose import DockerComposeDriver, parse_docker_time
from opsconsole.drivers.http_health import HttpHealthDriver
from opsconsole.errors import DriverError, DriverUnavailable
from opsconsole.model import Health
from tests.conftest import require_peer

pytestmark = pytest.mark.peer("docker")

HEALTH_PATHS = {
    "minio": "/minio/health/live",
    "iceberg-rest": "/v1/config",
    "redpanda": "/v1/status/ready",
    "airflow": "/health",
    "trino": "/v1/info",
    "ingestion-api": "/health",
}
HTTPD = ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
TICKER = ["sh", "-c", 'i=0; while true; do echo "tick $i"; echo "warn $i" >&2; i=$((i+1)); sleep 0.2; done']
NS = 1_000_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    """A compose-labelled project of busybox containers on the real daemon."""

    def __init__(self, client: Any, image: str) -> None:
        self.client = client
        self.image = image
        self.project = f"opsc-{uuid.uuid4().hex[:8]}"
        self.ports: dict[str, int] = {}

    def run(self, service: str, command: list[str] | None = None, **kwargs: Any) -> Any:
        labels = {"com.docker.compose.project": self.project, "com.docker.compose.service": service,
                  "com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False"}
        return self.client.containers.run(self.image, command, name=f"{self.project}-{service}-1", labels=labels,
                                          detach=True, **kwargs)

    def up(self) -> None:
        healthy = {"test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/minio/health/live"],
                   "interval": NS // 2, "timeout": NS, "retries": 1, "start_period": 0}
        failing = {"test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/nope"],
                   "interval": NS // 2, "timeout": NS, "retries": 1, "start_period": 0}
        for service in HEALTH_PATHS:
            # A fixed host port: docker would pick a new random one on every restart.
            self.ports[service] = free_port()
            self.run(service, HTTPD, ports={"8080/tcp": ("127.0.0.1", self.ports[service])},
                     healthcheck=healthy if service == "minio" else None)
        self.run("flink-jobmanager", HTTPD, healthcheck=failing)
        self.run("spark-master", TICKER)
        self.run("minio-init", ["sh", "-c", "echo bucket warehouse created"])
        self.run("crashy", ["sh", "-c", "echo boom; exit 3"],
                 restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})

    def container(self, service: str) -> Any:
        return self.client.containers.get(f"{self.project}-{service}-1")

    def down(self) -> None:
        for c in self.client.containers.list(all=True, filters={"label": f"com.docker.compose.project={self.project}"}):
            with contextlib.suppress(Exception):
                c.remove(force=True)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    require_peer("OPSC_DOCKER", "Docker Engine (scripts/peers/docker.sh)")
    import docker

    client = docker.from_env()
    s = Stack(client, os.environ.get("OPSC_DOCKER_IMAGE", "opsconsole-busybox:test"))
    try:
        s.up()
        yield s
    finally:
        s.down()
        client.close()


def make_driver(stack: Stack, **options: Any) -> DockerComposeDriver:
    return DockerComposeDriver("compose", {"project": stack.project, "oneshot_services": ["minio-init"],
                                           "stop_timeout": 1, **options}, timeout=15)


async def rows_when(driver: DockerComposeDriver, ready: Any, within: float = 20.0) -> dict[str, Any]:
    """Poll like the UI does until ``ready(rows)`` (health checks and restarts take a moment)."""
    deadline = time.monotonic() + within
    while True:
        rows = {r.name: r for r in await driver.health()}
        if ready(rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.3)


async def test_services_show_state_health_restarts_and_uptime(stack: Stack) -> None:
    driver = make_driver(stack)
    try:
        rows = await rows_when(driver, lambda r: r["minio"].extra["container_health"] == "healthy"
                               and r["flink-jobmanager"].extra["container_health"] == "unhealthy"
                               and r["crashy"].extra["restarts"] == 2 and r["crashy"].extra["state"] == "exited")
    finally:
        await driver.close()
    assert set(rows) == {*HEALTH_PATHS, "flink-jobmanager", "spark-master", "minio-init", "crashy"}
    assert rows["minio"].health is Health.OK and "running (healthy)" in rows["minio"].detail
    assert rows["flink-jobmanager"].health is Health.CRITICAL and "unhealthy" in rows["flink-jobmanager"].detail
    assert rows["trino"].health is Health.OK and rows["trino"].extra["container_health"] == ""
    assert rows["minio-init"].health is Health.OK and "completed" in rows["minio-init"].detail
    crashy = rows["crashy"]
    assert crashy.health is Health.CRITICAL and "exited (code 3), 2 restarts" in crashy.detail
    assert crashy.extra["exit_code"] == 3
    up = rows["spark-master"].extra["uptime_s"]
    assert up is not None and 0 <= up < 600
    assert rows["spark-master"].extra["container"] == f"{stack.project}-spark-master-1"


async def test_logs_tail_grep_and_follow(stack: Stack) -> None:
    driver = make_driver(stack)
    try:
        await asyncio.sleep(1.2)  # the ticker has printed a few lines
        last = [line async for line in driver.logs("spark-master", tail=4)]
        warns = [line async for line in driver.logs("spark-master", tail=10, grep="WARN")]
        followed: list[str] = []
        stream = driver.logs("spark-master", tail=0, follow=True, grep=r"^tick \d+$")
        async for line in stream:
            followed.append(line)
            if len(followed) == 3:
                break
        await stream.aclose()
        with pytest.raises(DriverError, match="no container for service 'nope'"):
            _ = [line async for line in driver.logs("nope")]
    finally:
        await driver.close()
    assert len(last) == 4 and all(line.startswith(("tick", "warn")) for line in last)
    assert warns and all(line.startswith("warn ") for line in warns)  # stderr is included, filter is case-insensitive
    numbers = [int(line.split()[1]) for line in followed]
    assert numbers == sorted(numbers) and numbers[2] - numbers[0] == 2  # consecutive new lines
    await asyncio.sleep(0.5)
    assert not [t for t in threading.enumerate() if t.name.startswith("logs-compose")], "follow thread leaked"


async def test_stop_start_restart_service_and_health_urls(stack: Stack) -> None:
    """The seed's IcebergCatalogDown / MinIODown drill: stop a service, see it, start it, see it back."""
    driver = make_driver(stack)
    probes = HttpHealthDriver("health", {"endpoints": {
        s: f"http://127.0.0.1:{stack.ports[s]}{p}" for s, p in HEALTH_PATHS.items()}, "probe_timeout": 2})
    try:
        before = {r.name: r for r in await probes.health()}
        stopped = await driver.run_action("stop_service", {"service": "iceberg-rest"})
        rows = {r.name: r for r in await driver.health()}
        probed_down = {r.name: r for r in await probes.health()}
        started = await driver.run_action("start_service", {"service": "iceberg-rest"})
        await asyncio.sleep(0.5)
        probed_up = {r.name: r for r in await probes.health()}
        uptime_before = {r.name: r for r in await driver.health()}["minio"].extra["uptime_s"]
        restarted = await driver.run_action("restart_service", {"service": "minio"})
        after = {r.name: r for r in await driver.health()}["minio"]
    finally:
        await driver.close()
        await probes.close()
    assert all(r.health is Health.OK for r in before.values()), {n: r.detail for n, r in before.items()}
    assert before["redpanda"].detail == "HTTP 200" and before["airflow"].extra["status_code"] == 200
    assert stopped.ok and rows["iceberg-rest"].health is Health.CRITICAL
    assert rows["iceberg-rest"].extra["state"] == "exited"
    assert probed_down["iceberg-rest"].health is Health.CRITICAL
    assert probed_down["iceberg-rest"].detail.startswith("cannot connect")
    assert probed_down["minio"].health is Health.OK
    assert started.ok and probed_up["iceberg-rest"].health is Health.OK
    assert len(probed_up["iceberg-rest"].extra["latency_history"]) == 2  # answered before and after, not while down
    assert restarted.ok and "restarted minio" in restarted.message
    assert after.extra["state"] == "running" and after.extra["uptime_s"] < uptime_before


async def test_stop_and_start_whole_project(stack: Stack) -> None:
    driver = make_driver(stack)
    try:
        stopped = await driver.run_action("stop_project", {})
        down = {r.name: r for r in await driver.health()}
        started = await driver.run_action("start_project", {})
        up = {r.name: r for r in await driver.health()}
    finally:
        await driver.close()
    assert stopped.ok and all(r.extra["state"] == "exited" for r in down.values())
    assert started.ok
    assert all(up[s].extra["state"] == "running" for s in (*HEALTH_PATHS, "spark-master"))
    assert up["minio-init"].extra["state"] == "exited"  # one-shot jobs are not re-run


async def test_unknown_project_is_one_critical_row(stack: Stack) -> None:
    driver = DockerComposeDriver("compose", {"project": "no-such-project-xyz"})
    try:
        [row] = await driver.health()
    finally:
        await driver.close()
    assert row.health is Health.CRITICAL and "no containers" in row.detail


class SocketProxy:
    """A unix socket forwarding to the real daemon: stop it and the daemon is 'gone' for the driver."""

    def __init__(self, path: Path, target: str = "/var/run/docker.sock") -> None:
        self.path = path
        self.target = target
        self.connections = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(Exception):
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._handle, path=str(self.path))

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.close()
        self._writers.clear()
        await self._server.wait_closed()
        self.path.unlink(missing_ok=True)


@contextlib.asynccontextmanager
async def proxy_at(tmp_path: Path) -> AsyncIterator[SocketProxy]:
    proxy = SocketProxy(tmp_path / "docker.sock")
    await proxy.start()
    try:
        yield proxy
    finally:
        if proxy.path.exists():
            await proxy.stop()


async def test_daemon_gone_then_back(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Honours DOCKER_HOST; a vanished daemon is DriverUnavailable; the next poll after it returns recovers."""
    async with proxy_at(tmp_path) as proxy:
        monkeypatch.setenv("DOCKER_HOST", f"unix://{proxy.path}")
        driver = make_driver(stack)
        try:
            first = await driver.health()
            assert proxy.connections > 0  # the driver went through DOCKER_HOST, not the default socket
            await proxy.stop()
            with pytest.raises(DriverUnavailable, match="unreachable"):
                await driver.health()
            with pytest.raises(DriverUnavailable):
                await driver.run_action("restart_service", {"service": "minio"})
            await proxy.start()
            back = await driver.health()
        finally:
            await driver.close()
    assert {r.name for r in back} == {r.name for r in first}
    assert back[0].health is not Health.UNKNOWN


def test_parse_docker_time_handles_nanoseconds_and_zero() -> None:
    assert parse_docker_time("2026-11-23T13:21:24.123456789Z").microsecond == 123456
    assert parse_docker_time("0001-01-01T00:00:00Z") is None
    assert parse_docker_time("") is None


def test_actions_declare_their_danger() -> None:
    specs = {a.name: a for a in DockerComposeDriver.actions}
    assert specs["stop_service"].dangerous and specs["stop_project"].dangerous
    assert not specs["start_service"].dangerous and specs["start_service"].mutating
    assert specs["restart_service"].params == ("service",)
    assert not any(a.irreversible for a in DockerComposeDriver.actions)


async def test_logs_screen_follows_and_filters(stack: Stack) -> None:
    """The logs pane: follows a live service, filters with /, says when the daemon is gone."""
    from textual.app import App
    from textual.widgets import Log, Static

    from opsconsole.ui.screens.logs import LogsScreen

    driver = make_driver(stack)
    screen = LogsScreen(driver, "spark-master", tail=5)

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(screen)

    async def until(condition: Any, pilot: Any) -> None:
        for _ in range(100):
            if condition():
                return
            await pilot.pause(0.1)
        raise AssertionError("condition not met within 10 s")

    app = Host()
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            log = screen.query_one(Log)
            await until(lambda: screen.lines_shown >= 9, pilot)  # 5 tailed + new ones as they are logged
            assert {line.split()[0] for line in log.lines} == {"tick", "warn"}
            await pilot.press("slash", *"WARN", "enter")
            await until(lambda: screen.lines_shown >= 3, pilot)
            assert log.lines and all(line.startswith("warn ") for line in log.lines)
            status = str(screen.query_one("#logs-status", Static).render())
            assert "filter /WARN/" in status and "following" in status
            await pilot.press("escape")
            await pilot.pause(0.2)
            assert app.screen is not screen
    finally:
        await driver.close()
    await asyncio.sleep(0.5)
    assert not [t for t in threading.enumerate() if t.name.startswith("logs-compose")], "follow thread leaked"


async def test_logs_screen_when_the_daemon_goes_and_returns(stack: Stack, tmp_path: Path) -> None:
    from textual.app import App
    from textual.widgets import Static

    from opsconsole.ui.screens.logs import LogsScreen

    async with proxy_at(tmp_path) as proxy:
        driver = make_driver(stack, docker_host=f"unix://{proxy.path}")
        screen = LogsScreen(driver, "spark-master", tail=3)

        class Host(App[None]):
            def on_mount(self) -> None:
                self.push_screen(screen)

        def status() -> str:
            return str(screen.query_one("#logs-status", Static).render())

        async def until(condition: Any, pilot: Any) -> None:
            for _ in range(100):
                if condition():
                    return
                await pilot.pause(0.1)
            raise AssertionError(f"condition not met within 10 s; status: {status()}")

        try:
            async with Host().run_test(size=(100, 30)) as pilot:
                await until(lambda: screen.lines_shown >= 3, pilot)
                await proxy.stop()
                await until(lambda: "stream ended" in status() or "UNREACHABLE" in status(), pilot)
                shown = screen.lines_shown
                await pilot.press("r")
                await until(lambda: "UNREACHABLE" in status(), pilot)
                assert "r to retry" in status()
                await proxy.start()
                await pilot.press("r")
                await until(lambda: screen.lines_shown >= 3 and "UNREACHABLE" not in status(), pilot)
                assert shown >= 3
        finally:
            await driver.close()
