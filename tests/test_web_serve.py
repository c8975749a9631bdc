"""Web mode: ``opsconsole serve`` in headless Chromium (Debian's, driven by Playwright for Python).

The terminal is a canvas, so the test reads what the viewer sees from the bytes
the page itself received over its WebSocket, replayed into a terminal emulator
(pyte) of the page's own size: the help text must appear after ``?`` and be gone
after ``escape`` (a changed picture proves nothing: the pane clocks redraw it).

The locks (issue 18): a page from another Origin, a WebSocket without the token,
a page without the token and a rebinding Host are all refused, and nothing is
spawned for them; the tab's console is read-only and knows its connection.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import ROOT, require_peer
from ui_profiles import http_profile

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def console_children(server_pid: int) -> list[int]:
    """Console processes the server started for a tab (under a ``/bin/sh -c``), zombies excluded."""
    found, parents = [], [server_pid]
    while parents:
        out = subprocess.run(["ps", "-o", "pid=,stat=,args=", "--ppid", ",".join(map(str, parents))],
                             capture_output=True, text=True)
        parents = []
        for line in out.stdout.splitlines():
            pid, stat, args = line.split(None, 2)
            parents.append(int(pid))
            if "-m opsconsole" in args and not args.startswith("/bin/sh") and not stat.startswith("Z"):
                found.append(int(pid))
    return found


@contextmanager
def serving(config: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[str], str, int, list[str]]]:
    """``opsconsole serve`` on a free port: the process, the URL it printed (with token), the port, its output."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "opsconsole", "--config", str(config), "serve",
                               "--port", str(port), *extra], cwd=ROOT, start_new_session=True, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(server.stdout or ()), daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        url = ""
        while not url:
            url = next((m.group(0) for line in lines if (m := re.search(r"http://\S+\?token=\S+", line))), "")
            assert time.monotonic() < deadline and server.poll() is None, f"serve did not start: {lines}"
            time.sleep(0.1)
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    assert b"opsconsole" in response.read()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, f"serve not answering: {lines}"
                time.sleep(0.2)
        yield server, url, port, lines
    finally:
        consoles = console_children(server.pid)
        os.killpg(server.pid, signal.SIGTERM)
        for pid in consoles:  # tab sessions, in case they left the server's process group
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


class ScreenReader:
    """What the page's terminal shows: the page's WebSocket bytes replayed into pyte at the page's size."""

    def __init__(self, page: object) -> None:
        import pyte

        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen)
        self.lock = threading.Lock()
        page.on("websocket", self._attach)  # type: ignore[attr-defined]

    def _attach(self, ws: object) -> None:
        m = re.search(r"width=(\d+)&height=(\d+)", ws.url)  # type: ignore[attr-defined]
        if m:
            self.screen.resize(int(m.group(2)), int(m.group(1)))
        ws.on("framereceived", self._received)  # type: ignore[attr-defined]
        ws.on("framesent", self._sent)  # type: ignore[attr-defined]

    def _received(self, payload: bytes | str) -> None:
        with self.lock:
            self.stream.feed(payload if isinstance(payload, bytes) else payload.encode())

    def _sent(self, payload: bytes | str) -> None:
        if isinstance(payload, str) and payload.startswith('["resize"'):
            size = json.loads(payload)[1]
            with self.lock:
                self.screen.resize(int(size["height"]), int(size["width"]))

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.screen.display)

    def wait_for(self, page: object, predicate: object, what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.text()):  # type: ignore[operator]
            assert time.monotonic() < deadline, f"{what}; the page shows:\n{self.text()}"
            page.wait_for_timeout(200)  # type: ignore[attr-defined]


@pytest.mark.peer("chromium")
def test_serve_help_appears_and_goes_in_headless_chromium(tmp_path: Path) -> None:
    chromium = require_peer("OPSC_CHROMIUM", "Debian chromium (scripts/peers/chromium.sh)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("pyte")
    with http_profile(tmp_path) as (_profile, config), serving(config) as (server, url, _port, _out):
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1000, "height": 640})
                reader = ScreenReader(page)
                page.goto(url)
                page.click("body")  # textual-serve shows a start screen until clicked
                page.wait_for_selector(".textual-terminal canvas", timeout=30_000)
                reader.wait_for(page, lambda t: "billing" in t and "api" in t,
                                "the dashboard never showed the services")
                consoles = console_children(server.pid)
                assert consoles, "no console process started for the tab"
                cmdline = Path(f"/proc/{consoles[0]}/cmdline").read_bytes().split(b"\0")
                assert b"--read-only" in cmdline, "a browser tab's console must be read-only by default"
                environ = Path(f"/proc/{consoles[0]}/environ").read_bytes().split(b"\0")
                assert any(e.startswith(b"OPSCONSOLE_AUDIT_VIA=web 127.0.0.1") for e in environ), \
                    "the tab's console does not know its connection (audit identity)"
                assert "opsconsole — keys" not in reader.text()
                page.focus(".xterm-helper-textarea")  # where xterm.js takes keys (a click lands on a canvas)
                page.keyboard.press("?")
                reader.wait_for(page, lambda t: "opsconsole — keys" in t and "Refresh" in t and "Quit" in t,
                                "pressing ? did not show the help")
                page.keyboard.press("Escape")
                reader.wait_for(page, lambda t: "opsconsole — keys" not in t, "escape did not close the help")
                assert "billing" in reader.text()
            finally:
                browser.close()


