"""HTTP health probes: the seed's "Health Check URLs" table, polled concurrently.

Seed 002 checks each service with ``curl`` (MinIO ``/minio/health/live``,
Iceberg REST ``/v1/config``, Redpanda ``/v1/status/ready``, Airflow
``/health``, Trino ``/v1/info``, Ingestion API ``/health``). This driver runs
all of them at once with httpx (natively async, nothing on a thread) and a
per-probe deadline, and keeps a latency history per endpoint for a sparkline.

Why several clients: httpcore's connection pool re-scans every queued request
against every connection on each state change, so one client carrying hundreds
of concurrent requests costs O(requests x connections) per event and stalls the
event loop (``benchmarks/bench_health_probes.py`` measures it). Endpoints are
therefore sharded over small clients (``per_client`` endpoints each), and each
shard never has more requests in flight than it has connections, so no request
ever waits in a pool queue. The clients live across polls and are built on a
worker thread, because loading CA certificates takes tens of milliseconds the
UI cannot spare; their connections do not (no keep-alive), so every probe
opens a new connection, as a new client of the service would.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from opsconsole.drivers.base import Driver, OptionSpec, describe
from opsconsole.errors import ConfigError
from opsconsole.model import Health, Pane, ServiceStatus

if TYPE_CHECKING:
    import httpx

BODY_LIMIT = 64 * 1024
"""Bytes of a health body we read at most: enough for any status JSON."""

BAD_STATUS = frozenset({"unhealthy", "down", "fail", "failed", "failing", "error", "not_ready", "not ready",
                        "unavailable", "red", "critical"})
"""Values of a ``status`` field (top level or one level down) that mean trouble."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One configured health URL."""

    name: str
    url: str
    shown_url: str
    """The URL without credentials or query string: safe for the screen."""
    expect: tuple[int, ...]
    """Acceptable status codes; empty means any 2xx or 3xx."""


