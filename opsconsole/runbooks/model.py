"""Runbooks as data: the frozen shapes a YAML procedure is loaded into.

A runbook is an ordered list of steps, each of which names what it does
(a driver action, a probe of a driver pane, or a shell command) and how risky it
is. Keeping these as plain frozen dataclasses lets the engine, the headless CLI,
the UI and the audit log share one vocabulary without importing each other.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsconsole.model import ActionSpec
from opsconsole.redact import scrub_fields


class StepKind(enum.StrEnum):
    """What a step does."""

    ACTION = "action"
    """Calls ``Driver.run_action`` on the driver of the named type."""
    PROBE = "probe"
    """Reads a driver pane (health, tables, lag...) and checks a condition, once or until it holds."""
    SHELL = "shell"
    """Runs a command, streaming its output; the exit code decides the outcome."""


class ParamType(enum.StrEnum):
    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"


@dataclass(frozen=True, slots=True)
class RunbookParam:
    """A value the operator supplies (or accepts the default of) before a run."""

    name: str
    type: ParamType = ParamType.STR
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] = ()
    pattern: str | None = None
    """Regular expression a string value must fully match (e.g. a snapshot id)."""
    help: str = ""
    secret: bool = False
    """Redacted in the audit log and never echoed."""


@dataclass(frozen=True, slots=True)
class Condition:
    """``<field> <op> <value>`` evaluated against each selected pane row.

    ``field`` may be ``count`` to compare the number of selected rows instead.
    """

    field: str
    op: str
    value: Any
    match: str = "all"
    """``all``, ``any`` or ``none`` of the selected rows must satisfy it."""

    def describe(self) -> str:
        if self.field == "count":
            return f"count {self.op} {self.value}"
        return f"{self.match} rows: {self.field} {self.op} {self.value}"


@dataclass(frozen=True, slots=True)
class RunbookStep:
    """One step of a procedure, exactly as written in the library."""

    id: str
    title: str
    kind: StepKind
    driver_type: str | None = None
    """Driver type (``docker``, ``iceberg``...) for action and probe steps."""
    name: str = ""
    """Action name for action steps, pane method for probe steps."""
    params: Mapping[str, Any] = field(default_factory=dict)
    driver: str | None = None
    """Explicit driver instance (profile key) when a profile has several of one type."""
    select: Mapping[str, Any] = field(default_factory=dict)
    """Probe row filter: field -> value or glob (``*minio*``)."""
    expect: Condition | None = None
    until: bool = False
    """Probe: poll until ``expect`` holds (the seeds' ``watch`` loops)."""
    timeout: float | None = None
    """Seconds; in a loaded file it may be a ``${param}`` string, resolved by the engine's plan."""
    interval: float = 5.0
    command: tuple[str, ...] | str = ()
    """Shell: argv list (no shell) or a string run by ``/bin/sh -c`` with quoted params."""
    cwd: str | None = None
    output: str | None = None
    """Shell: file that receives stdout, written beside it and renamed only on exit 0 (never half a backup)."""
    mutating: bool | None = None
    """Shell steps and overrides: does it change anything? ``None`` means derive it."""
    confirm: bool = False
    dangerous: bool = False
    irreversible: bool = False
    target: str | None = None
    """Name the operator must type for an irreversible step (default: the driver instance)."""
    effect: str = ""
    """What the step does to data, shown before it runs (actions add their own)."""
    on_failure: str = "stop"
    """``stop`` the procedure or ``continue`` with the next step."""
    optional: bool = False
    """Skip (rather than fail) when the profile has no driver of this type."""
    line: int | None = None

    @property
    def ref(self) -> str:
        """``type.name`` for action/probe steps, ``shell`` otherwise."""
        if self.kind is StepKind.SHELL:
            return "shell"
        return f"{self.driver_type}.{self.name}"


@dataclass(frozen=True, slots=True)
class Runbook:
    """A procedure from the seeds (or the user's own), ready to plan and run."""

    id: str
    title: str
    steps: tuple[RunbookStep, ...]
    summary: str = ""
    symptoms: tuple[str, ...] = ()
    severity: str = "warning"
    platform: str = ""
    seed: str = ""
    """Where the procedure comes from, e.g. ``002 Alert Response: MinIODown``."""
    profiles: tuple[str, ...] = ()
    """Profiles it is meant for (informational; drivers decide what can run)."""
    alerts: tuple[str, ...] = ()
    """Alert rules this runbook answers."""
    params: tuple[RunbookParam, ...] = ()
    source: str = ""
    """File the runbook was loaded from."""
    cleanup: tuple[RunbookStep, ...] = ()
    """``finally:`` steps, run after ``steps`` whatever happened: a refused, failed or cancelled step
    must not leave the system half-changed (ingestion paused, a job stopped)."""

    def param(self, name: str) -> RunbookParam | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    @property
    def driver_types(self) -> frozenset[str]:
        return frozenset(s.driver_type for s in self.steps + self.cleanup if s.driver_type)


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """A step resolved against a profile: params substituted, flags merged.

    This is what dry-run shows, what confirmation dialogs describe and what the
    audit log records; the engine executes exactly this.
    """

    index: int
    step: RunbookStep
    params: Mapping[str, Any]
    driver: str | None
    """Driver instance name (profile key), or ``None`` for shell steps / missing optional drivers."""
    spec: ActionSpec | None
    mutating: bool
    dangerous: bool
    irreversible: bool
    confirm: bool
    target: str
    description: str
    """One line saying exactly what would run."""
    effect: str
    skip_reason: str = ""
    cleanup: bool = False
    """A ``finally:`` step: it runs even after a refusal, a failure or a cancel."""

    @property
    def needs_confirmation(self) -> bool:
        return self.confirm or self.dangerous or self.irreversible

    def __post_init__(self) -> None:  # dry-run and confirmations print these
        scrub_fields(self, ("description", "effect"))


class StepStatus(enum.StrEnum):
    """Events of a run. ``STARTED``/``OUTPUT`` are progress; the others end a step."""

    STARTED = "started"
    OUTPUT = "output"
    OK = "ok"
    FAILED = "failed"
    TIMED_OUT = "timed-out"
    SKIPPED = "skipped"
    REFUSED = "refused"
    CANCELLED = "cancelled"
    DRY_RUN = "dry-run"

    @property
    def final(self) -> bool:
        return self not in (StepStatus.STARTED, StepStatus.OUTPUT)

    @property
    def success(self) -> bool:
        return self in (StepStatus.OK, StepStatus.DRY_RUN, StepStatus.SKIPPED)


@dataclass(frozen=True, slots=True)
class StepResult:
    """One event of a running procedure, yielded by the engine's async iterator."""

    index: int
    step_id: str
    status: StepStatus
    message: str = ""
    output: str = ""
    exit_code: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    planned: PlannedStep | None = None

    def __post_init__(self) -> None:  # what the TUI, `run` and the audit show of a step: never a password
        scrub_fields(self, ("message", "output"))

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None
