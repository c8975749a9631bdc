"""Turn the alerts of each poll into notifications without alert fatigue (seed 004).

* **De-duplication** by :attr:`Alert.key`: an alert that is still firing on the
  next poll is not announced again.
* **Rate limiting**: an alert key is announced at most once per
  ``rate_limit_minutes`` (a flapping check does not page every minute), and a
  channel sends at most ``max_per_hour`` messages (an alert storm does not
  flood Slack). Suppressed messages are counted, not lost silently.
* **Resolve messages**: when an announced alert stops firing, the channels that
  announced it say so.
* **Delivery failures** are reported in the returned deliveries and retried on
  the next poll for the channels that failed; they never raise into the poller.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opsconsole.model import Alert
from opsconsole.notify.channels import Channel, Message, NotifyError, build_channel
from opsconsole.notify.settings import NotifySettings


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    key: str
    kind: str
    ok: bool
    error: str = ""
    suppressed: str = ""
    """Why nothing was sent (``rate-limited``, ``channel-cap``), empty when sent or failed."""


class Notifier:
    """Stateful across polls: remembers what was announced, where, and when."""

    def __init__(self, settings: NotifySettings, *, profile: str = "", channels: Iterable[Channel] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.profile = profile
        self.channels = list(channels) if channels is not None else [build_channel(c) for c in settings.channels]
        self.clock = clock
        self.firing: dict[str, Alert] = {}
        self.announced: dict[str, set[str]] = {}
        """key -> channels that delivered its firing message."""
        self.last_announced: dict[str, float] = {}
        self._sent_times: dict[str, deque[float]] = {c.name: deque() for c in self.channels}
        self.suppressed = 0

    def _wants(self, channel: Channel, alert: Alert) -> bool:
        return alert.severity >= max(channel.settings.min_severity, self.settings.min_severity)

    def _under_cap(self, channel: Channel, now: float, pending: int) -> bool:
        times = self._sent_times[channel.name]
        while times and now - times[0] > 3600:
            times.popleft()
        return self.settings.max_per_hour == 0 or len(times) + pending < self.settings.max_per_hour

    async def _deliver(self, channel: Channel, message: Message) -> Delivery:
        try:
            await channel.send(message)
        except NotifyError as exc:
            return Delivery(channel.name, message.alert.key, message.kind, False, str(exc))
        except Exception as exc:
            return Delivery(channel.name, message.alert.key, message.kind, False, f"{type(exc).__name__}: {exc}")
        return Delivery(channel.name, message.alert.key, message.kind, True)

    async def process(self, alerts: Iterable[Alert]) -> list[Delivery]:
        """Announce new alerts, retry failed deliveries, resolve cleared ones."""
        now = self.clock()
        at = datetime.now(UTC)
        current = {a.key: a for a in alerts}
        jobs: list[tuple[Channel, Message]] = []
        skipped: list[Delivery] = []
        rate = self.settings.rate_limit_minutes * 60

        for key, alert in current.items():
            new = key not in self.firing
            self.firing[key] = alert
            if new:
                last = self.last_announced.get(key)
                if last is not None and now - last < rate:
                    self.suppressed += 1
                    skipped.append(Delivery("*", key, "firing", False, suppressed="rate-limited"))
                    self.announced.setdefault(key, set())
                    self.announced[key].add("*suppressed*")
                    continue
                self.announced[key] = set()
            elif "*suppressed*" in self.announced.get(key, set()):
                continue
            for channel in self.channels:
                if channel.name in self.announced[key] or not self._wants(channel, alert):
                    continue
                if not self._under_cap(channel, now, sum(1 for c, _ in jobs if c is channel)):
                    self.suppressed += 1
                    skipped.append(Delivery(channel.name, key, "firing", False, suppressed="channel-cap"))
                    continue
                jobs.append((channel, Message("firing", alert, self.profile, at)))

        for key in [k for k in self.firing if k not in current]:
            alert = self.firing.pop(key)
            done = self.announced.pop(key, set())
            if not self.settings.resolve:
                continue
            for channel in self.channels:
                if channel.name in done:
                    jobs.append((channel, Message("resolved", alert, self.profile, at)))

        results = list(await asyncio.gather(*(self._deliver(c, m) for c, m in jobs)))
        for (channel, message), result in zip(jobs, results, strict=True):
            if result.ok:
                self._sent_times[channel.name].append(now)
                if message.kind == "firing":
                    self.announced.setdefault(message.alert.key, set()).add(channel.name)
                    self.last_announced[message.alert.key] = now
        return skipped + results

    # ------------------------------------------------------------------ across processes (check --notify)
    def state(self) -> dict[str, Any]:
        """What must survive until the next run of a cron'd ``check --notify`` to keep de-duplicating."""
        now_mono, now_wall = self.clock(), time.time()
        return {
            "firing": {k: {"rule": a.rule, "severity": int(a.severity), "subject": a.subject, "message": a.message,
                           "runbook": a.runbook, "source": a.source} for k, a in self.firing.items()},
            "announced": {k: sorted(v) for k, v in self.announced.items()},
            "last_announced": {k: now_wall - (now_mono - t) for k, t in self.last_announced.items()},
        }

    def restore(self, state: dict[str, Any]) -> None:
        """The state a previous run saved: alerts it announced are not announced again, a cleared one resolves."""
        from opsconsole.model import Severity

        now_mono, now_wall = self.clock(), time.time()
        self.firing = {k: Alert(a["rule"], Severity(int(a["severity"])), a["subject"], a["message"], a.get("runbook"),
                                source=a.get("source", "")) for k, a in (state.get("firing") or {}).items()}
        self.announced = {k: set(v) for k, v in (state.get("announced") or {}).items()}
        self.last_announced = {k: now_mono - (now_wall - float(t))
                               for k, t in (state.get("last_announced") or {}).items()}

    async def test(self) -> list[Delivery]:
        """Send a test message to every channel (seed 004: alerting channel connectivity)."""
        from opsconsole.model import Severity

        probe = Alert("NotificationTest", Severity.INFO, "opsconsole", "channel test")
        at = datetime.now(UTC)
        return list(await asyncio.gather(*(self._deliver(c, Message("test", probe, self.profile, at))
                                           for c in self.channels)))
