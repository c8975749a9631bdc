"""The demo's walkthrough actions: faults to inject (stop ingestion, stop the HTTP API, hold the DuckDB
lock, flood small files), the answers (compact, clear faults).

A mixin of :class:`~opsconsole.drivers.demo.DemoDriver`. Faults are flag files the
demo engine reads, so each one shows within one poll, for real.
"""

from __future__ import annotations

import asyncio
from typing import Any

from opsconsole.demo.layout import FAULTS, RAW_TABLE
from opsconsole.model import (
    ActionResult,
)

READ_TTL = 1.5
"""Seconds a pane read of the Iceberg table or the staging DB is shared with other panes."""
STAGING_REUSE = 12.0
"""The health row's row count may be this old (the Tables and Lag panes re-read it every 10 s)."""


class DemoActions:
    """Needs the driver's ``paths``, ``name``, ``run_sync`` and caches."""

    async def run_action(self, name: str, params: Any) -> ActionResult:
        try:
            return await super().run_action(name, params)
        finally:
            with self._cache_lock:  # what the action changed must show in the very next poll
                self._cache.clear()

    async def _set_fault(self, fault: str) -> ActionResult:
        self.paths.ensure()
        self.paths.fault_flag(fault).touch()
        return ActionResult(True, f"fault {fault} set; it shows within one poll")

    async def action_fault_stop_ingestion(self) -> ActionResult:
        return await self._set_fault("stop-ingestion")

    async def action_fault_stop_http(self) -> ActionResult:
        return await self._set_fault("stop-http")

    async def action_fault_hold_lock(self) -> ActionResult:
        return await self._set_fault("hold-lock")

    async def action_fault_flood_small_files(self) -> ActionResult:
        return await self._set_fault("flood-small-files")

    async def action_clear_faults(self) -> ActionResult:
        cleared = []
        for fault in FAULTS:
            flag = self.paths.fault_flag(fault)
            if flag.exists():
                flag.unlink()
                cleared.append(fault)
        return ActionResult(True, f"cleared: {', '.join(cleared) or 'nothing was set'}")

    async def action_restart_engine(self) -> ActionResult:
        driver: Any = self
        pid = driver.engine_pid()
        if pid is not None:
            import os
            import signal

            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if driver.engine_pid() is None:
                    break
                await asyncio.sleep(0.1)
        driver._process = None
        driver._use.claim()
        driver.ensure_engine()
        ready = await driver.wait_ready(timeout=driver.timeout)
        return ActionResult(ready, "demo engine restarted" if ready else "demo engine did not come back in time")

    async def action_compact(self, table: str = RAW_TABLE) -> ActionResult:
        if table != RAW_TABLE:
            return ActionResult(False, f"the demo has one Iceberg table, {RAW_TABLE}; got {table!r}")

        def compact() -> str:
            from opsconsole.drivers.iceberg import ops as iceberg_ops

            # The raw writer commits every few seconds: allow more retries than a quiet table needs.
            first = result = iceberg_ops.compact(self._load_raw(), retries=7)
            for _ in range(2):  # files appended while the first pass ran are kept apart: merge them too
                if result.files_after <= 1 or not result.files_rewritten:
                    break
                result = iceberg_ops.compact(self._load_raw(), retries=7)
            return (f"{RAW_TABLE}: {first.files_before} files -> {result.files_after}, "
                    f"{first.records} rows kept")

        message = await self.run_sync(compact, timeout=max(self.timeout, 60), what="compact")
        return ActionResult(True, message)