def safe_url(url: str) -> str:
    """Scheme, host, port and path only: query strings and userinfo often hold tokens."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def parse_endpoints(raw: Any, driver: str) -> list[Endpoint]:
    """Validate the ``endpoints`` option: ``name: url`` or ``name: {url, expect_status}``."""
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{driver}: option endpoints must map service names to health URLs")
    endpoints = []
    for name, spec in raw.items():
        expect: tuple[int, ...] = ()
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"url", "expect_status"}
            if unknown or "url" not in spec:
                raise ConfigError(f"{driver}: endpoint {name!r} takes url and expect_status "
                                  f"(got {', '.join(sorted(map(str, spec)))})")
            url = spec["url"]
            codes = spec.get("expect_status", ())
            codes = codes if isinstance(codes, list | tuple) else [codes]
            if not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
                raise ConfigError(f"{driver}: endpoint {name!r}: expect_status must be status codes")
            expect = tuple(codes)
        else:
            url = spec
        if not isinstance(url, str) or urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).hostname:
            raise ConfigError(f"{driver}: endpoint {name!r}: expected an http(s) URL, got {url!r}")
        endpoints.append(Endpoint(name=str(name), url=url, shown_url=safe_url(url), expect=expect))
    return endpoints


def reported_problems(body: bytes) -> list[str]:
    """Trouble a health endpoint reports in its JSON body while answering 200.

    Airflow's ``/health`` answers 200 with ``{"scheduler": {"status":
    "unhealthy"}}``; Trino's ``/v1/info`` says ``"starting": true`` until ready;
    Redpanda says ``{"status": "ready"}``. Non-JSON bodies report nothing.
    """
    text = body.lstrip()
    if not text.startswith(b"{"):
        return []
    try:
        payload = json.loads(text)
    except ValueError:
        return []
    if not isinstance(payload, dict):
        return []
    problems = []
    if str(payload.get("status", "")).lower() in BAD_STATUS:
        problems.append(f"status {payload['status']}")
    if payload.get("starting") is True:
        problems.append("starting")
    for key, value in payload.items():
        if isinstance(value, dict) and str(value.get("status", "")).lower() in BAD_STATUS:
            problems.append(f"{key} {value['status']}")
    return problems


class HttpHealthDriver(Driver):
    """Concurrent HTTP health probes with latency history."""

    kind = "http"
    description = "HTTP health endpoints probed concurrently (httpx), with latency history."
    panes = frozenset({Pane.SERVICES})
    options = (
        OptionSpec("endpoints", dict, required=True,
                   help="service name -> health URL, or -> {url: ..., expect_status: [200]}"),
        OptionSpec("probe_timeout", (int, float), default=2.0, help="seconds one probe may take"),
        OptionSpec("slow_ms", (int, float), default=1000.0, help="answers slower than this are a warning"),
        OptionSpec("per_client", int, default=4,
                   help="endpoints (and connections) per HTTP client; keeps httpx's pool small"),
        OptionSpec("max_concurrency", int, default=48,
                   help="probes in flight at once, over all clients (bounds the work of one loop iteration)"),
        OptionSpec("history", int, default=60, help="latency samples kept per endpoint for the sparkline"),
        OptionSpec("verify_tls", bool, default=True),
    )
    actions = ()

    def __init__(self, name: str, options: Mapping[str, Any], *, timeout: float = 10.0) -> None:
        super().__init__(name, options, timeout=timeout)
        self.endpoints = parse_endpoints(self.config.get("endpoints"), name)
        self.probe_timeout = float(self.config.get("probe_timeout") or 2.0)
        self.slow_ms = float(self.config.get("slow_ms") or 1000.0)
        self.per_client = max(1, int(self.config.get("per_client") or 4))
        self.max_concurrency = max(1, int(self.config.get("max_concurrency") or 48))
        keep = max(1, int(self.config.get("history") or 60))
        self.history: dict[str, deque[float]] = {e.name: deque(maxlen=keep) for e in self.endpoints}
        """Latencies (ms) of answered probes, oldest first; failed probes add nothing."""
        self._failures: dict[str, int] = {e.name: 0 for e in self.endpoints}
        self._clients: list[httpx.AsyncClient] = []
        self._shard_of: dict[str, int] = {}
        self._clients_lock = asyncio.Lock()

    # ------------------------------------------------------------------ clients
    def _plan_shards(self) -> dict[str, int]:
        """Endpoints of one origin share a client (one pool of connections); shards hold <= per_client endpoints."""
        by_origin: dict[str, list[str]] = {}
        for e in self.endpoints:
            parts = urlsplit(e.url)
            by_origin.setdefault(f"{parts.scheme}://{parts.netloc}", []).append(e.name)
        shard_of: dict[str, int] = {}
        shard, used = 0, 0
        for names in by_origin.values():
            for n in names:
                if used >= self.per_client:
                    shard, used = shard + 1, 0
                shard_of[n] = shard
                used += 1
        return shard_of

    def _build_clients(self, count: int) -> list[httpx.AsyncClient]:
        """Runs on a worker thread: importing httpx and loading CA certificates are slow."""
        import ssl

        import httpx

        verify: ssl.SSLContext | bool = False
        if self.config.get("verify_tls", True):
            verify = ssl.create_default_context()
            try:
                import certifi

                verify.load_verify_locations(certifi.where())
            except ImportError:
                pass
        # No kept-alive connections: a probe must say whether a NEW client could connect now. A reused
        # connection to a dying server kept answering OK for ~20 s while new connections were refused.
        limits = httpx.Limits(max_connections=self.per_client, max_keepalive_connections=0)
        timeout = httpx.Timeout(self.probe_timeout)
        return [httpx.AsyncClient(verify=verify, limits=limits, timeout=timeout, follow_redirects=False,
                                  headers={"User-Agent": "opsconsole-health"}) for _ in range(count)]

    async def _ensure_clients(self) -> list[httpx.AsyncClient]:
        async with self._clients_lock:
            if not self._clients:
                self._shard_of = self._plan_shards()
                count = max(self._shard_of.values(), default=0) + 1
                self._clients = await self.run_sync(self._build_clients, count, what="create HTTP clients")
            return self._clients

    async def close(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()
        await super().close()

    # ------------------------------------------------------------------ probing
    async def health(self) -> list[ServiceStatus]:
        """Probe every endpoint concurrently; one row per endpoint, in configured order."""
        clients = await self._ensure_clients()
        overall = asyncio.Semaphore(self.max_concurrency)
        shard_gates = [asyncio.Semaphore(self.per_client) for _ in clients]
        return list(await asyncio.gather(*(
            self._probe(e, clients[self._shard_of[e.name]], shard_gates[self._shard_of[e.name]], overall)
            for e in self.endpoints)))

    async def _probe(self, endpoint: Endpoint, client: httpx.AsyncClient, shard_gate: asyncio.Semaphore,
                     overall: asyncio.Semaphore) -> ServiceStatus:
        import httpx

        async with overall, shard_gate:
            started = time.perf_counter()
            code: int | None = None
            body = b""
            try:
                async with asyncio.timeout(self.probe_timeout):
                    async with client.stream("GET", endpoint.url) as response:
                        code = response.status_code
                        reason = response.reason_phrase
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            if len(body) >= BODY_LIMIT:
                                break
                error = ""
            except TimeoutError:
                error = f"no answer within {self.probe_timeout:g}s"
            except httpx.ConnectError as exc:
                error = f"cannot connect: {describe(exc.__cause__ or exc)}"
            except httpx.HTTPError as exc:
                error = describe(exc)
            latency = (time.perf_counter() - started) * 1000
        return self._row(endpoint, code, reason if code is not None else "", body, latency, error)

    def _row(self, endpoint: Endpoint, code: int | None, reason: str, body: bytes, latency: float,
             error: str) -> ServiceStatus:
        now = datetime.now(UTC)
        history = self.history[endpoint.name]
        if error:
            self._failures[endpoint.name] += 1
            health, detail, shown_latency = Health.CRITICAL, error, None
        else:
            self._failures[endpoint.name] = 0
            history.append(round(latency, 2))
            shown_latency = latency
            accepted = code in endpoint.expect if endpoint.expect else code is not None and 200 <= code < 400
            problems = reported_problems(body) if accepted else []
            if not accepted:
                health, detail = Health.CRITICAL, f"HTTP {code} {reason}".strip()
            elif problems:
                health, detail = Health.WARNING, f"HTTP {code}; reports " + ", ".join(problems)
            elif round(latency) > round(self.slow_ms):  # compare what is printed: never "1000 ms > 1000 ms"
                health, detail = Health.WARNING, f"HTTP {code}; slow ({latency:.0f} ms > {self.slow_ms:.0f} ms)"
            else:
                health, detail = Health.OK, f"HTTP {code}"
        return ServiceStatus(
            name=endpoint.name, health=health, detail=detail, latency_ms=shown_latency, checked_at=now,
            source=self.name,
            extra={"url": endpoint.shown_url, "status_code": code, "latency_history": tuple(history),
                   "consecutive_failures": self._failures[endpoint.name],
                   "p50_ms": _median(history)},
        )


def _median(values: deque[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


__all__ = ["BAD_STATUS", "Endpoint", "HttpHealthDriver", "parse_endpoints", "reported_problems", "safe_url"]
