"""The monitoring engine: one schedule, one truth, whatever screen is on top.

Every front end is a view of a :class:`Monitor`: the TUI subscribes to it, ``check``
runs it for a round or two, ``watch`` runs it headless. The engine owns:

* **the schedule**: one loop per *source* (one driver's one pane) at the pane's
  interval from the profile, with jitter; a source is never polled twice at once,
  and every call is bounded by the driver's timeout;
* **the last good data** of every source with its age: a failed or hung source
  keeps its rows and turns STALE (or UNREACHABLE if it never answered);
* **the alert lifecycle** (:mod:`.lifecycle`), the incident timeline and the
  notifications, so nothing is announced twice and nothing lost is "resolved".

It is plain asyncio: no Textual, so it runs the same under a modal screen, in a
runbook's wait step, or with no terminal at all.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsconsole.drivers.base import PANE_METHODS, Driver, describe
from opsconsole.errors import DriverError
from opsconsole.model import Alert, Pane, PaneResult
from opsconsole.monitor.history import History
from opsconsole.monitor.lifecycle import AlertBook, Transition
from opsconsole.monitor.rules import (
    Context,
    Rule,
    evaluate_findings,
    link_runbooks,
    profile_rules,
    unreachable_alert,
)
from opsconsole.monitor.state import (
    STALE_AFTER_INTERVALS,
    MonitorSnapshot,
    MonitorUpdate,
    SourceChange,
    SourceSnapshot,
    SourceState,
    source_key,
)

if TYPE_CHECKING:
    from opsconsole.config import Profile
    from opsconsole.monitor.incidents import Incident
    from opsconsole.monitor.snapshot_cache import SnapshotWriter
    from opsconsole.notify import Notifier
    from opsconsole.runbooks.library import Library

log = logging.getLogger("opsconsole.monitor")
Subscriber = Callable[[MonitorUpdate], None]
DEFAULT_INTERVAL = 10.0
JITTER = 0.1
"""Each wait is the interval ±10 %: sources of one backend do not all fire on the same tick."""
REACH = "#reach"
"""Suffix of the pseudo-source that owns a source's own SourceUnreachable alert."""


def build_drivers(profile: Profile) -> list[Driver]:
    """Instantiate the profile's drivers (imports driver modules, never SDKs)."""
    from opsconsole.drivers import driver_class

    return [driver_class(d.kind)(d.name, d.options, timeout=d.timeout) for d in profile.drivers]


def panes_of(drivers: Sequence[Driver]) -> list[Pane]:
    """The panes at least one driver can fill, in dashboard order."""
    offered = set().union(*(d.panes for d in drivers)) if drivers else set()
    return [p for p in Pane if p in offered]


class _Source:
    """Mutable schedule state of one source; :meth:`snapshot` is what views see."""

    def __init__(self, driver: Driver, pane: Pane, interval: float) -> None:
        self.driver = driver
        self.pane = pane
        self.interval = interval
        self.key = source_key(driver.name, pane)
        self.snap = SourceSnapshot(driver.name, driver.kind, pane, interval)
        self.checks = driver.alert_checks()
        """Only the rules whose check this driver's rows can trigger are evaluated on them."""
        self.wake = asyncio.Event()
        self.polling_since: float | None = None
        self.task: asyncio.Task[None] | None = None
        self.stale_timer: asyncio.TimerHandle | None = None


