"""Snapshot expiry that frees storage, and rollback that shows what it returns to and how to undo it.

The table lives on the local disk (SQLite catalog, file:// warehouse), so "the
files are gone" is checked on the disk itself; one test repeats the expiry on
the PostgreSQL + S3 (moto) lake of test_iceberg_driver.
"""

from __future__ import annotations

import io
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from opsconsole.audit import AuditLog
from opsconsole.cli.run import StdinConfirmer
from opsconsole.drivers.iceberg import ops as iceberg_ops
from opsconsole.drivers.iceberg.driver import IcebergDriver
from opsconsole.runbooks.engine import RunbookEngine
from opsconsole.runbooks.library import load_library
from opsconsole.runbooks.model import StepStatus
from tests.test_iceberg_driver import Lake, _batch, _schema, build, checksum, lake  # noqa: F401


def _files(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_size for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def local(tmp_path: Path) -> tuple[Any, Path, dict[str, Any]]:
    from pyiceberg.catalog.sql import SqlCatalog

    opts = {"catalog_uri": f"sqlite:///{tmp_path}/catalog.db", "catalog_name": "local",
            "warehouse": f"file://{tmp_path}/wh", "tables": ["raw.orders"]}
    catalog = SqlCatalog("local", uri=opts["catalog_uri"], warehouse=opts["warehouse"])
    catalog.create_namespace("raw")
    table = catalog.create_table("raw.orders", schema=_schema())
    for i in range(6):
        table.append(_batch(i * 10, 10))
    return catalog, tmp_path / "wh", opts


async def test_expiry_deletes_only_files_no_live_snapshot_or_tag_needs(local: tuple[Any, Path, dict[str, Any]],
                                                                        tmp_path: Path) -> None:
    catalog, wh, opts = local
    table = catalog.load_table("raw.orders")
    history = sorted(table.metadata.snapshots, key=lambda s: s.sequence_number)
    tagged = history[1]  # two appends: 20 rows, kept by a tag
    table.manage_snapshots().create_tag(tagged.snapshot_id, "audit-2026").commit()
    iceberg_ops.compact(catalog.load_table("raw.orders"))  # the six small files are now only in old snapshots
    before_files = _files(wh)
    before_sum = checksum(catalog.load_table("raw.orders"))
    driver = IcebergDriver("lakehouse", opts)
    try:
        result = await driver.run_action("expire_snapshots", {"table": "raw.orders", "older_than_days": 0})
    finally:
        await driver.close()
    after_files = _files(wh)
    gone = set(before_files) - set(after_files)
    freed = sum(before_files[p] for p in gone)
    assert result.ok and "expired 5 snapshots" in result.message
    assert f"deleted {len(gone)} files" in result.message and f"{freed} bytes freed" in result.message
    deleted_paths = {line.split()[-1].removeprefix("file://") for line in result.output.splitlines()}
    assert deleted_paths == gone and freed > 0
    # data files: 4 of the 6 small ones (the tag still needs the first two), never the compacted one
    data_gone = [p for p in gone if p.endswith(".parquet")]
    assert len(data_gone) == 4
    table = catalog.load_table("raw.orders")
    assert {s.snapshot_id for s in table.metadata.snapshots} == {tagged.snapshot_id,
                                                                 table.current_snapshot().snapshot_id}
    for snap in table.metadata.snapshots:  # every live snapshot still reads, file by file
        table.scan(snapshot_id=snap.snapshot_id).to_arrow()
    assert table.scan(snapshot_id=tagged.snapshot_id).to_arrow().num_rows == 20
    assert checksum(table) == before_sum
    audit = [e for e in AuditLog().read() if e.phase == "file-delete"]
    assert sorted(e.target.removeprefix("file://") for e in audit) == sorted(gone)
    assert all(e.outcome == "ok" and e.params["table"] == "raw.orders" for e in audit)


async def test_expiry_on_s3_frees_objects_and_live_snapshots_read(lake: Lake, tmp_path: Path) -> None:  # noqa: F811
    ident = "raw.shopify_orders"
    iceberg_ops.compact(lake.table(ident))
    table = lake.table(ident)
    old_files = [t.file.file_path for t in table.scan(snapshot_id=table.metadata.snapshots[0].snapshot_id)
                 .plan_files()]
    driver = build(lake, tmp_path)
    try:
        result = await driver.run_action("expire_snapshots", {"table": ident, "older_than_days": 0})
    finally:
        await driver.close()
    table = lake.table(ident)
    assert "expired 6 snapshots" in result.message and "bytes freed" in result.message
    assert not any(table.io.new_input(p).exists() for p in old_files)
    assert all(table.io.new_input(t.file.file_path).exists() for t in table.scan().plan_files())
    assert table.scan().to_arrow().num_rows == 60


async def test_rollback_confirmation_shows_the_target_snapshot(local: tuple[Any, Path, dict[str, Any]]) -> None:
    catalog, _wh, opts = local
    table = catalog.load_table("raw.orders")
    history = iceberg_ops.snapshots(table)
    target, current = history[3], history[0]
    driver = IcebergDriver("iceberg", opts)
    prompts = io.StringIO()
    confirmer = StdinConfirmer(False, stdin=io.StringIO("raw.orders\n"), out=prompts)
    engine = RunbookEngine({"iceberg": driver}, profile="p", confirmer=confirmer, audit=AuditLog())
    runbook = load_library(include_user=False).get("time-travel-rollback")
    params = {"table": "raw.orders", "snapshot_id": target.snapshot_id}
    try:
        results = [r async for r in engine.run(runbook, params) if r.status.final]
    finally:
        await driver.close()
    shown = prompts.getvalue()
    assert f"snapshot {target.snapshot_id}: append committed {target.committed_at:%Y-%m-%d %H:%M:%S} UTC" in shown
    assert "total-records=30" in shown and f"current snapshot {current.snapshot_id}" in shown
    assert shown.index("total-records=30") < shown.index("Type 'raw.orders'")
    assert all(r.status is StepStatus.OK for r in results)
    ends = [e for e in AuditLog().read() if e.phase == "end" and e.ref == "iceberg.rollback"]
    assert f"previous current snapshot {current.snapshot_id}" in ends[-1].message


def test_compactions_succeed_under_a_concurrent_writer(tmp_path: Path) -> None:
    """One append every 0.3 s while three compactions run: all three commit, no append is lost.

    Catalog in the PostgreSQL peer (row-level commit race as in production), data on the local disk.
    """
    from pyiceberg.catalog.sql import SqlCatalog

    from tests.conftest import require_peer

    pg_url = require_peer("OPSC_PG_URL", "PostgreSQL (scripts/peers/postgres.sh)")
    catalog = SqlCatalog(f"conc_{uuid.uuid4().hex[:8]}", uri=pg_url, warehouse=f"file://{tmp_path}/wh")
    catalog.create_namespace("raw")
    ident = "raw.orders"
    table = catalog.create_table(ident, schema=_schema())
    for i in range(6):
        table.append(_batch(i * 10, 10))
    stop = threading.Event()
    appended = {"rows": 0}

    def writer() -> None:
        t = catalog.load_table(ident)
        i = 0
        while not stop.is_set():
            t.append(_batch(10_000 + i * 3, 3))
            appended["rows"] += 3
            i += 1
            time.sleep(0.3)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        results = []
        for _ in range(3):
            time.sleep(0.5)
            results.append(iceberg_ops.compact(catalog.load_table(ident)))
    finally:
        stop.set()
        thread.join(10)
        catalog.engine.dispose()
    table = catalog.load_table(ident)
    assert all(r.files_rewritten >= 2 for r in results)
    assert table.scan().to_arrow().num_rows == 60 + appended["rows"]
    replaces = [s for s in table.metadata.snapshots if s.summary.operation.value == "replace"]
    assert len(replaces) == 3


def test_expire_needs_an_aware_cutoff(local: tuple[Any, Path, dict[str, Any]]) -> None:
    from datetime import datetime

    with pytest.raises(ValueError, match="timezone-aware"):
        iceberg_ops.expire_snapshots(local[0].load_table("raw.orders"), datetime(2020, 1, 1))
    assert os.path.isdir(local[1])
