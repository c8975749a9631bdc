"""Who holds a DuckDB database file's lock: pid and command line.

The OSAA runbook (seed 003) answers "Database is locked" with ``lsof | grep``
and then deletes the ``.wal`` file, which throws away every committed
transaction not yet checkpointed. This module gives the safe first half of that
answer, the holder's pid and command, so an operator can stop that process
instead; DuckDB replays the WAL on the next open.

Two sources, both cheap and free of any DuckDB import:

* DuckDB's own error text (``Conflicting lock is held in <exe> (PID <n>)``),
  which DuckDB fills from ``fcntl(F_GETLK)`` on every platform;
* ``/proc/locks`` on Linux, matched on the file's device and inode, which also
  sees read-only holders and the lock type (READ or WRITE).

PIDs come translated into this process's PID namespace by the kernel, so a
pipeline container's process shows with its host pid when the console runs on
the host. Nothing here opens the database or signals anything: callers decide.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

LOCK_TABLE_READABLE = os.path.exists("/proc/locks")
"""Linux shows every file lock in /proc/locks; elsewhere (macOS, Windows) only opening the database tells."""

_ERROR_PATTERN = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")
_LOCKS_LINE = re.compile(
    r"^\d+:\s+(?P<waiter>->\s+)?(?P<kind>\S+)\s+\S+\s+(?P<mode>READ|WRITE)\s+(?P<pid>-?\d+)\s+"
    r"(?P<major>[0-9a-fA-F]+):(?P<minor>[0-9a-fA-F]+):(?P<inode>\d+)\s"
)


@dataclass(frozen=True, slots=True)
class LockHolder:
    """One process holding a lock on a database file."""

    pid: int
    command: str
    """Full command line (``/proc/<pid>/cmdline``), or the executable DuckDB named."""
    mode: str = "WRITE"
    """``WRITE`` (a read-write connection) or ``READ`` (a read-only one)."""
    found_by: str = "proc-locks"
    """``duckdb-error`` or ``proc-locks``: where the pid came from."""

    def describe(self, width: int = 120) -> str:
        """One line for a status row or a confirmation: ``pid 123 (python etl.py), write lock``.

        A command longer than ``width`` keeps its start and its end (where the
        script's arguments are) around an ellipsis.
        """
        command = self.command or "command unknown"
        if len(command) > width:
            head = width * 2 // 3
            command = command[:head] + " … " + command[-(width - head - 3):]
        return f"pid {self.pid} ({command}), {self.mode.lower()} lock"


def is_lock_error(message: str) -> bool:
    """True when a DuckDB error says another process holds the file's lock."""
    return "Could not set lock on file" in message or "Conflicting lock is held" in message


def parse_lock_error(message: str) -> tuple[int, str] | None:
    """The (pid, executable) DuckDB names in a lock conflict error, if any."""
    match = _ERROR_PATTERN.search(message)
    if match is None:
        return None
    return int(match.group("pid")), match.group("exe")


def command_line(pid: int, proc_root: str = "/proc") -> str:
    """The command line of a process, as a single readable string ('' if gone or hidden)."""
    try:
        raw = Path(proc_root, str(pid), "cmdline").read_bytes()
    except OSError:
        return ""
    text = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    return " ".join(text.split())  # one line: ``python -c`` code can hold newlines


def holders_from_proc_locks(path: str | os.PathLike[str], proc_root: str = "/proc") -> list[LockHolder]:
    """Processes holding a POSIX/OFD lock on ``path`` according to ``/proc/locks``.

    Empty on systems without ``/proc/locks`` or when the file does not exist.
    OFD locks report pid -1 (no owning process); they are skipped because there
    is no one to name.
    """
    try:
        st = os.stat(path)
        text = Path(proc_root, "locks").read_text()
    except OSError:
        return []
    major, minor, inode = os.major(st.st_dev), os.minor(st.st_dev), st.st_ino
    seen: dict[int, LockHolder] = {}
    for line in text.splitlines():
        match = _LOCKS_LINE.match(line.strip())
        if match is None or match.group("waiter"):
            continue  # unparsable, or a process waiting for the lock rather than holding it
        if int(match.group("inode")) != inode:
            continue
        if (int(match.group("major"), 16), int(match.group("minor"), 16)) != (major, minor):
            continue
        pid = int(match.group("pid"))
        if pid <= 0:
            continue
        mode = match.group("mode")
        if pid in seen and seen[pid].mode == "WRITE":
            continue
        seen[pid] = LockHolder(pid=pid, command=command_line(pid, proc_root), mode=mode, found_by="proc-locks")
    return sorted(seen.values(), key=lambda h: (h.mode != "WRITE", h.pid))


def find_lock_holder(path: str | os.PathLike[str], error_message: str = "",
                     proc_root: str = "/proc") -> LockHolder | None:
    """Best answer to "who holds this database?", preferring the writer.

    ``error_message`` is the text of the DuckDB error that reported the
    conflict, when there was one; ``/proc/locks`` supplies the full command
    line and the lock mode, and the holder when the message names none.
    """
    holders = holders_from_proc_locks(path, proc_root)
    named = parse_lock_error(error_message) if error_message else None
    if named is not None:
        pid, exe = named
        for holder in holders:
            if holder.pid == pid:
                return holder
        return LockHolder(pid=pid, command=command_line(pid, proc_root) or exe, mode="WRITE",
                          found_by="duckdb-error")
    writers = [h for h in holders if h.mode == "WRITE"]
    if writers:
        return writers[0]
    return holders[0] if holders else None


def still_holds(path: str | os.PathLike[str], pid: int, proc_root: str = "/proc") -> bool:
    """Whether ``pid`` holds a lock on ``path`` right now (guard before signalling it)."""
    return any(h.pid == pid for h in holders_from_proc_locks(path, proc_root))
