"""The driver contract every backend implements.

A driver is an adapter (Harlequin's adapter ABC, k9s' capability interfaces): it
declares what it can do as class variables, returns domain objects from
:mod:`opsconsole.model`, and raises only :mod:`opsconsole.errors` types. It never
touches the UI. Driver modules import nothing heavy at module level: the SDK
they wrap is imported inside the methods, on a worker thread, so the first frame
never waits for it.
"""

from __future__ import annotations

import asyncio
import functools
from abc import ABC
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from opsconsole.drivers.threads import DaemonThreadPool
from opsconsole.errors import DriverError, DriverTimeout, DriverUnavailable, UnknownActionError
from opsconsole.model import (
    ActionResult,
    ActionSpec,
    JobRun,
    LagSample,
    Pane,
    QueryRecord,
    ServiceStatus,
    TableStats,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One option a driver accepts in ``profiles.yaml``.

    Declaring options lets the config loader reject unknown keys and wrong
    types with the file and line, before any backend is contacted.
    """

    name: str
    type: type | tuple[type, ...]
    required: bool = False
    default: Any = None
    secret: bool = False
    """Never shown on screen, in logs or in the audit log."""
    help: str = ""


class Driver(ABC):
    """Base class of all backend drivers.

    Subclasses set :attr:`kind`, :attr:`panes`, :attr:`options` and
    :attr:`actions`, and override the async methods matching their panes. Sync
    SDKs go through :meth:`run_sync`, which runs them on this driver's own small
    thread pool (so one hung backend cannot starve the others) with a timeout.
    """

    kind: ClassVar[str] = ""
    """Registry name used as ``type:`` in profiles.yaml."""
    description: ClassVar[str] = ""
    panes: ClassVar[frozenset[Pane]] = frozenset()
    """Which dashboard panes this driver can fill."""
    options: ClassVar[tuple[OptionSpec, ...]] = ()
    actions: ClassVar[tuple[ActionSpec, ...]] = ()
    max_threads: ClassVar[int] = 4
    alert_rules: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    """Rules in the profile's ``rules:`` format that only this driver's rows can fire (its own row names),
    merged over the packaged rules and under the profile's; ``driver_types`` is set to this driver's kind."""
    extra_checks: ClassVar[frozenset[str]] = frozenset()
    """Alert checks its rows can trigger beyond its panes' usual ones (``warehouse_down``, ``restart_loop``...)."""
    no_checks: ClassVar[frozenset[str]] = frozenset()
    """Usual checks of its panes that do not apply to its rows (an S3 prefix's object count is no table)."""
    can_stream_logs: ClassVar[bool] = False
    """Implements :meth:`logs` (the ``g`` key on a Services row)."""

    def __init__(self, name: str, options: Mapping[str, Any], *, timeout: float = 10.0) -> None:
        self.name = name
        self.config = dict(options)
        self.timeout = timeout
        self._executor: DaemonThreadPool | None = None

    def alert_checks(self) -> frozenset[str]:
        """The checks (``opsconsole.monitor.checks.CHECKS``) its rows can fire: only those are evaluated on them.

        An instance method: what a driver can see depends on its options (a Databricks
        driver without ``warehouse_id`` has no warehouse row to be down).
        """
        usual: set[str] = set()
        for pane in self.panes:
            usual |= PANE_CHECKS.get(pane, frozenset())
        return frozenset((usual | self.extra_checks) - self.no_checks)

    # -- lifecycle -------------------------------------------------------
    def start_early(self) -> None:
        """Start what the backend needs before the console draws its first frame (optional, quick, no waiting).

        A local engine that takes a second to come up (the demo) starts while the UI
        imports and paints, instead of after: the first data lands that much sooner.
        """

    async def connect(self) -> None:
        """Prepare the driver (optional). Must not block for long: it is awaited on start."""

    async def logs(self, service: str, tail: int = 100, follow: bool = False,
                   grep: str | None = None) -> Any:  # pragma: no cover - only where can_stream_logs
        """Log lines of one service (an async iterator), for drivers that declare ``can_stream_logs``."""
        raise NotImplementedError(f"driver {self.kind!r} cannot stream logs")

    async def wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until the backend can answer: a freshly started local engine needs a moment, most need none."""
        return True

    async def close(self) -> None:
        """Release resources. Threads stuck in a hung call are abandoned, not joined."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # -- panes (optional, safe defaults) ------------------------------------
    async def health(self) -> list[ServiceStatus]:
        return []

    async def query_history(self, limit: int = 200) -> list[QueryRecord]:
        return []

    async def table_stats(self) -> list[TableStats]:
        return []

    async def lag(self) -> list[LagSample]:
        return []

    async def job_runs(self) -> list[JobRun]:
        return []

    # -- actions -------------------------------------------------------------
    @classmethod
    def action(cls, name: str) -> ActionSpec:
        for spec in cls.actions:
            if spec.name == name:
                return spec
        known = ", ".join(a.name for a in cls.actions) or "none"
        raise UnknownActionError(f"driver {cls.kind!r} has no action {name!r} (actions: {known})")

    @classmethod
    def normalize_params(cls, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters exactly as the action will use them, for confirmations (e.g. a timestamp in UTC)."""
        return dict(params)

    async def run_action(self, name: str, params: Mapping[str, Any]) -> ActionResult:
        """Run a declared action. Subclasses implement ``action_<name>`` coroutines."""
        self.action(name)
        handler = getattr(self, f"action_{name.replace('-', '_')}", None)
        if handler is None:
            raise UnknownActionError(f"driver {self.kind!r} declares {name!r} but does not implement it")
        return await handler(**dict(params))

    async def preview_action(self, name: str, params: Mapping[str, Any]) -> str:
        """Facts about what a dangerous action is about to change (e.g. the snapshot a rollback returns to).

        Shown with the confirmation prompt; "" when the driver has nothing to add.
        """
        return ""

    # -- helpers ---------------------------------------------------------------
    async def run_sync(self, fn: Callable[..., T], *args: Any, timeout: float | None = None,
                       what: str = "", **kwargs: Any) -> T:
        """Run a blocking SDK call on this driver's pool, with a timeout.

        Backend exceptions that are not already typed become
        :class:`DriverUnavailable` carrying the original message.
        """
        if self._executor is None:
            self._executor = DaemonThreadPool(max_workers=self.max_threads, thread_name_prefix=f"drv-{self.name}")
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs)
        limit = self.timeout if timeout is None else timeout
        label = what or getattr(fn, "__name__", "call")
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._executor, call), limit)
        except TimeoutError as exc:
            raise DriverTimeout(f"{self.name}: {label} timed out after {limit:g}s") from exc
        except DriverError:
            raise
        except Exception as exc:
            raise DriverUnavailable(f"{self.name}: {label} failed: {describe(exc)}") from exc


def describe(exc: BaseException) -> str:
    """Short, single-line description of an exception for a pane's stale banner."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    if text.startswith(f"{name}:") or text.startswith(f"[{name}]"):
        return text  # aiokafka's errors already say their name: not "KafkaConnectionError: KafkaConnectionError: ..."
    return f"{name}: {text}" if text else name


PANE_CHECKS: Mapping[Pane, frozenset[str]] = {
    Pane.SERVICES: frozenset({"service_down", "service_degraded", "latency"}),
    Pane.QUERIES: frozenset({"error_rate", "p95"}),
    Pane.TABLES: frozenset({"table_files"}),
    Pane.LAG: frozenset(),
    Pane.JOBS: frozenset({"job_failed"}),
}
"""Alert checks every driver filling a pane gets; lag units differ per driver, so lag checks are declared."""

PANE_METHODS: Mapping[Pane, str] = {
    Pane.SERVICES: "health",
    Pane.QUERIES: "query_history",
    Pane.TABLES: "table_stats",
    Pane.LAG: "lag",
    Pane.JOBS: "job_runs",
}
