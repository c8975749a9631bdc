"""The demo's order events: deterministic (a walkthrough shows the same figures every time), buffered
between the HTTP ingestion API and the raw writer."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any


def event(n: int) -> dict[str, Any]:
    """Order event number *n*: fully determined by *n* (no randomness)."""
    return {
        "order_id": n,
        "customer": f"cust-{n % 17:02d}",
        "amount": ((n * 7919) % 10_000) / 100,
        "created_at": datetime.now(UTC).isoformat(),
    }


class EventBuffer:
    """Events received by the API and not yet written to Iceberg."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self.received = 0

    def add(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self._events.extend(events)
            self.received += len(events)

    def drain(self) -> list[dict[str, Any]]:
        with self._lock:
            events, self._events = self._events, []
            return events

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)
