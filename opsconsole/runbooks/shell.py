"""Shell steps' plumbing: where their output goes, so a failed step never leaves half a file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opsconsole.runbooks.params import substitute


class ShellOutput:
    """A step's ``output:`` file: stdout goes to a temp file beside it, renamed over it only on success.

    So a failed or interrupted backup never replaces (or truncates) the previous one.
    """

    def __init__(self, template: str, values: Mapping[str, Any], cwd: str | None) -> None:
        import tempfile

        path = Path(os.path.expanduser(str(substitute(template, values))))
        self.path = path if path.is_absolute() else Path(cwd or ".") / path
        self.fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent)
        self.tmp: Path | None = Path(tmp)

    def close_fd(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def commit(self) -> Path:
        assert self.tmp is not None
        os.replace(self.tmp, self.path)
        self.tmp = None
        return self.path

    def discard(self) -> None:
        self.close_fd()
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
            self.tmp = None


# The step's group (its own session) is watched by a background reader of a pipe whose write end only the
# runner holds: when the runner dies, even by kill -9, the read ends and the whole group is killed, so no
# step outlives its console (and holds on to a target beside the next run). The pipe arrives as stdin and
# moves to fd 3 (asynchronous lists get /dev/null as stdin); the command itself gets /dev/null, as before.
_WATCH = 'exec 3<&0; ( read _ <&3; kill -KILL 0 ) >/dev/null 2>&1 </dev/null & exec "$@" 3<&- </dev/null'


class Lifeline:
    """Ties a shell step's process group to the runner's life."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()  # close-on-exec; the read end reaches the child as its stdin
        self.stdin = self._read

    @staticmethod
    def wrap(argv: list[str]) -> list[str]:
        return ["/bin/sh", "-c", _WATCH, "opsconsole-step", *argv]

    def started(self) -> None:
        """The child has its copy: drop ours of the read end (the write end stays until :meth:`cut`)."""
        if self._read >= 0:
            os.close(self._read)
            self._read = -1

    def cut(self) -> None:
        """End of the step (or of the runner): the watcher kills what is left of the step's group."""
        self.started()
        if self._write >= 0:
            os.close(self._write)
            self._write = -1
