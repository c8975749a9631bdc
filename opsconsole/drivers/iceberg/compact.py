"""Compaction as Iceberg's RewriteDataFiles does it: bins of small files, one ``replace``.

Why not ``Table.overwrite(table.scan().to_arrow())``: that loads the whole
table into memory and commits a ``delete`` then an ``append`` snapshot, so an
incremental reader (Flink, Spark streaming, the demo's transform) takes every
rewritten row for new data. Here:

* the files of the current snapshot are grouped by partition, files already
  near the target size (>= 75 %, Iceberg's ``min-file-size-bytes`` default)
  are left alone, and the rest are packed into bins of about ``target_bytes``;
* each bin is read (only its files, positional deletes applied) and written
  back as new data files, one bin in memory at a time;
* one ``replace`` snapshot removes the old files and adds the new ones
  (:mod:`opsconsole.drivers.iceberg.rewrite`), so row count and content are unchanged
  and incremental readers see nothing new.

A writer appending meanwhile is not a conflict (its files are kept, as in
Java); when its commit lands first, the same new files are committed again on
the fresh snapshot after a short random pause (no data rewritten). A writer
that deleted or rewrote one of the binned files is a conflict: then the
files written for this attempt are removed and the compaction starts again
from a fresh snapshot after a growing, jittered pause; after ``retries``
attempts it gives up with :class:`CompactionConflict`, saying so plainly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import FileScanTask, Table

MIN_FILE_RATIO = 0.75
"""Files at least this fraction of the target are already compact (Iceberg's default)."""
DEFAULT_TARGET_BYTES = 128 * 1024 * 1024
"""Input bytes per bin: bounds memory (one bin is decoded at a time)."""


class CompactionConflict(RuntimeError):
    """Compaction kept colliding with another writer and changed nothing."""


@dataclass(frozen=True, slots=True)
class CompactionResult:
    """What a compaction did: file counts before and after, attempts needed."""

    files_before: int
    files_after: int
    records: int
    """Rows in the rewritten files (the table's rows are unchanged)."""
    attempts: int
    snapshot_id: int | None
    """The ``replace`` snapshot, or the unchanged current one when nothing was rewritten."""
    files_rewritten: int = 0
    files_added: int = 0
    bins: int = 0
    bytes_rewritten: int = 0


def _summary_int(snapshot: Any, key: str) -> int:
    try:
        return int(snapshot.summary[key]) if snapshot is not None and snapshot.summary is not None else 0
    except (KeyError, TypeError, ValueError):
        return 0


def plan_bins(tasks: list[FileScanTask], target_bytes: int) -> list[list[FileScanTask]]:
    """Bins of small files, per partition, each holding about ``target_bytes`` of input.

    Files with delete files attached are left out: rewriting them would leave
    the delete files dangling (Java removes those separately).
    """
    groups: dict[tuple[int, Any], list[FileScanTask]] = {}
    for task in tasks:
        f = task.file
        if task.delete_files or f.file_size_in_bytes >= MIN_FILE_RATIO * target_bytes:
            continue
        groups.setdefault((f.spec_id, f.partition), []).append(task)
    bins: list[list[FileScanTask]] = []
    for group in groups.values():
        current: list[FileScanTask] = []
        size = 0
        for task in sorted(group, key=lambda t: t.file.file_path):
            if current and size + task.file.file_size_in_bytes > target_bytes:
                bins.append(current)
                current, size = [], 0
            current.append(task)
            size += task.file.file_size_in_bytes
        bins.append(current)
    return [b for b in bins if len(b) > 1]


def _discard(table: Table, files: list[DataFile]) -> None:
    """Delete data files written for an attempt that did not commit (no snapshot references them)."""
    for f in files:
        try:
            table.io.delete(f.file_path)
        except Exception:
            pass  # an orphan at worst; never mask the conflict being handled


def _commit(table: Table, removed: list[DataFile], added: list[DataFile], retries: int,
            sleep: Callable[[float], None]) -> int:
    """Commit the rewrite; when other writers won the race, commit the SAME new files on a fresh snapshot.

    Losing to an append costs only new manifests, not rewritten data, so this
    retries more often than a re-plan would. The random pause breaks the rhythm
    of a writer that commits periodically. A ValidationException (one of our
    files was deleted or rewritten meanwhile) is not retried here: the caller
    plans again.
    """
    from pyiceberg.exceptions import CommitFailedException

    from opsconsole.drivers.iceberg import rewrite as iceberg_rewrite

    for attempt in range(retries + 1):
        try:
            return iceberg_rewrite.commit_replace(table, removed, added, {"opsconsole.action": "compact"})
        except CommitFailedException:
            if attempt == retries:
                raise
            sleep(random.uniform(0.0, 0.3))
            table.refresh()
    raise AssertionError("unreachable")


def _gave_up(attempts: int, exc: BaseException) -> str:
    from pyiceberg.exceptions import CommitFailedException

    why = ("other writers kept committing first" if isinstance(exc, CommitFailedException)
           else "another writer kept deleting or rewriting the same data files")
    return (f"compaction gave up after {attempts} attempts: {why} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]}). Nothing was changed; run it again when that writer is quieter.")


def compact(table: Table, *, target_bytes: int | None = None, retries: int = 4, backoff_s: float = 0.2,
            max_backoff_s: float = 5.0, commit_retries: int = 8,
            sleep: Callable[[float], None] = time.sleep) -> CompactionResult:
    """Rewrite the small files of ``table`` into files of about ``target_bytes`` in ONE ``replace`` snapshot."""
    from pyiceberg.exceptions import CommitFailedException, ValidationException
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan

    from opsconsole.drivers.iceberg import rewrite as iceberg_rewrite

    target = int(target_bytes or DEFAULT_TARGET_BYTES)
    attempts = 0
    while True:
        attempts += 1
        table.refresh()
        snapshot = table.current_snapshot()
        before = _summary_int(snapshot, "total-data-files")
        if snapshot is None:
            return CompactionResult(0, 0, 0, attempts, None)
        bins = plan_bins(list(table.scan(snapshot_id=snapshot.snapshot_id).plan_files()), target)
        if not bins:
            return CompactionResult(before, before, 0, attempts, snapshot.snapshot_id)
        removed: list[DataFile] = []
        added: list[DataFile] = []
        records = 0
        committing = False
        try:
            schema = table.metadata.schema()
            for tasks in bins:
                data = ArrowScan(table.metadata, table.io, schema, AlwaysTrue()).to_table(tasks)
                records += data.num_rows
                added += iceberg_rewrite.write_data_files(table, data)
                removed += [t.file for t in tasks]
                del data  # one bin in memory at a time
            committing = True
            new_id = _commit(table, removed, added, commit_retries, sleep)
        except (CommitFailedException, ValidationException) as exc:
            _discard(table, added)
            if attempts > retries:
                raise CompactionConflict(_gave_up(attempts, exc)) from exc
            pause = min(max_backoff_s, backoff_s * 2 ** (attempts - 1))
            sleep(pause + random.uniform(0, pause / 4))
            continue
        except BaseException:
            if not committing:  # once the commit started its outcome is unknown: the files may be live
                _discard(table, added)
            raise
        table.refresh()
        after = table.snapshot_by_id(new_id)
        return CompactionResult(
            files_before=before, files_after=_summary_int(after, "total-data-files"), records=records,
            attempts=attempts, snapshot_id=new_id,
            files_rewritten=len(removed), files_added=len(added), bins=len(bins),
            bytes_rewritten=sum(f.file_size_in_bytes for f in removed))


__all__ = ["DEFAULT_TARGET_BYTES", "CompactionConflict", "CompactionResult", "compact", "plan_bins"]
