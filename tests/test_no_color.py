"""NO_COLOR (https://no-color.org): the console in a real terminal (tmux) draws without any colour.

The same dashboard without NO_COLOR is captured too, so the test shows that
colour is there normally and gone with NO_COLOR. Textual renders NO_COLOR as
monochrome: shades of grey (and bold/reverse) remain, so the cursor row, the
focused pane and the modal boxes stay visible; no hue does. The test therefore
allows greys (r == g == b) and nothing else.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from test_terminal_tmux import tmux, wait_for
from ui_profiles import http_profile

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")

SGR = re.compile(r"\x1b\[([0-9;:]*)m")


def colour_codes(screen: str) -> set[str]:
    """SGR parameters that set a coloured (not grey) foreground or background: 16, 256 or true colour."""
    found = set()
    for params in SGR.findall(screen):
        parts = re.split("[;:]", params)
        i = 0
        while i < len(parts):
            p = parts[i]
            if p in {"38", "48"}:
                if parts[i + 1:i + 2] == ["2"]:  # true colour r;g;b
                    r, g, b = parts[i + 2:i + 5]
                    if not r == g == b:
                        found.add(";".join(parts[i:i + 5]))
                    i += 5
                else:  # 256 colours: 232-255 are the grey ramp
                    n = int(parts[i + 2])
                    if not (232 <= n <= 255 or n in {0, 7, 8, 15, 16, 231}):
                        found.add(";".join(parts[i:i + 3]))
                    i += 3
                continue
            if p.isdigit() and (30 <= int(p) <= 37 or 40 <= int(p) <= 47 or 90 <= int(p) <= 97
                                or 100 <= int(p) <= 107):
                found.add(p)
            i += 1
    return found


def capture_dashboard(tmp_path: Path, config: Path, *, no_color: bool) -> str:
    sock = f"opsc-nc-{no_color:d}-{tmp_path.name[-16:]}"
    env = {"TERM": "xterm-256color", "COLORTERM": "truecolor", "LANG": "C.UTF-8"}
    if no_color:
        env["NO_COLOR"] = "1"
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    unset = "" if no_color else "-u NO_COLOR "
    command = (f"cd {shlex.quote(str(ROOT))} && env {unset}{exports} {shlex.quote(sys.executable)} -m opsconsole "
               f"--config {shlex.quote(str(config))}")
    tmux(sock, "new-session", "-d", "-s", "t", "-x", "100", "-y", "30", command)
    try:
        wait_for(sock, lambda s: "billing" in s and "api" in s, "the dashboard")
        return tmux(sock, "capture-pane", "-p", "-e", "-t", "t")  # -e: with the escape sequences
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)


def test_no_color_draws_the_dashboard_without_colour(tmp_path: Path) -> None:
    with http_profile(tmp_path) as (_profile, config):
        coloured = capture_dashboard(tmp_path, config, no_color=False)
        plain = capture_dashboard(tmp_path, config, no_color=True)
    assert colour_codes(coloured), "without NO_COLOR the dashboard should be in colour"
    assert SGR.search(plain), "the NO_COLOR capture should still carry styles (greys, bold, reverse)"
    assert "Services" in plain and "billing" in plain
    assert colour_codes(plain) == set(), f"colour with NO_COLOR set: {sorted(colour_codes(plain))[:10]}"
