"""One mutating procedure per target at a time, across processes.

The TUI and ``opsconsole run`` in another terminal must not restart the same
app or compact the same catalog concurrently. An advisory ``flock`` on a file
per (profile, target) in the data dir is released by the kernel when the holder
exits, even by ``kill -9``, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path

from opsconsole.audit import current_user, data_dir, file_mode, now_iso, share_new_file


class TargetBusy(Exception):
    """Another procedure holds the target; the message says who."""


def lock_dir() -> Path:
    return data_dir() / "locks"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "_"


class TargetLocks:
    """Holds the locks of one running procedure until :meth:`release`."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or lock_dir()
        self._fds: list[int] = []

    def acquire(self, profile: str, targets: list[str], procedure: str, run_id: str) -> None:
        """Take every target's lock or none of them; raise TargetBusy naming the holder."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for target in sorted(set(targets)):
            path = self.directory / f"{_safe(profile)}--{_safe(target)}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT, file_mode())
            share_new_file(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _describe_holder(fd)
                os.close(fd)
                self.release()
                raise TargetBusy(f"target {target!r} of profile {profile!r} is busy: {holder}; "
                                 "wait for it to finish or cancel it") from None
            info = {"procedure": procedure, "run_id": run_id, "who": current_user(), "pid": os.getpid(),
                    "since": now_iso()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
            self._fds.append(fd)

    def release(self) -> None:
        for fd in self._fds:
            try:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        self._fds.clear()


def _describe_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another procedure is running on it"
    return (f"procedure {info.get('procedure')!r} run by {info.get('who')} (pid {info.get('pid')}) "
            f"since {info.get('since')}")
