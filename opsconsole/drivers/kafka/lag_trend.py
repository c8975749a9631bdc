"""Lag trend detection: is a consumer falling further behind, poll after poll?

A single lag figure says how far behind a consumer is; only its history says
whether it is catching up or losing ground. Seed 002's ``KafkaConsumerLagHigh``
response ("check Flink job status; if the job failed, restart it") is most urgent
when lag keeps growing, because that means the consumer is stuck or too slow,
whereas a large but shrinking lag is a backlog being worked off.

Pure code: no I/O, no clock; callers pass timestamps. Drivers keep one
:class:`LagHistory` per instance and feed it one value per key per poll.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

DEFAULT_WINDOW = 3
"""Samples that must each exceed the previous one to call lag "growing".

Three samples (two consecutive increases) filter out a single burst of produces
between two polls while still warning within a few poll intervals.
"""

GROWING = "growing"
"""The ``LagSample.detail`` value alert rules look for."""


def is_growing(values: Sequence[float], window: int = DEFAULT_WINDOW) -> bool:
    """True when the last ``window`` values strictly increase, one after another.

    Fewer than ``window`` values (or a window below 2) never count as growing:
    one poll cannot show a trend, and a flat lag (nothing produced, nothing
    consumed) is not growing.
    """
    if window < 2 or len(values) < window:
        return False
    tail = list(values)[-window:]
    return all(later > earlier for earlier, later in pairwise(tail))


def rate_per_second(points: Sequence[tuple[datetime, float]]) -> float | None:
    """Least-squares slope of lag over time, in units per second.

    ``None`` when the points cannot give a slope (fewer than two, or all at one
    instant). Positive means the consumer is falling behind.
    """
    if len(points) < 2:
        return None
    t0 = points[0][0]
    xs = [(at - t0).total_seconds() for at, _ in points]
    ys = [value for _, value in points]
    n = len(points)
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    var_x = sum((x - mean_x) ** 2 for x in xs)
    if var_x == 0:
        return None
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    return cov / var_x


@dataclass(frozen=True, slots=True)
class Trend:
    """What the history of one lag series says after the latest sample."""

    growing: bool
    rate_per_s: float | None
    samples: int

    @property
    def detail(self) -> str:
        """Text for ``LagSample.detail``: ``"growing"`` or empty."""
        return GROWING if self.growing else ""


class LagHistory:
    """Bounded per-key lag history, fed once per poll.

    Keys that disappear from a poll (a deleted topic, a removed group) are
    dropped so the history does not grow without bound over a long session.
    """

    def __init__(self, window: int = DEFAULT_WINDOW, keep: int = 60) -> None:
        if window < 2:
            raise ValueError("a trend window needs at least 2 samples")
        self.window = window
        self.keep = max(keep, window)
        self._series: dict[str, deque[tuple[datetime, float]]] = {}

    def record(self, key: str, value: float, at: datetime) -> Trend:
        """Add one sample and return the trend it completes."""
        series = self._series.setdefault(key, deque(maxlen=self.keep))
        series.append((at, float(value)))
        values = [v for _, v in series]
        return Trend(growing=is_growing(values, self.window),
                     rate_per_s=rate_per_second(list(series)[-self.window:]),
                     samples=len(series))

    def values(self, key: str) -> list[float]:
        """The kept values of one series, oldest first (for sparklines)."""
        return [v for _, v in self._series.get(key, ())]

    def retain(self, keys: Iterable[str]) -> None:
        """Forget every series not named in ``keys``."""
        alive = set(keys)
        for key in list(self._series):
            if key not in alive:
                del self._series[key]

    def __len__(self) -> int:
        return len(self._series)
