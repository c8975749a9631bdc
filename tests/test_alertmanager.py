"""Alerts of ``opsconsole watch`` through a real Alertmanager to a real webhook receiver."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import require_peer
from tests.watch_helpers import (
    Alertmanager,
    Webhook,
    fast_demo_profile,
    log_events,
    set_fault,
    start_demo_engine,
    start_watch,
    stop_watch,
    wait_for,
)

pytestmark = pytest.mark.peer("alertmanager")


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def alertmanager(tmp_path: Path, webhook: Webhook) -> Iterator[Alertmanager]:
    am = Alertmanager(require_peer("OPSC_ALERTMANAGER_BIN", "Alertmanager"), tmp_path / "am", webhook.url)
    am.start()
    yield am
    am.stop()


def am_section(*urls: str, resend: float = 1) -> str:
    return f"alertmanager:\n  urls: [{', '.join(urls)}]\n  resend_seconds: {resend}\n  timeout: 2\n"


def test_fault_fires_with_runbook_then_resolves_after_clearing(tmp_path: Path, alertmanager: Alertmanager,
                                                               webhook: Webhook) -> None:
    demo_dir = tmp_path / "demo"
    # Re-sent every 5 s, so endsAt is 20 s ahead: an alert that merely expired would resolve far later.
    config = fast_demo_profile(tmp_path, demo_dir, am_section(alertmanager.url, resend=5))
    log = tmp_path / "watch.log"
    proc = start_watch(config, None, log=log)
    try:
        wait_for(lambda: any(e.get("event") == "started" for e in log_events(log)), 30, "watch started")
        time.sleep(3)  # a few clean polls first
        set_fault(demo_dir, "stop-http")
        firing = wait_for(lambda: webhook.alerts("firing", "IngestionDown"), 40, "IngestionDown at the webhook")
        alert = firing[0]
        assert alert["labels"] == {"alertname": "IngestionDown", "severity": "critical", "profile": "demo",
                                   "subject": "ingestion-api"}  # no per-host label: replicas dedup
        assert alert["annotations"]["runbook"] == ("demo-ingestion-stopped: opsconsole run demo-ingestion-stopped "
                                                   "--profile demo")
        assert alert["annotations"]["summary"]
        assert not webhook.alerts("resolved", "IngestionDown")
        cleared = datetime.now(UTC)
        set_fault(demo_dir, "stop-http", on=False)
        resolved = wait_for(lambda: webhook.alerts("resolved", "IngestionDown"), 40, "the resolve at the webhook")
        ends = datetime.fromisoformat(resolved[0]["endsAt"].replace("Z", "+00:00"))
        assert ends >= cleared  # resolved on evidence after the clearing, not by expiry long after
        assert (ends - cleared).total_seconds() < 10
    finally:
        assert stop_watch(proc) == 0, log.read_text()


def test_alertmanager_down_mid_run_still_gets_the_alert_when_back(tmp_path: Path, alertmanager: Alertmanager,
                                                                  webhook: Webhook) -> None:
    demo_dir = tmp_path / "demo"
    config = fast_demo_profile(tmp_path, demo_dir, am_section(alertmanager.url))
    log = tmp_path / "watch.log"
    proc = start_watch(config, None, log=log)
    try:
        wait_for(lambda: any(e.get("event") == "started" for e in log_events(log)), 30, "watch started")
        time.sleep(2)
        alertmanager.stop()
        set_fault(demo_dir, "stop-http")
        wait_for(lambda: [e for e in log_events(log) if e.get("event") == "alert_fired"
                          and e.get("alertname") == "IngestionDown"], 30, "IngestionDown fired in watch")
        wait_for(lambda: [e for e in log_events(log) if e.get("event") == "alertmanager_failed"], 20,
                 "the failed push logged")
        time.sleep(3)  # several retries fail while it is down
        assert not webhook.alerts("firing", "IngestionDown")
        alertmanager.start()
        wait_for(lambda: webhook.alerts("firing", "IngestionDown"), 60, "IngestionDown after Alertmanager returned")
        assert [e for e in log_events(log) if e.get("event") == "alertmanager_back"]
    finally:
        assert stop_watch(proc) == 0, log.read_text()


async def test_unknown_alert_is_kept_active_never_resolved(tmp_path: Path, alertmanager: Alertmanager) -> None:
    """Losing sight of a source keeps its alert in Alertmanager (re-sent), with the reason; no resolve."""
    from dataclasses import replace

    from opsconsole.model import Alert, Severity
    from opsconsole.monitor.alertmanager import AlertmanagerSink
    from opsconsole.monitor.lifecycle import AlertState, TrackedAlert, Transition
    from opsconsole.notify.alertmanager_settings import AlertmanagerSettings

    now = datetime.now(UTC)
    alert = Alert("IngestionDown", Severity.CRITICAL, "ingestion-api", "connection refused", "demo-ingestion-stopped",
                  now, source="pipeline/services")
    firing = TrackedAlert(alert, AlertState.FIRING, now, now, now)
    sink = AlertmanagerSink(AlertmanagerSettings((alertmanager.url,), resend_seconds=1), "demo")
    sink.start()
    try:
        sink.update([firing], [Transition("fired", firing)])
        await asyncio.sleep(1.5)
        unknown = replace(firing, state=AlertState.UNKNOWN, reason="pipeline: no answer within 20s")
        sink.update([unknown], [Transition("unknown", unknown)])
        # Longer than the endsAt of any push made while it was firing (4 re-send periods):
        # only the re-sends of the unknown alert keep it in Alertmanager.
        await asyncio.sleep(6)
        active = alertmanager.active()
        assert [a["labels"]["alertname"] for a in active] == ["IngestionDown"]
        assert active[0]["annotations"]["state"] == "unknown: pipeline: no answer within 20s"
        sink.update([], [Transition("resolved", replace(firing, state=AlertState.RESOLVED))])
        await asyncio.sleep(1)
        assert alertmanager.active() == []
    finally:
        await sink.stop()


def test_two_replicas_one_notification_per_alert_and_either_may_die(tmp_path: Path, alertmanager: Alertmanager,
                                                                    webhook: Webhook) -> None:
    demo_dir = tmp_path / "demo"
    engine = start_demo_engine(demo_dir)
    replicas = []
    try:
        for name in ("a", "b"):
            config = fast_demo_profile(tmp_path, demo_dir, am_section(alertmanager.url), name=f"{name}.yaml",
                                       autostart=False)
            log = tmp_path / f"{name}.log"
            replicas.append((start_watch(config, None, log=log), log))
        for _proc, log in replicas:
            wait_for(lambda log=log: any(e.get("event") == "started" for e in log_events(log)), 30, "started")
        time.sleep(3)
        set_fault(demo_dir, "stop-http")
        wait_for(lambda: all(any(e.get("alertname") == "IngestionDown" and e.get("event") == "alert_fired"
                                 for e in log_events(log)) for _p, log in replicas), 40, "both replicas fired")
        wait_for(lambda: webhook.alerts("firing", "IngestionDown"), 30, "IngestionDown at the webhook")
        time.sleep(5)  # both replicas keep re-sending every second; Alertmanager must not notify again
        assert len(webhook.alerts("firing", "IngestionDown")) == 1
        replicas[0][0].send_signal(signal.SIGKILL)  # replica a dies without a word
        replicas[0][0].wait(10)
        set_fault(demo_dir, "stop-http", on=False)
        wait_for(lambda: webhook.alerts("resolved", "IngestionDown"), 40, "the resolve, sent by replica b alone")
        set_fault(demo_dir, "hold-lock")
        wait_for(lambda: webhook.alerts("firing", "DuckDBLocked"), 40, "a new alert, from replica b alone")
        time.sleep(3)
        assert len(webhook.alerts("firing", "DuckDBLocked")) == 1
        assert len(webhook.alerts("firing", "IngestionDown")) == 1
    finally:
        set_fault(demo_dir, "hold-lock", on=False)
        for proc, _log in replicas:
            stop_watch(proc)
        engine.terminate()
        engine.wait(15)
