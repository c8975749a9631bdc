"""A small real profile for UI tests: an HTTP health driver probing a live local server and a dead port.

Real probes over real sockets (no mocks), no demo engine to wait for: the
Services pane fills within a second with one OK and one CRITICAL row.
"""

from __future__ import annotations

import socket
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from opsconsole.config import Profile, load


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def http_profile(tmp_path: Path, *, extra: str = "", up: tuple[str, ...] = ("api",),
                 down: tuple[str, ...] = ("billing",), title: str = "test web services",
                 read_only: bool = False) -> Iterator[tuple[Profile, Path]]:
    """A profile ``web`` whose Services pane shows ``up`` (a live local server) and ``down`` (connection refused)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    endpoints = {**{name: f"http://127.0.0.1:{port}/health" for name in up},
                 **{name: f"http://127.0.0.1:{dead_port()}/health" for name in down}}
    lines = "".join(f"\n                    {name}: {url}" for name, url in endpoints.items())
    text = textwrap.dedent(f"""\
        profiles:
          web:
            title: {title}
            read_only: {str(read_only).lower()}
            drivers:
              health:
                type: http
                options:
                  endpoints:{lines}
            poll: {{services: 1}}
        """) + textwrap.indent(textwrap.dedent(extra), "    ")
    path = tmp_path / "profiles.yaml"
    path.write_text(text)
    try:
        yield load(path).profile("web"), path
    finally:
        server.shutdown()
        server.server_close()