class Monitor:
    """Polls a profile's drivers on schedule and keeps the truth about them."""

    def __init__(self, profile: Profile, drivers: Sequence[Driver] | None = None, *,
                 rules: Sequence[Rule] | None = None, notify: bool = True, jitter: float = JITTER) -> None:
        self.profile = profile
        self.drivers = list(drivers) if drivers is not None else build_drivers(profile)
        self.rules = tuple(rules) if rules is not None else profile_rules(profile, self.drivers)
        self.jitter = jitter
        self.history = History()
        self.book = AlertBook()
        self.incident: Incident | None = None
        self.library: Library | None = None
        """The runbook library, once loaded (to link rules): views reuse it instead of parsing it again."""
        self._notify_enabled = notify
        self._notifier: Notifier | None = None
        self._notify_pending: list[Alert] | None = None
        self._notify_task: asyncio.Task[None] | None = None
        self._subscribers: list[Subscriber] = []
        self._sources: dict[str, _Source] = {}
        for driver in self.drivers:
            for pane in sorted(driver.panes, key=list(Pane).index):
                interval = float(profile.poll.get(pane.value, DEFAULT_INTERVAL))
                source = _Source(driver, pane, interval)
                self._sources[source.key] = source
        self._kinds = {d.name: d.kind for d in self.drivers}
        self._tasks: list[asyncio.Task[Any]] = []
        self.started = False
        self.closed = False
        self.stopping = False
        """Set by stop()/cancel(): loops end at their next turn even if a cancel was lost."""
        self.connected: asyncio.Event | None = asyncio.Event()
        """Set once every driver has been asked to connect (whether or not it could)."""
        self.snapshot_writer: SnapshotWriter | None = None
        """Keeps each source's last good rows on disk (:meth:`keep_snapshots`): the TUI's next launch shows them."""

    # ------------------------------------------------------------------ views
    @property
    def panes(self) -> list[Pane]:
        return panes_of(self.drivers)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` after every change; returns the function that unsubscribes."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)
        return unsubscribe

    def snapshot(self) -> MonitorSnapshot:
        return MonitorSnapshot(self.profile.name, tuple(s.snap for s in self._sources.values()),
                               tuple(self.book.active()), datetime.now(UTC))

    def _publish(self, pane: Pane | None, transitions: Sequence[Transition] = (),
                 changes: Sequence[SourceChange] = (), notes: Sequence[str] = ()) -> None:
        update = MonitorUpdate(self.snapshot(), pane, tuple(transitions), tuple(changes), tuple(notes))
        for subscriber in list(self._subscribers):
            try:
                subscriber(update)
            except Exception:  # a broken view must not stop the monitoring of the others
                log.exception("monitor subscriber failed")
        if transitions:
            self._after_transitions(update)

    def note(self, text: str) -> None:
        """An engine-wide line for the views' activity logs."""
        self._publish(None, notes=(text,))

    def keep_snapshots(self) -> None:
        """Write the last good rows to the profile's snapshot cache (monitor/snapshot_cache.py), and at stop."""
        from opsconsole.monitor.snapshot_cache import SnapshotWriter

        self.snapshot_writer = SnapshotWriter(self.profile, self.drivers)
        self.subscribe(self.snapshot_writer.on_update)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect every driver (concurrently, bounded), then start every source's loop."""
        if self.started:
            return
        self.started = True
        self._tasks.append(asyncio.create_task(self._connect_then_poll(), name="monitor-connect"))
        self._tasks.append(asyncio.create_task(self._link_runbooks(), name="monitor-runbooks"))

    async def _connect_then_poll(self) -> None:
        await self.connect()
        if self.stopping:
            return
        for source in self._sources.values():
            source.task = asyncio.create_task(self._loop(source), name=f"poll {source.key}")
            self._tasks.append(source.task)

    async def connect(self) -> None:
        async def one(driver: Driver) -> None:
            try:
                await asyncio.wait_for(driver.connect(), driver.timeout)
            except Exception as exc:
                self.note(f"{driver.name}: connect failed: {describe(exc)}")

        await asyncio.gather(*(one(d) for d in self.drivers))
        assert self.connected is not None
        self.connected.set()

    async def _link_runbooks(self) -> None:
        """Link each rule to the runbook this profile offers (the library parses in a thread)."""
        try:
            from opsconsole.runbooks.library import load_library, offered_runbooks

            library = await asyncio.to_thread(load_library)
        except Exception as exc:  # a broken user runbook must not stop monitoring
            self.note(f"runbooks: {describe(exc)}")
            return
        self.library = library
        offered = {r.id for r in offered_runbooks(library, self.drivers, self.profile.name)}
        self.rules = link_runbooks(self.rules, offered)

    def cancel(self) -> None:
        """Cancel every loop at once, without waiting (an app torn down without :meth:`stop`)."""
        self.stopping = True
        for source in self._sources.values():
            source.wake.set()  # a loop between polls ends at once
        for task in self._tasks:
            task.cancel()
        if self._notify_task is not None:
            self._notify_task.cancel()

    async def stop(self) -> None:
        """Cancel every loop and in-flight poll, flush notifications, close the drivers (once)."""
        if self.closed:
            return
        self.closed = True
        for task in self._tasks:
            task.cancel()
        for source in self._sources.values():
            if source.stale_timer is not None:
                source.stale_timer.cancel()
        self.stopping = True
        for source in self._sources.values():
            source.wake.set()
        pending = {t for t in self._tasks if not t.done()}
        for _attempt in range(20):  # a cancel swallowed by wait_for (3.11) is repeated, never waited on forever
            if not pending:
                break
            for task in pending:
                task.cancel()
            _done, pending = await asyncio.wait(pending, timeout=0.5)
        if pending:
            log.warning("monitor: %d task(s) did not stop: %s", len(pending), ", ".join(t.get_name() for t in pending))
        self._tasks.clear()
        if self.snapshot_writer is not None:
            self.snapshot_writer.flush(self.snapshot())
        if self._notify_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._notify_task), 20)  # SIGTERM flushes slow channels
            except (TimeoutError, asyncio.CancelledError):
                self._notify_task.cancel()
        await asyncio.gather(*(asyncio.wait_for(d.close(), 5) for d in self.drivers), return_exceptions=True)
        self.started = False

    # ------------------------------------------------------------------ schedule
    async def _loop(self, source: _Source) -> None:
        # `while not closed`, not `while True`: on Python 3.11, asyncio.wait_for can swallow a cancel that
        # lands as its inner call completes (the loop would then poll on after stop()); the flag ends it anyway.
        while not self.closed and not self.stopping:
            await self.poll_source(source.key)
            wait = source.interval * (1 + random.uniform(-self.jitter, self.jitter))
            try:
                await asyncio.wait_for(source.wake.wait(), wait)
            except TimeoutError:
                pass
            source.wake.clear()

    def refresh(self, pane: Pane | None = None) -> None:
        """Poll now (every source, or one pane's) instead of at the next tick; never doubles a running poll."""
        for source in self._sources.values():
            if pane is None or source.pane == pane:
                source.wake.set()

    async def poll_source(self, key: str) -> SourceSnapshot:
        """One poll of one source, then its alerts; a poll already running is not started twice."""
        source = self._sources[key]
        if source.polling_since is not None:
            return source.snap
        source.polling_since = time.monotonic()
        started = datetime.now(UTC)
        driver = source.driver
        try:
            method = getattr(driver, PANE_METHODS[source.pane])
            # The driver's own timeout guards each SDK call; this one guards the whole pane method.
            rows = tuple(await asyncio.wait_for(method(), driver.timeout * 2))
            error = ""
        except TimeoutError:
            rows, error = (), f"{driver.name}: no answer within {driver.timeout * 2:g}s"
        except DriverError as exc:
            rows, error = (), str(exc)
        except asyncio.CancelledError:
            source.polling_since = None
            raise
        except Exception as exc:
            rows, error = (), f"{driver.name}: {describe(exc)}"
        finally:
            duration = (time.monotonic() - source.polling_since) * 1000 if source.polling_since else 0.0
        source.polling_since = None
        self._record(source, rows, error, started, duration)
        return source.snap

    def _record(self, source: _Source, rows: tuple[object, ...], error: str, at: datetime, duration: float) -> None:
        before = source.snap
        now = datetime.now(UTC)
        changes: list[SourceChange] = []
        transitions: list[Transition] = []
        if error:
            state = SourceState.STALE if before.last_ok else SourceState.UNREACHABLE
            source.snap = replace(before, error=error, last_attempt=at, duration_ms=duration, polls=before.polls + 1,
                                  failures=before.failures + 1, state=state)
            if before.error != error:
                changes.append(SourceChange(source.key, source.pane, "failed", error))
            for key in self.history.keys():
                if key.split(":", 2)[1:2] == [source.driver.name]:
                    self.history.gap(key, at.timestamp())
            transitions += self._lose(source, error, now)
        else:
            source.snap = replace(before, rows=rows, error="", last_ok=at, last_attempt=at, duration_ms=duration,
                                  polls=before.polls + 1, state=SourceState.FRESH)
            if before.error or before.state is SourceState.STALE:
                changes.append(SourceChange(source.key, source.pane, "recovered"))
            self.history.record_rows(source.driver.name, rows, at.timestamp(), source.interval)
            transitions += self._evaluate(source, now)
            transitions += self.book.observe(source.key + REACH, [], now)
        self._arm_stale_timer(source)
        self._publish(source.pane, transitions, changes)

    def _evaluate(self, source: _Source, now: datetime) -> list[Transition]:
        result = PaneResult(source.pane, source.snap.rows, {}, now, source.snap.duration_ms or 0.0)
        ctx = Context(now, self.profile.alerts, self._kinds, self.history.get)
        found = []
        rules = [r for r in self.rules if r.check in source.checks]
        for rule, finding in evaluate_findings({source.pane: result}, rules, ctx):
            alert = Alert(rule.name, rule.severity, finding.subject, finding.message, rule.runbook, now,
                          source=source.key)
            found.append((alert, rule.for_polls, rule.clear_polls))
        return self.book.observe(source.key, found, now)

    def _lose(self, source: _Source, reason: str, now: datetime) -> list[Transition]:
        transitions = self.book.lose(source.key, reason, now)
        alert = replace(unreachable_alert(source.driver.name, source.pane, reason, now), source=source.key + REACH)
        return transitions + self.book.observe(source.key + REACH, [(alert, 1, 1)], now)

    def _arm_stale_timer(self, source: _Source) -> None:
        """At 2x the interval after the last good data, mark the source stale unless a poll landed."""
        if source.stale_timer is not None:
            source.stale_timer.cancel()
        if source.snap.last_ok is None or self.stopping:
            return
        loop = asyncio.get_running_loop()
        delay = STALE_AFTER_INTERVALS * source.interval + 0.05
        source.stale_timer = loop.call_later(delay, self._went_stale, source)

    def _went_stale(self, source: _Source) -> None:
        source.stale_timer = None
        snap = source.snap
        if snap.last_ok is None or snap.state is not SourceState.FRESH:
            return
        age = (datetime.now(UTC) - snap.last_ok).total_seconds()
        running = f" (poll running for {time.monotonic() - source.polling_since:.0f}s)" \
            if source.polling_since is not None else ""
        reason = f"{source.driver.name}: no fresh data for {age:.0f}s{running}"
        source.snap = replace(snap, state=SourceState.STALE, error=reason)
        transitions = self._lose(source, reason, datetime.now(UTC))
        self._publish(source.pane, transitions, [SourceChange(source.key, source.pane, "stale", reason)])

    # ------------------------------------------------------------------ one-shot (check)
    async def run_rounds(self, rounds: Iterable[Sequence[Pane] | None]) -> MonitorSnapshot:
        """Poll every source (or the given panes') concurrently, once per round; for ``check``."""
        if self.connected is None or not self.connected.is_set():
            await self.connect()
        for panes in rounds:
            keys = [k for k, s in self._sources.items() if panes is None or s.pane in panes]
            if panes is not None:  # a later round re-polls only the sources that answered
                keys = [k for k in keys if not self._sources[k].snap.error]
            await asyncio.gather(*(self.poll_source(k) for k in keys))
        for source in self._sources.values():
            if source.stale_timer is not None:
                source.stale_timer.cancel()
        return self.snapshot()

    # ------------------------------------------------------------------ incidents, notifications
    def _after_transitions(self, update: MonitorUpdate) -> None:
        active = [t.alert for t in update.snapshot.alerts]
        if self.incident is not None and self.incident.profile == self.profile.name:
            self.incident.record_alerts(active)
        if self._notify_enabled:
            self.notify_alerts(active)

    def notify_alerts(self, active: list[Alert]) -> None:
        """Hand the active alerts (firing and unknown: never a false resolve) to the profile's channels."""
        settings = getattr(self.profile, "notify", None)
        if settings is None or not settings.channels:
            return
        if self._notifier is None:
            from opsconsole.notify import Notifier

            self._notifier = Notifier(settings, profile=self.profile.name)
        self._notify_pending = active
        if self._notify_task is None or self._notify_task.done():
            self._notify_task = asyncio.create_task(self._deliver(), name="notify")

    async def flush_notifications(self) -> None:
        if self._notify_task is not None:
            await self._notify_task

    async def _deliver(self) -> None:
        """One delivery loop at a time; only the latest alerts are sent when polls outpace the channels."""
        while self._notify_pending is not None and self._notifier is not None:
            alerts, self._notify_pending = self._notify_pending, None
            notes = []
            for d in await self._notifier.process(alerts):
                if d.suppressed:
                    continue
                if d.ok:
                    notes.append(f"notified {d.channel}: {d.kind} {d.key}")
                else:
                    notes.append(f"notify {d.channel} FAILED ({d.kind} {d.key}): {d.error}")
            if notes:
                self._publish(None, notes=notes)

