"""Incidents: the diagnostics bundle, incident mode, and the post-incident review.

* :func:`collect_diagnostics` is seed 000's ``diagnostic_collector.sh`` for any
  profile: every pane of every driver, the firing alerts and the recent audit
  trail, written to one text file (secrets redacted) to attach to a ticket.
* :class:`Incident` records severity (P0-P3, seed 000), a timeline of alerts,
  runbook steps and notes, persisted as JSON after every change so a crash does
  not lose it, and exports the post-incident review in seed 001's template.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole.audit import AuditEvent, AuditLog, data_dir, file_mode, redact, redact_text
from opsconsole.model import Alert

if TYPE_CHECKING:
    from opsconsole.config import Profile
    from opsconsole.drivers.base import Driver

SEVERITIES = {"P0": "Critical - complete service outage", "P1": "High - major functionality broken",
              "P2": "Medium - minor functionality impaired", "P3": "Low - cosmetic or minor issues"}


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- diagnostics bundle
async def collect_diagnostics(profile: Profile, drivers: Iterable[Driver], *, alerts: Iterable[Alert] = (),
                              audit: AuditLog | None = None, directory: Path | None = None) -> Path:
    """Write the diagnostics bundle of one profile and return its path."""
    from opsconsole.drivers.base import PANE_METHODS, describe
    from opsconsole.runbooks.probes import summarize_row

    started = _now()
    out: list[str] = [f"opsconsole diagnostics - profile {profile.name} ({profile.title})",
                      f"collected {started.isoformat(timespec='seconds')}", ""]
    out.append("=== Profile ===")
    for d in profile.drivers:
        # Secret values, options whose name says secret (token, password...), URL passwords: all redacted.
        opts = ", ".join(f"{k}={v}" for k, v in redact(d.options, profile.secrets()).items())
        out.append(f"{d.name}: type {d.kind}; {opts}")
    drivers = list(drivers)

    async def section(driver: Driver, pane: Any) -> list[str]:
        method = PANE_METHODS[pane]
        lines = ["", f"=== {driver.name} ({driver.kind}): {pane.value} ==="]
        try:
            rows = await asyncio.wait_for(getattr(driver, method)(), max(driver.timeout * 2, 1))
        except Exception as exc:
            return [*lines, f"UNREACHABLE: {describe(exc)}"]
        lines += [summarize_row(r) for r in rows[:200]] or ["(no rows)"]
        if len(rows) > 200:
            lines.append(f"... {len(rows) - 200} more rows")
        return lines

    jobs = [section(d, pane) for d in drivers for pane in sorted(d.panes, key=lambda p: p.value)]
    for lines in await asyncio.gather(*jobs):
        out += lines
    out += ["", "=== Firing alerts ==="]
    out += [f"{a.severity.name:8} {a.rule} {a.subject}: {a.message}" + (f" (runbook {a.runbook})" if a.runbook
                                                                          else "") for a in alerts] or ["(none)"]
    out += ["", "=== Recent runbook activity (audit log) ==="]
    events = [e for e in (audit or AuditLog()).read() if e.profile == profile.name and e.phase == "end"][-50:]
    out += [f"{e.ts} {e.who}@{e.host} {e.procedure}/{e.step} {e.ref}: {e.outcome} {e.message}" for e in events] \
        or ["(none)"]
    text = redact_text("\n".join(out) + "\n", profile.secrets())
    folder = directory or data_dir() / "diagnostics"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_safe(profile.name)}-{started.strftime('%Y%m%d-%H%M%S')}.txt"
    write_private(path, text)
    return path


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write a file only its owner (or, in a shared state dir, its group) can read: bundles describe the platform."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fd, mode)  # an existing file keeps its mode under O_CREAT: set it
        fh.write(text)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


# --------------------------------------------------------------------------- incident mode
@dataclass
class TimelineEntry:
    at: str
    kind: str
    """``alert``, ``resolved``, ``action`` or ``note``."""
    text: str


@dataclass
class Incident:
    """An open (or closed) incident; every mutation is saved to disk at once."""

    id: str
    severity: str
    title: str
    profile: str
    opened_at: str
    closed_at: str = ""
    impact: str = ""
    root_cause: str = ""
    resolution: list[str] = field(default_factory=list)
    action_items: list[str] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    path: str = ""
    _seen_alerts: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def open(cls, severity: str, title: str, profile: str, *, directory: Path | None = None) -> Incident:
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)} ({'; '.join(SEVERITIES.values())})")
        folder = directory or data_dir() / "incidents"
        folder.mkdir(parents=True, exist_ok=True)
        now = _now()
        year = now.year
        taken = [int(m.group(1)) for p in folder.glob(f"INC-{year}-*.json")
                 if (m := re.match(rf"INC-{year}-(\d+)\.json$", p.name))]
        inc_id = f"INC-{year}-{max(taken, default=0) + 1:03d}"
        incident = cls(id=inc_id, severity=severity, title=title, profile=profile,
                       opened_at=now.isoformat(timespec="seconds"), path=str(folder / f"{inc_id}.json"))
        incident.add("note", f"incident opened ({severity}): {title}")
        return incident

    @classmethod
    def load(cls, path: Path | str) -> Incident:
        data = json.loads(Path(path).read_text())
        data["timeline"] = [TimelineEntry(**e) for e in data.get("timeline", [])]
        data["path"] = str(path)
        return cls(**data)

    def save(self) -> None:
        data = asdict(self)
        data.pop("_seen_alerts", None)
        tmp = Path(self.path).with_suffix(".tmp")
        write_private(tmp, json.dumps(data, indent=2), file_mode())
        tmp.replace(self.path)

    def add(self, kind: str, text: str, at: datetime | None = None) -> None:
        self.timeline.append(TimelineEntry((at or _now()).isoformat(timespec="seconds"), kind, text))
        self.save()

    def record_alerts(self, alerts: Iterable[Alert]) -> None:
        """Add newly firing alerts and resolutions to the timeline (call after every poll)."""
        current = {a.key: a for a in alerts}
        for key, alert in current.items():
            if key not in self._seen_alerts:
                self._seen_alerts.add(key)
                self.add("alert", f"{alert.severity.name.lower()} alert {alert.rule} on {alert.subject}: "
                                  f"{alert.message}", alert.since)
        for key in sorted(self._seen_alerts - set(current)):
            self._seen_alerts.discard(key)
            self.add("resolved", f"alert {key} resolved")

    def record_audit(self, events: Iterable[AuditEvent]) -> None:
        """Add finished runbook steps (audit ``end`` records) of this profile to the timeline."""
        for e in events:
            if e.phase == "end" and e.profile == self.profile and e.ts >= self.opened_at:
                at = datetime.fromisoformat(e.end or e.ts)
                self.add("action", f"{e.who} ran {e.procedure}/{e.step} ({e.ref}): {e.outcome}"
                                   + (f" - {e.message}" if e.message else ""), at)

    def close(self, *, root_cause: str = "", resolution: Iterable[str] = (), action_items: Iterable[str] = (),
              impact: str = "") -> None:
        self.root_cause = root_cause or self.root_cause
        self.resolution += list(resolution)
        self.action_items += list(action_items)
        self.impact = impact or self.impact
        self.closed_at = _now().isoformat(timespec="seconds")
        self.add("note", "incident closed")

    def review(self) -> str:
        """The post-incident review in seed 001's template (markdown)."""
        opened = datetime.fromisoformat(self.opened_at)
        end = datetime.fromisoformat(self.closed_at) if self.closed_at else _now()
        minutes = max(0, round((end - opened).total_seconds() / 60))
        lines = ["## Incident Post-Mortem", "",
                 f"**Incident ID:** {self.id}",
                 f"**Date:** {opened.strftime('%B %d, %Y').replace(' 0', ' ')}",
                 f"**Duration:** {minutes} minutes" + ("" if self.closed_at else " (still open)"),
                 f"**Impact:** {self.impact or 'to be assessed'}",
                 f"**Severity:** {self.severity} ({SEVERITIES[self.severity]})", "",
                 "### Timeline"]
        for entry in sorted(self.timeline, key=lambda e: e.at):
            lines.append(f"- {datetime.fromisoformat(entry.at).strftime('%H:%M')} - {entry.text}")
        lines += ["", "### Root Cause", self.root_cause or "To be determined.", "", "### Resolution"]
        lines += [f"- {r}" for r in self.resolution] or ["- (none recorded)"]
        lines += ["", "### Action Items"]
        lines += [f"- [ ] {a}" for a in self.action_items] or ["- [ ] Update runbook with new procedure"]
        return "\n".join(lines) + "\n"

    def export_review(self, path: Path | None = None) -> Path:
        target = path or Path(self.path).with_suffix(".md")
        target.write_text(self.review(), encoding="utf-8")
        return target


def load_open_incidents(directory: Path | None = None) -> list[Incident]:
    folder = directory or data_dir() / "incidents"
    return [i for i in (Incident.load(p) for p in sorted(folder.glob("INC-*.json"))) if not i.closed_at]


