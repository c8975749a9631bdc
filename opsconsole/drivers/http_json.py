"""Shared plumbing of the drivers that read a service's JSON REST API over httpx.

Flink and the Spark master differ in what they read, not in how: one lazily
created client per driver, transport failures mapped to the typed errors that
turn a pane stale, and epoch-millisecond timestamps.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from opsconsole.drivers.base import Driver, describe
from opsconsole.errors import DriverTimeout, DriverUnavailable

if TYPE_CHECKING:
    import httpx  # imported where used: httpx pulls in rich when it is installed


def from_millis(value: Any) -> datetime | None:
    """Epoch milliseconds as a UTC datetime; ``-1``/``0``/missing mean "not yet"."""
    if not isinstance(value, (int, float)) or value <= 0:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


class HttpJsonDriver(Driver):
    """A driver whose backend is one HTTP base URL (option ``url``, ``verify_tls``)."""

    service_label: ClassVar[str] = "the service"
    """How error messages name the backend: "is Flink at http://… up?"."""

    def __init__(self, name: str, options: Mapping[str, Any], *, timeout: float = 10.0) -> None:
        super().__init__(name, options, timeout=timeout)
        self.base = str(self.config["url"]).rstrip("/")
        self._client: httpx.AsyncClient | None = None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await super().close()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; timeouts and connection failures become DriverTimeout / DriverUnavailable."""
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base, timeout=self.timeout,
                                             verify=bool(self.config.get("verify_tls", True)))
        try:
            return await self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise DriverTimeout(f"{self.name}: {method} {path} timed out after {self.timeout:g}s "
                                f"(is {self.service_label} at {self.base} up?)") from exc
        except httpx.HTTPError as exc:
            raise DriverUnavailable(f"{self.name}: cannot reach {self.service_label} at {self.base}: "
                                    f"{describe(exc)}") from exc
