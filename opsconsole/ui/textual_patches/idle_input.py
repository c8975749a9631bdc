"""Textual's Linux terminal driver without its 10 Hz input wake-up.

Textual's input thread calls ``select`` with a 0.1 s timeout forever, so that
its key parser can time out a lone ``ESC`` and notice the exit flag. On an idle
dashboard that is ten wake-ups a second for nothing: 0.15 % of a core on the
jump box (measured per thread from ``/proc``), about a sixth of the console's
whole idle budget.

This driver keeps Textual's reading, parsing and dispatching as they are and
changes only *when* the thread wakes: it ticks every 0.1 s only while input
arrived in the last second (an escape sequence may still be pending), and
otherwise sleeps in ``select`` until a key arrives or the app exits (the exit
flag writes to a pipe the selector also watches).
"""

from __future__ import annotations

import os
import selectors
import time
from codecs import getincrementaldecoder
from threading import Event

from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

TICK = 0.1
"""Textual's own tick: the escape-key timeout (ESCDELAY, 100 ms) resolves on it."""
ACTIVE_FOR = 1.0
"""Seconds after the last input byte during which the thread keeps ticking."""


class _WakingEvent(Event):
    """The driver's exit flag: setting it also wakes the input thread out of ``select``."""

    def __init__(self) -> None:
        super().__init__()
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)

    def set(self) -> None:
        super().set()
        if self.write_fd < 0:
            return
        try:
            os.write(self.write_fd, b"x")
        except OSError:  # pipe full (already woken) or closed at shutdown
            pass

    def clear(self) -> None:
        super().clear()
        if self.read_fd < 0:
            return
        try:
            while os.read(self.read_fd, 512):
                pass
        except OSError:  # nothing left to drain
            pass


class QuietLinuxDriver(LinuxDriver):
    """A ``LinuxDriver`` whose input thread sleeps while nobody types."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.exit_event = _WakingEvent()

    def run_input_thread(self) -> None:
        """Textual's input loop, with a timeout only while input is recent."""
        exit_event = self.exit_event
        assert isinstance(exit_event, _WakingEvent)
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(exit_event.read_fd, selectors.EVENT_READ)
        fileno = self.fileno
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        last_input = time.monotonic()

        def hung_up() -> None:
            """The terminal is gone (SSH dropped without a SIGHUP reaching us): stop reading, quit cleanly.

            Without this, ``select`` reports the dead descriptor readable forever and the
            thread spins a core at 100 % (seen on a pty whose master was closed).
            """
            selector.unregister(fileno)
            self._loop.call_soon_threadsafe(self._app.exit, 0)

        def process(events: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            nonlocal last_input
            for key, mask in events:
                if key.fd != fileno or not mask & selectors.EVENT_READ:
                    continue
                last_input = time.monotonic()
                try:
                    raw = os.read(fileno, 1024 * 4)
                except OSError:  # EIO: the pty's other end is closed
                    raw = b""
                if not raw:
                    hung_up()
                    break
                data = decode(raw, final=final)
                if not data:
                    break
                for event in parser.feed(data):
                    self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not exit_event.is_set():
                recent = time.monotonic() - last_input < ACTIVE_FOR
                process(selector.select(TICK if recent else None))
            process(selector.select(TICK), final=True)
        finally:
            selector.close()
            try:
                for _event in parser.feed(""):
                    pass
            except Exception:  # textual ignores the parser's EOF/parse errors here too
                pass

    def close(self) -> None:
        super().close()
        exit_event = self.exit_event
        if isinstance(exit_event, _WakingEvent):
            fds = (exit_event.read_fd, exit_event.write_fd)
            exit_event.read_fd = exit_event.write_fd = -1  # never write into a reused descriptor
            for fd in fds:
                if fd >= 0:
                    os.close(fd)
