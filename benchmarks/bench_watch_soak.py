"""Soak: memory, open files and CPU of ``opsconsole watch`` on the demo over N minutes.

Run: ``python benchmarks/bench_watch_soak.py [--minutes 30] [--every 10] [--warmup 60]``

A daemon that leaks a few KB per poll dies of it after a week; a test cannot see
that, a soak can. ``watch`` runs in its own process on the packaged demo profile
(default poll intervals) with ``/metrics`` served and scraped every ``--every``
seconds (as Prometheus would); the demo engine is started separately, so its
work is reported as the reference line, never counted as the daemon's.

Sampled from /proc: RSS (VmRSS), open fds (/proc/PID/fd), CPU time. Reported:
first and last values after warm-up, the least-squares slope of RSS (KB/min)
and fds (per hour) over the sampled window, and CPU % of one core for ``watch``
and for the demo engine in the same run (the ratio is the comparable figure).
Flat means |RSS slope| small against RSS itself and no fd growth.

The demo commits a snapshot every batch and never expires one, so the Iceberg
metadata ``watch`` reads (and pyiceberg holds while parsing) grows all the time:
that is the watched data growing, not the daemon leaking. ``--expire-minutes N``
(default 2) makes the run steady: every minute the benchmark itself expires the
snapshots older than N minutes, as a maintained table would; ``0`` disables it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _terminal import ROOT, DemoEngine, cpu_seconds, open_fds, rss_kb


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expire(data_dir: Path, minutes: float) -> None:
    """Table maintenance the demo does not do: drop snapshots older than ``minutes`` (not the current one)."""
    from datetime import UTC, datetime, timedelta

    from pyiceberg.catalog.sql import SqlCatalog

    from opsconsole.drivers.iceberg import ops as iceberg_ops

    catalog = SqlCatalog("demo", uri=f"sqlite:///{data_dir / 'catalog.db'}",
                         warehouse=(data_dir / "warehouse").as_uri())
    try:
        iceberg_ops.expire_snapshots(catalog.load_table("raw.orders"), datetime.now(UTC) - timedelta(minutes=minutes))
    except Exception as exc:  # a commit race with the writer: try again next minute
        print(f"  (expiry skipped: {type(exc).__name__})", file=sys.stderr)


def slope(xs: list[float], ys: list[float]) -> float:
    return statistics.linear_regression(xs, ys).slope if len(xs) > 1 and len(set(xs)) > 1 else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--every", type=float, default=10, help="seconds between samples (and scrapes)")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before the first sample")
    parser.add_argument("--json", metavar="PATH", help="also write the samples and summary as JSON")
    parser.add_argument("--expire-minutes", type=float, default=2,
                        help="expire demo snapshots older than this every minute (0: let metadata grow)")
    args = parser.parse_args()
    port = free_port()
    with DemoEngine() as engine:
        env = dict(os.environ, PYTHONPATH=str(ROOT), OPSCONSOLE_DEMO_DIR=str(engine.data_dir))
        log = (engine.data_dir / "watch.log").open("ab")
        watch = subprocess.Popen([sys.executable, "-m", "opsconsole", "--config", str(ROOT / "profiles.yaml"),
                                  "watch", "--profile", "demo", "--listen", f"127.0.0.1:{port}"],
                                 stdout=subprocess.DEVNULL, stderr=log, env=env, start_new_session=True)
        samples: list[dict[str, float]] = []
        try:
            time.sleep(args.warmup)
            t0 = time.monotonic()
            cpu0 = {"watch": cpu_seconds(watch.pid), "engine": cpu_seconds(engine.pid)}
            end = t0 + args.minutes * 60
            next_expiry = time.monotonic()
            while time.monotonic() < end:
                if args.expire_minutes and time.monotonic() >= next_expiry:
                    expire(engine.data_dir, args.expire_minutes)
                    next_expiry = time.monotonic() + 60
                if watch.poll() is not None:
                    raise RuntimeError(f"watch exited early; see {engine.data_dir / 'watch.log'}")
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
                samples.append({"t_min": (time.monotonic() - t0) / 60, "rss_kb": rss_kb(watch.pid),
                                "fds": open_fds(watch.pid)})
                time.sleep(args.every)
            elapsed = time.monotonic() - t0
            cpu = {"watch": (cpu_seconds(watch.pid) - cpu0["watch"]) / elapsed * 100,
                   "engine": (cpu_seconds(engine.pid) - cpu0["engine"]) / elapsed * 100}
        finally:
            watch.terminate()
            try:
                watch.wait(20)
            except subprocess.TimeoutExpired:
                watch.kill()
            log.close()
    ts = [s["t_min"] for s in samples]
    rss = [s["rss_kb"] for s in samples]
    fds = [s["fds"] for s in samples]
    half = len(samples) // 2
    summary = {
        "minutes": round(elapsed / 60, 1), "samples": len(samples), "expire_minutes": args.expire_minutes,
        "rss_kb_first": rss[0], "rss_kb_last": rss[-1], "rss_kb_max": max(rss),
        "rss_slope_kb_per_min": round(slope(ts, rss), 2),
        "rss_slope_kb_per_min_second_half": round(slope(ts[half:], rss[half:]), 2),
        "fds_first": fds[0], "fds_last": fds[-1], "fds_max": max(fds),
        "fds_slope_per_hour": round(slope(ts, fds) * 60, 2),
        "cpu_percent_watch": round(cpu["watch"], 2), "cpu_percent_demo_engine": round(cpu["engine"], 2),
        "cpu_ratio_watch_to_engine": round(cpu["watch"] / cpu["engine"], 3) if cpu["engine"] else None,
    }
    print(f"watch soak on the demo: {summary['minutes']} min, {len(samples)} samples every {args.every:g}s")
    print(f"  RSS  {rss[0] / 1024:.1f} MB -> {rss[-1] / 1024:.1f} MB (max {max(rss) / 1024:.1f}); slope "
          f"{summary['rss_slope_kb_per_min']} KB/min (second half {summary['rss_slope_kb_per_min_second_half']})")
    print(f"  fds  {fds[0]} -> {fds[-1]} (max {max(fds)}); slope {summary['fds_slope_per_hour']} per hour")
    print(f"  CPU  watch {summary['cpu_percent_watch']} % of one core; demo engine (reference) "
          f"{summary['cpu_percent_demo_engine']} %; ratio {summary['cpu_ratio_watch_to_engine']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "samples": samples}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
