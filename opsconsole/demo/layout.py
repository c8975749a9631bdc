"""Where the demo keeps its state, shared by the engine and the driver.

Light on purpose (stdlib only): the console imports it on start.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RAW_TABLE = "raw.orders"
STAGING_TABLES = ("stg_orders", "daily_revenue")

# Fault name -> flag file. The engine checks the flags every tick, so a fault
# set by the console shows in the panes within one poll.
FAULTS: dict[str, str] = {
    "stop-ingestion": "ingestion-stopped",
    "stop-http": "http-stopped",
    "hold-lock": "lock-held",
    "flood-small-files": "flood",
}


def default_data_dir() -> Path:
    base = os.environ.get("OPSCONSOLE_DATA_DIR")
    if base:
        return Path(base) / "demo"
    from platformdirs import user_data_dir

    return Path(user_data_dir("opsconsole")) / "demo"


@dataclass(frozen=True)
class DemoPaths:
    """All files of one demo instance under its data dir."""

    root: Path

    @property
    def catalog_db(self) -> Path:
        return self.root / "catalog.db"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def staging_db(self) -> Path:
        return self.root / "staging.duckdb"

    @property
    def queries_log(self) -> Path:
        return self.root / "queries.jsonl"

    @property
    def runs_log(self) -> Path:
        return self.root / "runs.jsonl"

    @property
    def state_file(self) -> Path:
        return self.root / "engine.json"

    @property
    def engine_log(self) -> Path:
        return self.root / "engine.log"

    @property
    def engine_lock(self) -> Path:
        return self.root / "engine.lock"

    @property
    def users_lock(self) -> Path:
        """Every console using this engine holds a shared lock on it; the engine stops when none does."""
        return self.root / "engine.users"

    @property
    def faults_dir(self) -> Path:
        return self.root / "faults"

    def fault_flag(self, fault: str) -> Path:
        return self.faults_dir / FAULTS[fault]

    def active_faults(self) -> list[str]:
        return [name for name, flag in FAULTS.items() if (self.faults_dir / flag).exists()]

    def catalog_properties(self) -> dict[str, str]:
        return {"uri": f"sqlite:///{self.catalog_db}", "warehouse": self.warehouse.as_uri()}

    def ensure(self) -> None:
        for d in (self.root, self.warehouse, self.faults_dir):
            d.mkdir(parents=True, exist_ok=True)

    def read_state(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None


def tail_jsonl(path: Path, limit: int, max_bytes: int = 512_000) -> list[dict[str, Any]]:
    """Last ``limit`` records of a JSONL file, reading only its tail."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return []
    lines = data.splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # first line may be cut
    out: list[dict[str, Any]] = []
    for line in lines[-limit:]:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line being written right now
    return out


class EngineUse:
    """A console's claim on a shared demo engine: a shared ``flock`` on :attr:`DemoPaths.users_lock`.

    The engine is referenced by this lock, not by one parent process: a second
    console keeps it alive when the first one quits, and it stops once the last
    console has gone (the kernel drops a dead process's lock, even after kill -9).
    """

    def __init__(self, paths: DemoPaths) -> None:
        self.paths = paths
        self._fd: int | None = None

    def claim(self) -> None:
        import fcntl

        if self._fd is not None:
            return
        self.paths.ensure()
        fd = os.open(self.paths.users_lock, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        self._fd = fd

    def release(self) -> bool:
        """Drop our claim; True when nobody else uses the engine any more."""
        if self._fd is not None:
            os.close(self._fd)  # closing drops the shared lock
            self._fd = None
        return not engine_in_use(self.paths)


def engine_in_use(paths: DemoPaths) -> bool:
    """Does any console hold a claim? (An exclusive try-lock succeeds only when none does.)"""
    import fcntl

    try:
        fd = os.open(paths.users_lock, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
