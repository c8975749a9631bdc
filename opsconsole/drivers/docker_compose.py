"""Docker Compose stack driver: containers found by their compose labels.

Seed 002 runs its platform with ``docker-compose up -d`` and operates it with
``docker-compose ps``, ``logs -f``, ``restart <service>`` and ``down``. The
console does the same through the Docker Engine API (docker SDK), without the
compose file: ``docker compose`` labels every container with
``com.docker.compose.project`` and ``com.docker.compose.service``, which is
all we need to find, show and act on the stack.

The SDK is synchronous, so every call goes through :meth:`Driver.run_sync`;
log following, which blocks for as long as the user watches, runs on its own
thread. ``DOCKER_HOST`` (and ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``) are
honoured unless the profile names a ``docker_host``. When the daemon goes
away, calls raise :class:`DriverUnavailable` and the client is dropped, so the
first poll after the daemon returns reconnects.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opsconsole.drivers.base import Driver, OptionSpec, describe
from opsconsole.drivers.docker_logs import ComposeLogs, close_quietly
from opsconsole.errors import DriverError, DriverUnavailable
from opsconsole.humanize import duration
from opsconsole.model import ActionResult, ActionSpec, Health, Pane, ServiceStatus

if TYPE_CHECKING:
    import docker

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"


@dataclass(frozen=True, slots=True)
class Container:
    """What we need of one inspected container."""

    id: str
    name: str
    service: str
    number: int
    image: str
    state: str
    """created, running, paused, restarting, removing, exited or dead."""
    health: str
    """healthy, unhealthy, starting, or "" when the image has no HEALTHCHECK."""
    exit_code: int
    restarts: int
    started_at: datetime | None
    health_log: str
    """Output of the last failed health check, if any."""


def parse_docker_time(value: str | None) -> datetime | None:
    """Docker's RFC 3339 times carry nanoseconds; the zero time means never."""
    if not value or value.startswith("0001-"):
        return None
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", value)
    if not match:
        return None
    base, frac, zone = match.groups()
    text = base + (frac[:7] if frac else "") + ("+00:00" if zone in (None, "Z") else zone)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def container_health(c: Container, oneshot: bool, now: datetime) -> tuple[Health, str]:
    """Map a container's state and health check to a console health and a one-line detail."""
    uptime = f", up {duration((now - c.started_at).total_seconds())}" if c.started_at else ""
    restarts = f", {c.restarts} restart{'s' if c.restarts != 1 else ''}" if c.restarts else ""
    if c.state == "running":
        if c.health == "unhealthy":
            last = f": {c.health_log}" if c.health_log else ""
            return Health.CRITICAL, f"running (unhealthy{last}){uptime}{restarts}"
        if c.health == "starting":
            return Health.WARNING, f"running (health: starting){uptime}{restarts}"
        shown = f" ({c.health})" if c.health else ""
        return Health.OK, f"running{shown}{uptime}{restarts}"
    if c.state == "exited" and c.exit_code == 0 and oneshot:
        return Health.OK, "completed (exit 0)"
    if c.state in {"restarting", "paused"}:
        return Health.WARNING, f"{c.state}{restarts}"
    if c.state == "exited":
        return Health.CRITICAL, f"exited (code {c.exit_code}){restarts}"
    return Health.CRITICAL, c.state + restarts




