"""Iceberg driver against a real catalog database (PostgreSQL) and object store (moto S3).

Tables are created with pyiceberg exactly as a writer of the seed-002 pipeline
would, then observed and maintained through the driver built from a profile.
Each test uses its own catalog name and bucket, so tests never see each other's
tables. One test stops PostgreSQL mid-session to prove the driver degrades to
DriverUnavailable (and a CRITICAL catalog row) and recovers when it returns.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsconsole import config
from opsconsole.drivers import driver_class
from opsconsole.drivers.iceberg import compact as compact_mod
from opsconsole.drivers.iceberg import ops as iceberg_ops
from opsconsole.drivers.iceberg.driver import IcebergDriver
from opsconsole.errors import DriverError, DriverUnavailable
from opsconsole.model import Health, Pane
from opsconsole.secret import Secret
from tests.conftest import ROOT, require_peer

pytestmark = pytest.mark.peer("postgres+moto")


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema([("order_id", pa.int64()), ("email", pa.string()), ("total", pa.float64())])


def _batch(start: int, n: int) -> Any:
    import pyarrow as pa

    return pa.table({"order_id": list(range(start, start + n)),
                     "email": [f"c{i}@example.com" for i in range(start, start + n)],
                     "total": [float(i) for i in range(start, start + n)]}, schema=_schema())


class Lake:
    """A seeded catalog: what the pipeline wrote, and how to reach it."""

    def __init__(self, catalog: Any, props: dict[str, str], name: str) -> None:
        self.catalog = catalog
        self.props = props
        self.name = name

    def table(self, ident: str) -> Any:
        return self.catalog.load_table(ident)


@pytest.fixture
def lake() -> Iterator[Lake]:
    pg_url = require_peer("OPSC_PG_URL", "PostgreSQL (scripts/peers/postgres.sh)")
    s3 = require_peer("OPSC_S3_ENDPOINT", "moto S3 (scripts/peers/moto.sh)")
    import boto3
    from pyiceberg.catalog.sql import SqlCatalog

    suffix = uuid.uuid4().hex[:10]
    bucket = f"opsc-ice-{suffix}"
    boto3.client("s3", endpoint_url=s3, aws_access_key_id="test", aws_secret_access_key="test",
                 region_name="us-east-1").create_bucket(Bucket=bucket)
    props = {"uri": pg_url, "warehouse": f"s3://{bucket}/", "s3.endpoint": s3, "s3.access-key-id": "test",
             "s3.secret-access-key": "test", "s3.region": "us-east-1"}
    name = f"cat_{suffix}"
    catalog = SqlCatalog(name, **props)
    for ns in ("raw", "staging"):
        catalog.create_namespace(ns)
    raw = catalog.create_table("raw.shopify_orders", schema=_schema())
    staging = catalog.create_table("staging.stg_shopify_orders", schema=_schema())
    for i in range(6):  # six small appends: six data files, like a streaming writer leaves behind
        raw.append(_batch(i * 10, 10))
    staging.append(_batch(0, 25))
    yield Lake(catalog, props, name)
    catalog.engine.dispose()


def build(lake: Lake, tmp_path: Path, **extra: Any) -> IcebergDriver:
    """The driver as a user gets it: from a profiles.yaml through the strict loader."""
    opts = {"catalog_uri": lake.props["uri"], "catalog_name": lake.name, "warehouse": lake.props["warehouse"],
            "s3_endpoint": lake.props["s3.endpoint"], "s3_access_key": "test", "s3_secret_key": "test",
            "layers": {"raw": "raw.shopify_orders", "staging": "staging.stg_shopify_orders"}, **extra}
    import yaml

    path = tmp_path / "profiles.yaml"
    path.write_text(yaml.safe_dump({"profiles": {"t": {"drivers": {"lakehouse": {
        "type": "iceberg", "timeout": 20, "options": opts}}}}}))
    spec = config.load(path).profile("t").drivers[0]
    assert isinstance(spec.options["s3_secret_key"], Secret)
    return driver_class(spec.kind)(spec.name, spec.options, timeout=spec.timeout)  # type: ignore[return-value]


async def test_table_stats_match_what_was_written(lake: Lake, tmp_path: Path) -> None:
    driver = build(lake, tmp_path)
    try:
        stats = {s.name: s for s in await driver.table_stats()}
    finally:
        await driver.close()
    raw, stg = stats["raw.shopify_orders"], stats["staging.stg_shopify_orders"]
    files = lake.table("raw.shopify_orders").inspect.files()
    assert raw.file_count == files.num_rows == 6
    assert raw.size_bytes == sum(files.column("file_size_in_bytes").to_pylist())
    assert (raw.row_count, raw.snapshot_count, raw.layer) == (60, 6, "raw")
    assert (stg.file_count, stg.row_count, stg.snapshot_count, stg.layer) == (1, 25, 1, "staging")
    assert raw.last_commit is not None and datetime.now(UTC) - raw.last_commit < timedelta(minutes=5)
    assert raw.source == "lakehouse"


async def test_without_a_table_list_every_table_is_discovered(lake: Lake, tmp_path: Path) -> None:
    driver = build(lake, tmp_path, layers={})
    try:
        stats = await driver.table_stats()
    finally:
        await driver.close()
    assert sorted(s.name for s in stats) == ["raw.shopify_orders", "staging.stg_shopify_orders"]
    assert {s.layer for s in stats} == {"raw", "staging"}


async def test_layer_lag_is_raw_minus_staging_rows(lake: Lake, tmp_path: Path) -> None:
    driver = build(lake, tmp_path)
    try:
        [sample] = await driver.lag()
        lake.table("staging.stg_shopify_orders").append(_batch(25, 35))
        [caught_up] = await driver.lag()
    finally:
        await driver.close()
    assert (sample.unit, sample.upstream, sample.downstream, sample.lag) == ("rows", 60, 25, 35)
    assert sample.name == "raw -> staging"
    assert caught_up.lag == 0


def checksum(table: Any) -> tuple[int, str]:
    """Row count and a digest of the table's content, independent of file layout and row order."""
    rows = table.scan().to_arrow().sort_by("order_id").to_pylist()
    return len(rows), hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


