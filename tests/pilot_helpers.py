"""Helpers shared by the Pilot tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def until(pilot: Any, predicate: Callable[[], object], timeout: float = 30.0) -> None:
    """Let the app run until ``predicate()`` is true; fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("UI condition not met in time")
        await pilot.pause(0.05)


async def dashboard_ready(pilot: Any, app: Any, timeout: float = 30.0) -> Any:
    """Wait until the dashboard is on screen and its monitor has connected every driver; return it."""
    from opsconsole.ui.screens.dashboard import DashboardScreen

    await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.connected, timeout)
    return app.screen


async def answer_pong(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A real line server's handler for ``tcp_probe_driver``: healthy."""
    await reader.readline()
    writer.write(b"PONG\n")
    await writer.drain()
    writer.close()
