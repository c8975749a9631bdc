"""Service logs of the docker compose driver: tail, follow and filter, like ``docker compose logs -f``.

A mixin of :class:`~opsconsole.drivers.docker_compose.DockerComposeDriver`
(``can_stream_logs``): the ``g`` key's logs screen and the ``service-logs``
runbook read through it. Following runs on a daemon thread that the consumer
stops by leaving; a daemon that goes away ends the stream with a message.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from typing import Any

from opsconsole.drivers.base import describe
from opsconsole.errors import DriverUnavailable

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"

_END = object()


def grep_matcher(grep: str | None) -> Any:
    """A case-insensitive line filter: a regular expression, or literal text if it is not one."""
    if not grep:
        return lambda line: True
    try:
        pattern = re.compile(grep, re.IGNORECASE)
    except re.error:
        pattern = re.compile(re.escape(grep), re.IGNORECASE)
    return lambda line: pattern.search(line) is not None


def close_quietly(stream: Any) -> None:
    try:
        stream.close()
    except Exception:
        pass


class ComposeLogs:
    """Needs the driver's ``name``, ``_service``, ``_call`` and ``timeout``."""

    name: str

    async def logs(self, service: str, tail: int = 100, follow: bool = False, grep: str | None = None,
                   timestamps: bool = False) -> AsyncIterator[str]:
        """Lines of a service's log (stdout and stderr), like ``docker compose logs [-f] --tail N``.

        ``grep`` keeps matching lines (case-insensitive regular expression, or
        literal text when it is not a valid one). With ``follow`` the iterator
        waits for new lines until the container stops or the consumer stops
        iterating (``aclose()`` or task cancellation closes the stream). A
        scaled service shows its first running replica.
        """
        mine = await self._service(service)
        target = next((c for c in mine if c.state == "running"), mine[0])
        keep = grep_matcher(grep)
        tail_arg: int | str = max(0, int(tail)) if tail is not None else "all"
        if not follow:
            data = await self._call(lambda: self._client().api.logs(
                target.id, stdout=True, stderr=True, tail=tail_arg, timestamps=timestamps), what=f"logs {service}")
            for line in data.decode("utf-8", errors="replace").splitlines():
                if keep(line):
                    yield line
            return
        async for line in self._follow(target, tail_arg, timestamps, service):
            if keep(line):
                yield line

    async def _follow(self, target: Any, tail: int | str, timestamps: bool, service: str,
                      ) -> AsyncIterator[str]:
        """Pump a blocking log stream on its own thread into the event loop, with backpressure."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        slots = threading.Semaphore(64)
        """At most 64 undelivered batches: a flood of logs blocks the reader thread, not memory."""
        stop = threading.Event()
        holder: dict[str, Any] = {}

        def deliver(item: Any) -> bool:
            while not slots.acquire(timeout=0.25):
                if stop.is_set():
                    return False
            if stop.is_set():
                return False
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # loop closed
                return False
            return True

        def pump() -> None:
            try:
                stream = self._client().api.logs(target.id, stdout=True, stderr=True, stream=True, follow=True,
                                                 tail=tail, timestamps=timestamps)
                holder["stream"] = stream
                if stop.is_set():
                    stream.close()
                    return
                pending = b""
                for chunk in stream:
                    if stop.is_set():
                        break
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    if lines and not deliver([ln.decode("utf-8", errors="replace") for ln in lines]):
                        return
                if pending:
                    deliver([pending.decode("utf-8", errors="replace")])
                deliver(_END)
            except BaseException as exc:  # forwarded to the consumer, whatever it is
                if not stop.is_set():
                    deliver(exc)

        thread = threading.Thread(target=pump, name=f"logs-{self.name}-{service}", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                slots.release()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    self._drop_client()
                    raise DriverUnavailable(f"{self.name}: log stream of {service} broke: {describe(item)}") from item
                for line in item:
                    yield line
        finally:
            stop.set()
            stream = holder.get("stream")
            if stream is not None:
                # Shutting the socket down unblocks the reader thread's recv(); it then exits. Done inline
                # (it does not block) so a second cancellation cannot skip it.
                close_quietly(stream)
