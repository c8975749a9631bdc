"""How long one OSAA quality poll holds the DuckDB file, and how big a database it copes with.

Run: ``python benchmarks/bench_osaa_pipeline.py [--countries 200] [--years 25] [--indicators 40] [--rounds 5]``

A read-only DuckDB connection takes a shared lock that makes the pipeline's
``etl`` fail while it is open, so the figure that matters is how long one poll
keeps the file open (all five seed checks plus the table inventory). Also
measured: finding a lock holder (``/proc/locks`` + cmdline) with a real second
process holding the lock, and the event-loop stall while the driver polls
(the work runs on the driver's thread pool; a ticker measures the worst gap).
Target: a poll of a 1M-row database in < 1 s; no loop stall > 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def _stall_while(coro_factory, rounds: int) -> tuple[list[float], float]:
    worst = 0.0
    stop = False

    async def ticker() -> None:
        nonlocal worst
        while not stop:
            t = time.perf_counter()
            await asyncio.sleep(0.002)
            worst = max(worst, time.perf_counter() - t - 0.002)

    tick = asyncio.create_task(ticker())
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        await coro_factory()
        times.append(time.perf_counter() - t)
    stop = True
    await tick
    return times, worst


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--countries", type=int, default=200)
    parser.add_argument("--years", type=int, default=25)
    parser.add_argument("--indicators", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from opsconsole.drivers.duckdb import lock as duckdb_lock
    from opsconsole.drivers.duckdb.pipeline import DuckDBPipelineDriver
    from tests.fixtures.osaa.build_db import PipelineData, build_pipeline_db
    from tests.fixtures.osaa.lock_holder import hold_lock

    with tempfile.TemporaryDirectory() as tmp:
        data = PipelineData(countries=args.countries, years=tuple(range(2025 - args.years, 2025)),
                            indicators=tuple(f"SDG_{i}" for i in range(args.indicators)),
                            wdi_indicators=tuple(f"WDI_{i}" for i in range(args.indicators // 2)),
                            duplicate_rows=10, null_values=100, outliers=5)
        t = time.perf_counter()
        db = build_pipeline_db(Path(tmp) / "osaa.db", data)
        build_s = time.perf_counter() - t
        size_mb = db.stat().st_size / 1e6
        driver = DuckDBPipelineDriver("pipeline", {"database": str(db), "compose_dir": tmp}, timeout=120)
        try:
            rows = sum(t.rows for t in (await driver.snapshot(max_age=0)).tables if t.schema == "master")

            async def poll() -> None:
                await driver.snapshot(max_age=0)

            times, stall = await _stall_while(poll, args.rounds)
            direct = []
            for _ in range(args.rounds):
                t = time.perf_counter()
                driver._read_snapshot()
                direct.append(time.perf_counter() - t)
            with hold_lock(db):
                lookups = []
                for _ in range(args.rounds * 20):
                    t = time.perf_counter()
                    holder = duckdb_lock.find_lock_holder(db)
                    lookups.append(time.perf_counter() - t)
                assert holder is not None
                locked_times, _ = await _stall_while(poll, args.rounds)
        finally:
            await driver.close()
    print(f"database: master.indicators {rows:,} rows, file {size_mb:.1f} MB (built in {build_s:.1f}s)")
    print(f"quality poll, file held open (median of {args.rounds}): {statistics.median(direct) * 1000:.0f} ms")
    print(f"quality poll through the driver (median):           {statistics.median(times) * 1000:.0f} ms")
    print(f"worst event-loop stall during polls:                {stall * 1000:.1f} ms")
    print(f"lock holder lookup (/proc/locks + cmdline, median): {statistics.median(lookups) * 1e6:.0f} us")
    print(f"poll of a locked database (median):                 {statistics.median(locked_times) * 1000:.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
