"""Lock fixes of the OSAA driver: name the process holding the DuckDB file, stop it, or checkpoint.

A mixin of :class:`~opsconsole.drivers.duckdb.pipeline.DuckDBPipelineDriver`.
The seed's "remove the .wal file" is replaced by two safe actions: stop the
holder (SIGTERM, after checking it still holds the lock) and ``CHECKPOINT``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

from opsconsole.drivers.duckdb import lock as duckdb_lock
from opsconsole.drivers.duckdb.runs import DB_STEPS
from opsconsole.errors import ActionRefused
from opsconsole.humanize import size as human_size
from opsconsole.model import ActionResult


class LockFixes:
    """Lock actions; needs the driver's ``database``, ``name``, ``action``, ``run_sync`` and snapshot."""

    database: str
    name: str
    _snapshot: Any
    _snapshot_lock: asyncio.Lock | None

    def describe_effect(self, action: str) -> str:
        """The action's effect with the current lock holder named (for confirmations)."""
        effect = self.action(action).effect
        snap = self._snapshot
        if action in {"stop_lock_holder", "checkpoint"} and snap is not None and snap.holder is not None:
            effect += f" Current holder: {snap.holder.describe()}."
        return effect

    def _locate_holder(self) -> duckdb_lock.LockHolder | None:
        """Holder via /proc/locks; else ask DuckDB (non-Linux, or a holder /proc does not show)."""
        holder = duckdb_lock.find_lock_holder(self.database)
        if holder is not None or not os.path.exists(self.database):
            return holder
        import duckdb

        try:
            duckdb.connect(self.database, read_only=True).close()
        except Exception as exc:
            if duckdb_lock.is_lock_error(str(exc)):
                return duckdb_lock.find_lock_holder(self.database, str(exc))
        return None

    async def action_stop_lock_holder(self, pid: int | str | None = None) -> ActionResult:
        holder = await self.run_sync(self._locate_holder, what="find the lock holder")
        if holder is None:
            return ActionResult(False, f"no process holds a lock on {self.database}; nothing to stop")
        if pid not in (None, "") and int(pid) != holder.pid:
            raise ActionRefused(f"pid {pid} does not hold the lock on {self.database}; "
                                f"the holder now is {holder.describe()}")
        if holder.pid == os.getpid():
            raise ActionRefused("the lock is held by this console itself; close its connection instead")
        if holder.pid <= 0:
            raise ActionRefused(f"the lock holder of {self.database} could not be identified")
        try:
            os.kill(holder.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        except PermissionError:
            return ActionResult(False, f"not allowed to signal {holder.describe()}; stop it as its owner")
        started = time.monotonic()
        wait = float(self.config["stop_wait_seconds"])
        while time.monotonic() - started < wait:
            if not await self.run_sync(duckdb_lock.still_holds, self.database, holder.pid, what="check the lock"):
                self._invalidate()
                return ActionResult(True, f"sent SIGTERM to {holder.describe()}; lock released after "
                                          f"{time.monotonic() - started:.1f}s. The .wal is kept and replayed on "
                                          f"the next open; run checkpoint to fold it in.")
            await asyncio.sleep(0.2)
        return ActionResult(False, f"sent SIGTERM to {holder.describe()}, but it still holds the lock after "
                                   f"{wait:g}s; no stronger signal was sent")

    def _checkpoint(self) -> tuple[int, int] | str:
        """WAL sizes before and after a CHECKPOINT, or who holds the lock (worker thread)."""
        import duckdb

        wal = self.database + ".wal"
        before = os.path.getsize(wal) if os.path.exists(wal) else 0
        try:
            con = duckdb.connect(self.database)
        except Exception as exc:
            message = str(exc)
            if duckdb_lock.is_lock_error(message):
                holder = duckdb_lock.find_lock_holder(self.database, message)
                return holder.describe() if holder else "another process"
            raise
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()
        after = os.path.getsize(wal) if os.path.exists(wal) else 0
        return before, after

    async def action_checkpoint(self) -> ActionResult:
        if not os.path.exists(self.database):
            return ActionResult(False, f"database file not found: {self.database}")
        if self._run is not None and self._run.step in DB_STEPS:
            raise ActionRefused(f"pipeline {self._run.step} is running; checkpoint after it finishes")
        async with self._lock():
            outcome = await self.run_sync(self._checkpoint, what="checkpoint")
            self._invalidate()
        if isinstance(outcome, str):
            raise ActionRefused(f"checkpoint refused: {self.database} is locked by {outcome}; "
                                f"stop it first (stop_lock_holder)")
        before, after = outcome
        return ActionResult(True, f"checkpointed {self.database}: WAL {human_size(before)} -> {human_size(after)}")

    def _lock(self) -> asyncio.Lock:
        if self._snapshot_lock is None:
            self._snapshot_lock = asyncio.Lock()
        return self._snapshot_lock
