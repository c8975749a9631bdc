"""Flink driver against a real Flink session cluster (scripts/peers/flink.sh).

The module fixture uploads the tiny job of tests/fixtures/flink (built by the peer
script) and runs it twice: once healthy (checkpoints every 2 s), once with the
``fail`` argument, which throws after 20 records and, with no restart strategy,
ends FAILED. It waits for the first checkpoint and for the restart metric (the
JobManager fetches metrics every second in the peer's config). Jobs still
running are cancelled at the end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opsconsole.drivers.flink import RESTART_GUIDANCE, FlinkDriver, human_duration, restart_guidance, root_cause
from opsconsole.model import Health

JOB_WAIT_S = 90


@pytest.fixture(scope="module")
def flink() -> Iterator[dict[str, str]]:
    from tests.conftest import require_peer

    url = require_peer("OPSC_FLINK_URL", "Flink cluster (scripts/peers/flink.sh)")
    jar = Path(require_peer("OPSC_FLINK_JAR", "Flink test job jar (scripts/peers/flink.sh)"))
    with httpx.Client(base_url=url, timeout=30) as client:
        uploaded = client.post("/jars/upload", files={"jarfile": (jar.name, jar.read_bytes(),
                                                                  "application/x-java-archive")})
        uploaded.raise_for_status()
        jar_id = uploaded.json()["filename"].rsplit("/", 1)[-1]
        running = client.post(f"/jars/{jar_id}/run", json={"entryClass": "OpscJob"}).json()["jobid"]
        failing = client.post(f"/jars/{jar_id}/run", json={"entryClass": "OpscJob",
                                                           "programArgsList": ["fail"]}).json()["jobid"]
        deadline = time.monotonic() + JOB_WAIT_S
        while time.monotonic() < deadline:
            states = {j["jid"]: j["state"] for j in client.get("/jobs/overview").json()["jobs"]}
            checkpoints = client.get(f"/jobs/{running}/checkpoints").json().get("counts", {}).get("completed", 0)
            metrics = client.get(f"/jobs/{running}/metrics", params={"get": "numRestarts"}).json()
            if states.get(running) == "RUNNING" and states.get(failing) == "FAILED" and checkpoints >= 1 and metrics:
                break
            time.sleep(1)
        else:
            raise AssertionError(f"jobs did not reach RUNNING (with a checkpoint) and FAILED: {states}")
        try:
            yield {"url": url, "running": running, "failing": failing}
        finally:
            for job in client.get("/jobs/overview").json()["jobs"]:
                if job["state"] == "RUNNING":
                    client.patch(f"/jobs/{job['jid']}", params={"mode": "cancel"})
            client.delete(f"/jars/{jar_id}")


async def test_jobs_show_state_uptime_restarts_and_checkpoints(flink: dict[str, str]) -> None:
    driver = FlinkDriver("flink", {"url": flink["url"]})
    try:
        rows = {r.run_id: r for r in await driver.job_runs()}
    finally:
        await driver.close()
    running, failed = rows[flink["running"]], rows[flink["failing"]]
    assert (running.job, running.state) == ("opsc-raw-ingest", "running")
    assert "uptime " in running.detail and "restarts 0" in running.detail
    assert " ok/0 failed, last " in running.detail, running.detail
    assert running.started_at is not None and running.duration_s and running.duration_s > 0
    assert (failed.job, failed.state) == ("opsc-failing-job", "failed")


async def test_failed_job_carries_root_cause_and_restart_guidance(flink: dict[str, str]) -> None:
    driver = FlinkDriver("flink", {"url": flink["url"], "jobs": ["opsc-failing-job"]})
    try:
        rows = await driver.job_runs()
        exceptions = await driver.run_action("job_exceptions", {"job_id": flink["failing"]})
    finally:
        await driver.close()
    assert {r.job for r in rows} == {"opsc-failing-job"}, "the jobs option filters"
    failed = next(r for r in rows if r.run_id == flink["failing"])
    assert "IllegalStateException: simulated failure: Iceberg commit rejected at record 20" in failed.detail
    assert RESTART_GUIDANCE in failed.detail
    assert exceptions.message.startswith("java.lang.IllegalStateException: simulated failure")
    assert "OpscJob.java" in exceptions.output


async def test_health_shows_capacity_and_one_row_per_job(flink: dict[str, str]) -> None:
    driver = FlinkDriver("flink", {"url": flink["url"]})
    try:
        rows = {r.name: r for r in await driver.health()}
    finally:
        await driver.close()
    cluster = rows["flink"]
    assert cluster.health is Health.OK and "1 taskmanager(s)" in cluster.detail and "Flink 2." in cluster.detail
    assert rows["flink/opsc-raw-ingest"].health is Health.OK
    assert rows["flink/opsc-failing-job"].health is Health.CRITICAL
    assert RESTART_GUIDANCE in rows["flink/opsc-failing-job"].detail


async def test_cancel_job_stops_it(flink: dict[str, str]) -> None:
    driver = FlinkDriver("flink", {"url": flink["url"]})
    try:
        result = await driver.run_action("cancel_job", {"job_id": flink["running"]})
        deadline = time.monotonic() + 30
        state = ""
        while time.monotonic() < deadline:
            state = next(r.state for r in await driver.job_runs() if r.run_id == flink["running"])
            if state == "canceled":
                break
            await asyncio.sleep(0.5)
        health = {r.name: r.health for r in await driver.health()}
    finally:
        await driver.close()
    assert result.ok and state == "canceled"
    assert health["flink/opsc-raw-ingest"] is Health.WARNING


async def test_unreachable_flink_is_critical() -> None:
    driver = FlinkDriver("flink", {"url": "http://127.0.0.1:9"}, timeout=3)
    try:
        (row,) = await driver.health()
    finally:
        await driver.close()
    assert row.health is Health.CRITICAL and "127.0.0.1:9" in row.detail


def test_root_cause_is_the_innermost_cause_and_guidance_names_the_checkpoint() -> None:
    trace = ("org.apache.flink.runtime.JobException: Recovery is suppressed\n\tat x\n"
             "Caused by: java.io.IOException: outer\n\tat y\nCaused by: java.net.ConnectException: refused\n")
    assert root_cause({"exceptionHistory": {"entries": [{"stacktrace": trace}]}}) == \
        "java.net.ConnectException: refused"
    assert root_cause({"exceptionHistory": {"entries": []}}) == ""
    assert "flink run -s s3://ckpt/chk-7" in restart_guidance("boom", "s3://ckpt/chk-7")
    assert "no retained checkpoint" in restart_guidance("", "<checkpoint-not-externally-addressable>")
    assert [human_duration(s) for s in (42, 432, 7500, 90000)] == ["42s", "7m12s", "2h5m", "1d1h"]


async def test_failed_job_raises_pipeline_failure_with_guidance(flink: dict[str, str]) -> None:
    from datetime import UTC, datetime

    from opsconsole.model import Pane, PaneResult
    from opsconsole.monitor.rules import evaluate

    driver = FlinkDriver("flink", {"url": flink["url"]})
    try:
        rows = await driver.job_runs()
    finally:
        await driver.close()
    result = PaneResult(pane=Pane.JOBS, rows=tuple(rows), errors={}, polled_at=datetime.now(UTC), duration_ms=1)
    alerts = {a.subject: a for a in evaluate({Pane.JOBS: result}, {}) if a.rule == "PipelineFailure"}
    assert "opsc-failing-job" in alerts and RESTART_GUIDANCE in alerts["opsc-failing-job"].message
    assert "opsc-raw-ingest" not in alerts, "the newest run of the ingest job is running"
