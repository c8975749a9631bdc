"""Pipeline runs of the OSAA driver (seed 003): ``docker compose run`` steps, streamed, timed, remembered.

A mixin of :class:`~opsconsole.drivers.duckdb.pipeline.DuckDBPipelineDriver`: one
run at a time, refused while another process holds the database lock, its
output streamed to listeners, its duration measured against the SLA, and a
JSONL history kept in the user data dir (bounded).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import os
import shlex
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opsconsole.drivers.duckdb import lock as duckdb_lock
from opsconsole.errors import ActionRefused, DriverError
from opsconsole.humanize import hms
from opsconsole.model import ActionResult, Health, JobRun, ServiceStatus

PIPELINE_STEPS = ("ingest", "etl", "transform", "config_test")
DB_STEPS = frozenset({"etl", "transform"})
"""Steps that open the database read-write (SQLMesh); refused while someone holds its lock."""
OUTPUT_TAIL = 200
HISTORY_MAX_BYTES = 1_000_000
HISTORY_KEEP_LINES = 2_000


def data_dir() -> Path:
    """Base directory for opsconsole's own data (``OPSCONSOLE_DATA_DIR`` overrides)."""
    override = os.environ.get("OPSCONSOLE_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("opsconsole"))


@dataclass
class LiveRun:
    run_id: str
    step: str
    command: list[str]
    started: float
    started_at: datetime
    pid: int | None = None
    lines: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=OUTPUT_TAIL))


