"""Finding the process that holds a DuckDB file's lock (real second process)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from opsconsole.drivers.duckdb import lock as duckdb_lock
from tests.fixtures.osaa.build_db import build_pipeline_db
from tests.fixtures.osaa.lock_holder import hold_lock

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="needs Linux /proc/locks")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_pipeline_db(tmp_path / "unosaa_data_pipeline.db")


def _duckdb_error(path: Path) -> str:
    import duckdb

    with pytest.raises(duckdb.Error) as info:
        duckdb.connect(str(path), read_only=True)
    return str(info.value)


def test_nobody_holds_a_closed_database(db: Path) -> None:
    assert duckdb_lock.holders_from_proc_locks(db) == []
    assert duckdb_lock.find_lock_holder(db) is None


def test_writer_found_with_pid_and_command_line(db: Path) -> None:
    with hold_lock(db) as proc:
        holder = duckdb_lock.find_lock_holder(db)
        assert holder is not None
        assert holder.pid == proc.pid
        assert holder.mode == "WRITE"
        assert "osaa-lock-holder" in holder.command and sys.executable in holder.command
        assert duckdb_lock.still_holds(db, proc.pid)
        assert f"pid {proc.pid}" in holder.describe()
    assert not duckdb_lock.still_holds(db, proc.pid)


def test_duckdb_error_message_names_the_holder(db: Path) -> None:
    with hold_lock(db) as proc:
        message = _duckdb_error(db)
        assert duckdb_lock.is_lock_error(message)
        pid, exe = duckdb_lock.parse_lock_error(message) or (None, None)
        assert pid == proc.pid
        assert exe and os.path.basename(exe).startswith("python")
        holder = duckdb_lock.find_lock_holder(db, message)
        assert holder is not None and holder.pid == proc.pid and "osaa-lock-holder" in holder.command


def test_error_message_alone_when_proc_is_unavailable(db: Path, tmp_path: Path) -> None:
    """Without /proc (other OS, hidden pid), DuckDB's own message still gives pid and executable."""
    empty_proc = tmp_path / "noproc"
    empty_proc.mkdir()
    with hold_lock(db) as proc:
        message = _duckdb_error(db)
        holder = duckdb_lock.find_lock_holder(db, message, proc_root=str(empty_proc))
        assert holder is not None and holder.pid == proc.pid
        assert holder.found_by == "duckdb-error"
        assert os.path.basename(holder.command).startswith("python")


def test_read_only_holder_reported_as_read_lock(db: Path) -> None:
    with hold_lock(db, mode="read") as proc:
        holders = duckdb_lock.holders_from_proc_locks(db)
        assert [(h.pid, h.mode) for h in holders] == [(proc.pid, "READ")]


def test_other_files_locks_are_not_confused(db: Path, tmp_path: Path) -> None:
    other = build_pipeline_db(tmp_path / "other.db")
    with hold_lock(other):
        assert duckdb_lock.find_lock_holder(db) is None


def test_unrelated_error_is_not_a_lock_error() -> None:
    assert not duckdb_lock.is_lock_error('Catalog Error: Table with name nope does not exist!')
    assert duckdb_lock.parse_lock_error("IO Error: Cannot open file: No such file") is None


def test_long_multiline_command_is_one_readable_line(db: Path) -> None:
    with hold_lock(db) as proc:  # the holder is ``python -c "<several lines>" <db> write osaa-lock-holder``
        holder = duckdb_lock.find_lock_holder(db)
    assert holder is not None and "\n" not in holder.command
    text = holder.describe(width=80)
    assert text.startswith(f"pid {proc.pid} (") and text.endswith("osaa-lock-holder), write lock")
    assert " … " in text and len(text) < 80 + 40