HOSTILE_PAGE = """<!doctype html><html><body><script>
function probe(url) {
  return new Promise(resolve => {
    let opened = false;
    const ws = new WebSocket(url);
    ws.onopen = () => { opened = true; };
    ws.onclose = (e) => resolve({url, opened, code: e.code});
    setTimeout(() => { resolve({url, opened, code: -1}); try { ws.close(); } catch (e) {} }, 8000);
  });
}
window.probe = probe;
</script></body></html>"""


@contextmanager
def hostile_site() -> Iterator[int]:
    """A real web server on another port serving the probing page (the browser maps evil.example.com to it)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = HOSTILE_PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        yield int(site.server_address[1])
    finally:
        site.shutdown()
        site.server_close()


@pytest.mark.peer("chromium")
def test_serve_refuses_other_origins_and_missing_tokens(tmp_path: Path) -> None:
    chromium = require_peer("OPSC_CHROMIUM", "Debian chromium (scripts/peers/chromium.sh)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with http_profile(tmp_path) as (_profile, config), serving(config) as (server, url, port, _out), \
            hostile_site() as evil_port:
        token = url.split("?token=", 1)[1]
        with playwright_api.sync_playwright() as p:
            # evil.example.com resolves to this machine (a local page, or DNS rebinding): the browser's own
            # local-network checks let it through, so only the server's checks stand in the way.
            browser = p.chromium.launch(executable_path=chromium, args=[
                *BROWSER_ARGS, "--host-resolver-rules=MAP evil.example.com 127.0.0.1"])
            try:
                # A page the operator happens to open elsewhere, even one that learnt the token.
                evil = browser.new_page()
                evil.goto(f"http://evil.example.com:{evil_port}/")
                for ws_url in (f"ws://127.0.0.1:{port}/ws/{token}", f"ws://127.0.0.1:{port}/ws",
                               f"ws://localhost:{port}/ws/{token}"):
                    result = evil.evaluate("url => window.probe(url)", ws_url)
                    assert not result["opened"], f"a page from http://evil.example.com opened {ws_url}"
                # The right origin without the token (or with a wrong one): no page, no WebSocket.
                page = browser.new_page()
                response = page.goto(f"http://127.0.0.1:{port}/")
                assert response is not None and response.status == 403
                assert "token" in page.content()
                response = page.goto(f"http://127.0.0.1:{port}/?token=not-the-token-at-all")
                assert response is not None and response.status == 403
                page.set_content(HOSTILE_PAGE)  # same browser, blank origin
                for ws_url in (f"ws://127.0.0.1:{port}/ws", f"ws://127.0.0.1:{port}/ws/{'x' * 43}"):
                    result = page.evaluate("url => window.probe(url)", ws_url)
                    assert not result["opened"], f"{ws_url} opened without the token"
            finally:
                browser.close()
        assert console_children(server.pid) == [], "a refused connection still started a console"
        # DNS rebinding: the attacker's name resolving to 127.0.0.1 sends its own Host header.
        request = urllib.request.Request(url, headers={"Host": f"evil.example.com:{port}"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 403


def test_serve_beyond_loopback_needs_allow_remote_and_warns(tmp_path: Path) -> None:
    with http_profile(tmp_path) as (_profile, config):
        refused = subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(config), "serve",
                                  "--host", "0.0.0.0", "--port", str(free_port())], cwd=ROOT,
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2
        assert "--allow-remote" in refused.stderr
        with serving(config, "--host", "0.0.0.0", "--allow-remote", "--allow-actions") as (_s, _url, _p, out):
            assert any("WARNING" in line and "0.0.0.0" in line for line in out), out
            assert "actions allowed" in "".join(out)


def test_serve_token_from_file_must_be_long(tmp_path: Path) -> None:
    short = tmp_path / "token"
    short.write_text("abc\n")
    with http_profile(tmp_path) as (_profile, config):
        result = subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(config), "serve",
                                 "--token-file", str(short), "--port", str(free_port())], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "at least 16 characters" in result.stderr
