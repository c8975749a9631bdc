"""Spark standalone driver against a real master and worker (scripts/peers/spark.sh).

One real PySpark application (from the peer's venv) registers with the master,
stays up until the test tells it to stop, then finishes: the driver must show it
running, then completed. Starting an application takes 20-90 s on a busy 2-core
machine, so the module fixture starts it once.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsconsole.drivers.spark import SparkDriver
from opsconsole.model import Health

APP_NAME = "opsc-staging-load"
APP_WAIT_S = 240
APP = f"""
import os, sys, time
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master(os.environ["OPSC_SPARK_MASTER"]).appName("{APP_NAME}")
         .config("spark.executor.memory", "512m").config("spark.ui.enabled", "false")
         .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
         .getOrCreate())
print("app-id", spark.sparkContext.applicationId, flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.2)
spark.stop()
"""


def _state(url: str) -> dict:
    import httpx

    return httpx.get(f"{url}/json/", timeout=10).json()


@pytest.fixture(scope="module")
def spark_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    from tests.conftest import require_peer

    url = require_peer("OPSC_SPARK_URL", "Spark standalone master (scripts/peers/spark.sh)")
    python = require_peer("OPSC_SPARK_PYTHON", "pyspark venv python (scripts/peers/spark.sh)")
    master = require_peer("OPSC_SPARK_MASTER", "Spark master address (scripts/peers/spark.sh)")
    work = tmp_path_factory.mktemp("spark-app")
    (work / "app.py").write_text(APP)
    stop_file = work / "stop"
    log = (work / "app.log").open("w")
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "OPSC_SPARK_MASTER": master}
    proc = subprocess.Popen([python, str(work / "app.py"), str(stop_file)], stdout=log, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + APP_WAIT_S
        app_id = ""
        while time.monotonic() < deadline and not app_id:
            for line in (work / "app.log").read_text().splitlines():
                if line.startswith("app-id "):
                    app_id = line.split()[1]
            if proc.poll() is not None:
                raise AssertionError(f"the Spark app exited early:\n{(work / 'app.log').read_text()[-2000:]}")
            time.sleep(1)
        assert app_id, f"the Spark app did not register within {APP_WAIT_S} s"
        yield {"url": url, "app_id": app_id, "stop_file": stop_file, "proc": proc}
    finally:
        stop_file.touch()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


async def test_health_shows_master_capacity_and_workers() -> None:
    from tests.conftest import require_peer

    url = require_peer("OPSC_SPARK_URL", "Spark standalone master (scripts/peers/spark.sh)")
    driver = SparkDriver("spark", {"url": url})
    try:
        rows = await driver.health()
    finally:
        await driver.close()
    master, workers = rows[0], rows[1:]
    assert master.name == "spark" and master.health is Health.OK
    assert master.detail.startswith("alive, 1/1 worker(s) alive")
    assert master.extra["master"] == require_peer("OPSC_SPARK_MASTER", "Spark master address")
    assert len(workers) == 1 and workers[0].name.startswith("spark/worker 127.0.0.1:")
    assert workers[0].health is Health.OK
    assert re.search(r"cores \d/1 used, memory \d+/1024 MB used", workers[0].detail), workers[0].detail


async def test_running_then_completed_application(spark_app: dict[str, object]) -> None:
    driver = SparkDriver("spark", {"url": spark_app["url"]})
    try:
        running = next(r for r in await driver.job_runs() if r.run_id == spark_app["app_id"])
        master = (await driver.health())[0]
        Path(spark_app["stop_file"]).touch()  # type: ignore[arg-type]
        deadline = time.monotonic() + 90
        finished = running
        while time.monotonic() < deadline:
            finished = next(r for r in await driver.job_runs() if r.run_id == spark_app["app_id"])
            if finished.state != "running":
                break
            await asyncio.sleep(1)
    finally:
        await driver.close()
    assert (running.job, running.state) == (APP_NAME, "running")
    assert "512 MB per executor" in running.detail and running.started_at is not None
    assert "1 running app(s)" in master.detail
    assert finished.state == "finished"
    assert finished.duration_s is not None and finished.duration_s > 0


async def test_unreachable_master_is_critical() -> None:
    driver = SparkDriver("spark", {"url": "http://127.0.0.1:9"}, timeout=3)
    try:
        (row,) = await driver.health()
    finally:
        await driver.close()
    assert row.health is Health.CRITICAL and "127.0.0.1:9" in row.detail