class PipelineRuns:
    """Runs and their history; needs the driver's ``config``, ``database``, ``name``, ``run_sync``."""

    config: dict[str, Any]
    database: str
    name: str
    _run: LiveRun | None
    output_listeners: list[Callable[[str], None]]

    async def action_ingest(self, args: str = "") -> ActionResult:
        return await self.run_step("ingest", args)

    async def action_etl(self, args: str = "") -> ActionResult:
        return await self.run_step("etl", args)

    async def action_transform(self, args: str = "") -> ActionResult:
        return await self.run_step("transform", args)

    async def action_config_test(self, args: str = "") -> ActionResult:
        return await self.run_step("config_test", args)

    def command_for(self, step: str, args: str = "") -> list[str]:
        """The argv a step runs: the ``run_command`` template plus extra arguments."""
        if step not in PIPELINE_STEPS:
            raise DriverError(f"unknown pipeline step {step!r} (steps: {', '.join(PIPELINE_STEPS)})")
        service = str(self.config["compose_service"])
        argv = [t.replace("{service}", service).replace("{step}", step)
                for t in shlex.split(str(self.config["run_command"]))]
        return argv + (shlex.split(args) if args else [])

    async def run_step(self, step: str, args: str = "") -> ActionResult:
        """Run one pipeline step to completion, streaming its output and recording it."""
        argv = self.command_for(step, args)
        if self._run is not None:
            raise ActionRefused(f"pipeline {self._run.step} is already running (run {self._run.run_id}); "
                                f"one run at a time")
        cwd = Path(str(self.config["compose_dir"])).expanduser()
        if not cwd.is_dir():
            raise ActionRefused(f"compose_dir {cwd} is not a directory")
        async with self._lock():
            if step in DB_STEPS:
                holder = await self.run_sync(duckdb_lock.find_lock_holder, self.database, what="check the lock")
                if holder is not None:
                    raise ActionRefused(f"pipeline {step} would fail: {self.database} is locked by "
                                        f"{holder.describe()}")
            started_at = datetime.now(UTC)
            run = LiveRun(run_id=started_at.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid() % 1000:03d}{step[:3]}",
                           step=step, command=argv, started=time.monotonic(), started_at=started_at)
            self._run = run
        sla = float(self.config["sla_hours"]) * 3600
        self._history_append({"run_id": run.run_id, "step": step, "args": args, "command": argv,
                              "state": "RUNNING", "started_at": started_at.isoformat(), "sla_s": sla})
        state, code, message = "FAILED", None, ""
        try:
            code = await self._execute(run, cwd, float(self.config["run_timeout_hours"]) * 3600)
            state = "SUCCESS" if code == 0 else "FAILED"
        except asyncio.CancelledError:
            state, message = "CANCELED", "canceled from the console"
            raise
        except TimeoutError:
            state, message = "FAILED", f"stopped after the {float(self.config['run_timeout_hours']):g} h run timeout"
        except OSError as exc:
            state, message = "FAILED", f"could not start {argv[0]}: {exc.strerror or exc}"
        finally:
            duration = time.monotonic() - run.started
            self._run = None
            self._invalidate()
            self._history_append({"run_id": run.run_id, "step": step, "args": args, "command": argv,
                                  "state": state, "exit_code": code, "started_at": started_at.isoformat(),
                                  "duration_s": round(duration, 3), "sla_s": sla, "message": message,
                                  "tail": list(run.lines)[-20:]})
        sla_note = (f"over the {hms(sla)} SLA" if duration > sla else f"within the {hms(sla)} SLA")
        verb = "succeeded" if state == "SUCCESS" else "failed"
        summary = (f"pipeline {step} {verb} in {hms(duration)} ({sla_note})"
                   + (f", exit {code}" if code is not None else "") + (f": {message}" if message else ""))
        return ActionResult(state == "SUCCESS", summary, output="\n".join(run.lines))

    async def _execute(self, run: LiveRun, cwd: Path, timeout: float) -> int:
        proc = await asyncio.create_subprocess_exec(
            *run.command, cwd=str(cwd), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        run.pid = proc.pid

        async def pump() -> None:
            assert proc.stdout is not None
            while True:
                raw = await proc.stdout.readline()
                if not raw:
                    break
                line = raw.decode(errors="replace").rstrip("\r\n")
                run.lines.append(line)
                for listener in list(self.output_listeners):
                    try:
                        listener(run.run_id, line)
                    except Exception:
                        self.output_listeners.remove(listener)
            await proc.wait()

        try:
            await asyncio.wait_for(pump(), timeout)
        except BaseException:
            _terminate_group(proc.pid)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                _terminate_group(proc.pid, signal.SIGKILL)
            raise
        return int(proc.returncode if proc.returncode is not None else -1)

    def live_output(self) -> list[str]:
        """Output lines of the run in progress (empty when idle)."""
        return list(self._run.lines) if self._run is not None else []

    # ------------------------------------------------------------------ history
    @property
    def history_path(self) -> Path:
        where = os.path.abspath(os.path.expanduser(str(self.config["compose_dir"]))) + "|" + self.database
        digest = hashlib.sha1(where.encode()).hexdigest()[:8]
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.name)
        return data_dir() / "pipeline-runs" / f"{safe}-{digest}.jsonl"

    def _history_append(self, record: dict[str, Any]) -> None:
        path = self.history_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
        if path.stat().st_size > HISTORY_MAX_BYTES:
            # Keep the newest records; the file is read on every poll.
            lines = path.read_text(encoding="utf-8").splitlines()[-HISTORY_KEEP_LINES:]
            tmp = path.with_suffix(".tmp")
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
            tmp.replace(path)

    def run_history(self) -> list[dict[str, Any]]:
        """Recorded runs, newest first (the last record of each run wins)."""
        try:
            lines = self.history_path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        runs: dict[str, dict[str, Any]] = {}
        for line in lines:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "run_id" in rec:
                runs[rec["run_id"]] = rec
        return sorted(runs.values(), key=lambda r: str(r.get("started_at", "")), reverse=True)

    async def job_runs(self) -> list[JobRun]:
        records = (await asyncio.to_thread(self.run_history))[: int(self.config["history_limit"])]
        live = self._run
        out: list[JobRun] = []
        for rec in records:
            started = _parse_ts(rec.get("started_at"))
            sla = float(rec.get("sla_s") or float(self.config["sla_hours"]) * 3600)
            state = str(rec.get("state", "UNKNOWN"))
            duration = rec.get("duration_s")
            if state == "RUNNING":
                if live is not None and live.run_id == rec["run_id"]:
                    duration = time.monotonic() - live.started
                    detail = live.lines[-1] if live.lines else "started"
                else:
                    state, detail = "UNKNOWN", "console exited before the run finished"
            else:
                detail = _run_detail(rec, sla)
            if duration is not None and state in {"RUNNING", "SUCCESS"} and float(duration) > sla:
                detail = f"over {hms(sla)} SLA; " + detail
            out.append(JobRun(job=f"pipeline {rec.get('step')}", run_id=str(rec["run_id"]), state=state,
                              started_at=started, duration_s=None if duration is None else float(duration),
                              detail=detail, source=self.name))
        return out

    def _last_run_row(self) -> ServiceStatus | None:
        try:
            records = self.run_history()
        except Exception:
            return None
        done = [r for r in records if r.get("state") != "RUNNING"]
        if not done:
            return None
        rec = done[0]
        sla = float(rec.get("sla_s") or float(self.config["sla_hours"]) * 3600)
        duration = float(rec.get("duration_s") or 0)
        state = str(rec.get("state"))
        health = Health.OK if state == "SUCCESS" else Health.CRITICAL
        if health is Health.OK and duration > sla:
            health = Health.WARNING
        detail = f"last {rec.get('step')} {state.lower()} in {hms(duration)} (SLA {hms(sla)})"
        return ServiceStatus("pipeline runs", health, detail, source=self.name,
                             checked_at=_parse_ts(rec.get("started_at")),
                             extra={"state": state, "duration_s": duration, "sla_s": sla,
                                    "exit_code": rec.get("exit_code")})


def _run_detail(rec: dict[str, Any], sla: float) -> str:
    parts = []
    if rec.get("exit_code") is not None:
        parts.append(f"exit {rec['exit_code']}")
    if rec.get("message"):
        parts.append(str(rec["message"]))
    tail = rec.get("tail") or []
    if tail and rec.get("state") != "SUCCESS":
        parts.append(str(tail[-1]))
    parts.append(f"SLA {hms(sla)}")
    return "; ".join(parts)


def _parse_ts(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _terminate_group(pid: int, sig: int = signal.SIGTERM) -> None:
    """Signal the run's whole process group (docker compose starts children)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
