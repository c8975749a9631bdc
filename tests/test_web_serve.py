"""Web mode: ``opsconsole serve`` in headless Chromium (Debian's, driven by Playwright for Python).

The terminal is a canvas, so the test asserts what a viewer sees change: the
dashboard draws in a console process started for the tab, ``?`` opens the help
(the picture changes) and ``escape`` closes it again.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, require_peer
from ui_profiles import http_profile


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


@pytest.mark.peer("chromium")
def test_serve_in_headless_chromium(tmp_path: Path) -> None:
    chromium = require_peer("OPSC_CHROMIUM", "Debian chromium (scripts/peers/chromium.sh)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    port = free_port()
    with http_profile(tmp_path) as (_profile, config):
        server = subprocess.Popen([sys.executable, "-m", "opsconsole", "--config", str(config), "serve",
                                   "--port", str(port)], cwd=ROOT, start_new_session=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                        assert b"opsconsole" in response.read()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.2)
            with playwright_api.sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking"])
                try:
                    page = browser.new_page(viewport={"width": 1000, "height": 640})
                    page.goto(f"http://127.0.0.1:{port}/")
                    page.click("body")  # textual-serve shows a start screen until clicked
                    page.wait_for_selector(".textual-terminal canvas", timeout=30_000)
                    deadline = time.monotonic() + 30
                    while not console_children(server.pid):
                        assert time.monotonic() < deadline, "no console process started for the tab"
                        time.sleep(0.2)
                    time.sleep(4)  # first frame and first polls
                    canvas = page.locator(".textual-terminal canvas").first
                    dashboard = canvas.screenshot()
                    page.keyboard.press("?")
                    time.sleep(1.5)
                    helped = canvas.screenshot()
                    assert helped != dashboard, "pressing ? changed nothing on the page"
                    page.keyboard.press("Escape")
                    time.sleep(1.0)
                    assert canvas.screenshot() != helped, "escape did not close the help"
                finally:
                    browser.close()
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