async def test_compact_commits_one_replace_snapshot_invisible_to_incremental_readers(lake: Lake,
                                                                                     tmp_path: Path) -> None:
    ident = "raw.shopify_orders"
    table = lake.table(ident)
    before = checksum(table)
    head = table.current_snapshot().snapshot_id
    snapshots_before = len(table.metadata.snapshots)
    driver = build(lake, tmp_path)
    try:
        result = await driver.run_action("compact", {"table": ident})
        stats = {s.name: s for s in await driver.table_stats()}
        again = await driver.run_action("compact", {"table": ident})
    finally:
        await driver.close()
    table = lake.table(ident)
    assert result.ok and "6 -> 1 data files" in result.message and "replace snapshot" in result.message
    assert len(table.metadata.snapshots) == snapshots_before + 1, "exactly one new snapshot"
    new = table.current_snapshot()
    assert new.parent_snapshot_id == head and new.summary.operation.value == "replace"
    assert checksum(table) == before
    assert (stats[ident].file_count, stats[ident].row_count) == (1, 60)
    # An incremental reader that consumed up to `head` finds nothing new after the compaction.
    assert table.incremental_append_scan(from_snapshot_id_exclusive=head).to_arrow().num_rows == 0
    assert "nothing to compact" in again.message


def test_compaction_bins_toward_the_target_size(lake: Lake) -> None:
    """A target of ~2 files' bytes rewrites 6 small files bin by bin, still in one snapshot."""
    from opsconsole.drivers.iceberg.compact import plan_bins

    table = lake.table("raw.shopify_orders")
    sizes = [f.file.file_size_in_bytes for f in table.scan().plan_files()]
    target = int(max(sizes) * 2.5)
    assert [len(b) for b in plan_bins(list(table.scan().plan_files()), target)] == [2, 2, 2]
    before, count = checksum(table), len(table.metadata.snapshots)
    result = iceberg_ops.compact(table, target_bytes=target)
    table = lake.table("raw.shopify_orders")
    assert (result.bins, result.files_rewritten, result.files_after) == (3, 6, 3)
    assert len(table.metadata.snapshots) == count + 1 and checksum(table) == before


