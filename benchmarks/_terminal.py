"""Shared benchmark plumbing: run the console in a real pseudo-terminal, start a demo engine.

The console is measured the way a user runs it: its own process, a real pty of
a fixed size, TERM=xterm-256color, the demo profile. The demo engine is started
once beforehand (as a user's earlier session would have left it running) so
that each run measures the console, not the engine's start-up.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("databricks", "pyiceberg", "pyarrow", "docker", "duckdb", "boto3")


def heavy_loaded(modules: object) -> list[str]:
    """Top-level heavy packages present in a ``sys.modules`` key list."""
    names = {str(m).split(".")[0] for m in modules}  # type: ignore[attr-defined]
    return sorted(n for n in HEAVY if n in names)


class PtyProcess:
    """A child process attached to a fresh pty whose output is drained (and kept) by a thread."""

    def __init__(self, argv: list[str], *, env: dict[str, str], cols: int = 120, rows: int = 40) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master = master
        self.output = bytearray()
        self.started = time.monotonic()
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
                                        start_new_session=True, close_fds=True)
        os.close(slave)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            self._reader.join(1)
            try:
                os.close(self.master)
            except OSError:
                pass

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def console_env(demo_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"TERM": "xterm-256color", "COLORTERM": "truecolor", "OPSCONSOLE_DEMO_DIR": str(demo_dir),
                "PYTHONPATH": str(ROOT)})
    env.pop("NO_COLOR", None)
    # Measure what a user gets: an installed opsconsole has compiled bytecode (pip writes it),
    # so do not inherit a sandbox's PYTHONDONTWRITEBYTECODE (it recompiles every module each start).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    return env


class DemoEngine:
    """The demo pipeline engine, started once for a whole benchmark (context manager)."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="opsconsole-bench-")
            data_dir = Path(self._tmp.name)
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._use: Any = None

    def __enter__(self) -> DemoEngine:
        self._log = (self.data_dir / "bench-engine.log").open("ab")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen([sys.executable, "-m", "opsconsole.demo.engine", "--data-dir",
                                         str(self.data_dir)], stdout=self._log, stderr=self._log,
                                        stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        from opsconsole.demo.layout import DemoPaths

        state = DemoPaths(self.data_dir).state_file
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not state.exists():
            time.sleep(0.1)
        if not state.exists():
            raise RuntimeError(f"demo engine did not come up; see {self.data_dir / 'bench-engine.log'}")
        time.sleep(1.0)
        from opsconsole.demo.layout import EngineUse

        # Hold a console's claim, as the earlier session that left it running would: otherwise the engine
        # stops as soon as the first measured console quits, and every later run starts it again.
        self._use = EngineUse(DemoPaths(self.data_dir))
        self._use.claim()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._use is not None:
            self._use.release()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self._log:
            self._log.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (and its reaped children) from /proc."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(f) for f in fields[11:15]) / ticks


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds per thread name of a process (threads of one pool are summed under their prefix)."""
    out: dict[str, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                raw = fh.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1: raw.rindex(")")]
        name = "main (UI)" if tid == str(pid) else name.rstrip("0123456789").rstrip("_-") or name
        fields = raw.rsplit(")", 1)[1].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return out


def rss_kb(pid: int) -> int:
    """Resident memory of a process (VmRSS), for the soak benchmarks."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
