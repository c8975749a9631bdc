"""``opsconsole watch`` and its ``/metrics``: figures a scraper reads equal the platform's own."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from tests.watch_helpers import (
    compact_raw,
    fast_demo_profile,
    free_port,
    iceberg_files,
    iceberg_snapshots,
    log_events,
    parse,
    scrape,
    set_fault,
    start_watch,
    stop_watch,
    value,
    wait_for,
)


async def test_metrics_of_a_demo_snapshot_match_pyiceberg(tmp_path: Path) -> None:
    from opsconsole.config import load_profile
    from opsconsole.monitor import Monitor
    from opsconsole.monitor.metrics import write_textfile

    demo_dir = tmp_path / "demo"
    profile = load_profile("demo", fast_demo_profile(tmp_path, demo_dir))
    set_fault(demo_dir, "stop-ingestion")  # a table that holds still while both sides count it
    monitor = Monitor(profile, notify=False, jitter=0)
    try:
        await monitor.connect()
        await monitor.drivers[0].wait_ready(30)
        set_fault(demo_dir, "stop-ingestion", on=False)
        await asyncio.sleep(3)  # a few batches, one file and one snapshot each
        set_fault(demo_dir, "stop-ingestion")
        await asyncio.sleep(1)  # the writer drains its buffer
        await asyncio.to_thread(compact_raw, demo_dir)  # now 1 file, N+1 snapshots
        await monitor.run_rounds([None])
        snapshot = monitor.snapshot()
    finally:
        await monitor.stop()
    out = tmp_path / "opsconsole.prom"
    text = write_textfile(snapshot, str(out))
    assert out.read_text() == text  # the textfile collector reads what the function returned
    metrics = parse(text)
    files = value(metrics, "opsconsole_table_data_files", table="raw.orders", layer="raw", profile="demo")
    assert files is not None and files == iceberg_files(demo_dir)
    snapshots = value(metrics, "opsconsole_table_snapshots", table="raw.orders")
    assert snapshots == iceberg_snapshots(demo_dir) and snapshots > files
    assert value(metrics, "opsconsole_service_health", service="ingestion-api") == 0
    assert value(metrics, "opsconsole_source_up", source="pipeline", pane="tables") == 1
    assert value(metrics, "opsconsole_source_polls_total", pane="lag") == 1
    assert value(metrics, "opsconsole_query_error_ratio", source="pipeline") is not None
    assert value(metrics, "opsconsole_health", profile="demo") == int(snapshot.health)
    # no unbounded labels: never the SQL of a query, never an error text
    assert "select" not in text.lower() and "from " not in text.lower()


async def test_unreachable_source_is_exported_as_down_with_unknown_health(tmp_path: Path) -> None:
    """Never blind: a dead backend shows source_up 0 and service health 2, not an empty page."""
    from opsconsole.config import load_profile
    from opsconsole.monitor import Monitor
    from opsconsole.monitor.metrics import exposition

    path = tmp_path / "p.yaml"
    path.write_text(f"profiles:\n  down:\n    drivers:\n      pipeline:\n        type: demo\n"
                    f"        options: {{data_dir: {tmp_path / 'never'}, autostart: false}}\n")
    monitor = Monitor(load_profile("down", path), notify=False, jitter=0)
    try:
        snapshot = await monitor.run_rounds([None])
    finally:
        await monitor.stop()
    metrics = parse(exposition(snapshot))
    assert value(metrics, "opsconsole_service_health", service="demo-engine") == 2
    assert value(metrics, "opsconsole_alert_active", alertname="ServiceDown", state="firing") == 1
    assert value(metrics, "opsconsole_health", profile="down") == 2


def test_watch_serves_metrics_equal_to_pyiceberg_and_stops_on_sigterm(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    config = fast_demo_profile(tmp_path, demo_dir)
    port, log = free_port(), tmp_path / "watch.log"
    proc = start_watch(config, port, log=log)
    try:
        wait_for(lambda: value(scrape(port), "opsconsole_table_data_files", table="raw.orders"), 60,
                 "raw.orders in /metrics")
        set_fault(demo_dir, "stop-ingestion")

        def settled() -> bool:
            first = value(scrape(port), "opsconsole_table_data_files", table="raw.orders")
            return first == iceberg_files(demo_dir) and first == value(scrape(port), "opsconsole_table_data_files",
                                                                        table="raw.orders")
        wait_for(settled, 30, "metrics file count == pyiceberg's inspect.files()")
        metrics = scrape(port)
        assert value(metrics, "process_open_fds") is not None  # the soak benchmark reads these two
        assert value(metrics, "process_resident_memory_bytes") is not None
        engine_pid = int(__import__("json").loads((demo_dir / "engine.json").read_text())["pid"])
    finally:
        started = time.monotonic()
        code = stop_watch(proc)
    assert code == 0, log.read_text()
    assert time.monotonic() - started < 15
    events = [e.get("event") for e in log_events(log)]
    assert events[-2:] == ["stopping", "stopped"], events
    assert "not-json" not in events, log.read_text()
    # the demo engine watch started is gone with it (no orphan)
    assert not Path(f"/proc/{engine_pid}").exists() or "zombie" in Path(f"/proc/{engine_pid}/status").read_text()


def test_sighup_with_a_bad_file_keeps_running_and_a_good_one_reloads(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    config = fast_demo_profile(tmp_path, demo_dir)
    good = config.read_text()
    port, log = free_port(), tmp_path / "watch.log"
    proc = start_watch(config, port, log=log)
    try:
        wait_for(lambda: value(scrape(port), "opsconsole_source_up", pane="tables") == 1, 60, "first good poll")
        config.write_text(good.replace("    poll:", "    pol:"))  # a typo on line 7
        proc.send_signal(signal.SIGHUP)
        failed = wait_for(lambda: [e for e in log_events(log) if e.get("event") == "reload_failed"], 20,
                          "reload_failed in the log")
        assert failed[0]["file"] == str(config) and failed[0]["line"] == 7 and "pol" in failed[0]["msg"]
        polls = value(scrape(port), "opsconsole_source_polls_total", pane="services")
        wait_for(lambda: value(scrape(port), "opsconsole_source_polls_total", pane="services") > polls, 10,
                 "polls continuing on the old config")
        config.write_text(good.replace("services: 1,", "services: 2,"))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: value(scrape(port), "opsconsole_source_poll_interval_seconds", pane="services") == 2, 30,
                 "the reloaded interval in /metrics")
        assert proc.poll() is None
    finally:
        assert stop_watch(proc) == 0, log.read_text()


async def test_watch_is_read_only_by_construction(tmp_path: Path) -> None:
    from opsconsole.cli.watch import Watch

    demo_dir = tmp_path / "demo"
    watch = Watch("demo", str(fast_demo_profile(tmp_path, demo_dir)), notify=False)
    profile = watch.load()
    assert profile.read_only
    await watch.start_monitor(profile)
    try:
        assert watch.monitor is not None
        with pytest.raises(PermissionError, match="read-only"):
            await watch.monitor.drivers[0].run_action("fault-stop-http", {})
        assert not (demo_dir / "faults" / "http-stopped").exists()
    finally:
        await watch.stop_monitor()


def test_sigterm_cancels_a_poll_in_flight(tmp_path: Path) -> None:
    """A backend that accepts and never answers must not hold up a stop (systemd would SIGKILL us)."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections in the kernel, never answers a byte
    config = tmp_path / "p.yaml"
    config.write_text(f"profiles:\n  hang:\n    timeout: 60\n    drivers:\n      web:\n        type: http\n"
                      f"        timeout: 60\n        options:\n          probe_timeout: 60\n"
                      f"          endpoints: {{silent: 'http://127.0.0.1:{silent.getsockname()[1]}/health'}}\n")
    port, log = free_port(), tmp_path / "watch.log"
    proc = start_watch(config, port, log=log)
    try:
        wait_for(lambda: any(e.get("event") == "started" for e in log_events(log)), 30, "watch started")
        time.sleep(2)  # the first probe is now hanging on the silent socket
        assert value(scrape(port), "opsconsole_source_polls_total", pane="services") == 0
        started = time.monotonic()
        code = stop_watch(proc, timeout=30)
        assert code == 0, log.read_text()
        assert time.monotonic() - started < 8
        assert [e.get("event") for e in log_events(log)][-1] == "stopped"
    finally:
        stop_watch(proc)  # a failed assertion above must not leave a daemon behind
        silent.close()


