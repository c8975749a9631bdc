"""``opsconsole watch``: the monitoring engine as an unattended daemon.

Alerts that reach nobody unless a TUI is open are not alerts. ``watch`` runs the
same :class:`~opsconsole.monitor.Monitor` with no terminal and plugs it into what
on-call teams already run:

* ``/metrics`` for Prometheus (:mod:`opsconsole.monitor.metrics`, served by the
  client library's own HTTP server, plus its process collector: RSS, open fds);
* alerts pushed to Alertmanager (:mod:`opsconsole.monitor.alertmanager`) and to
  the profile's own ``notify:`` channels, for teams without Alertmanager;
* one log line per event on stderr (``--log-format json`` for journald/Loki);
* ``SIGTERM``/``SIGINT`` stop cleanly: in-flight polls are cancelled, the last
  notifications and Alertmanager resolves flushed; ``SIGHUP`` reloads
  ``profiles.yaml`` and keeps the old config (logging file and line) when the
  new one is bad.

Read-only by construction: the profile is forced read-only and every driver's
``run_action`` refuses, so nothing ``watch`` runs can change a platform.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsconsole.errors import ConfigError

if TYPE_CHECKING:
    from opsconsole.config import Profile
    from opsconsole.monitor import Monitor
    from opsconsole.monitor.alertmanager import AlertmanagerSink
    from opsconsole.monitor.state import MonitorSnapshot, MonitorUpdate

log = logging.getLogger("opsconsole.cli.watch")
DEFAULT_LISTEN = "127.0.0.1:9464"
_RECORD_FIELDS = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


def add_watch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", "-p", dest="watch_profile", metavar="NAME", help="profile to watch")
    parser.add_argument("--config", dest="watch_config", metavar="PATH", help="profiles file (reloaded on SIGHUP)")
    parser.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                        help=f"address of the /metrics endpoint (default {DEFAULT_LISTEN}; 'none' to disable)")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="one line per event on stderr: text (default) or json")
    parser.add_argument("--no-notify", action="store_true", help="do not send the profile's notify channels")


# --------------------------------------------------------------------------- logging
class _Formatter(logging.Formatter):
    """One line per event; JSON lines carry every ``extra=`` field; secrets are masked in both."""

    def __init__(self, fmt: str, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.json = fmt == "json"
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}
        message = record.getMessage()
        if record.exc_info:
            message += ": " + repr(record.exc_info[1])
        if self.json:
            out = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                   "level": record.levelname.lower(), "logger": record.name, "msg": message, **fields}
            return self.redact(json.dumps(out, default=str, ensure_ascii=False))
        extra = " ".join(f"{k}={v}" for k, v in fields.items() if k != "event")
        line = f"{record.levelname.lower():7} {fields.get('event', record.name)}: {message}"
        return self.redact((line + (f" {extra}" if extra else "")).replace("\n", " | "))


def setup_logging(fmt: str, redact: Callable[[str], str]) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(fmt, redact))
    root = logging.getLogger("opsconsole")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    return handler


# --------------------------------------------------------------------------- the daemon
def _refuse_action(name: str, params: Any = None) -> Any:
    raise PermissionError(f"opsconsole watch is read-only: action {name!r} refused")


class Watch:
    """Owns the monitor of the current config and its sinks; survives reloads."""

    def __init__(self, profile_name: str | None, config: str | None, *, notify: bool = True) -> None:
        self.profile_name = profile_name
        self.config = config
        self.notify = notify
        self.profile: Profile | None = None
        self.monitor: Monitor | None = None
        self.sink: AlertmanagerSink | None = None
        self.latest: MonitorSnapshot | None = None
        self._secrets: list[str] = []
        self._unsubscribe: Callable[[], None] | None = None
        self.stopping = asyncio.Event()
        self._reload_requested = asyncio.Event()

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if len(secret) >= 4:
                text = text.replace(secret, "••••")
        return text

    def current_snapshot(self) -> MonitorSnapshot | None:
        """For the scrape thread: the latest snapshot, its data ages measured now."""
        snap = self.latest
        return dataclasses.replace(snap, taken_at=datetime.now(UTC)) if snap is not None else None

    def load(self) -> Profile:
        from opsconsole.config import load_profile

        profile = load_profile(self.profile_name, self.config)
        return dataclasses.replace(profile, read_only=True)

    async def start_monitor(self, profile: Profile) -> None:
        from opsconsole.monitor import Monitor

        self.profile = profile
        self._secrets = sorted(set(profile.secrets()), key=len, reverse=True)
        monitor = Monitor(profile, notify=self.notify)
        for driver in monitor.drivers:  # read-only by construction, whatever calls it
            driver.run_action = _refuse_action  # type: ignore[method-assign]
        if profile.alertmanager is not None:
            from opsconsole.monitor.alertmanager import AlertmanagerSink

            if self.sink is not None and self.sink.settings == profile.alertmanager:
                self.sink.profile = profile.name
            else:
                if self.sink is not None:
                    await self.sink.stop()
                self.sink = AlertmanagerSink(profile.alertmanager, profile.name, redact=self.redact)
                self.sink.start()
        elif self.sink is not None:
            await self.sink.stop()
            self.sink = None
        self._unsubscribe = monitor.subscribe(self._on_update)
        self.monitor = monitor
        self.latest = monitor.snapshot()  # scrapes before the first poll lands see every source, waiting
        await monitor.start()
        log.info("watching profile %s: %d sources, alertmanager %s, notify channels %d", profile.name,
                 len(monitor.snapshot().sources), "on" if self.sink else "off",
                 len(profile.notify.channels) if profile.notify is not None else 0,
                 extra={"event": "started", "profile": profile.name})

    async def stop_monitor(self) -> None:
        if self.monitor is None:
            return
        if self._unsubscribe is not None:
            self._unsubscribe()
        await self.monitor.stop()  # cancels in-flight polls, flushes the notifier
        self.monitor = None

    def _on_update(self, update: MonitorUpdate) -> None:
        self.latest = update.snapshot
        for change in update.changes:
            level = logging.INFO if change.kind == "recovered" else logging.WARNING
            log.log(level, "%s %s%s", change.source, change.kind, f": {change.error}" if change.error else "",
                    extra={"event": f"source_{change.kind}", "source": change.source})
        for t in update.transitions:
            a = t.tracked.alert
            level = logging.INFO if t.kind == "resolved" else logging.WARNING
            log.log(level, "%s %s %s: %s", a.rule, a.subject, t.kind, a.message,
                    extra={"event": f"alert_{t.kind}", "alertname": a.rule, "severity": a.severity.name.lower(),
                           "subject": a.subject, "runbook": a.runbook})
        for note in update.notes:
            failed = "FAILED" in note or "failed" in note
            log.log(logging.WARNING if failed else logging.INFO, "%s", note,
                    extra={"event": "notify" if note.startswith("notif") else "note"})
        if self.sink is not None and (update.transitions or update.pane is not None):
            self.sink.update(update.snapshot.alerts, update.transitions)

    async def reload(self) -> None:
        try:
            profile = self.load()
        except ConfigError as exc:
            log.error("reload refused, keeping the running config: %s", exc,
                      extra={"event": "reload_failed", "file": exc.path, "line": exc.line, "key": exc.key})
            return
        await self.stop_monitor()
        await self.start_monitor(profile)
        log.info("reloaded %s", profile.source, extra={"event": "reloaded", "file": profile.source})

    async def run(self, listen: str | None) -> int:
        profile = self.load()
        loop = asyncio.get_running_loop()
        for sig, handler in ((signal.SIGTERM, self.stopping.set), (signal.SIGINT, self.stopping.set),
                             (signal.SIGHUP, self._reload_requested.set)):
            loop.add_signal_handler(sig, handler)
        server = _serve_metrics(listen, self.current_snapshot) if listen else None
        try:
            await self.start_monitor(profile)
            while not self.stopping.is_set():
                reload_wait = asyncio.ensure_future(self._reload_requested.wait())
                stop_wait = asyncio.ensure_future(self.stopping.wait())
                await asyncio.wait({reload_wait, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                reload_wait.cancel()
                stop_wait.cancel()
                if self._reload_requested.is_set() and not self.stopping.is_set():
                    self._reload_requested.clear()
                    log.info("SIGHUP: reloading", extra={"event": "reload"})
                    await self.reload()
            started = time.monotonic()
            log.info("stopping", extra={"event": "stopping"})
            await self.stop_monitor()
            if self.sink is not None:
                await self.sink.stop()
            log.info("stopped in %.2fs", time.monotonic() - started, extra={"event": "stopped"})
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
        return 0


def _serve_metrics(listen: str, snapshot: Callable[[], MonitorSnapshot | None]) -> Any:
    from prometheus_client import start_http_server
    from prometheus_client.process_collector import ProcessCollector

    from opsconsole.monitor.metrics import registry_for

    host, _, port = listen.rpartition(":")
    registry = registry_for(snapshot)
    ProcessCollector(registry=registry)
    server, _thread = start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=registry)
    log.info("serving /metrics on http://%s/metrics", listen, extra={"event": "listening", "listen": listen})
    return server


def run_watch(args: argparse.Namespace) -> int:
    profile = args.watch_profile or args.profile
    config = args.watch_config or args.config
    watch = Watch(profile, config, notify=not args.no_notify)
    setup_logging(args.log_format, watch.redact)
    listen = None if args.listen.lower() == "none" else args.listen
    try:
        return asyncio.run(watch.run(listen))
    except ConfigError as exc:
        log.error("%s", exc, extra={"event": "config_error", "file": exc.path, "line": exc.line, "key": exc.key})
        return 2
    except OSError as exc:
        log.error("cannot listen on %s: %s", listen, exc.strerror or exc, extra={"event": "listen_failed"})
        return 2
