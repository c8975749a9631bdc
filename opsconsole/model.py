"""Domain model: the small, frozen facts every layer passes around.

Drivers return these, alerts evaluate them, the UI and the headless CLI render
them. They hold no SDK types and no presentation code, so the core stays
importable without Textual (and without any heavy backend library).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsconsole.redact import scrub, scrub_fields


class Health(enum.IntEnum):
    """Health of one thing, ordered so that ``max()`` gives the worst.

    The integer values follow the Nagios plugin convention used by
    ``opsconsole check``: 0 OK, 1 warning, 2 critical, 3 unknown.
    """

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @staticmethod
    def worst(values: list[Health] | tuple[Health, ...]) -> Health:
        """Worst of several states; UNKNOWN ranks between WARNING and CRITICAL.

        An unknown service is worse than a degraded one (we cannot see it) but
        better than one we know is down.
        """
        if not values:
            return Health.OK
        order = {Health.OK: 0, Health.WARNING: 1, Health.UNKNOWN: 2, Health.CRITICAL: 3}
        return max(values, key=lambda h: order[h])


class Severity(enum.IntEnum):
    """Alert severity tiers (seed 001: critical/warning/info)."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """One probed service: the Services pane row."""

    name: str
    health: Health
    detail: str = ""
    latency_ms: float | None = None
    checked_at: datetime | None = None
    source: str = ""
    """Driver instance that produced the row (profile key)."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:  # the redaction boundary: driver text becomes model text here
        scrub_fields(self, ("name", "detail", "extra"))


@dataclass(frozen=True, slots=True)
class QueryRecord:
    """One executed query, as found in a real query history."""

    query_id: str
    text: str
    status: str
    """``FINISHED``, ``FAILED``, ``RUNNING`` or ``CANCELED`` (Databricks vocabulary)."""
    started_at: datetime
    duration_ms: float | None = None
    rows: int | None = None
    user: str = ""
    warehouse: str = ""
    error: str = ""
    source: str = ""

    def __post_init__(self) -> None:  # the redaction boundary: driver text becomes model text here
        scrub_fields(self, ("error",))


@dataclass(frozen=True, slots=True)
class TableStats:
    """File and snapshot figures of one table: the Tables pane row."""

    name: str
    file_count: int | None
    snapshot_count: int | None = None
    size_bytes: int | None = None
    row_count: int | None = None
    last_commit: datetime | None = None
    layer: str = ""
    source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Backend-specific figures (e.g. ClickHouse's busiest partition) for backend-specific rules."""


@dataclass(frozen=True, slots=True)
class LagSample:
    """How far a consumer or downstream layer is behind its upstream."""

    name: str
    lag: float
    unit: str
    """``rows``, ``messages`` or ``seconds``."""
    upstream: float | None = None
    downstream: float | None = None
    measured_at: datetime | None = None
    detail: str = ""
    source: str = ""

    def __post_init__(self) -> None:  # the redaction boundary: driver text becomes model text here
        scrub_fields(self, ("detail",))


@dataclass(frozen=True, slots=True)
class JobRun:
    """One run of a job, DAG or pipeline."""

    job: str
    run_id: str
    state: str
    started_at: datetime | None = None
    duration_s: float | None = None
    detail: str = ""
    source: str = ""

    def __post_init__(self) -> None:  # the redaction boundary: driver text becomes model text here
        scrub_fields(self, ("detail",))


@dataclass(frozen=True, slots=True)
class HealthScore:
    """Per-job health score 0-100 (seed 004)."""

    job: str
    score: float
    success_rate: float
    stability: float
    trend: str
    runs: int


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """A named action a driver can perform, declared on the driver class.

    The flags drive the safety rules: ``mutating`` actions vanish in read-only
    mode, ``dangerous`` ones ask for confirmation, ``irreversible`` ones ask for
    the target's name to be typed.
    """

    name: str
    title: str
    effect: str
    """What the action does to data, shown before it runs."""
    mutating: bool = True
    dangerous: bool = False
    irreversible: bool = False
    params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ActionResult:
    """Outcome of one driver action."""

    ok: bool
    message: str
    output: str = ""

    def __post_init__(self) -> None:  # the redaction boundary: driver text becomes model text here
        scrub_fields(self, ("message", "output"))


@dataclass(frozen=True, slots=True)
class Alert:
    """A firing alert, linked to the runbook that answers it."""

    rule: str
    severity: Severity
    subject: str
    message: str
    runbook: str | None = None
    since: datetime | None = None
    source: str = ""
    """Driver instance whose data raised it: when that source is lost, the alert becomes unknown."""

    def __post_init__(self) -> None:  # the redaction boundary: driver text becomes model text here
        scrub_fields(self, ("subject", "message"))

    @property
    def key(self) -> str:
        """Identity for de-duplication: same rule on the same subject."""
        return f"{self.rule}:{self.subject}"


class Pane(enum.StrEnum):
    """The dashboard panes a driver capability can fill."""

    SERVICES = "services"
    QUERIES = "queries"
    TABLES = "tables"
    LAG = "lag"
    JOBS = "jobs"


@dataclass(frozen=True, slots=True)
class PaneResult:
    """What one poll of one pane produced across the profile's drivers.

    ``errors`` maps driver instance to an error message: a pane with rows from
    one driver and an error from another is partly stale, and says so.
    """

    pane: Pane
    rows: tuple[Any, ...]
    errors: Mapping[str, str]
    polled_at: datetime
    duration_ms: float

    def __post_init__(self) -> None:  # driver errors (URLs with passwords, tokens) become pane text here
        if self.errors:
            object.__setattr__(self, "errors", {k: scrub(v) for k, v in self.errors.items()})
