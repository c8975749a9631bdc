"""Iceberg table maintenance as plain functions of a pyiceberg ``Table``.

The Iceberg driver and the embedded demo both need the same figures and the
same maintenance (seed 002: file counts, compaction when files > 100, snapshot
expiry, time-travel rollback). Keeping them here, free of driver options and
catalogs, lets both share one tested implementation. Every function is
synchronous and may do I/O: callers run them on a worker thread.

pyiceberg is never imported at module level (only for type checking), so
importing this module costs nothing on the first frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from opsconsole.drivers.iceberg.compact import CompactionConflict, CompactionResult
from opsconsole.drivers.iceberg.expire import ExpiryResult, RemovedFile
from opsconsole.model import TableStats

if TYPE_CHECKING:
    from pyiceberg.table import Table


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """One snapshot of a table's history, newest first in :func:`snapshots`."""

    snapshot_id: int
    committed_at: datetime
    operation: str
    """``append``, ``overwrite``, ``delete`` or ``replace``."""
    parent_id: int | None
    records: int | None
    """``total-records`` of the table as of this snapshot."""
    data_files: int | None
    is_current: bool
    is_ancestor: bool
    """On the current branch's history, so :func:`rollback` can return to it."""


def _summary_int(summary: object, key: str) -> int | None:
    """An integer property of a snapshot summary, or None if absent/garbled."""
    if summary is None:
        return None
    try:
        value = summary[key]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def table_stats(table: Table, name: str, layer: str = "", source: str = "") -> TableStats:
    """Figures of one table from metadata alone.

    Reads the current snapshot's summary (``total-data-files``,
    ``total-records``, ``total-files-size``) instead of scanning manifests, so
    a poll costs one metadata read however large the table is. A table with no
    snapshot yet is empty: zero files, zero rows.
    """
    snapshot = table.current_snapshot()
    history = table.metadata.snapshots
    if snapshot is None:
        return TableStats(name=name, file_count=0, snapshot_count=len(history), size_bytes=0, row_count=0,
                          last_commit=None, layer=layer, source=source)
    summary = snapshot.summary
    return TableStats(
        name=name,
        file_count=_summary_int(summary, "total-data-files"),
        snapshot_count=len(history),
        size_bytes=_summary_int(summary, "total-files-size"),
        row_count=_summary_int(summary, "total-records"),
        last_commit=_ts(snapshot.timestamp_ms),
        layer=layer,
        source=source,
    )


def row_count(table: Table) -> int:
    """Rows of the current snapshot (from its summary; 0 for an empty table)."""
    snapshot = table.current_snapshot()
    if snapshot is None:
        return 0
    count = _summary_int(snapshot.summary, "total-records")
    if count is None:  # a writer that does not maintain totals: count for real
        return table.scan().to_arrow().num_rows
    return count


def _ancestor_ids(table: Table) -> set[int]:
    ids: set[int] = set()
    snapshot = table.current_snapshot()
    while snapshot is not None:
        ids.add(snapshot.snapshot_id)
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    return ids


def snapshots(table: Table) -> list[SnapshotInfo]:
    """The table's snapshot history, newest first (what time travel can reach)."""
    current = table.current_snapshot()
    current_id = current.snapshot_id if current is not None else None
    ancestors = _ancestor_ids(table)
    rows = []
    for snap in table.metadata.snapshots:
        summary = snap.summary
        operation = summary.operation.value if summary is not None else ""
        rows.append(SnapshotInfo(
            snapshot_id=snap.snapshot_id,
            committed_at=_ts(snap.timestamp_ms),
            operation=str(operation),
            parent_id=snap.parent_snapshot_id,
            records=_summary_int(summary, "total-records"),
            data_files=_summary_int(summary, "total-data-files"),
            is_current=snap.snapshot_id == current_id,
            is_ancestor=snap.snapshot_id in ancestors,
        ))
    rows.sort(key=lambda s: (s.committed_at, s.snapshot_id), reverse=True)
    return rows


