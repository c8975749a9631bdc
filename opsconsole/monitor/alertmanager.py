"""Push the monitor's alerts to Prometheus Alertmanager (API v2), the way Prometheus does.

On-call teams route, silence, inhibit and de-duplicate in Alertmanager; the console
feeds it instead of competing with it. The habits are Prometheus' own:

* every active alert is **re-sent** on a fixed period with ``endsAt`` a few
  periods ahead, so Alertmanager keeps it while we keep saying so;
* an alert that became *unknown* (its source is lost) is still re-sent as
  active: losing sight of a problem is not fixing it;
* a **resolve** (``endsAt`` = now) is sent only on a real ``resolved``
  transition of the lifecycle;
* labels are ``alertname``, ``severity``, ``profile`` and ``subject`` only: two
  ``watch`` replicas send identical alerts and Alertmanager de-duplicates them
  (no per-host label);
* an Alertmanager that is down is retried with exponential backoff; what it
  missed (active alerts and resolves) is delivered when it returns.

Profile section (validated with file, line and key)::

    alertmanager:
      urls: [http://alertmanager-1:9093, http://alertmanager-2:9093]
      timeout: 5            # seconds per request
      resend_seconds: 60    # re-send period of active alerts
      username: ops         # optional basic auth
      password: ${AM_PASSWORD}
      bearer_token: ${AM_TOKEN}   # or a bearer token
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opsconsole.monitor.lifecycle import TrackedAlert, Transition
from opsconsole.notify.alertmanager_settings import AlertmanagerSettings
from opsconsole.secret import reveal

log = logging.getLogger("opsconsole.alertmanager")
ENDS_AFTER_RESENDS = 4
"""endsAt is this many re-send periods ahead (Prometheus: 4x the resend delay)."""
BACKOFF_MAX = 30.0


def _shown(url: str) -> str:
    """An Alertmanager URL fit for a log line (credentials in it masked)."""
    return re.sub(r"//[^/@]*@", "//****@", url)


@dataclass
class _Target:
    url: str
    resolves: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Resolves not yet accepted by this Alertmanager: kept until it answers 200."""
    failures: int = 0
    next_try: float = 0.0
    last_error: str = ""


class AlertmanagerSink:
    """Fed every monitor update; a background task re-sends and retries."""

    def __init__(self, settings: AlertmanagerSettings, profile: str, *, redact: Callable[[str], str] = str,
                 clock: Callable[[], float] | None = None) -> None:
        self.settings = settings
        self.profile = profile
        self.redact = redact
        self.active: dict[str, dict[str, Any]] = {}
        self.targets = [_Target(u) for u in settings.urls]
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self.sent = 0
        """Successful POSTs (a test and the logs read it)."""

    # ------------------------------------------------------------------ state
    def payload(self, tracked: TrackedAlert) -> dict[str, Any]:
        a = tracked.alert
        annotations = {"summary": self.redact(a.message)}
        if a.runbook:
            annotations["runbook"] = f"{a.runbook}: opsconsole run {a.runbook} --profile {self.profile}"
            annotations["runbook_id"] = a.runbook
        if tracked.state.value == "unknown":
            annotations["state"] = f"unknown: {self.redact(tracked.reason)}"
        return {"labels": {"alertname": a.rule, "severity": a.severity.name.lower(), "profile": self.profile,
                           "subject": a.subject},
                "annotations": annotations, "startsAt": _iso(tracked.first_seen)}

    def update(self, active: Iterable[TrackedAlert], transitions: Iterable[Transition] = ()) -> None:
        """The monitor's active alerts (firing and unknown) and this update's transitions."""
        changed = False
        now = datetime.now(UTC)
        for t in transitions:
            if t.kind == "resolved":
                body = self.active.pop(t.tracked.key, None) or self.payload(t.tracked)
                resolve = {**body, "endsAt": _iso(now)}
                for target in self.targets:
                    target.resolves[t.tracked.key] = resolve
                changed = True
        seen = set()
        for tracked in active:
            seen.add(tracked.key)
            body = self.payload(tracked)
            if self.active.get(tracked.key) != body:
                changed = True
            self.active[tracked.key] = body
            for target in self.targets:  # fired again before its resolve got through: the firing wins
                target.resolves.pop(tracked.key, None)
        for key in [k for k in self.active if k not in seen]:
            # Gone without a resolve (a reload rebuilt the monitor): stop re-sending and let it
            # expire at its endsAt, unless the new monitor fires it again first. Never a resolve.
            del self.active[key]
        if changed:
            self._wake.set()

    def batch(self, target: _Target) -> list[dict[str, Any]]:
        ends = _iso(datetime.now(UTC) + timedelta(seconds=self.settings.resend_seconds * ENDS_AFTER_RESENDS))
        return [{**body, "endsAt": ends} for body in self.active.values()] + list(target.resolves.values())

    # ------------------------------------------------------------------ delivery
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alertmanager")

    async def stop(self) -> None:
        """Cancel the loop, then one last push so the latest resolves are not lost on SIGTERM."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.push(force=True)

    async def _run(self) -> None:
        while True:
            await self.push()
            waits = [self.settings.resend_seconds]
            now = self._clock()
            waits += [max(0.05, t.next_try - now) for t in self.targets if t.failures]
            try:
                await asyncio.wait_for(self._wake.wait(), min(waits))
            except TimeoutError:
                pass
            self._wake.clear()

    async def push(self, *, force: bool = False) -> None:
        import httpx

        headers = {}
        if self.settings.bearer_token is not None:
            headers["Authorization"] = f"Bearer {reveal(self.settings.bearer_token)}"
        auth = (self.settings.username, reveal(self.settings.password) or "") if self.settings.username else None
        async with httpx.AsyncClient(timeout=self.settings.timeout, auth=auth, headers=headers) as client:
            await asyncio.gather(*(self._push_one(client, t, force) for t in self.targets))

    async def _push_one(self, client: Any, target: _Target, force: bool) -> None:
        import httpx

        now = self._clock()
        if target.failures and now < target.next_try and not force:
            return
        batch = self.batch(target)
        if not batch:
            return
        sent_resolves = {k: v for k, v in target.resolves.items()}
        try:
            response = await client.post(f"{target.url}/api/v2/alerts", json=batch)
            error = "" if response.status_code < 300 else f"HTTP {response.status_code} {response.text[:200]!r}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__} (is Alertmanager running at {_shown(target.url)}?)"
        if error:
            target.failures += 1
            target.next_try = now + min(BACKOFF_MAX, 0.5 * 2 ** (target.failures - 1))
            if error != target.last_error or target.failures in (1, 5, 20):
                log.warning("alertmanager push failed", extra={
                    "event": "alertmanager_failed", "url": _shown(target.url), "error": error,
                    "attempt": target.failures})
            target.last_error = error
            return
        if target.failures:
            log.info("alertmanager reachable again", extra={"event": "alertmanager_back", "url": _shown(target.url),
                                                             "after_attempts": target.failures})
        target.failures, target.last_error = 0, ""
        for key, body in sent_resolves.items():
            if target.resolves.get(key) is body:
                del target.resolves[key]
        self.sent += 1
        log.debug("alertmanager push", extra={"event": "alertmanager_push", "url": _shown(target.url),
                                              "alerts": len(batch)})


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")

