"""Append-only audit log of every runbook step: who ran what, where, and how it ended.

One JSON object per line (JSONL), written *before* a step runs and again *after*
it ends, each line flushed and fsync'ed before the step proceeds. A crash or a
``kill -9`` in the middle of a procedure therefore loses nothing already
recorded: the last record says which step was started and never finished.

Secrets never reach the file: parameters whose name says they are secret, values
that are :class:`opsconsole.config.Secret`, and any known secret value found in
a message are replaced by ``••••``. Outputs are not stored, only a SHA-256
digest and their size, so the log stays small and cannot leak what a command
printed.

Default location: ``$OPSCONSOLE_DATA_DIR/audit.jsonl`` or the platform's user
data dir (XDG on Linux).
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsconsole.errors import OpsConsoleError
from opsconsole.redact import scrub
from opsconsole.secret import Secret

REDACTED = "••••"
SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|access[_-]?key|credential|private[_-]?key",
                         re.IGNORECASE)


STATE_DIR_ENV = "OPSCONSOLE_STATE_DIR"
"""A state directory shared by everyone on a jump box (``--state-dir`` sets it; so may ``state_dir:``)."""


def shared_state_dir() -> Path | None:
    env = os.environ.get(STATE_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else None


def data_dir() -> Path:
    """Where the audit log, target locks, incidents and diagnostics live.

    A shared state directory (``--state-dir``, ``$OPSCONSOLE_STATE_DIR`` or the
    profiles file's ``state_dir:``) wins, so two engineers on one box see one audit
    log, one set of target locks and the same incidents; else the user's own.
    """
    shared = shared_state_dir()
    if shared is not None:
        return shared
    env = os.environ.get("OPSCONSOLE_DATA_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("opsconsole"))


def file_mode() -> int:
    """0600 for a user's own files; 0660 in a shared state directory (its group is the team)."""
    return 0o660 if shared_state_dir() is not None else 0o600


def share_new_file(fd: int) -> None:
    """Give a file just created in a shared state directory its 0660 despite the umask (owner only may)."""
    if shared_state_dir() is not None and os.fstat(fd).st_size == 0:
        try:
            os.fchmod(fd, 0o660)
        except OSError:
            pass


def default_path() -> Path:
    return data_dir() / "audit.jsonl"


def current_user() -> str:
    """The person, not the account: on a shared jump box ``sudo``/``su`` run as root; say who logged in.

    ``SUDO_USER`` names who ran sudo; otherwise the terminal's login name (``su``
    keeps it) when it differs from the account.
    """
    try:
        account = getpass.getuser()
    except Exception:
        account = f"uid:{os.getuid()}"
    person = os.environ.get("SUDO_USER", "").strip()
    if not person:
        try:
            person = os.getlogin()
        except OSError:  # no controlling terminal (services, tests)
            person = ""
    if person and person != account:
        return f"{person} (as {account})"
    return account


def current_via() -> str:
    """How the person reached this console (``opsconsole serve`` sets it per browser tab), else ``""``."""
    return os.environ.get("OPSCONSOLE_AUDIT_VIA", "")[:200]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the audit log."""

    ts: str
    """When the line was written (ISO 8601, UTC)."""
    run_id: str
    phase: str
    """``run-start``, ``start`` (before a step), ``end`` (after it) or ``run-end``."""
    procedure: str
    profile: str = ""
    who: str = ""
    via: str = ""
    """The connection, when not a local terminal (``web <peer address> <browser>``)."""
    host: str = ""
    pid: int = 0
    step: str = ""
    step_index: int | None = None
    ref: str = ""
    """``type.action``, ``type.probe`` or ``shell``."""
    driver: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    target: str = ""
    flags: tuple[str, ...] = ()
    dry_run: bool = False
    start: str = ""
    end: str = ""
    outcome: str = ""
    message: str = ""
    exit_code: int | None = None
    output_digest: str = ""
    output_bytes: int = 0

    def to_json(self) -> str:
        data = asdict(self)
        data["flags"] = list(self.flags)
        return json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> AuditEvent:
        data = json.loads(line)
        known = {f for f in cls.__dataclass_fields__}
        data = {k: v for k, v in data.items() if k in known}
        data["flags"] = tuple(data.get("flags") or ())
        return cls(**data)


class AuditUnavailable(OpsConsoleError):
    """The audit log cannot be written: nothing runs unaudited, and the message says where and why."""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (ours or another user's); never true for 0 or less."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def digest(output: str | bytes) -> str:
    """``sha256:<hex>`` of an output, or ``""`` for no output."""
    if not output:
        return ""
    raw = output.encode("utf-8", "replace") if isinstance(output, str) else output
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` without the given secrets, URL passwords, token parameters or any registered Secret."""
    return scrub(text, secrets)


def redact(params: Mapping[str, Any], secrets: Iterable[str] = (), secret_names: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of ``params`` safe to write down."""
    secrets = [s for s in secrets if s]
    names = set(secret_names)
    result: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Secret) or ((key in names or SECRET_NAME.search(key)) and value not in (None, "")):
            result[key] = REDACTED
        elif isinstance(value, Mapping):
            result[key] = redact(value, secrets, names)
        elif isinstance(value, str):
            result[key] = redact_text(value, secrets)
        elif isinstance(value, (list, tuple)):
            result[key] = [redact_text(v, secrets) if isinstance(v, str) else
                           (REDACTED if isinstance(v, Secret) else v) for v in value]
        else:
            result[key] = value
    return result


class AuditLog:
    """Writer and reader of one audit file.

    Every :meth:`write` opens the file in append mode, writes one line, flushes
    and fsyncs, then closes: slower than a kept-open buffered file, but a record
    that :meth:`write` returned from is on disk, which is the point of an audit
    log. ``O_APPEND`` keeps lines from two processes (TUI and headless) whole.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.who = current_user()
        self.via = current_via()
        self.host = socket.gethostname()

    def write(self, event: AuditEvent) -> None:
        try:
            self._write(event)
        except OSError as exc:
            raise AuditUnavailable(f"cannot write the audit log {self.path}: {exc.strerror or exc}; steps do not "
                                   "run unaudited (fix its permissions, or choose another with --state-dir or "
                                   "OPSCONSOLE_STATE_DIR)") from None

    def _write(self, event: AuditEvent) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (event.to_json() + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, file_mode())
        try:
            share_new_file(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)  # TUI and headless runs share the file
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a crash tore the last line: never glue a record onto it
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def event(self, **fields: Any) -> AuditEvent:
        """Build an event stamped with this log's user, host, pid and the current time."""
        fields.setdefault("who", self.who)
        fields.setdefault("via", self.via)
        fields.setdefault("host", self.host)
        fields.setdefault("pid", os.getpid())
        fields.setdefault("ts", now_iso())
        return AuditEvent(**fields)

    def close_dangling(self) -> list[AuditEvent]:
        """Record ``end`` (outcome ``runner-died``) for steps whose runner died before writing their end.

        A ``kill -9`` of a console leaves a ``start`` with no ``end``; the next run on
        this host closes it, so the log never shows a step as still running forever.
        Only steps of processes that are gone are closed (a live console may be mid-step).
        """
        pending: dict[tuple[str, int | None], AuditEvent] = {}
        for e in self.read():
            if e.phase == "start":
                pending[(e.run_id, e.step_index)] = e
            elif e.phase == "end":
                pending.pop((e.run_id, e.step_index), None)
        closed = []
        for e in pending.values():
            if e.host != self.host or pid_alive(e.pid):
                continue
            event = self.event(run_id=e.run_id, phase="end", procedure=e.procedure, profile=e.profile, who=e.who,
                               via=e.via, step=e.step, step_index=e.step_index, ref=e.ref, driver=e.driver,
                               params=e.params, target=e.target, flags=e.flags, start=e.start, end=now_iso(),
                               outcome="runner-died", message=f"runner died (pid {e.pid} ended without recording "
                                                              "how this step ended)")
            self.write(event)
            closed.append(event)
        return closed

    def read(self, limit: int | None = None) -> list[AuditEvent]:
        """Events in file order (the last ``limit`` if given).

        A torn last line (the process died mid-write) is skipped, not fatal:
        everything before it is still readable.
        """
        if not self.path.exists():
            return []
        events: list[AuditEvent] = []
        with self.path.open("r", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    events.append(AuditEvent.from_json(line))
                except (ValueError, TypeError):
                    continue
        return events[-limit:] if limit else events
