"""Databricks driver figures: poll latency through the real SDK, and the pure analytics' cost.

Run on demand: ``python benchmarks/bench_databricks.py``. The workspace is the
test emulator (tests/databricks_emulator.py, a local test double of the REST
API), so the latencies measure opsconsole + databricks-sdk overhead, not
Databricks itself.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from databricks_emulator import GOOD_TOKEN, DatabricksEmulator

from opsconsole.drivers.databricks import jobhealth, query_stats
from opsconsole.drivers.databricks.driver import DatabricksDriver
from opsconsole.model import JobRun, QueryRecord
from opsconsole.secret import Secret


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def polls(emu: DatabricksEmulator) -> None:
    drv = DatabricksDriver("bench", {"host": emu.url, "token": Secret(GOOD_TOKEN), "app": "app",
                                     "warehouse_id": "wh", "clusters": True, "jobs": True})
    t0 = time.perf_counter()
    await drv.health()
    print(f"first health poll (SDK import + client + 4 facets): {ms(time.perf_counter() - t0)}")
    for label, call in (("health (app+warehouse+20 clusters+jobs)", drv.health),
                        ("query_history(200)", drv.query_history),
                        ("job_runs (500 runs, 20 pages)", drv.job_runs)):
        samples = []
        for _ in range(15):
            t = time.perf_counter()
            await call()
            samples.append(time.perf_counter() - t)
        print(f"{label:42s} median {ms(statistics.median(samples))}  max {ms(max(samples))}")
    t = time.perf_counter()
    await drv.run_action("warehouse-test", {})
    print(f"{'warehouse-test (SELECT 1, polled)':42s} {ms(time.perf_counter() - t)}")
    await drv.close()


def analytics() -> None:
    rng = random.Random(4)
    now = datetime.now(UTC)
    runs = [JobRun(job=f"job-{i % 200}", run_id=str(i), state="SUCCESS" if rng.random() > 0.1 else "FAILED",
                   started_at=now - timedelta(minutes=i), duration_s=rng.gauss(600, 60)) for i in range(20_000)]
    t = time.perf_counter()
    scores = jobhealth.health_scores(runs)
    anomalies = jobhealth.duration_anomalies(runs)
    print(f"{'job health + anomalies, 20k runs/200 jobs':42s} {ms(time.perf_counter() - t)} "
          f"({len(scores)} scores, {len(anomalies)} anomalies)")
    records = [QueryRecord(query_id=str(i), text="", status="FAILED" if rng.random() < 0.03 else "FINISHED",
                           started_at=now - timedelta(seconds=i * 3), duration_ms=rng.expovariate(1 / 800))
               for i in range(50_000)]
    t = time.perf_counter()
    buckets = query_stats.per_bucket(records, timedelta(minutes=5))
    print(f"{'query stats, 50k queries in 5-min buckets':42s} {ms(time.perf_counter() - t)} ({len(buckets)} buckets)")


def main() -> None:
    for var in [v for v in os.environ if v.startswith("DATABRICKS_")]:
        del os.environ[var]
    os.environ["DATABRICKS_CONFIG_FILE"] = os.devnull
    emu = DatabricksEmulator(transition_s=0.05)
    emu.start()
    emu.add_app("app")
    emu.add_warehouse("wh", "wh")
    for i in range(20):
        emu.add_cluster(f"c{i}", f"cluster-{i}", autoscale=(2, 8))
    now_ms = int(time.time() * 1000)
    for i in range(500):
        emu.add_run(i % 25, f"job-{i % 25}", "SUCCESS", now_ms - i * 600_000, 60 + i % 7)
    for i in range(300):
        emu.add_query(str(i), "wh", now_ms - i * 1000, 100, text="SELECT 1")
    try:
        asyncio.run(polls(emu))
    finally:
        emu.stop()
    analytics()


if __name__ == "__main__":
    main()
