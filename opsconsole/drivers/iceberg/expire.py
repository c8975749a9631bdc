"""Snapshot expiry that frees storage: the files only expired snapshots reached are deleted.

pyiceberg's ``expire_snapshots`` removes snapshots from the table metadata and
stops there: every data file, manifest and manifest list stays in storage, so
expiring "to free space" frees nothing. Iceberg's Java ``ExpireSnapshots``
then deletes what became unreachable; this module does the same, carefully:

* **live** = every manifest list, manifest and (not DELETED) file entry of
  every snapshot still in the metadata, which includes every branch and tag
  head (pyiceberg never expires those);
* **candidates** = the same paths of the snapshots the expiry removed;
* a candidate is deleted only if it is not live and was added no later than
  the newest expired snapshot (a file added after it belongs to newer history,
  whatever the metadata says);
* each deletion is reported to ``on_delete`` (the driver writes it to the
  audit log) with its size, so the result says exactly what was freed.

Deleting is the last step: a failure before it leaves only unreferenced files
(what pyiceberg alone would leave), never a live snapshot without its files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.table import Table


@dataclass(frozen=True, slots=True)
class RemovedFile:
    """One file deleted (or that failed to delete) after an expiry."""

    path: str
    kind: str
    """``data``, ``delete`` (position/equality deletes), ``manifest`` or ``manifest-list``."""
    size: int
    error: str = ""


@dataclass(frozen=True, slots=True)
class ExpiryResult:
    """Snapshots expired and the storage that freed."""

    expired: int
    removed: tuple[RemovedFile, ...] = ()
    failed: tuple[RemovedFile, ...] = ()
    kept_live: int = 0
    """Files the expired snapshots referenced that live snapshots/refs still need."""
    expired_ids: tuple[int, ...] = field(default=())

    @property
    def bytes_freed(self) -> int:
        return sum(f.size for f in self.removed)


def _size(table: Table, path: str) -> int:
    try:
        return len(table.io.new_input(path))
    except Exception:
        return 0


def _reachable(table: Table, snapshots: list[Any], cache: dict[str, list[Any]], *,
               live_only: bool) -> dict[str, tuple[str, int, int | None]]:
    """path -> (kind, size, id of the snapshot that added it) for everything ``snapshots`` reference.

    With ``live_only`` a manifest's DELETED entries are skipped: they record that
    the snapshot no longer holds the file (as Java's ``ManifestReader`` iterates).
    The adding snapshot comes from ADDED/EXISTING entries (a DELETED entry
    names the snapshot that removed the file); None when only deletions mention it.
    """
    from pyiceberg.manifest import DataFileContent, ManifestEntryStatus

    paths: dict[str, tuple[str, int, int | None]] = {}
    for snap in snapshots:
        paths[snap.manifest_list] = ("manifest-list", -1, snap.snapshot_id)
        try:
            manifests = snap.manifests(table.io)
        except OSError:
            if live_only:
                raise  # the live set must be complete, or nothing may be deleted
            continue  # an expired snapshot whose list an earlier cleanup already removed
        for manifest in manifests:
            paths[manifest.manifest_path] = ("manifest", manifest.manifest_length, manifest.added_snapshot_id)
            if manifest.manifest_path not in cache:
                try:
                    cache[manifest.manifest_path] = manifest.fetch_manifest_entry(table.io, discard_deleted=False)
                except OSError:
                    if live_only:
                        raise
                    cache[manifest.manifest_path] = []
            for entry in cache[manifest.manifest_path]:
                deleted = entry.status == ManifestEntryStatus.DELETED
                if deleted and live_only:
                    continue
                f = entry.data_file
                kind = "data" if f.content == DataFileContent.DATA else "delete"
                known = paths.get(f.file_path)
                if known is None or (known[2] is None and not deleted):
                    paths[f.file_path] = (kind, f.file_size_in_bytes, None if deleted else entry.snapshot_id)
    return paths


def expire_and_clean(table: Table, older_than: datetime,
                     on_delete: Callable[[RemovedFile], None] | None = None) -> ExpiryResult:
    """Expire snapshots committed before ``older_than``, then delete files only they referenced."""
    if older_than.tzinfo is None:
        raise ValueError("older_than must be timezone-aware")
    table.refresh()
    before = {s.snapshot_id: s for s in table.metadata.snapshots}
    cutoff_ms = int(older_than.timestamp() * 1000)
    if not any(s.timestamp_ms < cutoff_ms for s in before.values()):
        return ExpiryResult(expired=0)
    table.maintenance.expire_snapshots().older_than(older_than).commit()
    table.refresh()
    live_snaps = list(table.metadata.snapshots)
    live_ids = {s.snapshot_id for s in live_snaps}
    expired = [s for sid, s in before.items() if sid not in live_ids]
    if not expired:
        return ExpiryResult(expired=0)
    newest_expired_ms = max(s.timestamp_ms for s in expired)
    cache: dict[str, list[Any]] = {}
    live = _reachable(table, live_snaps, cache, live_only=True)
    candidates = _reachable(table, expired, cache, live_only=False)
    removed: list[RemovedFile] = []
    failed: list[RemovedFile] = []
    kept = 0
    order = {"data": 0, "delete": 0, "manifest": 1, "manifest-list": 2}  # lists last, as Java does
    for path, (kind, size, added_by) in sorted(candidates.items(), key=lambda kv: (order[kv[1][0]], kv[0])):
        if path in live:
            kept += 1
            continue
        adder = before.get(added_by) if added_by is not None else None
        if adder is not None and adder.timestamp_ms > newest_expired_ms:
            kept += 1
            continue
        if size < 0:
            size = _size(table, path)
        try:
            table.io.delete(path)
            item = RemovedFile(path, kind, size)
            removed.append(item)
        except Exception as exc:
            item = RemovedFile(path, kind, size, error=f"{type(exc).__name__}: {exc}"[:300])
            failed.append(item)
        if on_delete is not None:
            on_delete(item)
    return ExpiryResult(expired=len(expired), removed=tuple(removed), failed=tuple(failed), kept_live=kept,
                        expired_ids=tuple(sorted(s.snapshot_id for s in expired)))


__all__ = ["ExpiryResult", "RemovedFile", "expire_and_clean"]
