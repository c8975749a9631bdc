"""The console in a real terminal (tmux) at 80x24: TERM=xterm-256color, TERM=screen, LANG=C.

It must draw the dashboard, react to keys (help opens and closes) and exit 0 on ``q``.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT
from ui_profiles import http_profile

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


def tmux(sock: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", *args], capture_output=True, text=True,
                          check=True).stdout


def wait_for(sock: str, predicate, what: str, timeout: float = 30) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux(sock, "capture-pane", "-p", "-t", "t")
        if predicate(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{what} not seen; screen was:\n{screen}")


@pytest.mark.parametrize("env", [{"TERM": "xterm-256color", "LANG": "C.UTF-8"}, {"TERM": "screen", "LANG": "C.UTF-8"},
                                 {"TERM": "xterm-256color", "LANG": "C", "LC_ALL": "C"}],
                         ids=["xterm-256color", "screen", "LANG=C"])
def test_console_in_tmux(tmp_path: Path, env: dict[str, str]) -> None:
    sock = f"opsc-{tmp_path.name[-20:]}"
    with http_profile(tmp_path) as (_profile, config):
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        status_file = tmp_path / "exit-status"
        # The shell records the console's exit status itself: tmux's #{pane_dead_status} is racy
        # (empty when the pty closes before the child is reaped).
        command = f"cd {shlex.quote(str(ROOT))} && env {exports} {shlex.quote(sys.executable)} -m opsconsole " \
                  f"--config {shlex.quote(str(config))}; echo $? > {shlex.quote(str(status_file))}"
        tmux(sock, "new-session", "-d", "-s", "t", "-x", "80", "-y", "24", command)
        try:
            tmux(sock, "set-option", "-t", "t", "remain-on-exit", "on")
            screen = wait_for(sock, lambda s: "Services" in s and "billing" in s, "the dashboard")
            assert len(screen.splitlines()) <= 24
            tmux(sock, "send-keys", "-t", "t", "?")
            wait_for(sock, lambda s: "Diagnostics" in s and "Pane 1" in s, "the help screen")
            # A lone ESC after a quiet spell: the input thread is asleep in select() without a timeout
            # (ui/quiet_driver.py) and must still resolve ESC once its escape delay has passed.
            time.sleep(1.5)
            tmux(sock, "send-keys", "-t", "t", "Escape")
            wait_for(sock, lambda s: "Diagnostics" not in s and "Services" in s, "the dashboard again")
            tmux(sock, "send-keys", "-t", "t", "q")
            deadline = time.monotonic() + 20
            while tmux(sock, "display-message", "-p", "-t", "t", "#{pane_dead}").strip() != "1":
                assert time.monotonic() < deadline, "q did not end the console"
                time.sleep(0.2)
            while not status_file.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert status_file.read_text().strip() == "0"
        finally:
            subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
