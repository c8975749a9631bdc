"""The life of an alert: pending, firing, unknown, resolved, and only on evidence.

Rules (:mod:`opsconsole.monitor.rules`) say what holds *now*; this book says what
that means over time, per source (one driver's one pane):

* **pending → firing** once the condition held on ``for_polls`` consecutive polls
  of its source (Prometheus' ``for:``; HighLatency waits for a warm second call).
* **firing → resolved** only when its source was polled successfully and the
  condition was absent ``clear_polls`` times in a row: a flapping condition (a
  container in a restart loop) stays firing instead of paging on every flip.
* **firing → unknown** when its source fails or goes stale: losing sight of a
  problem is not fixing it (Prometheus' ``up == 0`` habit). An unknown alert is
  shown and counted, never announced as resolved; it fires again, or resolves,
  on the source's next good poll.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from opsconsole.model import Alert
from opsconsole.redact import scrub_fields


class AlertState(enum.StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    UNKNOWN = "unknown"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class TrackedAlert:
    """An alert with its lifecycle: what an on-call engineer reads in the Alerts pane."""

    alert: Alert
    state: AlertState
    first_seen: datetime
    last_seen: datetime
    """Last poll on which the condition was observed."""
    changed_at: datetime
    reason: str = ""
    """Why it is unknown (the source's error), empty otherwise."""

    def __post_init__(self) -> None:  # the reason is a source's error text
        scrub_fields(self, ("reason",))

    @property
    def key(self) -> str:
        return self.alert.key

    @property
    def active(self) -> bool:
        """Shown and counted: firing, or unknown after firing."""
        return self.state in (AlertState.FIRING, AlertState.UNKNOWN)


@dataclass(frozen=True, slots=True)
class Transition:
    """A change worth a line in the activity log, the incident timeline or a notification."""

    kind: str
    """``fired``, ``resolved``, ``unknown`` or ``back`` (unknown → firing again)."""
    tracked: TrackedAlert


@dataclass(slots=True)
class _Track:
    tracked: TrackedAlert
    held: int = 0
    clear: int = 0
    for_polls: int = 1
    clear_polls: int = 2


class AlertBook:
    """Every alert the engine knows, in the order first seen (a stable order for the cursor)."""

    def __init__(self) -> None:
        self._tracks: dict[str, _Track] = {}

    def active(self) -> list[TrackedAlert]:
        return [t.tracked for t in self._tracks.values() if t.tracked.active]

    def get(self, key: str) -> TrackedAlert | None:
        track = self._tracks.get(key)
        return track.tracked if track else None

    def observe(self, source: str, found: Iterable[tuple[Alert, int, int]], now: datetime) -> list[Transition]:
        """A successful poll of ``source``: ``found`` holds (alert, for_polls, clear_polls) of what holds now."""
        transitions: list[Transition] = []
        current = {alert.key: (alert, for_polls, clear_polls) for alert, for_polls, clear_polls in found}
        for key, (alert, for_polls, clear_polls) in current.items():
            track = self._tracks.get(key)
            if track is None or track.tracked.state is AlertState.RESOLVED:
                tracked = TrackedAlert(alert, AlertState.PENDING, now, now, now)
                track = self._tracks[key] = _Track(tracked, for_polls=max(1, for_polls),
                                                   clear_polls=max(1, clear_polls))
            track.held += 1
            track.clear = 0
            state = track.tracked.state
            kind = ""
            if state is AlertState.PENDING and track.held >= track.for_polls:
                state, kind = AlertState.FIRING, "fired"
            elif state is AlertState.UNKNOWN:
                state, kind = AlertState.FIRING, "back"
            track.tracked = replace(track.tracked, alert=replace(alert, since=track.tracked.first_seen),
                                    state=state, last_seen=now, reason="",
                                    changed_at=now if kind else track.tracked.changed_at)
            if kind:
                transitions.append(Transition(kind, track.tracked))
        for key, track in list(self._tracks.items()):
            if track.tracked.alert.source != source or key in current:
                continue
            state = track.tracked.state
            if state is AlertState.PENDING:
                del self._tracks[key]  # never fired: nothing to announce
                continue
            if state is AlertState.RESOLVED:
                continue
            track.held = 0
            track.clear += 1
            if track.clear >= track.clear_polls:
                track.tracked = replace(track.tracked, state=AlertState.RESOLVED, changed_at=now, reason="")
                transitions.append(Transition("resolved", track.tracked))
                del self._tracks[key]
        return transitions

    def lose(self, source: str, reason: str, now: datetime) -> list[Transition]:
        """``source`` failed or went stale: its firing alerts become unknown, its pending ones are dropped."""
        transitions = []
        for key, track in list(self._tracks.items()):
            if track.tracked.alert.source != source:
                continue
            if track.tracked.state is AlertState.PENDING:
                del self._tracks[key]
            elif track.tracked.state is AlertState.FIRING:
                track.tracked = replace(track.tracked, state=AlertState.UNKNOWN, changed_at=now, reason=reason)
                track.held = track.clear = 0
                transitions.append(Transition("unknown", track.tracked))
            elif track.tracked.state is AlertState.UNKNOWN and track.tracked.reason != reason:
                track.tracked = replace(track.tracked, reason=reason)
        return transitions

    def forget_sources(self, keep: Mapping[str, object]) -> None:
        """Drop alerts of sources no longer monitored (a profile switch closes the old engine instead)."""
        for key, track in list(self._tracks.items()):
            if track.tracked.alert.source not in keep:
                del self._tracks[key]
