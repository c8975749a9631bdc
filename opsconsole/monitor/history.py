"""Bounded sample history kept by the engine: trends for the views, windows for the rules.

Every series is a ring of (epoch seconds, value) pairs; the number of series is
capped too (oldest series dropped first), so a profile whose job or query names
never repeat cannot grow memory without bound.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence

from opsconsole.model import JobRun, LagSample, ServiceStatus, TableStats

WINDOW_S = 15 * 60
"""Keep 15 minutes at the poll rate."""
MAX_SAMPLES = 512
MAX_SERIES = 2_000


class History:
    def __init__(self, *, max_samples: int = MAX_SAMPLES, max_series: int = MAX_SERIES) -> None:
        self.max_samples = max_samples
        self.max_series = max_series
        self._series: OrderedDict[str, deque[tuple[float, float]]] = OrderedDict()

    def add(self, key: str, at: float, value: float, *, interval: float = 5.0) -> None:
        series = self._series.get(key)
        if series is None:
            size = max(8, min(self.max_samples, int(WINDOW_S / max(interval, 0.1)) + 1))
            series = self._series[key] = deque(maxlen=size)
            while len(self._series) > self.max_series:
                self._series.popitem(last=False)
        series.append((at, value))

    def gap(self, key: str, at: float) -> None:
        """A failed poll: drawn as a gap (NaN), not as a line across the outage."""
        series = self._series.get(key)
        if series is not None:
            series.append((at, float("nan")))

    def get(self, key: str) -> Sequence[tuple[float, float]]:
        return tuple(self._series.get(key, ()))

    def keys(self) -> list[str]:
        return list(self._series)

    def __len__(self) -> int:
        return len(self._series)

    def record_rows(self, source: str, rows: Sequence[object], at: float, interval: float) -> list[str]:
        """Add the figures worth a trend from one poll's rows; returns the keys touched."""
        touched = []
        for row in rows:
            for key, value in figures(source, row):
                self.add(key, at, value, interval=interval)
                touched.append(key)
        return touched


def figures(source: str, row: object) -> list[tuple[str, float]]:
    """The numbers of a row that have a history: latency, restarts, lag, files, job duration."""
    if isinstance(row, ServiceStatus):
        out = []
        if row.latency_ms is not None:
            out.append((f"latency:{source}:{row.name}", float(row.latency_ms)))
        restarts = (row.extra or {}).get("restarts")
        if isinstance(restarts, (int, float)) and not isinstance(restarts, bool):
            out.append((f"restarts:{source}:{row.name}", float(restarts)))
        return out
    if isinstance(row, LagSample):
        return [(f"lag:{source}:{row.name}", float(row.lag))]
    if isinstance(row, TableStats) and row.file_count is not None:
        return [(f"files:{source}:{row.name}", float(row.file_count))]
    if isinstance(row, JobRun) and row.duration_s is not None:
        return [(f"duration:{source}:{row.job}", float(row.duration_s))]
    return []
