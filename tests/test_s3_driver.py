"""S3 lake driver against moto's real S3 server (scripts/peers/moto.sh).

Every test uses its own bucket names: the moto server is shared, so nothing
here resets it.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from opsconsole.drivers.s3 import S3Driver
from opsconsole.model import Health

pytestmark = pytest.mark.peer("moto")


@pytest.fixture
def endpoint() -> str:
    from tests.conftest import require_peer

    return require_peer("OPSC_S3_ENDPOINT", "S3 (moto server)")


@pytest.fixture
def s3(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture
def lake(s3: Any) -> Iterator[str]:
    bucket = f"osaa-mvp-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=f"{bucket}-backup")
    yield bucket
    for name in (bucket, f"{bucket}-backup"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])
        s3.delete_bucket(Bucket=name)


def make_driver(endpoint: str, bucket: str, **options: Any) -> S3Driver:
    opts = {"bucket": bucket, "endpoint": endpoint, "access_key": "test", "secret_key": "test"}
    opts.update(options)
    driver = S3Driver("lake", opts, timeout=10)
    driver.listing_ttl = 0  # type: ignore[misc] - every call sees the bucket as it is now
    return driver


def put(s3: Any, bucket: str, key: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def read(s3: Any, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def keys(s3: Any, bucket: str, prefix: str = "") -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


async def test_objects_per_environment_layer_and_dataset(endpoint: str, s3: Any, lake: str) -> None:
    put(s3, lake, "dev/landing/sdg/2023.parquet", b"x" * 1000)
    put(s3, lake, "dev/landing/sdg/2024.parquet", b"x" * 500)
    put(s3, lake, "dev/landing/wdi/all.parquet", b"y" * 70)
    put(s3, lake, "dev/staging/master/indicators.parquet", b"z" * 300)
    put(s3, lake, "prod/staging/master/indicators.parquet", b"p" * 200)
    put(s3, lake, "scratch/not-an-environment.txt", b"ignored")
    driver = make_driver(endpoint, lake)
    try:
        tables = {t.name: t for t in await driver.table_stats()}
        rows = {r.name: r for r in await driver.health()}
    finally:
        await driver.close()
    assert set(tables) == {"dev/landing/sdg", "dev/landing/wdi", "dev/staging/master", "prod/staging/master"}
    assert (tables["dev/landing/sdg"].file_count, tables["dev/landing/sdg"].size_bytes) == (2, 1500)
    assert tables["dev/landing/sdg"].layer == "dev landing"
    assert tables["prod/staging/master"].size_bytes == 200
    assert tables["dev/landing/sdg"].last_commit is not None
    assert rows[f"s3://{lake}"].health is Health.OK
    assert rows[f"s3://{lake}"].latency_ms is not None
    assert rows["s3 dev"].extra["landing_objects"] == 3 and rows["s3 dev"].extra["landing_bytes"] == 1570
    assert "landing 3 objects" in rows["s3 dev"].detail
    assert rows["s3 qa"].extra["staging_objects"] == 0
    assert rows[f"s3://{lake}-backup"].health is Health.OK


async def test_missing_bucket_and_missing_backup_bucket(endpoint: str, s3: Any) -> None:
    name = f"osaa-absent-{uuid.uuid4().hex[:8]}"
    driver = make_driver(endpoint, name)
    try:
        rows = await driver.health()
    finally:
        await driver.close()
    assert [(r.name, r.health) for r in rows] == [(f"s3://{name}", Health.CRITICAL)]
    assert "does not exist" in rows[0].detail

    only = f"osaa-nobackup-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=only)
    driver = make_driver(endpoint, only)
    try:
        rows_by = {r.name: r for r in await driver.health()}
    finally:
        await driver.close()
        s3.delete_bucket(Bucket=only)
    assert rows_by[f"s3://{only}-backup"].health is Health.WARNING
    assert "restore is impossible" in rows_by[f"s3://{only}-backup"].detail


async def test_unreachable_endpoint_is_critical_not_a_hang() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    driver = make_driver(f"http://127.0.0.1:{port}", "osaa-mvp")
    try:
        rows = await driver.health()
    finally:
        await driver.close()
    assert rows[0].health is Health.CRITICAL
    assert "osaa-mvp" in rows[0].detail


async def test_promote_dev_to_qa_copies_staging_only_and_deletes_nothing(endpoint: str, s3: Any, lake: str) -> None:
    put(s3, lake, "dev/staging/master/indicators.parquet", b"new")
    put(s3, lake, "dev/staging/sdg/sdg.parquet", b"sdg")
    put(s3, lake, "dev/landing/sdg/raw.parquet", b"raw")
    put(s3, lake, "qa/staging/master/indicators.parquet", b"old")
    put(s3, lake, "qa/staging/legacy/keep.parquet", b"keep")
    driver = make_driver(endpoint, lake)
    try:
        result = await driver.run_action("promote_dev_qa", {})
    finally:
        await driver.close()
    assert result.ok, result.message
    assert "promoted 2 objects" in result.message
    assert read(s3, lake, "qa/staging/master/indicators.parquet") == b"new"
    assert read(s3, lake, "qa/staging/sdg/sdg.parquet") == b"sdg"
    assert read(s3, lake, "qa/staging/legacy/keep.parquet") == b"keep"
    assert keys(s3, lake, "qa/landing/") == set()
    assert keys(s3, f"{lake}-backup") == set()  # only a promotion to prod keeps a backup


async def test_promote_to_prod_backs_up_then_restore_undoes_it(endpoint: str, s3: Any, lake: str) -> None:
    put(s3, lake, "qa/staging/master/indicators.parquet", b"release-2")
    put(s3, lake, "prod/staging/master/indicators.parquet", b"release-1")
    put(s3, lake, "prod/staging/sdg/untouched.parquet", b"same")
    driver = make_driver(endpoint, lake)
    try:
        promoted = await driver.run_action("promote_qa_prod", {})
        assert read(s3, lake, "prod/staging/master/indicators.parquet") == b"release-2"
        listed = await driver.run_action("list_backups", {})
        stamp = listed.output.strip()
        restored = await driver.run_action("restore_backup", {"backup": stamp})
    finally:
        await driver.close()
    assert promoted.ok and "backed up 1 overwritten prod objects" in promoted.message
    assert stamp and stamp in promoted.message
    assert keys(s3, f"{lake}-backup") == {f"{stamp}/staging/master/indicators.parquet"}
    assert restored.ok and "restored 1 objects" in restored.message
    assert read(s3, lake, "prod/staging/master/indicators.parquet") == b"release-1"
    assert read(s3, lake, "prod/staging/sdg/untouched.parquet") == b"same"


async def test_restore_from_the_seeds_prod_backup_prefix(endpoint: str, s3: Any, lake: str) -> None:
    put(s3, f"{lake}-backup", "prod/staging/master/indicators.parquet", b"good")
    put(s3, lake, "prod/staging/master/indicators.parquet", b"corrupt")
    driver = make_driver(endpoint, lake)
    try:
        missing = await driver.run_action("restore_backup", {"backup": "2020-01-01"})
        assert read(s3, lake, "prod/staging/master/indicators.parquet") == b"corrupt"
        result = await driver.run_action("restore_backup", {"backup": "prod"})
    finally:
        await driver.close()
    assert not missing.ok and "does not exist" in missing.message and "prod" in missing.message
    assert result.ok
    assert read(s3, lake, "prod/staging/master/indicators.parquet") == b"good"


async def test_nothing_to_promote_is_reported_not_faked(endpoint: str, lake: str) -> None:
    driver = make_driver(endpoint, lake)
    try:
        result = await driver.run_action("promote_dev_qa", {})
    finally:
        await driver.close()
    assert not result.ok and "nothing to promote" in result.message


def test_prod_actions_are_irreversible_and_dev_qa_is_not() -> None:
    assert S3Driver.action("promote_qa_prod").irreversible
    assert S3Driver.action("restore_backup").irreversible
    dev_qa = S3Driver.action("promote_dev_qa")
    assert dev_qa.dangerous and dev_qa.mutating and not dev_qa.irreversible
    assert not S3Driver.action("list_backups").mutating


async def test_promotion_skipping_an_environment_is_refused(endpoint: str, lake: str) -> None:
    from opsconsole.errors import ActionRefused

    driver = make_driver(endpoint, lake)
    try:
        with pytest.raises(ActionRefused, match="one step"):
            await driver.promote("dev", "prod")
    finally:
        await driver.close()


async def test_promote_runbook_gates_on_quality_and_the_typed_target(endpoint: str, s3: Any, lake: str,
                                                                     tmp_path: Any) -> None:
    """qa -> prod is irreversible: the engine wants the name typed, and bad data stops it first."""
    from pathlib import Path

    from opsconsole.audit import AuditLog
    from opsconsole.drivers.duckdb.pipeline import DuckDBPipelineDriver
    from opsconsole.runbooks.engine import RunbookEngine
    from opsconsole.runbooks.library import load_file
    from opsconsole.runbooks.model import StepStatus
    from tests.fixtures.osaa.build_db import PipelineData, build_pipeline_db

    root = Path(__file__).resolve().parents[1]
    book = {r.id: r for r in load_file(root / "tests" / "fixtures" / "osaa" / "runbooks.yaml")}["osaa-promote-prod"]
    put(s3, lake, "qa/staging/master/indicators.parquet", b"release-2")
    put(s3, lake, "prod/staging/master/indicators.parquet", b"release-1")

    class Typist:
        def __init__(self, typed: str) -> None:
            self.typed_answer, self.asked = typed, []

        def confirm(self, step: Any) -> bool:
            self.asked.append("confirm")
            return True

        def typed(self, step: Any, target: str) -> str:
            self.asked.append(f"typed:{target}")
            return self.typed_answer

    async def run(db: Path, typist: Typist) -> dict[str, StepStatus]:
        pipeline = DuckDBPipelineDriver("pipeline", {"database": str(db)})
        lake_driver = make_driver(endpoint, lake)
        engine = RunbookEngine({"pipeline": pipeline, "lake": lake_driver}, profile="osaa-dev", confirmer=typist,
                               audit=AuditLog(tmp_path / "audit.jsonl"))
        try:
            return {r.step_id: r.status async for r in engine.run(book) if r.status.final}
        finally:
            await pipeline.close()
            await lake_driver.close()

    bad = build_pipeline_db(tmp_path / "bad.db", PipelineData(null_values=100))
    good = build_pipeline_db(tmp_path / "good.db")
    stopped = await run(bad, Typist("lake"))
    wrong = Typist("prod?")
    refused = await run(good, wrong)
    assert read(s3, lake, "prod/staging/master/indicators.parquet") == b"release-1"
    done = await run(good, Typist("lake"))
    assert stopped["quality"] is StepStatus.FAILED and stopped["promote"] is not StepStatus.OK
    assert wrong.asked == ["typed:lake"]
    assert refused == {"quality": StepStatus.OK, "promote": StepStatus.REFUSED}
    assert done == {"quality": StepStatus.OK, "promote": StepStatus.OK}
    assert read(s3, lake, "prod/staging/master/indicators.parquet") == b"release-2"