class DockerComposeDriver(ComposeLogs, Driver):
    """Services of one compose project: state, health, restarts, uptime; logs; start/stop/restart."""

    kind = "docker"
    can_stream_logs = True
    description = "Docker Compose project on a Docker Engine (docker SDK; honours DOCKER_HOST)."
    panes = frozenset({Pane.SERVICES})
    extra_checks = frozenset({"restart_loop"})
    options = (
        OptionSpec("project", str, required=True, help="compose project name (com.docker.compose.project label)"),
        OptionSpec("docker_host", str, default="",
                   help="daemon URL such as unix:///var/run/docker.sock; empty = $DOCKER_HOST or the default"),
        OptionSpec("stop_timeout", int, default=10, help="seconds a container gets to stop before SIGKILL"),
        OptionSpec("oneshot_services", list, default=[],
                   help="services that run to completion (init jobs): exit 0 is healthy"),
    )
    actions = (
        ActionSpec("restart_service", "Restart service",
                   effect="Stops and starts the service's containers (SIGTERM, then SIGKILL after stop_timeout): "
                          "in-flight requests fail during the restart; container filesystems and volumes are kept.",
                   mutating=True, params=("service",)),
        ActionSpec("stop_service", "Stop service",
                   effect="Stops the service's containers (SIGTERM, then SIGKILL after stop_timeout); the service "
                          "stays down until started again. Volumes and containers are kept; uncommitted work in "
                          "the service is lost.",
                   mutating=True, dangerous=True, params=("service",)),
        ActionSpec("start_service", "Start service",
                   effect="Starts the service's existing stopped containers; no data is changed.",
                   mutating=True, params=("service",)),
        ActionSpec("stop_project", "Stop whole project",
                   effect="Stops every container of the compose project (like docker compose stop): the whole "
                          "platform is down until started again. Containers and volumes are kept (this is not "
                          "docker compose down).",
                   mutating=True, dangerous=True),
        ActionSpec("start_project", "Start whole project",
                   effect="Starts every stopped container of the compose project; removed containers are not "
                          "recreated (use docker compose up for that). No data is changed.",
                   mutating=True),
    )

    def __init__(self, name: str, options: Mapping[str, Any], *, timeout: float = 10.0) -> None:
        super().__init__(name, options, timeout=timeout)
        self.project = str(self.config.get("project") or "")
        if not self.project:
            raise DriverError(f"{name}: option project must name the compose project")
        self.stop_timeout = int(self.config.get("stop_timeout") or 10)
        self.oneshot = frozenset(str(s) for s in (self.config.get("oneshot_services") or []))
        self._docker: docker.DockerClient | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ client
    def _client(self) -> docker.DockerClient:
        """The SDK client, created on first use (on a worker thread: creating it contacts the daemon).

        The lock guards only the swap, never the slow creation, so dropping the
        client from the event loop never waits for a daemon that hangs.
        """
        client = self._docker
        if client is not None:
            return client
        import docker

        host = str(self.config.get("docker_host") or "")
        timeout = max(1, int(self.timeout))
        fresh = docker.DockerClient(base_url=host, timeout=timeout) if host else docker.from_env(timeout=timeout)
        with self._lock:
            if self._docker is None:
                self._docker = fresh
                return fresh
            current = self._docker
        fresh.close()
        return current

    def _drop_client(self) -> None:
        with self._lock:
            client, self._docker = self._docker, None
        if client is not None:
            close_quietly(client)

    @property
    def daemon(self) -> str:
        """Where the daemon is, for messages."""
        import os

        return str(self.config.get("docker_host") or os.environ.get("DOCKER_HOST") or "the local Docker socket")

    async def _call(self, fn: Any, *args: Any, what: str, timeout: float | None = None) -> Any:
        """run_sync, translating SDK errors; a daemon that is gone drops the client for a clean reconnect."""
        try:
            return await self.run_sync(fn, *args, what=what, timeout=timeout)
        except DriverUnavailable as exc:
            cause = exc.__cause__
            if cause is not None and _is_api_error(cause):  # the daemon answered: no reason to reconnect
                raise DriverError(f"{self.name}: {what}: {_api_message(cause)}") from cause
            self._drop_client()
            raise DriverUnavailable(f"{self.name}: Docker daemon at {self.daemon} unreachable ({what}): "
                                    f"{describe(cause or exc)}") from exc

    # ------------------------------------------------------------------ discovery
    def _containers(self) -> list[Container]:
        api = self._client().api
        found = []
        for summary in api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={self.project}"}):
            try:
                info = api.inspect_container(summary["Id"])
            except Exception as exc:  # removed between list and inspect
                if _is_api_error(exc) and getattr(getattr(exc, "response", None), "status_code", 0) == 404:
                    continue
                raise
            labels = info.get("Config", {}).get("Labels") or {}
            state = info.get("State", {})
            health = state.get("Health") or {}
            last_log = ""
            if health.get("Status") == "unhealthy" and health.get("Log"):
                last_log = str(health["Log"][-1].get("Output", "")).strip().splitlines()[-1:] or [""]
                last_log = last_log[0][:120]
            try:
                number = int(labels.get(NUMBER_LABEL, "1"))
            except ValueError:
                number = 1
            found.append(Container(
                id=info["Id"], name=info.get("Name", "").lstrip("/"), service=labels.get(SERVICE_LABEL, "?"),
                number=number, image=info.get("Config", {}).get("Image", ""), state=state.get("Status", "unknown"),
                health=health.get("Status", "") or "", exit_code=int(state.get("ExitCode") or 0),
                restarts=int(info.get("RestartCount") or 0),
                started_at=parse_docker_time(state.get("StartedAt")) if state.get("Running") else None,
                health_log=last_log,
            ))
        found.sort(key=lambda c: (c.service, c.number))
        return found

    async def containers(self) -> list[Container]:
        """Every container of the project, sorted by service and replica number."""
        return await self._call(self._containers, what="list containers")

    async def _service(self, service: str) -> list[Container]:
        containers = await self.containers()
        mine = [c for c in containers if c.service == service]
        if not mine:
            known = ", ".join(sorted({c.service for c in containers})) or "none"
            raise DriverError(f"{self.name}: no container for service {service!r} in compose project "
                              f"{self.project!r} (services: {known})")
        return mine

    # ------------------------------------------------------------------ panes
    async def health(self) -> list[ServiceStatus]:
        """One row per container: state, health check, restarts, uptime."""
        containers = await self.containers()
        now = datetime.now(UTC)
        if not containers:
            return [ServiceStatus(name=self.project, health=Health.CRITICAL, source=self.name, checked_at=now,
                                  detail=f"no containers of compose project {self.project!r} on {self.daemon} "
                                         f"(is the stack up?)")]
        per_service: dict[str, int] = {}
        for c in containers:
            per_service[c.service] = per_service.get(c.service, 0) + 1
        rows = []
        for c in containers:
            health, detail = container_health(c, c.service in self.oneshot, now)
            uptime = (now - c.started_at).total_seconds() if c.started_at else None
            rows.append(ServiceStatus(
                name=c.service if per_service[c.service] == 1 else f"{c.service}-{c.number}",
                health=health, detail=detail, checked_at=now, source=self.name,
                extra={"state": c.state, "container_health": c.health, "restarts": c.restarts,
                       "uptime_s": uptime, "container": c.name, "container_id": c.id[:12], "image": c.image,
                       "exit_code": c.exit_code if c.state == "exited" else None, "service": c.service},
            ))
        return rows

    # ------------------------------------------------------------------ actions
    async def _each(self, containers: list[Container], verb: str) -> list[str]:
        def run() -> list[str]:
            api = self._client().api
            done = []
            for c in containers:
                if verb == "restart":
                    api.restart(c.id, timeout=self.stop_timeout)
                elif verb == "stop":
                    api.stop(c.id, timeout=self.stop_timeout)
                else:
                    api.start(c.id)
                done.append(c.name)
            return done

        return await self._call(run, what=f"{verb} containers",
                                timeout=self.timeout + (self.stop_timeout + 5) * max(1, len(containers)))

    async def action_restart_service(self, service: str) -> ActionResult:
        names = await self._each(await self._service(service), "restart")
        return ActionResult(ok=True, message=f"restarted {service} ({', '.join(names)})")

    async def action_stop_service(self, service: str) -> ActionResult:
        names = await self._each(await self._service(service), "stop")
        return ActionResult(ok=True, message=f"stopped {service} ({', '.join(names)})")

    async def action_start_service(self, service: str) -> ActionResult:
        names = await self._each(await self._service(service), "start")
        return ActionResult(ok=True, message=f"started {service} ({', '.join(names)})")

    async def action_stop_project(self) -> ActionResult:
        running = [c for c in await self.containers() if c.state in {"running", "restarting", "paused"}]
        names = await self._each(running, "stop")
        return ActionResult(ok=True, message=f"stopped {len(names)} containers of project {self.project}",
                            output="\n".join(names))

    async def action_start_project(self) -> ActionResult:
        stopped = [c for c in await self.containers() if c.state in {"exited", "created", "dead"}
                   and c.service not in self.oneshot]
        names = await self._each(stopped, "start")
        return ActionResult(ok=True, message=f"started {len(names)} containers of project {self.project}",
                            output="\n".join(names))

    async def close(self) -> None:
        self._drop_client()
        await super().close()


def _is_api_error(exc: BaseException) -> bool:
    """True for docker.errors.APIError (the daemon answered with an error), without importing docker."""
    return any(cls.__name__ == "APIError" and cls.__module__.startswith("docker") for cls in type(exc).__mro__)


def _api_message(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)
