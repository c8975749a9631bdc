"""One read of the OSAA pipeline database: tables, sizes, lock holder and the quality checks' results.

Three panes share one snapshot per poll moment (a read-only DuckDB open takes a
shared lock that blocks the pipeline's writer while it lasts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsconsole.drivers.duckdb import lock as duckdb_lock
from opsconsole.drivers.duckdb import quality


def aware(ts: datetime) -> datetime:
    """DuckDB TIMESTAMP is naive; the pipeline writes local time, so read it as such."""
    return ts.astimezone() if ts.tzinfo is None else ts


# --------------------------------------------------------------------------- snapshot
@dataclass(frozen=True)
class Snapshot:
    """Everything one read-only open of the database produced."""

    taken_at: datetime
    path: str
    exists: bool = True
    holder: duckdb_lock.LockHolder | None = None
    error: str = ""
    size_bytes: int = 0
    wal_bytes: int = 0
    file_mtime: datetime | None = None
    tables: tuple[quality.TableInfo, ...] = ()
    freshness: tuple[quality.SourceFreshness, ...] = ()
    checks: dict[str, Any] = field(default_factory=dict)
    """check name -> report object, or an error string when the check could not run."""
    figures_at: datetime | None = None
    """When the quality figures were read (they are reused between full reads)."""

    @property
    def readable(self) -> bool:
        return self.exists and self.holder is None and not self.error
