"""A thread pool whose threads never hold up the exit of the process.

``concurrent.futures.ThreadPoolExecutor`` joins its workers at interpreter
exit, so one backend call stuck in a socket read (a hung warehouse, a daemon
that stopped answering) keeps the console alive long after the user pressed
``q``. Work given to drivers is abandoned on exit anyway (the UI has stopped
waiting for it), so this pool runs it on daemon threads instead.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any


class DaemonThreadPool(concurrent.futures.ThreadPoolExecutor):
    """Bounded pool of daemon worker threads, started on demand.

    It subclasses ``ThreadPoolExecutor`` only so asyncio accepts it as the loop's
    default executor; none of the parent's machinery is used.
    """

    def __init__(self, max_workers: int = 4, thread_name_prefix: str = "daemon-pool") -> None:
        # The parent's __init__ is deliberately not called: its workers are the non-daemon threads we avoid.
        self._max_workers = max_workers
        self._prefix = thread_name_prefix
        self._queue: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...],
                                             dict[str, Any]] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit after shutdown")
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            self._queue.put((future, fn, args, kwargs))
            if self._idle == 0 and len(self._threads) < self._max_workers:
                thread = threading.Thread(target=self._work, name=f"{self._prefix}-{len(self._threads)}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
            else:
                self._idle -= 1 if self._idle else 0
            return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:
                    future.set_exception(exc)
            with self._lock:
                self._idle += 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False, join_timeout: float = 1.0) -> None:
        """Stop the workers; with ``wait``, give busy ones ``join_timeout`` seconds, then abandon them."""
        with self._lock:
            self._shutdown = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join(join_timeout)
