"""The last good rows of every source, kept on disk so the next launch has something to show at once.

A console that opens on a blank dashboard for the second or two its first polls
take leaves the on-call engineer staring at "waiting". The monitor writes each
source's last good rows here (per profile, under the state directory); the next
launch shows them dimmed, with their age, until its own first poll lands. They
are never evaluated by the alert rules and never presented as live.

Why the care:

* **secrets**: every string goes through :func:`opsconsole.redact.scrub` (the
  model's own redaction) on the way out, and the file is private (0600, or 0660
  in a shared state dir, like the audit log);
* **atomic**: written to a temporary file then renamed, so a crash or two
  consoles writing at once never leave half a file;
* **the right profile**: the file names the profile and a fingerprint of its
  source file and drivers; a file from another profile (or another platform that
  happens to share the name), a different format version, or a corrupt file is
  ignored without a word: a cache is a convenience, never a reason to fail.

Core module: no Textual, no Rich.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole import model
from opsconsole.model import Pane
from opsconsole.redact import scrub

if TYPE_CHECKING:
    from opsconsole.config import Profile
    from opsconsole.drivers.base import Driver
    from opsconsole.monitor.state import MonitorSnapshot, MonitorUpdate

log = logging.getLogger("opsconsole.monitor.cache")
VERSION = 1
MAX_ROWS = 500
"""Rows kept per source: a cache is for the first glance, not the history (``v`` has that)."""
FIRST_WRITE_AFTER = 2.0
"""Seconds after the first fresh data: every pane's first round has landed by then."""
WRITE_EVERY = 60.0
"""At most one write a minute while polling goes on; :meth:`SnapshotWriter.flush` writes at stop."""
ROW_TYPES: dict[str, type] = {name: cls for name, cls in vars(model).items()
                              if isinstance(cls, type) and dataclasses.is_dataclass(cls)}
ENUMS: dict[str, type[enum.Enum]] = {"Health": model.Health, "Severity": model.Severity}


@dataclasses.dataclass(frozen=True, slots=True)
class CachedPane:
    """A pane's rows as the last session saw them, and when (the oldest source's last good poll)."""

    pane: Pane
    rows: tuple[object, ...]
    last_ok: datetime


def cache_path(profile: Profile) -> Path:
    from opsconsole.audit import data_dir

    return data_dir() / "snapshots" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', profile.name)}.json"


