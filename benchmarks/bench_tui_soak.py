"""Soak: memory and open files of the TUI on the demo over N minutes (is every history bounded?).

Run: ``python benchmarks/bench_tui_soak.py [--minutes 60] [--every 30] [--warmup 120]``

The console runs in a real pty (120x40) on the packaged demo profile at its
default poll intervals, with help opened and closed every five minutes (a modal:
monitoring goes on behind it). The demo engine runs separately. Sampled from
/proc every ``--every`` seconds: RSS (VmRSS) and open fds of the console.
Reported after the warm-up: first and last RSS, the least-squares RSS slope
(KB/min) and the fd slope (per hour). The demo commits a snapshot per batch and
never expires one, so the Iceberg metadata every poll reads keeps growing: as a
maintained table would, the benchmark expires snapshots older than
``--expire-minutes`` (default 2) every minute, so the watched data stays steady
and what remains is the console's own growth.
Target: RSS slope under 1 % of RSS per hour, no fd growth.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _terminal import DemoEngine, PtyProcess, console_env, open_fds, rss_kb


def expire_old_snapshots(data_dir: Path, minutes: float) -> None:
    """What a maintained table does: drop snapshots older than ``minutes`` (the demo never does)."""
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("demo", uri=f"sqlite:///{data_dir / 'catalog.db'}",
                         warehouse=(data_dir / "warehouse").as_uri())
    table = catalog.load_table("raw.orders")
    table.maintenance.expire_snapshots().older_than(datetime.now(UTC) - timedelta(minutes=minutes)).commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--every", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=120)
    parser.add_argument("--expire-minutes", type=float, default=2)
    args = parser.parse_args()
    samples: list[tuple[float, int, int]] = []
    with DemoEngine() as engine:
        console = PtyProcess([sys.executable, "-m", "opsconsole"], env=console_env(engine.data_dir))
        try:
            start = time.monotonic()
            end = start + args.warmup + args.minutes * 60
            next_help = start + 300
            next_expire = start + 60
            while time.monotonic() < end:
                if console.process.poll() is not None:
                    raise RuntimeError("console exited:\n" + console.output[-2000:].decode(errors="replace"))
                now = time.monotonic()
                if now >= next_help:
                    console.write(b"?")
                    time.sleep(2)
                    console.write(b"\x1b")
                    next_help += 300
                if args.expire_minutes and now >= next_expire:
                    try:
                        expire_old_snapshots(engine.data_dir, args.expire_minutes)
                    except Exception as exc:  # a commit race with the demo's writer: next minute
                        print(f"  (expiry skipped: {type(exc).__name__})", flush=True)
                    next_expire += 60
                if now - start >= args.warmup:
                    pid = console.process.pid
                    samples.append((now - start, rss_kb(pid), open_fds(pid)))
                    print(f"  t={samples[-1][0] / 60:5.1f} min  RSS {samples[-1][1] / 1024:6.1f} MB  "
                          f"fds {samples[-1][2]}", flush=True)
                time.sleep(args.every)
            console.write(b"q")
            code = console.wait(30)
        finally:
            console.kill()
    if len(samples) < 3:
        print("too few samples")
        return 1
    minutes = [t / 60 for t, _, _ in samples]
    rss_slope = statistics.linear_regression(minutes, [r for _, r, _ in samples]).slope
    fd_slope = statistics.linear_regression(minutes, [f for _, _, f in samples]).slope * 60
    first, last = samples[0][1], samples[-1][1]
    per_hour_pct = rss_slope * 60 / statistics.mean(r for _, r, _ in samples) * 100
    print(f"\nTUI soak: {args.minutes:g} min after {args.warmup:g} s warm-up, {len(samples)} samples")
    peak = max(r for _, r, _ in samples)
    print(f"  RSS first {first / 1024:.1f} MB, last {last / 1024:.1f} MB, max {peak / 1024:.1f} MB")
    print(f"  RSS slope {rss_slope:+.1f} KB/min ({per_hour_pct:+.2f} % of RSS per hour)")
    print(f"  fds first {samples[0][2]}, last {samples[-1][2]}, slope {fd_slope:+.2f} per hour")
    print(f"  console exit code {code}")
    ok = abs(per_hour_pct) < 1.0 and fd_slope < 1 and code == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