def test_watch_sends_the_profiles_own_channels_and_flushes_them_on_sigterm(tmp_path: Path) -> None:
    """For teams without Alertmanager: apprise json:// and the JSON webhook to a real HTTP receiver;
    a resolve still queued when SIGTERM arrives is delivered before exit."""
    from tests.watch_helpers import Webhook

    hook = Webhook()
    host = hook.url.removeprefix("http://").rstrip("/")
    demo_dir = tmp_path / "demo"
    config = fast_demo_profile(tmp_path, demo_dir, f"notify:\n  channels:\n    chat: {{type: apprise, url: "
                                                   f"'json://{host}/chat', min_severity: critical}}\n"
                                                   f"    hook: {{type: webhook, url: '{hook.url}hook', "
                                                   f"min_severity: critical}}\n")
    log = tmp_path / "watch.log"
    proc = start_watch(config, None, log=log)
    try:
        wait_for(lambda: any(e.get("event") == "started" for e in log_events(log)), 30, "watch started")
        time.sleep(2)
        hook.delay = 4.0  # a slow chat service: the firing message is still on the wire when the alert resolves

        def logged(event: str) -> list[dict[str, object]]:
            return [e for e in log_events(log) if e.get("event") == event and e.get("alertname") == "IngestionDown"]
        set_fault(demo_dir, "stop-http")
        wait_for(lambda: logged("alert_fired"), 40, "IngestionDown fired in watch", every=0.1)
        set_fault(demo_dir, "stop-http", on=False)
        wait_for(lambda: logged("alert_resolved"), 40, "the resolve in watch", every=0.1)
        # SIGTERM now: the resolve is still queued behind the slow firing delivery; it must be flushed.
        assert stop_watch(proc) == 0, log.read_text()
        assert [b["type"] for b in hook.bodies if "rule" not in b and "IngestionDown" in b["title"]] == ["failure",
                                                                                                 "success"]
        assert [b["status"] for b in hook.bodies if b.get("rule") == "IngestionDown"] == ["firing", "resolved"]
    finally:
        stop_watch(proc)
        hook.close()