def test_compaction_restarts_from_a_fresh_snapshot_when_its_files_are_deleted(lake: Lake) -> None:
    """Another writer deletes rows (rewriting a binned file) between planning and commit: retry, lose nothing."""
    table = lake.table("raw.shopify_orders")
    other_writer = lake.table("raw.shopify_orders")
    real_scan = table.scan
    calls = {"n": 0}

    def scan_then_someone_deletes(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            other_writer.delete("order_id < 5")
        return real_scan(*args, **kwargs)

    table.scan = scan_then_someone_deletes  # type: ignore[method-assign]
    result = iceberg_ops.compact(table)
    fresh = lake.table("raw.shopify_orders")
    assert result.attempts == 2
    assert fresh.scan().to_arrow().num_rows == 55
    assert fresh.current_snapshot().summary.operation.value == "replace"
    assert len(fresh.inspect.files()) == 1


def test_compaction_gives_up_in_plain_words(lake: Lake) -> None:
    table = lake.table("raw.shopify_orders")
    other_writer = lake.table("raw.shopify_orders")
    real_scan = table.scan
    state = {"next": 0}

    def scan_then_someone_deletes(*args: Any, **kwargs: Any) -> Any:
        other_writer.delete(f"order_id = {state['next']}")
        state["next"] += 10  # one row in a different file each time
        return real_scan(*args, **kwargs)

    table.scan = scan_then_someone_deletes  # type: ignore[method-assign]
    with pytest.raises(iceberg_ops.CompactionConflict, match=r"gave up after 2 attempts.*Nothing was changed"):
        compact_mod.compact(table, retries=1, backoff_s=0.01)
    assert all(s.summary.operation.value != "replace" for s in lake.table("raw.shopify_orders").metadata.snapshots)


async def test_rollback_restores_an_earlier_snapshot(lake: Lake, tmp_path: Path) -> None:
    driver = build(lake, tmp_path)
    ident = "raw.shopify_orders"
    history = iceberg_ops.snapshots(lake.table(ident))
    third = history[3]  # newest first: the state after three appends
    try:
        listing = await driver.run_action("snapshots", {"table": ident})
        result = await driver.run_action("rollback", {"table": ident, "snapshot_id": str(third.snapshot_id)})
        stats = {s.name: s for s in await driver.table_stats()}
        undo = await driver.run_action("rollback", {"table": ident, "snapshot_id": history[0].snapshot_id})
    finally:
        await driver.close()
    assert listing.message == f"{ident}: 6 snapshots"
    assert all(str(s.snapshot_id) in listing.output for s in history)
    assert result.ok and str(third.snapshot_id) in result.message
    assert f"previous current snapshot {history[0].snapshot_id}" in result.message  # recorded for the audit: undo
    assert stats[ident].row_count == 30
    assert stats[ident].file_count == 3
    # The undo: the snapshot current before the rollback is off the history now, and the table is set back to it.
    assert undo.ok and f"previous current snapshot {third.snapshot_id}" in undo.message
    assert lake.table(ident).current_snapshot().snapshot_id == history[0].snapshot_id
    assert lake.table(ident).scan().to_arrow().num_rows == 60


async def test_expire_snapshots_keeps_recent_and_current(lake: Lake, tmp_path: Path) -> None:
    driver = build(lake, tmp_path)
    ident = "raw.shopify_orders"
    oldest = iceberg_ops.snapshots(lake.table(ident))[-1]
    try:
        week = await driver.run_action("expire_snapshots", {"table": ident, "older_than_days": 7})
        after_week = {s.name: s for s in await driver.table_stats()}[ident]
        now = await driver.run_action("expire_snapshots", {"table": ident, "older_than_days": "0"})
        after_now = {s.name: s for s in await driver.table_stats()}[ident]
        with pytest.raises(DriverError, match="not in the table's history"):
            await driver.run_action("rollback", {"table": ident, "snapshot_id": oldest.snapshot_id})
    finally:
        await driver.close()
    assert "expired 0 snapshots" in week.message and after_week.snapshot_count == 6
    assert "expired 5 snapshots" in now.message and after_now.snapshot_count == 1
    assert after_now.row_count == 60


async def test_unknown_table_is_an_error_naming_it(lake: Lake, tmp_path: Path) -> None:
    driver = build(lake, tmp_path)
    try:
        with pytest.raises(DriverError, match=r"raw\.nope does not exist"):
            await driver.run_action("snapshots", {"table": "raw.nope"})
        with pytest.raises(DriverError, match=r"namespace\.table"):
            await driver.run_action("compact", {"table": "no_namespace"})
    finally:
        await driver.close()


def _pg(action: str) -> None:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "OPSCONSOLE_PEERS_ENV": "/dev/null"}
    subprocess.run(["bash", str(ROOT / "scripts" / "peers" / "postgres.sh"), action], check=True, env=env,
                   timeout=60, capture_output=True)


