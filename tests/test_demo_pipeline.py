"""The embedded demo: every figure the driver reports matches the real files and tables.

These tests run the real demo engine process (HTTP API, pyiceberg on SQLite,
DuckDB) with short intervals and compare what the driver says with what is on
disk, read independently.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opsconsole.drivers.demo import DemoDriver
from opsconsole.model import Health, Pane
from opsconsole.monitor.poll import poll
from opsconsole.monitor.rules import evaluate


async def wait_for(predicate, timeout: float = 20.0, step: float = 0.25):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[DemoDriver]:
    driver = DemoDriver("pipeline", {"data_dir": str(tmp_path / "demo"), "batch_interval": 0.5, "batch_size": 3,
                                     "transform_interval": 1, "autostart": True}, timeout=15)
    await driver.connect()
    assert await driver.wait_ready(20)
    yield driver
    await driver.close()


def disk_truth(root: Path) -> dict[str, int]:
    """Independent reads of the demo's files: Iceberg via a fresh catalog, DuckDB read-only."""
    import duckdb
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("demo", uri=f"sqlite:///{root / 'catalog.db'}", warehouse=(root / "warehouse").as_uri())
    table = catalog.load_table("raw.orders")
    files = table.inspect.files()
    rows = table.scan().to_arrow().num_rows
    data_dir = root / "warehouse" / "raw" / "orders" / "data"
    live_paths = {p.removeprefix("file://") for p in files["file_path"].to_pylist()}
    assert all(Path(p).exists() for p in live_paths)
    assert all(str(Path(p).parent) == str(data_dir) for p in live_paths)
    for _ in range(20):
        try:
            con = duckdb.connect(str(root / "staging.duckdb"), read_only=True)
            break
        except duckdb.Error:
            import time

            time.sleep(0.1)
    staged = con.execute("SELECT count(*) FROM stg_orders").fetchone()[0]
    con.close()
    return {"files": files.num_rows, "rows": rows, "snapshots": len(table.snapshots()), "staged": staged}


async def test_figures_match_the_real_tables_on_disk(demo: DemoDriver) -> None:
    async def has_data() -> bool:
        stats = await demo.table_stats()
        return bool(stats[0].file_count and stats[0].file_count >= 3 and stats[1].row_count)

    await wait_for(has_data)
    faults = demo.paths
    (faults.fault_flag("stop-ingestion")).touch()  # freeze the figures while we compare
    await asyncio.sleep(1.5)
    stats = {s.name: s for s in await demo.table_stats()}
    truth = await asyncio.to_thread(disk_truth, demo.paths.root)
    raw = stats["raw.orders"]
    assert raw.file_count == truth["files"]
    assert raw.row_count == truth["rows"]
    assert raw.snapshot_count == truth["snapshots"]
    assert stats["staging.stg_orders"].row_count == truth["staged"]
    lag = {s.name: s for s in await demo.lag()}
    assert lag["raw→staging"].upstream == truth["rows"] and lag["raw→staging"].downstream == truth["staged"]
    assert lag["raw→staging"].lag == truth["rows"] - truth["staged"]


async def test_query_history_is_the_queries_the_demo_ran(demo: DemoDriver) -> None:
    await wait_for(lambda: _has(demo.query_history, lambda q: any(r.text.startswith("INSERT") for r in q)))
    queries = await demo.query_history()
    logged = [json.loads(line) for line in demo.paths.queries_log.read_text().splitlines()]
    assert {q.query_id for q in queries} <= {e["query_id"] for e in logged}
    by_id = {e["query_id"]: e for e in logged}
    for q in queries:
        assert q.duration_ms == by_id[q.query_id]["duration_ms"] and q.text == by_id[q.query_id]["sql"]
    runs = await wait_for(demo.job_runs)  # the run is logged when the transform ends, after its queries
    assert runs[0].state == "success" and runs[0].job == "transform"


async def _settled(demo: DemoDriver) -> bool:
    """True once raw.orders stops changing (no commit for 1.5 s)."""
    before = (await demo.table_stats())[0].snapshot_count
    await asyncio.sleep(1.5)
    demo._cache.clear()
    return (await demo.table_stats())[0].snapshot_count == before


async def _has(method, check) -> bool:  # type: ignore[no-untyped-def]
    return bool(check(await method()))


async def test_stop_http_fault_shows_in_one_poll_and_recovers(demo: DemoDriver) -> None:
    rows = {r.name: r for r in await demo.health()}
    assert rows["ingestion-api"].health == Health.OK
    await demo.run_action("fault-stop-http", {})
    await asyncio.sleep(1.2)  # the engine checks flags every 0.5 s
    rows = {r.name: r for r in await demo.health()}
    assert rows["ingestion-api"].health == Health.CRITICAL and "unreachable" in rows["ingestion-api"].detail
    await demo.run_action("clear-faults", {})
    await wait_for(lambda: _has(demo.health, lambda r: {x.name: x for x in r}["ingestion-api"].health == Health.OK))


async def test_hold_lock_fault_names_the_holder_process(demo: DemoDriver) -> None:
    await demo.run_action("fault-hold-lock", {})
    rows = await wait_for(lambda: _has(demo.health, lambda r: {x.name: x for x in r}["staging-duckdb"].health
                                       == Health.CRITICAL), timeout=10)
    rows = {r.name: r for r in await demo.health()}
    state = demo.paths.read_state()
    assert f"locked by pid {state['pid']}" in rows["staging-duckdb"].detail
    assert "opsconsole.demo.engine" in rows["staging-duckdb"].detail
    result = await poll(Pane.TABLES, [demo])
    assert "locked by pid" in result.errors["pipeline"]
    await demo.run_action("clear-faults", {})
    await wait_for(lambda: _has(demo.health, lambda r: {x.name: x for x in r}["staging-duckdb"].health == Health.OK))