@pytest.mark.parametrize(("snippet", "where"), [
    ("alertmanager:\n      urls: []\n", ":9: profiles.demo.alertmanager.urls"),
    ("alertmanager:\n      urls: [am:9093]\n", ":9: profiles.demo.alertmanager.urls"),
    ("alertmanager:\n      urls: [http://am:9093]\n      timeout: 0\n", ":10: profiles.demo.alertmanager.timeout"),
    ("alertmanager:\n      url: http://am:9093\n", ":9: profiles.demo.alertmanager.url"),
    ("alertmanager:\n      resend_seconds: 5\n", ":8: profiles.demo.alertmanager.urls"),
])
def test_alertmanager_section_errors_name_file_line_and_key(tmp_path: Path, snippet: str, where: str) -> None:
    from opsconsole.config import load
    from opsconsole.errors import ConfigError

    path = tmp_path / "profiles.yaml"
    path.write_text("profiles:\n  demo:\n    drivers:\n      pipeline:\n        type: demo\n"
                    "        options: {autostart: false}\n    poll: {services: 5}\n    " + snippet)
    with pytest.raises(ConfigError) as err:
        load(path).profile("demo")
    assert f"{path}{where}" in str(err.value)


async def test_alertmanager_auth_reaches_the_wire_and_never_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from opsconsole.config import load
    from opsconsole.model import Alert, Severity
    from opsconsole.monitor.alertmanager import AlertmanagerSink
    from opsconsole.monitor.lifecycle import AlertState, TrackedAlert
    from tests.watch_helpers import Webhook

    hook = Webhook()
    dead = free_port()
    path = tmp_path / "profiles.yaml"
    path.write_text("profiles:\n  demo:\n    drivers:\n      pipeline:\n        type: demo\n"
                    "        options: {autostart: false}\n"
                    f"    alertmanager:\n      urls: ['{hook.url.rstrip('/')}', 'http://127.0.0.1:{dead}']\n"
                    "      bearer_token: ${AM_TOKEN}\n      timeout: 1\n")
    monkeypatch.setenv("AM_TOKEN", "am-t0ken-value")
    try:
        profile = load(path).profile("demo")
        assert "am-t0ken-value" not in repr(profile.alertmanager) and "am-t0ken-value" in profile.secrets()
        now = datetime.now(UTC)
        tracked = TrackedAlert(Alert("IngestionDown", Severity.CRITICAL, "ingestion-api", "down"),
                               AlertState.FIRING, now, now, now)
        sink = AlertmanagerSink(profile.alertmanager, "demo")
        sink.update([tracked])
        with caplog.at_level("DEBUG", logger="opsconsole"):
            await sink.push()
        assert hook.headers[-1]["authorization"] == "Bearer am-t0ken-value"
        assert hook.bodies[-1][0]["labels"]["alertname"] == "IngestionDown"
        assert any("alertmanager_failed" == getattr(r, "event", "") for r in caplog.records)  # the dead one
        assert "am-t0ken-value" not in caplog.text
    finally:
        hook.close()


def test_check_writes_a_textfile_for_node_exporter(tmp_path: Path) -> None:
    """``check --format prometheus -o FILE``: the file node_exporter's textfile collector reads, parsed."""
    import subprocess
    import sys

    path = tmp_path / "p.yaml"
    path.write_text(f"profiles:\n  down:\n    drivers:\n      pipeline:\n        type: demo\n"
                    f"        options: {{data_dir: {tmp_path / 'never'}, autostart: false}}\n")
    out = tmp_path / "textfile" / "opsconsole.prom"
    out.parent.mkdir()
    result = subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(path), "check", "--wait", "0",
                             "--format", "prometheus", "--output", str(out)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr
    metrics = parse(out.read_text())
    assert value(metrics, "opsconsole_health", profile="down") == 2
    assert value(metrics, "opsconsole_service_health", service="demo-engine") == 2
    assert list(out.parent.iterdir()) == [out]  # written through a temp file and renamed: no leftovers