async def test_catalog_database_down_then_back(lake: Lake, tmp_path: Path) -> None:
    require_peer("OPSC_PG_DATA", "PostgreSQL data directory (scripts/peers/postgres.sh)")
    driver = build(lake, tmp_path)
    try:
        assert len(await driver.table_stats()) == 2
        [up] = await driver.health()
        assert up.health is Health.OK
        _pg("stop")
        try:
            with pytest.raises(DriverUnavailable):
                await driver.table_stats()
            [down] = await driver.health()
            assert down.health is Health.CRITICAL and "unreachable" in down.detail
        finally:
            _pg("start")
        assert {s.row_count for s in await driver.table_stats()} == {60, 25}
        [back] = await driver.health()
        assert back.health is Health.OK
    finally:
        await driver.close()


async def test_local_storage_and_sqlite_catalog(tmp_path: Path) -> None:
    """The laptop setup: SQL catalog in SQLite, warehouse on the local disk (no peer needed)."""
    from pyiceberg.catalog.sql import SqlCatalog

    uri = f"sqlite:///{tmp_path}/catalog.db"
    catalog = SqlCatalog("local", uri=uri, warehouse=f"file://{tmp_path}/wh")
    catalog.create_namespace("raw")
    table = catalog.create_table("raw.events", schema=_schema())
    table.append(_batch(0, 3))
    table.append(_batch(3, 4))
    driver = IcebergDriver("lake", {"catalog_uri": uri, "catalog_name": "local", "tables": ["raw.events"]})
    try:
        [stats] = await driver.table_stats()
        result = await driver.run_action("compact", {"table": "raw.events"})
    finally:
        await driver.close()
    assert (stats.file_count, stats.row_count, stats.layer) == (2, 7, "raw")
    assert "2 -> 1 data files" in result.message


def test_actions_say_what_they_do_to_data() -> None:
    specs = {a.name: a for a in IcebergDriver.actions}
    assert not specs["snapshots"].mutating
    assert specs["rollback"].irreversible and specs["rollback"].dangerous
    assert specs["expire_snapshots"].irreversible
    assert specs["compact"].mutating and not specs["compact"].irreversible
    assert Pane.TABLES in IcebergDriver.panes and Pane.LAG in IcebergDriver.panes


def test_shipped_profile_options_validate(tmp_path: Path) -> None:
    """The iceberg-local profile's lakehouse/compose/health sections match the declared options."""
    import yaml

    raw = yaml.safe_load((ROOT / "profiles.yaml").read_text())["profiles"]["iceberg-local"]
    mine = {k: v for k, v in raw["drivers"].items() if v["type"] in {"iceberg", "docker", "http"}}
    path = tmp_path / "profiles.yaml"
    path.write_text(textwrap.dedent(yaml.safe_dump({"profiles": {"p": {"drivers": mine}}})))
    profile = config.load(path).profile("p")
    assert {d.kind for d in profile.drivers} == {"iceberg", "docker", "http"}
    lake = next(d for d in profile.drivers if d.kind == "iceberg")
    assert isinstance(lake.options["s3_secret_key"], Secret)


async def test_catalog_password_is_used_but_never_shown() -> None:
    """A SQL catalog whose database is down: the row says so without echoing the secret."""
    driver = IcebergDriver("lake", {"catalog_uri": "postgresql+psycopg2://opsc@127.0.0.1:9/iceberg",
                                    "catalog_password": Secret("hunter2-secret")}, timeout=5)
    assert "opsc:hunter2-secret@127.0.0.1:9" in driver._catalog_properties()["uri"]
    try:
        [row] = await driver.health()
        with pytest.raises(DriverUnavailable) as caught:
            await driver.table_stats()
    finally:
        await driver.close()
    assert row.health is Health.CRITICAL and "127.0.0.1" in row.detail
    assert "hunter2" not in row.detail and "hunter2" not in str(caught.value)


async def test_object_storage_down_is_unavailable_not_a_hang(lake: Lake, tmp_path: Path) -> None:
    """MinIODown: the catalog answers but table metadata cannot be read from storage."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    driver = build(lake, tmp_path, s3_endpoint=dead)
    try:
        [catalog_row] = await driver.health()
        with pytest.raises(DriverUnavailable) as caught:
            await driver.table_stats()
    finally:
        await driver.close()
    assert catalog_row.health is Health.OK  # the SQL catalog itself is fine
    assert "shopify_orders" in str(caught.value)