def fingerprint(profile: Profile, drivers: Sequence[Driver]) -> str:
    """Which platform the rows belong to: profile name, its file, each driver's name and kind."""
    parts = [profile.name, str(profile.source), *sorted(f"{d.name}={d.kind}" for d in drivers)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


# ---------------------------------------------------------------------- rows <-> JSON
def _encode(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, enum.Enum):
        return {"$enum": type(value).__name__, "v": value.value}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return scrub(str(value))


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$dt" in value:
            return datetime.fromisoformat(value["$dt"])
        if "$enum" in value:
            return ENUMS[value["$enum"]](value["v"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


def encode_row(row: object) -> dict[str, Any] | None:
    """A model row as JSON (strings scrubbed), or None for a row that is not a model dataclass."""
    name = type(row).__name__
    if ROW_TYPES.get(name) is not type(row):
        return None
    return {"type": name, "fields": {f.name: _encode(getattr(row, f.name)) for f in dataclasses.fields(row)}}


def decode_row(data: Mapping[str, Any]) -> object:
    cls = ROW_TYPES[data["type"]]
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: _decode(v) for k, v in data["fields"].items() if k in known})


# ---------------------------------------------------------------------- read
def _read(path: Path, expected: str) -> list[dict[str, Any]]:
    """The file's source entries if it is ours (version and fingerprint), else nothing."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict) or data.get("version") != VERSION or data.get("fingerprint") != expected:
        return []
    sources = data.get("sources")
    return [s for s in sources if isinstance(s, dict)] if isinstance(sources, list) else []


def load_cached(profile: Profile, drivers: Sequence[Driver]) -> dict[Pane, CachedPane]:
    """Each pane's cached rows for this profile; empty when there is no usable cache."""
    offered = {(d.name, p.value) for d in drivers for p in d.panes}
    by_pane: dict[Pane, list[tuple[datetime, list[object]]]] = {}
    for entry in _read(cache_path(profile), fingerprint(profile, drivers)):
        try:
            if (entry["driver"], entry["pane"]) not in offered:
                continue
            pane = Pane(entry["pane"])
            rows = [decode_row(r) for r in entry["rows"]]
            by_pane.setdefault(pane, []).append((datetime.fromisoformat(entry["last_ok"]), rows))
        except Exception as exc:  # a hand-edited or older-model entry: skip it, keep the others
            log.debug("cache entry ignored: %s", exc)
    return {pane: CachedPane(pane, tuple(r for _at, rows in found for r in rows), min(at for at, _r in found))
            for pane, found in by_pane.items()}


# ---------------------------------------------------------------------- write
def _entries(snapshot: MonitorSnapshot) -> list[dict[str, Any]]:
    out = []
    for source in snapshot.sources:
        if source.last_ok is None:
            continue
        rows = [encode_row(r) for r in source.rows[:MAX_ROWS]]
        if any(r is None for r in rows):
            continue  # rows the cache cannot rebuild faithfully: better none than wrong ones
        out.append({"driver": source.driver, "pane": source.pane.value, "last_ok": source.last_ok.isoformat(),
                    "rows": rows})
    return out


def write_cache(path: Path, profile_name: str, print_: str, entries: Iterable[dict[str, Any]]) -> None:
    """Atomically replace the cache file (sources not polled this session keep their previous entry)."""
    from opsconsole.audit import file_mode
    from opsconsole.monitor.incidents import write_private

    fresh = list(entries)
    have = {(e["driver"], e["pane"]) for e in fresh}
    kept = [e for e in _read(path, print_) if (e.get("driver"), e.get("pane")) not in have]
    data = {"version": VERSION, "profile": profile_name, "fingerprint": print_,
            "saved_at": datetime.now().astimezone().isoformat(), "sources": kept + fresh}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_private(tmp, json.dumps(data, separators=(",", ":")), file_mode())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


class SnapshotWriter:
    """Subscribed to a monitor: writes the cache a moment after the first data, then at most once a minute."""

    def __init__(self, profile: Profile, drivers: Sequence[Driver]) -> None:
        self.path = cache_path(profile)
        self.profile_name = profile.name
        self.fingerprint = fingerprint(profile, drivers)
        self._latest: MonitorSnapshot | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._written_once = False
        self._dirty = False

    def on_update(self, update: MonitorUpdate) -> None:
        if update.pane is None or not any(s.last_ok is not None for s in update.snapshot.sources):
            return
        self._latest = update.snapshot
        self._dirty = True
        if self._timer is None:
            delay = WRITE_EVERY if self._written_once else FIRST_WRITE_AFTER
            self._timer = asyncio.get_running_loop().call_later(delay, self._write_soon)

    def _write_soon(self) -> None:
        self._timer = None
        snapshot, self._dirty = self._latest, False
        if snapshot is None:
            return
        self._written_once = True
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self._write, snapshot)  # file I/O off the UI's event loop
        future.add_done_callback(lambda f: f.cancelled() or f.exception() is None or
                                 log.warning("snapshot cache not written: %s", f.exception()))

    def _write(self, snapshot: MonitorSnapshot) -> None:
        write_cache(self.path, self.profile_name, self.fingerprint, _entries(snapshot))

    def flush(self, snapshot: MonitorSnapshot) -> None:
        """At stop: write what the last polls saw (synchronously; a few ms), cancel the pending write."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._written_once and not self._dirty:
            return
        entries = _entries(snapshot)
        if not entries:
            return  # nothing answered this session: the previous cache stays as it was
        self._dirty = False
        try:
            write_cache(self.path, self.profile_name, self.fingerprint, entries)
        except OSError as exc:
            log.warning("snapshot cache not written: %s", exc)
