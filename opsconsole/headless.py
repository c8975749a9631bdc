"""``opsconsole check``: one poll of every pane, printed, with a Nagios exit code.

Exit codes: 0 OK, 1 warning, 2 critical, 3 unknown (a source could not be read
at all). Uses the same core as the TUI, without importing Textual.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from opsconsole.alerts import evaluate, overall_health
from opsconsole.config import load_profile
from opsconsole.model import Health, Pane, PaneResult
from opsconsole.poller import build_drivers, panes_of, poll


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """Poll every pane once and print the result (exit 0 OK, 1 warning, 2 critical, 3 unknown)."""
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--profile", "-p", dest="check_profile", metavar="NAME", help="profile to check")
    parser.add_argument("--config", dest="check_config", metavar="PATH", help="profiles file")
    parser.add_argument("--wait", type=float, default=30.0,
                        help="seconds to wait for a freshly started demo engine (default 30)")


def _row(obj: Any) -> dict[str, Any]:
    out = {}
    for name in obj.__slots__:
        value = getattr(obj, name)
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif hasattr(value, "name") and hasattr(value, "value") and not isinstance(value, str):
            value = value.name.lower()
        elif isinstance(value, dict) or hasattr(value, "items"):
            value = {k: v for k, v in dict(value).items() if isinstance(v, (str, int, float, bool, type(None)))}
        out[name] = value
    return out


async def check(profile_name: str | None, config: str | None, wait: float) -> tuple[int, dict[str, Any]]:
    profile = load_profile(profile_name, config)
    drivers = build_drivers(profile)
    try:
        for driver in drivers:
            await driver.connect()
            waiter = getattr(driver, "wait_ready", None)
            if waiter is not None:
                await waiter(wait)
        results: dict[Pane, PaneResult] = {}
        for pane in panes_of(drivers):
            results[pane] = await poll(pane, drivers)
        alerts = evaluate(results, profile.alerts)
        health = overall_health(results, alerts)
    finally:
        for driver in drivers:
            await driver.close()
    report = {
        "profile": profile.name,
        "status": health.label,
        "alerts": [{"rule": a.rule, "severity": a.severity.name.lower(), "subject": a.subject,
                    "message": a.message, "runbook": a.runbook} for a in alerts],
        "panes": {pane.value: {"rows": [_row(r) for r in res.rows], "errors": dict(res.errors),
                               "duration_ms": round(res.duration_ms, 1)} for pane, res in results.items()},
    }
    return int(health), report


def _print_text(report: dict[str, Any]) -> None:
    print(f"opsconsole check: profile {report['profile']}: {report['status'].upper()}")
    for pane, data in report["panes"].items():
        print(f"\n[{pane}] {len(data['rows'])} rows in {data['duration_ms']} ms")
        for error in data["errors"].values():
            print(f"  UNREACHABLE {error}")
        for row in data["rows"][:50]:
            name = row.get("name") or row.get("job") or row.get("query_id")
            figures = {k: v for k, v in row.items() if k not in {"name", "job", "source", "extra", "text"}
                       and v not in (None, "")}
            print(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    print(f"\nalerts: {len(report['alerts'])}")
    for alert in report["alerts"]:
        print(f"  {alert['severity'].upper():8} {alert['rule']} {alert['subject']}: {alert['message']}"
              + (f" (runbook: {alert['runbook']})" if alert["runbook"] else ""))


def run_check(args: argparse.Namespace) -> int:
    code, report = asyncio.run(check(args.check_profile or args.profile, args.check_config or args.config, args.wait))
    if args.json:
        json.dump(report, sys.stdout, indent=2, default=str)
        print()
    else:
        _print_text(report)
    return code if code in (0, 1, 2) else int(Health.UNKNOWN)
