"""Log lines from a local file, like ``tail [-f] -n N | grep``: the demo engine's log for ``g``.

The same async-iterator shape as :meth:`opsconsole.drivers.docker_logs.DockerLogs.logs`,
so the logs screen cannot tell them apart. Following polls the file (no inotify:
it works on every filesystem) and starts again from the top when the file is
rotated or truncated under it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

from opsconsole.drivers.docker_logs import grep_matcher

FOLLOW_POLL_SECONDS = 0.25


async def tail_file(path: Path, *, tail: int = 100, follow: bool = False, grep: str | None = None,
                    poll: float = FOLLOW_POLL_SECONDS) -> AsyncIterator[str]:
    """The last ``tail`` matching lines of ``path``; with ``follow``, then each new matching line."""
    keep = grep_matcher(grep)

    def read_from(offset: int) -> tuple[list[str], int, int]:
        """Complete lines from ``offset`` on, the offset after them, and the file's inode (rotation)."""
        with path.open("rb") as fh:
            stat = path.stat()
            inode, size = stat.st_ino, stat.st_size
            if size < offset:
                offset = 0  # truncated or replaced: read the new file from its start
            fh.seek(offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1
        lines = data[:end].decode("utf-8", errors="replace").splitlines()
        return lines, offset + end, inode

    try:
        lines, offset, inode = await asyncio.to_thread(read_from, 0)
    except FileNotFoundError:
        lines, offset, inode = [], 0, 0
    for line in deque((line for line in lines if keep(line)), maxlen=max(0, tail)):
        yield line
    while follow:
        await asyncio.sleep(poll)
        try:
            current = await asyncio.to_thread(lambda: path.stat().st_ino)
            if current != inode:
                offset, inode = 0, current
            lines, offset, inode = await asyncio.to_thread(read_from, offset)
        except FileNotFoundError:
            continue
        for line in lines:
            if keep(line):
                yield line
