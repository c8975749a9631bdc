"""``opsconsole check`` on a cold demo, N times: how often a healthy platform reads as healthy, and how fast.

Run: ``python benchmarks/bench_check_cold.py [--runs 20]``

Each run gets a fresh demo data directory, so the demo engine starts from
nothing (no catalog, no snapshot, no DuckDB file) exactly as on a new machine or
a cron job after a reboot. A healthy demo must exit 0 every time: a cold first
probe is not latency, an engine that has not committed yet is not a failure.
As a reference in the same run, ``python -c pass`` is timed too (this VM's speed
drifts with its neighbours; the ratio is steadier than the seconds).
Target: exit 0 on every run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    import os

    started = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})})
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    codes: list[int] = []
    walls: list[float] = []
    refs: list[float] = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            ref, _ = timed([sys.executable, "-c", "pass"])
            wall, result = timed([sys.executable, "-m", "opsconsole", "--config", str(ROOT / "profiles.yaml"),
                                  "check", "--format", "nagios"], env={"OPSCONSOLE_DEMO_DIR": str(Path(tmp) / "d")})
        codes.append(result.returncode)
        walls.append(wall)
        refs.append(ref)
        line = result.stdout.strip().splitlines()[0] if result.stdout.strip() else result.stderr.strip()[:200]
        print(f"run {i + 1:2}: exit {result.returncode} in {wall:5.2f}s  {line[:110]}")
    ok = sum(1 for c in codes if c == 0)
    print(f"\nexit 0 on {ok} of {len(codes)} cold runs")
    print(f"wall: median {statistics.median(walls):.2f}s, max {max(walls):.2f}s; "
          f"python -c pass median {statistics.median(refs) * 1000:.0f} ms "
          f"(ratio {statistics.median(walls) / statistics.median(refs):.0f}x)")
    return 0 if ok == len(codes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
