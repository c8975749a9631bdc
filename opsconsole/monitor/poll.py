"""One poll of one pane across several drivers, outside any schedule (tests, diagnostics, benchmarks).

The engine (:mod:`opsconsole.monitor.engine`) polls each source on its own; this is the
same call for a caller that wants one pane's rows now.

Drivers are called concurrently, each under its own timeout; a driver that
fails or hangs contributes an error instead of rows, so one bad backend makes a
pane partly stale rather than empty or frozen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from opsconsole.drivers.base import PANE_METHODS, Driver, describe
from opsconsole.errors import DriverError
from opsconsole.model import Pane, PaneResult


async def _call(driver: Driver, pane: Pane) -> list[object]:
    method = getattr(driver, PANE_METHODS[pane])
    # The driver's own timeout guards each SDK call; this outer one guards the
    # whole pane method (several calls, or an async call that never returns).
    return list(await asyncio.wait_for(method(), driver.timeout * 2))


async def poll(pane: Pane, drivers: Sequence[Driver]) -> PaneResult:
    """Poll one pane on every driver that offers it."""
    started = time.perf_counter()
    targets = [d for d in drivers if pane in d.panes]
    results = await asyncio.gather(*(_call(d, pane) for d in targets), return_exceptions=True)
    rows: list[object] = []
    errors: dict[str, str] = {}
    for driver, result in zip(targets, results, strict=True):
        if isinstance(result, BaseException):
            if isinstance(result, (TimeoutError, asyncio.TimeoutError)):
                errors[driver.name] = f"{driver.name}: no answer within {driver.timeout * 2:g}s"
            elif isinstance(result, DriverError):
                errors[driver.name] = str(result)
            elif isinstance(result, Exception):
                errors[driver.name] = f"{driver.name}: {describe(result)}"
            else:
                raise result
        else:
            rows.extend(result)
    return PaneResult(pane=pane, rows=tuple(rows), errors=errors, polled_at=datetime.now(UTC),
                      duration_ms=(time.perf_counter() - started) * 1000)
