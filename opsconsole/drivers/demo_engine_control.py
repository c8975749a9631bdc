"""The demo engine's life as the demo driver sees it: find it, start it, wait for it, restart it if it died.

A mixin of :class:`~opsconsole.drivers.demo.DemoDriver`. The engine is a separate
process shared by every console on one data dir (they hold a shared lock on it,
:class:`~opsconsole.demo.layout.EngineUse`); a console restarts it when it died, at
most every ``RESTART_EVERY`` seconds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

from opsconsole.audit import pid_alive

READ_TTL = 1.5
"""Seconds a pane read of the Iceberg table or the staging DB is shared with other panes."""
STAGING_REUSE = 12.0
"""The health row's row count may be this old (the Tables and Lag panes re-read it every 10 s)."""


class EngineSupervision:
    """Needs the driver's ``paths``, ``config``, ``_process``, ``_use``, ``_last_start`` and ``restarts``."""

    RESTART_EVERY = 30.0
    """Seconds between automatic restarts of an engine that died (a crash loop is not hammered)."""

    def engine_pid(self) -> int | None:
        state = self.paths.read_state()
        pid = int(state["pid"]) if state and state.get("pid") else None
        if pid and self._process is not None and self._process.pid == pid and self._process.poll() is not None:
            return None  # our child died (a zombie still answers kill(pid, 0))
        return pid if pid and pid_alive(pid) else None

    def ensure_engine(self) -> None:
        """Start the engine process unless one already runs on this data dir."""
        if self._process is not None and self._process.poll() is None:
            return
        if self.engine_pid() is not None:
            return
        self.paths.ensure()
        self._last_start = time.monotonic()
        log = self.paths.engine_log.open("ab")
        cmd = [sys.executable, "-m", "opsconsole.demo.engine", "--data-dir", str(self.paths.root),
               "--batch-interval", str(self.config.get("batch_interval", 5)),
               "--batch-size", str(self.config.get("batch_size", 20)),
               "--transform-interval", str(self.config.get("transform_interval", 10)),
               "--parent-pid", str(os.getpid())]
        self._process = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        log.close()

    async def wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until the engine has written its state (used by the headless check)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.paths.read_state()
            if state and state.get("pid") and pid_alive(int(state["pid"])) and \
                    (self._process is None or int(state["pid"]) == self._process.pid):
                return True
            await asyncio.sleep(0.1)
        return False

    def _supervise(self) -> str:
        """The engine died (or its data dir was deleted): start it again, at most every RESTART_EVERY s."""
        if not self.config.get("autostart", True):
            return ""
        waited = time.monotonic() - self._last_start
        if waited < self.RESTART_EVERY:
            return f"; restart attempted {waited:.0f}s ago"
        self.restarts += 1
        self._use.claim()
        self._process = None
        self.ensure_engine()
        return f"; restarting it (restart {self.restarts})"
