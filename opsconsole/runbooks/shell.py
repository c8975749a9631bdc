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
