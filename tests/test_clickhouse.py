"""ClickHouse driver against a real server (scripts/peers/clickhouse.sh, Debian's clickhouse-server).

The Queries pane must show what ``system.query_log`` recorded (same ids,
status, duration, rows and error), the Tables pane what ``system.parts`` holds,
and the "too many parts" rule must fire from those rows through
:func:`opsconsole.monitor.rules.evaluate`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from opsconsole.drivers import driver_class
from opsconsole.drivers.clickhouse import ClickHouseDriver
from opsconsole.errors import AuthError
from opsconsole.model import Health, Pane, PaneResult, TableStats
from opsconsole.monitor.rules import evaluate
from opsconsole.secret import Secret
from tests.conftest import require_peer


def _url() -> str:
    return require_peer("OPSC_CLICKHOUSE", "ClickHouse HTTP interface (scripts/peers/clickhouse.sh)")


def _sql(url: str, sql: str, query_id: str | None = None) -> httpx.Response:
    params = {"query_id": query_id} if query_id else {}
    return httpx.post(f"{url}/", params=params, content=sql.encode(), timeout=30)


def _rows(url: str, sql: str) -> list[dict]:
    response = _sql(url, sql + " FORMAT JSONEachRow")
    response.raise_for_status()
    return [json.loads(line) for line in response.text.splitlines() if line]


async def test_registered_as_clickhouse() -> None:
    assert driver_class("clickhouse") is ClickHouseDriver


async def test_health_reports_version_and_dead_server_is_critical() -> None:
    url = _url()
    version = _sql(url, "SELECT version()").text.strip()
    driver = ClickHouseDriver("ch", {"url": url})
    dead = ClickHouseDriver("ch-dead", {"url": "http://127.0.0.1:1"}, timeout=2)
    try:
        [row] = await driver.health()
        assert row.health == Health.OK and version in row.detail and row.latency_ms is not None
        [down] = await dead.health()
        assert down.health == Health.CRITICAL and "cannot reach ClickHouse" in down.detail
    finally:
        await driver.close()
        await dead.close()


async def test_read_only_user_with_password_and_a_wrong_password() -> None:
    """Production watches ClickHouse as a read-only user with a password (peer user opsc_ro)."""
    url = _url()
    good = ClickHouseDriver("ch", {"url": url, "user": "opsc_ro", "password": Secret("opsc-ro-secret")})
    bad = ClickHouseDriver("ch", {"url": url, "user": "opsc_ro", "password": Secret("not-the-password-42")})
    try:
        [ok] = await good.health()
        assert await good.query_history(limit=5) is not None
        [rejected] = await bad.health()
        with pytest.raises(AuthError, match="rejected the credentials"):
            await bad.table_stats()
    finally:
        await good.close()
        await bad.close()
    assert ok.health is Health.OK
    assert rejected.health is Health.CRITICAL and "Wrong password" in rejected.detail
    assert "not-the-password-42" not in rejected.detail


async def test_query_history_matches_system_query_log() -> None:
    url = _url()
    tag = uuid.uuid4().hex[:8]
    table = f"default.qh_{tag}"
    ids = {name: f"t-{tag}-{name}" for name in ("create", "insert", "select", "bad", "sleep")}
    _sql(url, f"CREATE TABLE {table} (d Date, x UInt64) ENGINE = MergeTree(d, x, 8192)", ids["create"])
    _sql(url, f"INSERT INTO {table} SELECT today(), number FROM system.numbers LIMIT 1234", ids["insert"])
    _sql(url, f"SELECT x FROM {table} WHERE x % 2 = 0", ids["select"])
    assert _sql(url, f"SELECT no_such_column FROM {table}", ids["bad"]).status_code >= 400
    _sql(url, "SELECT sleep(0.3)", ids["sleep"])
    _sql(url, "SYSTEM FLUSH LOGS")
    driver = ClickHouseDriver("ch", {"url": url})
    try:
        records = {r.query_id: r for r in await driver.query_history(limit=200) if r.query_id in ids.values()}
    finally:
        await driver.close()
    quoted = ", ".join(f"'{i}'" for i in ids.values())
    logged = _rows(url, "SELECT query_id, toInt8(type) AS type, query_duration_ms, written_rows, result_rows, "
                        f"exception FROM system.query_log WHERE query_id IN ({quoted}) AND toInt8(type) != 1")
    assert len(logged) == len(ids)
    assert set(records) == {row["query_id"] for row in logged}
    for row in logged:
        rec = records[row["query_id"]]
        assert rec.status == ("FINISHED" if row["type"] == 2 else "FAILED")
        assert rec.duration_ms == float(row["query_duration_ms"])
        assert rec.rows == (int(row["written_rows"]) or int(row["result_rows"]))
        assert rec.error == row["exception"]
    assert records[ids["insert"]].rows == 1234
    assert records[ids["select"]].rows == 617
    assert records[ids["bad"]].status == "FAILED" and "no_such_column" in records[ids["bad"]].error
    assert records[ids["sleep"]].duration_ms >= 300
    # The console's own polls never appear in the history it shows.
    assert not any(r.query_id.startswith("opsconsole-") for r in await _history(url))


async def _history(url: str) -> list:
    _sql(url, "SYSTEM FLUSH LOGS")
    driver = ClickHouseDriver("ch", {"url": url})
    try:
        return await driver.query_history()
    finally:
        await driver.close()


async def test_parts_per_table_and_too_many_parts_alert() -> None:
    url = _url()
    table = f"parts_{uuid.uuid4().hex[:8]}"
    _sql(url, f"CREATE TABLE default.{table} (d Date, x UInt64) ENGINE = MergeTree(d, x, 8192)").raise_for_status()
    _sql(url, f"SYSTEM STOP MERGES default.{table}").raise_for_status()
    for i in range(6):  # one part per insert, merges stopped: 6 parts in one partition
        _sql(url, f"INSERT INTO default.{table} VALUES (today(), {i})").raise_for_status()
    _sql(url, f"INSERT INTO default.{table} VALUES ('2020-01-01', 99)").raise_for_status()
    driver = ClickHouseDriver("ch", {"url": url})
    try:
        rows = {r.name: r for r in await driver.table_stats()}
        truth = _rows(url, f"SELECT count() AS parts, sum(rows) AS rows FROM system.parts "
                           f"WHERE active AND database = 'default' AND table = '{table}'")[0]
    finally:
        await driver.close()
        _sql(url, f"SYSTEM START MERGES default.{table}")
    row = rows[f"default.{table}"]
    assert row.file_count == int(truth["parts"]) == 7
    assert row.row_count == int(truth["rows"]) == 7
    assert row.extra["max_partition_parts"] == 6
    now = datetime.now(UTC)
    result = {Pane.TABLES: PaneResult(pane=Pane.TABLES, rows=tuple(rows.values()), errors={}, polled_at=now,
                                           duration_ms=1.0)}
    fired = evaluate(result, {"clickhouse_parts_max": 5, "table_files_max": 1}, now, drivers=[driver])
    mine = [a for a in fired if a.subject == f"default.{table}"]
    assert [a.rule for a in mine] == ["ClickHouseTooManyParts"], "Iceberg's compaction rule must not fire here"
    assert "6 active parts" in mine[0].message
    assert not [a for a in evaluate(result, {"clickhouse_parts_max": 6}, now, drivers=[driver])
                if a.subject == f"default.{table}"]


async def test_replication_backlog_per_replica() -> None:
    """Two replicas of one ReplicatedMergeTree table (peer's ZooKeeper); one stops fetching and falls behind."""
    url = _url()
    tag = uuid.uuid4().hex[:8]
    path = f"/clickhouse/tables/opsc_{tag}"
    a, b = f"default.rep_a_{tag}", f"default.rep_b_{tag}"
    for table, replica in ((a, "ra"), (b, "rb")):
        _sql(url, f"CREATE TABLE {table} (d Date, x UInt64) ENGINE = "
                  f"ReplicatedMergeTree('{path}', '{replica}', d, x, 8192)").raise_for_status()
    driver = ClickHouseDriver("ch", {"url": url, "replica_delay_s_max": 1})
    try:
        _sql(url, f"SYSTEM STOP FETCHES {b}").raise_for_status()
        for i in range(3):
            _sql(url, f"INSERT INTO {a} VALUES (today(), {i})").raise_for_status()
        await asyncio.sleep(2.5)
        behind = {r.name: r for r in await driver.health()}
        _sql(url, f"SYSTEM START FETCHES {b}").raise_for_status()
        for _ in range(40):
            caught_up = {r.name: r for r in await driver.health()}
            if caught_up[f"ch/{b} replica"].extra["replication_queue"] == 0:
                break
            await asyncio.sleep(0.25)
    finally:
        await driver.close()
        for table in (a, b):
            _sql(url, f"DROP TABLE IF EXISTS {table}")
    lagging = behind[f"ch/{b} replica"]
    assert lagging.health is Health.WARNING and lagging.extra["replication_queue"] == 3
    assert "queue 3 (3 inserts" in lagging.detail and "behind (> 1 s)" in lagging.detail
    assert behind[f"ch/{a} replica"].health is Health.OK
    assert caught_up[f"ch/{b} replica"].health is Health.OK


def test_too_many_parts_rule_ignores_other_engines() -> None:
    now = datetime.now(UTC)
    iceberg = TableStats(name="raw.orders", file_count=900, source="lake")
    ch = TableStats(name="db.t", file_count=400, source="ch", extra={"engine": "clickhouse", "max_partition_parts": 200,
                                                                     "busiest_partition": "202611"})
    result = {Pane.TABLES: PaneResult(Pane.TABLES, (iceberg, ch), {}, now, 1.0)}
    lake = driver_class("iceberg")("lake", {"catalog_uri": "http://127.0.0.1:9"})
    fired = evaluate(result, {}, now, drivers=[lake, ClickHouseDriver("ch", {"url": "http://127.0.0.1:9"})])
    assert [(a.rule, a.subject) for a in fired if a.subject == "db.t"] == [("ClickHouseTooManyParts", "db.t")]
    assert [(a.rule, a.subject) for a in fired if a.subject == "raw.orders"] == [("TableNeedsCompaction", "raw.orders")]
    assert "partition 202611" in fired[0].message


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
