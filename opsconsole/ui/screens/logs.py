"""Logs of one compose service: tail, follow and filter (``docker compose logs -f``).

Any driver with an async ``logs(service, tail=, follow=, grep=)`` generator can
feed it (today :class:`~opsconsole.drivers.docker_compose.DockerComposeDriver`).
Lines arrive in a worker; they are written to the ``Log`` widget in batches (at
most ten repaints a second however fast the service logs) and the widget keeps
a bounded number of lines. Changing the filter restarts the stream with the new
filter applied by the driver, so the tail is ``N`` *matching* lines. When the
daemon goes away the status line says so and the lines already shown stay.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Log, Static
from textual.worker import Worker, WorkerState

from opsconsole.drivers.base import describe
from opsconsole.ui.widgets.footer import KeysFooter

FLUSH_SECONDS = 0.1
"""Longest a received line waits before it is drawn."""


class LogSource(Protocol):
    """What the screen needs from a driver."""

    name: str

    def logs(self, service: str, tail: int = 100, follow: bool = False, grep: str | None = None) -> Any: ...


class LogsScreen(Screen[None]):
    """Full-screen log view of one service."""

    BINDINGS = [
        Binding("escape,q", "close", "Back", id="logs-close"),
        Binding("f", "toggle_follow", "Follow", id="logs-follow"),
        Binding("slash", "focus_filter", "Filter", id="logs-filter", key_display="/"),
        Binding("r", "reload", "Reload", id="logs-reload"),
        Binding("end", "scroll_end", "End", show=False, id="logs-end"),
    ]
    DEFAULT_CSS = """
    LogsScreen #logs-status { height: 1; background: $panel; padding: 0 1; }
    LogsScreen #logs-status.error { color: $error; text-style: bold; }
    LogsScreen #logs-filter { height: 3; }
    LogsScreen #logs-lines { height: 1fr; }
    """

    def __init__(self, source: LogSource, service: str, *, tail: int = 200, follow: bool = True,
                 max_lines: int = 5000) -> None:
        super().__init__()
        self.source = source
        self.service = service
        self.tail = tail
        self.follow = follow
        self.max_lines = max_lines
        self.grep: str | None = None
        self.lines_shown = 0
        self.error = ""
        self._buffer: list[str] = []
        self._last_flush = 0.0
        self._flush_timer: Any = None

    def compose(self) -> ComposeResult:
        yield Static(id="logs-status")
        yield Input(placeholder="filter: text or regular expression, enter to apply, empty for all",
                    id="logs-filter")
        yield Log(max_lines=self.max_lines, id="logs-lines", auto_scroll=True)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one(Log).focus()
        self._restart()

    # ------------------------------------------------------------------ streaming
    def _restart(self) -> None:
        self.query_one(Log).clear()
        self._buffer.clear()
        self.lines_shown = 0
        self.error = ""
        self._show_status()
        self._stream(self.follow, self.grep)

    @work(group="logs", exclusive=True, exit_on_error=False)
    async def _stream(self, follow: bool, grep: str | None) -> None:
        # exclusive=True cancels the previous stream; cancellation closes its generator and the daemon stream.
        async for line in self.source.logs(self.service, tail=self.tail, follow=follow, grep=grep):
            self._buffer.append(line)
            if time.monotonic() - self._last_flush >= FLUSH_SECONDS or len(self._buffer) >= 500:
                self._flush()
            elif self._flush_timer is None:
                self._flush_timer = self.set_timer(FLUSH_SECONDS, self._flush)
        self._flush()

    def _flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        self.query_one(Log).write_lines(batch)
        self.lines_shown += len(batch)
        self._show_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "logs":
            return
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self._flush()
            self.error = describe(event.worker.error)
            self._show_status()
        elif event.state is WorkerState.SUCCESS:
            self._show_status(ended=self.follow)

    def _show_status(self, ended: bool = False) -> None:
        status = self.query_one("#logs-status", Static)
        mode = "following" if self.follow else f"last {self.tail} lines"
        parts = [f"logs: {self.service} [{self.source.name}]", mode, f"{self.lines_shown} lines"]
        if self.grep:
            parts.append(f"filter /{self.grep}/")
        if ended:
            parts.append("stream ended (container stopped?) - r to reload")
        if self.error:
            parts.append(f"UNREACHABLE: {self.error} - r to retry")
        status.set_class(bool(self.error), "error")
        status.update(Text("  ·  ".join(parts)))

    # ------------------------------------------------------------------ actions
    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.grep = event.value.strip() or None
        self.query_one(Log).focus()
        self._restart()

    def action_focus_filter(self) -> None:
        self.query_one(Input).focus()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self._restart()

    def action_reload(self) -> None:
        self._restart()

    def action_scroll_end(self) -> None:
        self.query_one(Log).scroll_end(animate=False)

    def action_close(self) -> None:
        if self.query_one(Input).has_focus:
            self.query_one(Log).focus()
            return
        self.workers.cancel_group(self, "logs")
        self.dismiss(None)
