"""ClickHouse's "too many parts" rule, a pure function of Tables pane rows.

ClickHouse limits active parts per *partition*: above ``parts_to_delay_insert``
(150 by default) it slows every insert down, above ``parts_to_throw_insert``
(300) it refuses them with "Too many parts". Merges normally keep the count far
lower, so a partition climbing past the threshold means inserts arrive in
batches too small for the merges to keep up (or merges are stuck). The rule
fires before ClickHouse starts refusing data. It is separate from Iceberg's
``TableNeedsCompaction`` (data files per table, answered by a compaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from opsconsole.model import Alert, Severity, TableStats

THRESHOLD_KEY = "clickhouse_parts_max"
"""Profile ``alerts:`` key: active parts in one partition above which the rule fires."""
DEFAULT_PARTS_MAX = 150
"""ClickHouse's default ``parts_to_delay_insert``: inserts slow down past it."""


def is_clickhouse(row: TableStats) -> bool:
    """Rows from the ClickHouse driver carry ``extra["engine"] == "clickhouse"``."""
    return (row.extra or {}).get("engine") == "clickhouse"


def clickhouse_alerts(rows: Iterable[TableStats], thresholds: Mapping[str, Any], now: datetime) -> list[Alert]:
    """One ``ClickHouseTooManyParts`` warning per table whose busiest partition is over the limit."""
    limit = thresholds.get(THRESHOLD_KEY, DEFAULT_PARTS_MAX)
    alerts = []
    for row in rows:
        if not is_clickhouse(row):
            continue
        extra = row.extra
        busiest = int(extra.get("max_partition_parts") or 0)
        if busiest > limit:
            partition = extra.get("busiest_partition") or "(unpartitioned)"
            merges = int(extra.get("merges_running") or 0)
            alerts.append(Alert(
                "ClickHouseTooManyParts", Severity.WARNING, row.name,
                f"{busiest} active parts in partition {partition} (> {limit}); {merges} merge(s) running: "
                f"inserts slow down at parts_to_delay_insert and fail at parts_to_throw_insert",
                "clickhouse-too-many-parts", now))
    return alerts


__all__ = ["DEFAULT_PARTS_MAX", "THRESHOLD_KEY", "clickhouse_alerts", "is_clickhouse"]
