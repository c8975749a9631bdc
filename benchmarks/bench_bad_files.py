"""How fast and how small ``opsconsole check`` refuses hostile config files, against a good file's run.

Each case is its own process (``check --config FILE``) so wall time and peak RSS
(``ru_maxrss`` of the child) are what an operator would see. The reference is
the same command on a well-formed profile whose driver is down (it fails too,
after a poll): the alias bomb must cost no more than that.

Run: python benchmarks/bench_bad_files.py [repeats]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOOD = """\
profiles:
  p:
    drivers:
      health:
        type: http
        timeout: 1
        options:
          endpoints: {api: "http://127.0.0.1:9/health"}
"""
BOMB = GOOD + "    description:\n" + "".join(
    f"      - &a{i} [" + ", ".join([f"*a{i - 1}" if i else '"lol"'] * 9) + "]\n" for i in range(10))


# A fresh parent per case, so RUSAGE_CHILDREN's peak is this one console's.
MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "r = subprocess.run(sys.argv[1:], capture_output=True).returncode; "
           "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r)")


def run(config: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB of the console process, exit code."""
    out = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "opsconsole", "--config",
                          str(config), "check"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split()
    return float(out[0]), int(out[1]) / 1024, int(out[2])


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as tmp:
        cases = {"reference (good file, backend down)": Path(tmp) / "good.yaml",
                 "alias bomb (10^9 values)": Path(tmp) / "bomb.yaml", "FIFO as --config": Path(tmp) / "fifo"}
        cases["reference (good file, backend down)"].write_text(GOOD)
        cases["alias bomb (10^9 values)"].write_text(BOMB)
        os.mkfifo(cases["FIFO as --config"])
        results = {}
        for name, path in cases.items():
            times = [run(path) for _ in range(repeats)]
            results[name] = (min(t for t, _, _ in times), max(m for _, m, _ in times), times[-1][2])
        ref_time = results["reference (good file, backend down)"][0]
        for name, (took, peak, code) in results.items():
            print(f"{name:38} {took:6.2f} s ({took / ref_time:4.2f}x ref)  peak RSS <= {peak:6.1f} MB  exit {code}")


if __name__ == "__main__":
    main()
