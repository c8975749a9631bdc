"""The demo's raw Iceberg table as its metadata file says it is, read with the standard library.

The panes need what Iceberg keeps in the table's metadata JSON: the current
snapshot, its commit time and summary totals (files, records, bytes), and the
snapshot list. pyiceberg reads exactly that file through the SQLite catalog's
``metadata_location`` - and brings SQLAlchemy, pydantic and pyarrow into the
console to do so (~100 MB of resident memory beside the engine that already
holds them). This module follows the same two pointers itself: one read-only
SQLite query, one JSON file. pyiceberg remains what the demo's maintenance
actions (compaction) use.

The objects returned answer the few calls :func:`opsconsole.drivers.iceberg.ops.table_stats`
makes on a pyiceberg ``Table`` (``current_snapshot()``, ``metadata.snapshots``,
a snapshot's ``summary`` and ``timestamp_ms``), so both kinds go through one
tested implementation of the figures.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from opsconsole.errors import DriverUnavailable


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    snapshot_id: int
    timestamp_ms: int
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TableMetadata:
    snapshots: tuple[SnapshotMeta, ...]
    current_snapshot_id: int | None
    location: str


@dataclass(frozen=True, slots=True)
class TableView:
    """A table as far as its metadata file goes (what a pane poll needs, nothing it could mutate)."""

    metadata: TableMetadata

    def current_snapshot(self) -> SnapshotMeta | None:
        wanted = self.metadata.current_snapshot_id
        return next((s for s in self.metadata.snapshots if s.snapshot_id == wanted), None)


def metadata_location(catalog_db: Path, namespace: str, table: str) -> str:
    """The current metadata file of ``namespace.table`` in a pyiceberg SQL catalog (read-only, never created)."""
    if not catalog_db.exists():
        raise DriverUnavailable(f"Iceberg catalog {catalog_db} does not exist")
    try:
        con = sqlite3.connect(f"file:{catalog_db}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT metadata_location FROM iceberg_tables WHERE table_namespace = ? "
                              "AND table_name = ?", (namespace, table)).fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise DriverUnavailable(f"Iceberg catalog {catalog_db}: {exc}") from exc
    if not row or not row[0]:
        raise DriverUnavailable(f"table {namespace}.{table} not found in the Iceberg catalog {catalog_db}")
    return str(row[0])


def read_table(catalog_db: Path, namespace: str, table: str) -> TableView:
    """The table's current metadata, as written by its last commit."""
    location = metadata_location(catalog_db, namespace, table)
    parsed = urlparse(location)
    if parsed.scheme not in ("", "file"):
        raise DriverUnavailable(f"metadata at {location}: only local files are read here")
    path = Path(unquote(parsed.path))
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # write.metadata.compression-codec=gzip
            raw = gzip.decompress(raw)
        data = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise DriverUnavailable(f"Iceberg metadata {path}: {exc}") from exc
    snapshots = tuple(SnapshotMeta(int(s["snapshot-id"]), int(s["timestamp-ms"]), dict(s.get("summary") or {}))
                      for s in data.get("snapshots") or ())
    current = data.get("current-snapshot-id")
    return TableView(TableMetadata(snapshots, int(current) if current not in (None, -1) else None,
                                   str(data.get("location", ""))))