def compact(table: Table, *, retries: int = 4, target_bytes: int | None = None) -> CompactionResult:
    """Rewrite small data files in one ``replace`` snapshot (see :mod:`opsconsole.drivers.iceberg.compact`)."""
    from opsconsole.drivers.iceberg.compact import compact as rewrite

    return rewrite(table, retries=retries, target_bytes=target_bytes)


def expire_snapshots(table: Table, older_than: datetime,
                     on_delete: Callable[[RemovedFile], None] | None = None) -> ExpiryResult:
    """Expire snapshots committed before ``older_than`` and delete the files only they referenced.

    The current snapshot and branch/tag heads are always kept (pyiceberg
    protects them); see :mod:`opsconsole.drivers.iceberg.expire` for what is deleted.
    """
    from opsconsole.drivers.iceberg.expire import expire_and_clean

    return expire_and_clean(table, older_than, on_delete)


def rollback(table: Table, snapshot_id: int) -> tuple[SnapshotInfo, int | None]:
    """Make another snapshot of the table's history its current state; returns (new, previous id).

    Rows committed after that snapshot vanish from queries. An ancestor of the
    current snapshot is a rollback (Iceberg's ``rollback_to_snapshot``); a
    snapshot off the current history (typically the one that was current
    before an earlier rollback) is set as current, which is how a rollback is
    undone. Snapshots not in the metadata raise ``ValueError`` naming those
    that are.
    """
    table.refresh()
    history = snapshots(table)
    target = next((s for s in history if s.snapshot_id == snapshot_id), None)
    current = next((s for s in history if s.is_current), None)
    previous = current.snapshot_id if current is not None else None
    if target is None:
        reachable = ", ".join(str(s.snapshot_id) for s in history) or "none"
        raise ValueError(f"snapshot {snapshot_id} is not in the table's history (expired?); "
                         f"snapshots you can return to: {reachable}")
    if target.is_current:
        return target, previous
    if target.is_ancestor:
        table.manage_snapshots().rollback_to_snapshot(snapshot_id).commit()
    else:
        table.manage_snapshots().set_current_snapshot(snapshot_id).commit()
    table.refresh()
    return next(s for s in snapshots(table) if s.snapshot_id == snapshot_id), previous


def describe_snapshot(table: Table, snapshot_id: int) -> str:
    """What returning to ``snapshot_id`` means, in words: time, operation, rows and files then and now."""
    table.refresh()
    history = snapshots(table)
    target = next((s for s in history if s.snapshot_id == snapshot_id), None)
    current = next((s for s in history if s.is_current), None)
    if target is None:
        return f"snapshot {snapshot_id} is not in the table's history"
    snap = table.snapshot_by_id(snapshot_id)
    summary = dict(snap.summary.additional_properties) if snap is not None and snap.summary is not None else {}
    keys = ("added-records", "deleted-records", "added-data-files", "deleted-data-files", "total-records",
            "total-data-files")
    facts = ", ".join(f"{k}={summary[k]}" for k in keys if k in summary)
    text = (f"snapshot {target.snapshot_id}: {target.operation} committed {target.committed_at:%Y-%m-%d %H:%M:%S} "
            f"UTC ({facts})")
    if current is not None:
        text += (f"; current snapshot {current.snapshot_id}: {current.operation} committed "
                 f"{current.committed_at:%Y-%m-%d %H:%M:%S} UTC, {current.records} rows, {current.data_files} files")
        if not target.is_ancestor:
            text += "; the target is not on the current history: the table is SET back to it (undo of a rollback)"
    return text


__all__ = ["CompactionConflict", "CompactionResult", "ExpiryResult", "RemovedFile", "SnapshotInfo", "compact",
           "describe_snapshot", "expire_snapshots", "rollback", "row_count", "snapshots", "table_stats"]
