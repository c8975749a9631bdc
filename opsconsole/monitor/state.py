"""What the monitoring engine knows at one instant, as immutable values views can read.

Front ends (the TUI, ``check``, ``watch``) never poll: they read a
:class:`MonitorSnapshot`, handed to them with every :class:`MonitorUpdate`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from opsconsole.model import Health, Pane, PaneResult, Severity
from opsconsole.monitor.lifecycle import AlertState, TrackedAlert, Transition
from opsconsole.redact import scrub, scrub_fields

STALE_AFTER_INTERVALS = 2
"""Data older than this many poll intervals is STALE: the poll that should have replaced it did not land."""


class SourceState(enum.StrEnum):
    WAITING = "waiting"
    """Not polled yet."""
    FRESH = "fresh"
    STALE = "stale"
    """Last good rows kept, but the latest poll failed or they are older than 2x the interval."""
    UNREACHABLE = "unreachable"
    """Never read successfully."""


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    """One driver's one pane: its last good rows, their age, and why they may be stale."""

    driver: str
    kind: str
    pane: Pane
    interval: float
    rows: tuple[object, ...] = ()
    """The last good rows, kept when the source fails."""
    error: str = ""
    last_ok: datetime | None = None
    last_attempt: datetime | None = None
    duration_ms: float | None = None
    polls: int = 0
    failures: int = 0
    state: SourceState = SourceState.WAITING

    def __post_init__(self) -> None:  # driver errors become screen text here: no password in a URL survives
        scrub_fields(self, ("error",))

    @property
    def key(self) -> str:
        return source_key(self.driver, self.pane)


def source_key(driver: str, pane: Pane) -> str:
    return f"{driver}/{pane.value}"


@dataclass(frozen=True, slots=True)
class PaneView:
    """A pane as the views show it: every source's last good rows, and the worst source state."""

    pane: Pane
    rows: tuple[object, ...]
    errors: Mapping[str, str]
    state: SourceState
    last_ok: datetime | None
    """Oldest of the sources' last good polls: how old the pane's data may be."""
    last_attempt: datetime | None
    duration_ms: float | None

    def as_result(self) -> PaneResult:
        return PaneResult(self.pane, self.rows, dict(self.errors), self.last_attempt or self.last_ok
                          or datetime.min, self.duration_ms or 0.0)


STATE_ORDER = {SourceState.FRESH: 0, SourceState.WAITING: 1, SourceState.STALE: 2, SourceState.UNREACHABLE: 3}


@dataclass(frozen=True, slots=True)
class MonitorSnapshot:
    profile: str
    sources: tuple[SourceSnapshot, ...]
    alerts: tuple[TrackedAlert, ...]
    """Active alerts (firing, or unknown after firing), in the order first seen."""
    taken_at: datetime

    def pane(self, pane: Pane) -> PaneView:
        mine = [s for s in self.sources if s.pane == pane]
        rows = tuple(r for s in mine for r in s.rows)
        errors = {s.driver: s.error for s in mine if s.error}
        state = max((s.state for s in mine), key=STATE_ORDER.__getitem__, default=SourceState.WAITING)
        oks = [s.last_ok for s in mine if s.last_ok]
        attempts = [s.last_attempt for s in mine if s.last_attempt]
        durations = [s.duration_ms for s in mine if s.duration_ms is not None]
        return PaneView(pane, rows, errors, state, min(oks) if len(oks) == len(mine) and oks else None,
                        max(attempts) if attempts else None, max(durations) if durations else None)

    @property
    def panes(self) -> list[Pane]:
        present = {s.pane for s in self.sources}
        return [p for p in Pane if p in present]

    def results(self) -> dict[Pane, PaneResult]:
        return {p: self.pane(p).as_result() for p in self.panes}

    @property
    def health(self) -> Health:
        """The worst of active alerts and lost sources; an alert lost from sight keeps its last severity."""
        states = [Health.OK]
        for tracked in self.alerts:
            states.append(SEVERITY_HEALTH[tracked.alert.severity])
            if tracked.state is AlertState.UNKNOWN:
                states.append(Health.UNKNOWN)
        if any(s.state in (SourceState.STALE, SourceState.UNREACHABLE) for s in self.sources):
            states.append(Health.UNKNOWN)
        return Health.worst(states)

    def counts(self) -> dict[str, int]:
        """Active alerts by severity name, plus ``unknown``: the header's numbers."""
        out = {"critical": 0, "warning": 0, "info": 0, "unknown": 0}
        for tracked in self.alerts:
            if tracked.state is AlertState.UNKNOWN:
                out["unknown"] += 1
            else:
                out[tracked.alert.severity.name.lower()] += 1
        return out


SEVERITY_HEALTH = {Severity.CRITICAL: Health.CRITICAL, Severity.WARNING: Health.WARNING, Severity.INFO: Health.OK}


@dataclass(frozen=True, slots=True)
class SourceChange:
    """A source failed (``failed``, ``stale``) or came back (``recovered``): a line in the activity log."""

    source: str
    pane: Pane
    kind: str
    error: str = ""

    def __post_init__(self) -> None:
        scrub_fields(self, ("error",))


@dataclass(frozen=True, slots=True)
class MonitorUpdate:
    """Sent to every subscriber after each poll (and each staleness change)."""

    snapshot: MonitorSnapshot
    pane: Pane | None = None
    """The pane whose data changed, None for an engine-wide change."""
    transitions: tuple[Transition, ...] = ()
    changes: tuple[SourceChange, ...] = ()
    notes: tuple[str, ...] = field(default=())
    """Engine messages for the activity log (connect failures, notification deliveries)."""

    def __post_init__(self) -> None:
        if any(scrub(n) != n for n in self.notes):  # engine notes carry driver errors (connect failures)
            object.__setattr__(self, "notes", tuple(scrub(n) for n in self.notes))