async def test_hold_lock_fault_is_seen_without_a_lock_table(demo: DemoDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS and Windows have no /proc/locks: the console must open staging.duckdb to see the lock, not trust
    the engine's run record (its transform goes on succeeding while it holds the lock)."""
    from opsconsole.drivers.duckdb import lock

    monkeypatch.setattr(lock, "LOCK_TABLE_READABLE", False)
    monkeypatch.setattr(lock, "holders_from_proc_locks", lambda _path: [])
    await wait_for(lambda: _has(demo.health, lambda r: {x.name: x for x in r}["staging-duckdb"].health == Health.OK))
    await demo.run_action("fault-hold-lock", {})
    await wait_for(lambda: _has(demo.health, lambda r: {x.name: x for x in r}["staging-duckdb"].health
                                == Health.CRITICAL), timeout=15)
    result = await poll(Pane.TABLES, [demo])
    assert "lock" in result.errors["pipeline"].lower()
    await demo.run_action("clear-faults", {})


async def test_flood_raises_compaction_alert_and_compaction_clears_it(demo: DemoDriver) -> None:
    await demo.run_action("fault-flood-small-files", {})

    async def flooded() -> bool:
        return (await demo.table_stats())[0].file_count >= 60

    await wait_for(flooded, timeout=40)
    await demo.run_action("fault-stop-ingestion", {})
    await wait_for(lambda: _settled(demo))  # events already buffered by the API still get written
    tables = await poll(Pane.TABLES, [demo])
    alerts = evaluate({Pane.TABLES: tables}, {"table_files_max": 50})
    assert [a.rule for a in alerts] == ["TableNeedsCompaction"] and alerts[0].subject == "raw.orders"
    rows_before = tables.rows[0].row_count
    result = await demo.run_action("compact", {"table": "raw.orders"})
    assert result.ok
    await asyncio.sleep(0.7)
    after = (await demo.table_stats())[0]
    truth = await asyncio.to_thread(disk_truth, demo.paths.root)
    assert after.file_count == truth["files"] == 1 and after.row_count >= rows_before
    assert not evaluate({Pane.TABLES: await poll(Pane.TABLES, [demo])}, {"table_files_max": 50})


async def test_stop_ingestion_makes_raw_freshness_grow(demo: DemoDriver) -> None:
    await wait_for(lambda: _has(demo.lag, lambda s: any(x.name == "raw freshness" for x in s)))
    await demo.run_action("fault-stop-ingestion", {})
    await asyncio.sleep(2.5)
    first = {s.name: s for s in await demo.lag()}["raw freshness"].lag
    await asyncio.sleep(1.5)
    second = {s.name: s for s in await demo.lag()}["raw freshness"].lag
    assert second >= first + 1.0 and first >= 1.5


async def test_dead_engine_shows_critical_not_crash(demo: DemoDriver) -> None:
    pid = demo.paths.read_state()["pid"]
    os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(0.5)
    rows = {r.name: r for r in await demo.health()}
    assert rows["demo-engine"].health == Health.CRITICAL
    assert rows["ingestion-api"].health == Health.CRITICAL


async def test_two_consoles_share_one_engine_and_the_last_one_out_stops_it(tmp_path: Path) -> None:
    """The engine is referenced by the consoles' shared lock, not by the one that started it."""
    from opsconsole.drivers.demo import DemoDriver

    options = {"data_dir": str(tmp_path / "demo"), "batch_interval": 0.5, "transform_interval": 1}
    first, second = DemoDriver("pipeline", options, timeout=20), DemoDriver("pipeline", options, timeout=20)
    await first.connect()
    pid = first.engine_pid()
    assert pid is not None
    await second.connect()
    assert second.engine_pid() == pid  # joined, not a second engine
    await first.close()  # the console that started it quits
    await asyncio.sleep(2)
    rows = {r.name: r for r in await second.health()}
    assert rows["demo-engine"].health is Health.OK and second.engine_pid() == pid
    await second.close()  # the last one out
    await wait_for(lambda: asyncio.sleep(0, result=not Path(f"/proc/{pid}").exists()
                                         or "zombie" in Path(f"/proc/{pid}/status").read_text()), timeout=15)


async def test_a_dead_engine_is_restarted_and_a_deleted_data_dir_is_not_a_lock(tmp_path: Path) -> None:
    import shutil
    import signal

    from opsconsole.drivers.demo import DemoDriver

    demo = DemoDriver("pipeline", {"data_dir": str(tmp_path / "demo"), "batch_interval": 0.5,
                                   "transform_interval": 1}, timeout=20)
    demo.RESTART_EVERY = 0.0
    await demo.connect()
    try:
        pid = demo.engine_pid()
        assert pid is not None
        shutil.rmtree(tmp_path / "demo")  # someone deleted the data dir under a running demo
        rows = {r.name: r for r in await demo.health()}
        assert "does not exist" in rows["staging-duckdb"].detail and "locked" not in rows["staging-duckdb"].detail
        await wait_for(lambda: asyncio.sleep(0, result=demo.engine_pid() not in (None, pid)), timeout=30)
        os.kill(demo.engine_pid(), signal.SIGKILL)  # and it crashes
        await asyncio.sleep(0.5)
        rows = {r.name: r for r in await demo.health()}
        assert rows["demo-engine"].health is Health.CRITICAL and "restarting it" in rows["demo-engine"].detail
        await wait_for(lambda: _has(demo.health, lambda r: {x.name: x for x in r}["demo-engine"].health
                                    == Health.OK), timeout=30)
        assert demo.restarts >= 1
    finally:
        await demo.close()
