"""Tripwire for the private pyiceberg API that compaction relies on (opsconsole/iceberg_rewrite.py).

pyiceberg's public API cannot commit a ``replace`` snapshot, so one module uses
two private symbols. These tests fail as soon as a pyiceberg upgrade moves or
reshapes them, instead of letting compaction break (or silently commit the
wrong operation) in production. They need no peer: SQLite catalog, local files.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from opsconsole.drivers.iceberg import rewrite as iceberg_rewrite


@pytest.mark.parametrize(("module", "name"), iceberg_rewrite.PRIVATE_API)
def test_private_symbols_still_exist(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name), f"pyiceberg moved {module}.{name}"


def test_private_signatures_and_hooks_unchanged() -> None:
    from pyiceberg.io.pyarrow import _dataframe_to_data_files
    from pyiceberg.table.update.snapshot import _OverwriteFiles

    init = inspect.signature(_OverwriteFiles.__init__).parameters
    assert {"operation", "transaction", "io", "branch", "snapshot_properties"} <= set(init)
    for method in ("_summary", "_validate_concurrency", "delete_data_file", "append_data_file", "commit"):
        assert callable(getattr(_OverwriteFiles, method, None)), f"_OverwriteFiles.{method} is gone"
    assert {"table_metadata", "df", "io"} <= set(inspect.signature(_dataframe_to_data_files).parameters)
    from pyiceberg.table.update import validate

    for fn in ("_validate_data_files_exist", "_validate_no_new_deletes_for_data_files"):
        assert callable(getattr(validate, fn, None)), f"pyiceberg.table.update.validate.{fn} is gone"


def test_commit_replace_writes_one_replace_snapshot_with_correct_totals(tmp_path: Path) -> None:
    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path}/cat.db", warehouse=f"file://{tmp_path}/wh")
    catalog.create_namespace("ns")
    table = catalog.create_table("ns.t", schema=pa.schema([("id", pa.int64())]))
    for i in range(3):
        table.append(pa.table({"id": [i * 10 + j for j in range(10)]}))
    table = catalog.load_table("ns.t")
    old = [t.file for t in table.scan().plan_files()]
    new = iceberg_rewrite.write_data_files(table, table.scan().to_arrow())
    snapshot_id = iceberg_rewrite.commit_replace(table, old, new)
    table = catalog.load_table("ns.t")
    snap = table.current_snapshot()
    assert snap.snapshot_id == snapshot_id and snap.summary.operation.value == "replace"
    assert (snap.summary["total-records"], snap.summary["total-data-files"]) == ("30", "1")
    assert (snap.summary["deleted-data-files"], snap.summary["added-data-files"]) == ("3", "1")
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == list(range(30))
