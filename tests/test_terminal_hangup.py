"""A terminal that goes away (SSH dropped, tmux killed) ends the console instead of leaving it spinning.

The console runs on a real pty; closing the pty's master is what a dropped SSH
session does to it when no SIGHUP reaches the process. Before the fix the input
thread saw the dead descriptor readable forever and spun a core at 100 %.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from ui_profiles import http_profile


def test_console_exits_when_its_terminal_hangs_up(tmp_path: Path) -> None:
    with http_profile(tmp_path) as (_profile, path):
        master, slave = pty.openpty()
        os.set_blocking(master, False)
        env = {**os.environ, "TERM": "xterm-256color"}
        proc = subprocess.Popen([sys.executable, "-m", "opsconsole", "--config", str(path)], stdin=slave,
                                stdout=slave, stderr=slave, env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        try:
            seen = b""
            deadline = time.monotonic() + 30
            while b"Services" not in seen and time.monotonic() < deadline:  # the dashboard is drawn
                if select.select([master], [], [], 0.5)[0]:
                    try:
                        seen += os.read(master, 65536)
                    except OSError:
                        break
            assert b"Services" in seen, seen[-500:]
            os.close(master)  # the terminal is gone
            code = proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                cpu = sum(int(x) for x in Path(f"/proc/{proc.pid}/stat").read_text().split()[13:15])
                proc.kill()
                raise AssertionError(f"console still running after its terminal hung up ({cpu} CPU ticks)")
    assert code == 0
