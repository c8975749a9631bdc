"""The monitoring engine against real sockets: unknown is not resolved, flapping is damped, stale is shown.

Each backend here is a real TCP server in the test's event loop, probed by
``tests/tcp_probe_driver.py``: it answers ``PONG`` (healthy), ``NOPE`` (the
service says it is broken: ServiceDown), never answers (hung) or is closed
(connection refused: the source is lost).
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opsconsole import drivers
from opsconsole.config import load_profile
from opsconsole.monitor import AlertState, Monitor, MonitorUpdate, SourceState
from opsconsole.monitor.lifecycle import Transition


class Backend:
    """A line server whose answer the test changes: ``PONG``, ``NOPE``, ``hang`` or stopped."""

    def __init__(self) -> None:
        self.answer = "PONG"
        self.delay = 0.0
        self.port = 0
        self.answers: list[str] = []
        """When set, each connection takes the next answer from here (flapping)."""
        self._server: asyncio.AbstractServer | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        answer = self.answers.pop(0) if self.answers else self.answer
        if answer == "hang":
            await asyncio.sleep(3600)
        await asyncio.sleep(self.delay)
        writer.write(f"{answer}\n".encode())
        await writer.drain()
        writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        self._server = None


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    server = Backend()
    await server.start()
    yield server
    if server._server is not None:
        await server.stop()


@pytest.fixture(autouse=True)
def tcp_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(drivers.REGISTRY, "tcp-probe", "tcp_probe_driver:TcpProbeDriver")
    monkeypatch.setitem(drivers.REGISTRY, "tcp-probe-panes", "tcp_probe_driver:TcpProbeAllPanesDriver")


def tcp_profile(tmp_path: Path, port: int, *, poll: float = 0.5, timeout: float = 1, extra: str = ""):  # type: ignore[no-untyped-def]
    path = tmp_path / "tcp.yaml"
    path.write_text(textwrap.dedent(f"""\
        profiles:
          tcp:
            drivers:
              backend: {{type: tcp-probe, timeout: {timeout}, options: {{port: {port}}}}}
            poll: {{services: {poll}}}
        """) + extra)
    return load_profile("tcp", path)


class Recorder:
    """Subscribes to a monitor and keeps every transition, in order."""

    def __init__(self, monitor: Monitor) -> None:
        self.transitions: list[Transition] = []
        self.updates = 0
        monitor.subscribe(self)

    def __call__(self, update: MonitorUpdate) -> None:
        self.updates += 1
        self.transitions += update.transitions

    def kinds(self, rule: str) -> list[str]:
        return [t.kind for t in self.transitions if t.tracked.alert.rule == rule]


async def wait_until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def state_of(monitor: Monitor, rule: str) -> AlertState | None:
    return next((t.state for t in monitor.snapshot().alerts if t.alert.rule == rule), None)


async def test_a_lost_source_makes_its_alerts_unknown_never_resolved(tmp_path: Path, backend: Backend) -> None:
    backend.answer = "NOPE"
    monitor = Monitor(tcp_profile(tmp_path, backend.port), notify=False)
    recorder = Recorder(monitor)
    await monitor.start()
    try:
        await wait_until(lambda: state_of(monitor, "ServiceDown") is AlertState.FIRING)
        await backend.stop()  # the backend is gone: connection refused
        await wait_until(lambda: state_of(monitor, "ServiceDown") is AlertState.UNKNOWN)
        snapshot = monitor.snapshot()
        assert snapshot.health.name == "CRITICAL"  # losing sight of an outage is not fixing it
        assert state_of(monitor, "SourceUnreachable") is AlertState.FIRING
        (source,) = snapshot.sources
        assert source.state is SourceState.STALE and "connection refused" in source.error
        assert [r.name for r in source.rows] == ["tcp-service"]  # the last good rows stay
        await asyncio.sleep(1.0)  # several failed polls: still unknown, still not resolved
        assert state_of(monitor, "ServiceDown") is AlertState.UNKNOWN
        assert "resolved" not in recorder.kinds("ServiceDown")
        backend.answer = "PONG"
        await backend.start()  # back, and healthy: now there is evidence
        await wait_until(lambda: state_of(monitor, "ServiceDown") is None)
        assert recorder.kinds("ServiceDown") == ["fired", "unknown", "resolved"]
        assert recorder.kinds("SourceUnreachable") == ["fired", "resolved"]
    finally:
        await monitor.stop()


async def test_a_flapping_condition_stays_firing(tmp_path: Path, backend: Backend) -> None:
    """A service that is broken on every other probe (a restart loop) pages once, not on every flip."""
    backend.answers = ["NOPE", "PONG"] * 4
    monitor = Monitor(tcp_profile(tmp_path, backend.port, poll=0.5), notify=False, jitter=0)
    recorder = Recorder(monitor)
    await monitor.start()
    try:
        await wait_until(lambda: not backend.answers, timeout=15)
        assert recorder.kinds("ServiceDown") == ["fired"]
        assert state_of(monitor, "ServiceDown") is AlertState.FIRING
    finally:
        await monitor.stop()


async def test_a_hung_source_goes_stale_while_its_poll_is_still_running(tmp_path: Path, backend: Backend) -> None:
    monitor = Monitor(tcp_profile(tmp_path, backend.port, poll=0.5, timeout=30), notify=False, jitter=0)
    await monitor.start()
    try:
        await wait_until(lambda: monitor.snapshot().sources[0].state is SourceState.FRESH)
        backend.answer = "hang"
        await wait_until(lambda: monitor.snapshot().sources[0].state is SourceState.STALE, timeout=5)
        (source,) = monitor.snapshot().sources
        assert "no fresh data" in source.error and "poll running" in source.error
        assert source.rows and source.rows[0].health.name == "OK"  # last good rows, kept
        assert state_of(monitor, "SourceUnreachable") is AlertState.FIRING
    finally:
        await monitor.stop()


async def test_high_latency_needs_two_slow_polls_in_a_row(tmp_path: Path, backend: Backend) -> None:
    """A cold first call (imports, TLS, DNS) is not latency: the rule holds for two polls before firing."""
    backend.delay = 0.15
    profile = tcp_profile(tmp_path, backend.port, extra="    alerts: {service_latency_ms_max: 50}\n")
    monitor = Monitor(profile, notify=False)
    try:
        first = await monitor.run_rounds([None])
        assert not [t for t in first.alerts if t.alert.rule == "HighLatency"]
        second = await monitor.run_rounds([None])
        (latency,) = [t for t in second.alerts if t.alert.rule == "HighLatency"]
        assert latency.state is AlertState.FIRING and "> 50 ms" in latency.alert.message
    finally:
        await monitor.stop()


async def test_restart_loop_fires_from_restart_counts_within_the_window() -> None:
    """ContainerRestartLoop reads the engine's history of each service's restart count."""
    from datetime import UTC, datetime

    from opsconsole.model import Health, Pane, PaneResult, ServiceStatus
    from opsconsole.monitor.history import History
    from opsconsole.monitor.rules import DEFAULT_RULES, Context, evaluate_findings

    history = History()
    now = datetime.now(UTC)
    for i, restarts in enumerate((0, 1, 3, 4)):
        history.add("restarts:compose:flink", now.timestamp() - 60 * (3 - i), restarts)
    row = ServiceStatus("flink", Health.OK, "running, 4 restarts", source="compose", extra={"restarts": 4})
    ctx = Context(now, {"restarts_max": 3}, {"compose": "docker"}, history.get)
    found = evaluate_findings({Pane.SERVICES: PaneResult(Pane.SERVICES, (row,), {}, now, 1)}, DEFAULT_RULES, ctx)
    assert [(r.name, f.subject) for r, f in found] == [("ContainerRestartLoop", "flink")]
    calm = History()
    calm.add("restarts:compose:flink", now.timestamp() - 3600, 0)  # restarts long ago, outside the window
    calm.add("restarts:compose:flink", now.timestamp(), 4)
    ctx = Context(now, {"restarts_max": 3}, {"compose": "docker"}, calm.get)
    assert not evaluate_findings({Pane.SERVICES: PaneResult(Pane.SERVICES, (row,), {}, now, 1)}, DEFAULT_RULES, ctx)


def test_history_is_bounded_and_failed_polls_are_gaps() -> None:
    from opsconsole.monitor.history import History

    history = History(max_samples=16, max_series=3)
    for i in range(100):
        history.add(f"latency:d:s{i % 5}", float(i), float(i), interval=5)
    assert len(history) == 3  # oldest series dropped
    assert all(len(history.get(k)) <= 16 for k in history.keys())
    history.gap("latency:d:s4", 101.0)
    assert history.get("latency:d:s4")[-1][1] != history.get("latency:d:s4")[-1][1]  # NaN: a gap
