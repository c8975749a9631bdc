"""``opsconsole check``: the monitoring engine for one or two rounds, fit for cron and Nagios.

Exit codes follow the Nagios plugin convention: 0 OK, 1 warning, 2 critical,
3 unknown. Unknown covers what the check could not judge: a bad profile file,
an unknown profile, or sources that could not be read at all. Sources are
polled concurrently, so the run is bounded by the slowest single timeout, not
the sum of them. Uses the same engine as the TUI, without importing Textual.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from typing import Any

from opsconsole.errors import ConfigError
from opsconsole.model import Health, LagSample, Pane, ServiceStatus, TableStats

FORMATS = ("text", "json", "nagios", "prometheus")
LATENCY_NOTE = ("Services are probed twice: the first call warms connections and imports, and HighLatency "
                "fires only when two probes in a row are slow (the rule's for_polls: 2).")


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """Poll every source once and print the result (exit 0 OK, 1 warning, 2 critical, 3 unknown)."""
    parser.description = (f"{parser.description or ''} {LATENCY_NOTE} A bad profile file, an unknown profile or "
                          "only unreachable sources exit 3 (UNKNOWN).")
    parser.add_argument("--format", "-f", choices=FORMATS, default="text",
                        help="text (default), json, nagios (one plugin line with performance data), or "
                             "prometheus (textfile-collector format, see --output)")
    parser.add_argument("--json", action="store_true", help="same as --format json")
    parser.add_argument("--output", "-o", metavar="PATH",
                        help="with --format prometheus: write the file atomically (node_exporter's textfile "
                             "collector); default stdout")
    parser.add_argument("--notify", action="store_true",
                        help="send the alerts through the profile's notify channels (de-duplicated)")
    parser.add_argument("--verbose", "-v", action="store_true", help="text: every row, not only the ones at fault")
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


async def check(profile_name: str | None, config: str | None, wait: float, *, notify: bool = False) -> tuple[
        int, dict[str, Any], Any]:
    from opsconsole.config import load_profile
    from opsconsole.monitor import Monitor

    profile = load_profile(profile_name, config)
    monitor = Monitor(profile, notify=False, jitter=0)  # one round's alerts are sent once, below
    try:
        await monitor.connect()
        await asyncio.gather(*(asyncio.wait_for(d.wait_ready(wait), max(wait, 0.1) + 1) for d in monitor.drivers),
                             return_exceptions=True)
        await monitor.run_rounds([None, [Pane.SERVICES]])
        snapshot = monitor.snapshot()
        if notify:
            await notify_once(profile, [t.alert for t in snapshot.alerts])
    finally:
        await monitor.stop()
    health = snapshot.health
    if snapshot.sources and all(s.state.value == "unreachable" for s in snapshot.sources):
        health = Health.UNKNOWN
    report = {
        "profile": profile.name,
        "status": health.label,
        "alerts": [{"rule": t.alert.rule, "severity": t.alert.severity.name.lower(), "state": t.state.value,
                    "subject": t.alert.subject, "message": t.alert.message, "runbook": t.alert.runbook}
                   for t in snapshot.alerts],
        "panes": {},
    }
    for pane in snapshot.panes:
        view = snapshot.pane(pane)
        report["panes"][pane.value] = {"rows": [_row(r) for r in view.rows], "errors": dict(view.errors),
                                       "state": view.state.value, "duration_ms": round(view.duration_ms or 0, 1)}
    return int(health), report, snapshot


async def notify_once(profile: Any, alerts: list[Any]) -> None:
    """Send this run's alerts through the profile's channels, de-duplicated across runs (cron).

    The notifier's memory (what was announced, where, when) is kept between runs in
    ``<state dir>/notify-state/<profile>.json``: an alert still firing on the next
    run is not announced again, and one that cleared is announced as resolved.
    """
    from opsconsole.audit import data_dir
    from opsconsole.notify import Notifier

    settings = profile.notify
    if settings is None or not settings.channels:
        print(f"opsconsole check: profile {profile.name!r} has no notify channels; nothing sent", file=sys.stderr)
        return
    path = data_dir() / "notify-state" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', profile.name)}.json"
    notifier = Notifier(settings, profile=profile.name)
    try:
        notifier.restore(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        pass  # first run, or a state file from another version: announce what fires now
    for d in await notifier.process(alerts):
        if d.suppressed:
            continue
        print(f"notify {d.channel}: {d.kind} {d.key}" + ("" if d.ok else f" FAILED: {d.error}"), file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(notifier.state()))
    tmp.replace(path)


# --------------------------------------------------------------------------- text
def _fault(row: dict[str, Any]) -> bool:
    return row.get("health") not in (None, "ok") or str(row.get("state", "")).lower() in {
        "failed", "error", "internal_error", "timedout"}


def _print_text(report: dict[str, Any], verbose: bool) -> None:
    counts = {s: sum(1 for a in report["alerts"] if a["severity"] == s) for s in ("critical", "warning", "info")}
    print(f"opsconsole check: profile {report['profile']}: {report['status'].upper()} "
          f"({counts['critical']} critical, {counts['warning']} warning, {counts['info']} info)")
    for pane, data in report["panes"].items():
        rows = data["rows"]
        shown = rows[:50] if verbose else [r for r in rows if _fault(r)][:10]
        state = "" if data["state"] == "fresh" else f" {data['state'].upper()}"
        print(f"[{pane}]{state} {len(rows)} rows in {data['duration_ms']:g} ms")
        for error in data["errors"].values():
            print(f"  UNREACHABLE {error}")
        for row in shown:
            name = row.get("name") or row.get("job") or row.get("query_id")
            figures = {k: v for k, v in row.items() if k not in {"name", "job", "source", "extra", "text"}
                       and v not in (None, "")}
            print(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    for alert in report["alerts"]:
        state = "" if alert["state"] == "firing" else f" ({alert['state']})"
        print(f"{alert['severity'].upper():8} {alert['rule']} {alert['subject']}{state}: {alert['message']}"
              + (f" (runbook: {alert['runbook']})" if alert["runbook"] else ""))


# --------------------------------------------------------------------------- nagios
def _label(text: str) -> str:
    """A perfdata label Nagios parsers accept: no quotes, no '=', no spaces."""
    return re.sub(r"[^A-Za-z0-9_.:/-]+", "_", text).strip("_")[:60]


def _value(number: float) -> str:
    return f"{number:.3f}".rstrip("0").rstrip(".") if isinstance(number, float) else str(number)


def nagios_line(code: int, snapshot: Any, thresholds: dict[str, Any]) -> str:
    """One plugin line: ``OPSCONSOLE STATE - summary | 'label'=value[UOM];warn;crit;min;max ...``."""
    counts = snapshot.counts()
    worst = [t for t in snapshot.alerts if t.alert.severity.name.lower() in ("critical", "warning")][:3]
    summary = f"profile {snapshot.profile}: {counts['critical']} critical, {counts['warning']} warning, " \
              f"{counts['unknown']} unknown"
    lost = [s.key for s in snapshot.sources if s.state.value in ("stale", "unreachable")]
    if lost:
        summary += f", unreachable: {', '.join(lost)}"
    if worst:
        summary += "; " + "; ".join(f"{t.alert.rule} {t.alert.subject}" for t in worst)
    summary = summary.replace("|", "/")
    perf = [f"'alerts_critical'={counts['critical']};;1;0", f"'alerts_warning'={counts['warning']};1;;0",
            f"'alerts_unknown'={counts['unknown']};;;0", f"'sources_unreachable'={len(lost)};;1;0"]
    latency_max = thresholds.get("service_latency_ms_max", "")
    files_max = thresholds.get("table_files_max", "")
    for source in snapshot.sources:
        for row in source.rows:
            if isinstance(row, ServiceStatus) and row.latency_ms is not None:
                perf.append(f"'latency_{_label(row.name)}'={_value(round(row.latency_ms, 1))}ms;{latency_max};;0")
            elif isinstance(row, TableStats) and row.file_count is not None:
                perf.append(f"'files_{_label(row.name)}'={row.file_count};{files_max};;0")
            elif isinstance(row, LagSample):
                uom = {"seconds": "s"}.get(row.unit, "")
                perf.append(f"'lag_{_label(row.name)}'={_value(float(row.lag))}{uom};;;0")
    state = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}[code]
    return f"OPSCONSOLE {state} - {summary} | {' '.join(perf)}"


# --------------------------------------------------------------------------- entry point
def run_check(args: argparse.Namespace) -> int:
    fmt = "json" if args.json else args.format
    try:
        code, report, snapshot = asyncio.run(check(args.check_profile or args.profile, args.check_config or args.config,
                                                   args.wait, notify=args.notify))
    except ConfigError as exc:
        if fmt == "nagios":
            print(f"OPSCONSOLE UNKNOWN - {str(exc).splitlines()[0].replace('|', '/')}")
        print(f"opsconsole: {exc}", file=sys.stderr)
        return int(Health.UNKNOWN)
    if fmt == "json":
        json.dump(report, sys.stdout, indent=2, default=str)
        print()
    elif fmt == "nagios":
        from opsconsole.config import load_profile

        thresholds = dict(load_profile(args.check_profile or args.profile, args.check_config or args.config).alerts)
        print(nagios_line(code, snapshot, thresholds))
    elif fmt == "prometheus":
        from opsconsole.monitor.metrics import write_textfile

        text = write_textfile(snapshot, args.output)
        if not args.output:
            sys.stdout.write(text)
    else:
        _print_text(report, args.verbose)
    return code if code in (0, 1, 2) else int(Health.UNKNOWN)
