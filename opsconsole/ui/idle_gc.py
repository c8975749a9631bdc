"""Full garbage collections between events, not in the middle of a repaint.

CPython starts a full (generation 2) collection whenever allocations cross a
threshold, which in a TUI means during a repaint: every few polls, one poll's
refresh took 30-70 ms longer while the collector walked the render caches.
Young-generation collections stay automatic (1-4 ms); the full one is switched
off and run from an app timer instead, at a moment when no event is being
handled, once as many young collections have happened as would have triggered
CPython's own (``threshold2``). Cyclic garbage is still reclaimed, at most one
timer period later. The same idea as Textual's ``PAUSE_GC_ON_SCROLL``.
"""

from __future__ import annotations

import gc
import time

CHECK_EVERY = 10.0
"""Seconds between checks whether a full collection is due."""
_NEVER = 2**30


class IdleCollector:
    """Owns the process's GC thresholds while the app runs; restores them on :meth:`uninstall`."""

    def __init__(self) -> None:
        self._saved: tuple[int, int, int] | None = None
        self.collections = 0
        self.last_pause_ms = 0.0

    def install(self) -> None:
        if self._saved is None:
            self._saved = gc.get_threshold()
            gc.set_threshold(self._saved[0], self._saved[1], _NEVER)

    def uninstall(self) -> None:
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def collect_if_due(self) -> bool:
        """Run the full collection CPython would have run by now; True if it ran."""
        if self._saved is None or gc.get_count()[2] < max(1, self._saved[2]):
            return False
        started = time.perf_counter()
        gc.collect(2)
        self.last_pause_ms = (time.perf_counter() - started) * 1000
        self.collections += 1
        return True
