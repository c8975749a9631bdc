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
