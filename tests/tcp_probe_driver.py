"""A minimal driver for UI tests: probes a real TCP socket.

Pointed at a listener that never answers it hangs (until its timeout); pointed
at a closed port it fails at once. That lets the Pilot tests show what a hung
or dead backend does to a pane without depending on any other driver.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from opsconsole.drivers.base import Driver, OptionSpec
from opsconsole.errors import DriverTimeout, DriverUnavailable
from opsconsole.model import Health, LagSample, Pane, ServiceStatus, TableStats


class TcpProbeDriver(Driver):
    kind = "tcp-probe"
    panes = frozenset({Pane.SERVICES})
    options = (OptionSpec("port", int, required=True), OptionSpec("expect", str, default="PONG"))

    async def health(self) -> list[ServiceStatus]:
        t0 = time.perf_counter()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.config["port"]), 2)
        except OSError as exc:
            raise DriverUnavailable(f"{self.name}: connection refused on port {self.config['port']}") from exc
        try:
            writer.write(b"PING\n")
            line = await asyncio.wait_for(reader.readline(), self.timeout)
        except TimeoutError as exc:
            raise DriverTimeout(f"{self.name}: no answer within {self.timeout:g}s") from exc
        finally:
            writer.close()
        ok = line.strip().decode() == self.config["expect"]
        return [ServiceStatus("tcp-service", Health.OK if ok else Health.CRITICAL, line.decode().strip(),
                              latency_ms=(time.perf_counter() - t0) * 1000,
                              checked_at=datetime.now(UTC), source=self.name)]


class TcpProbeAllPanesDriver(TcpProbeDriver):
    """The same probe behind three panes: a backend that hangs stalls each of them for its timeout."""

    kind = "tcp-probe-panes"
    panes = frozenset({Pane.SERVICES, Pane.TABLES, Pane.LAG})

    async def table_stats(self) -> list[TableStats]:
        await self.health()
        return [TableStats("tcp.table", 1, source=self.name)]

    async def lag(self) -> list[LagSample]:
        await self.health()
        return [LagSample("tcp lag", 0.0, "rows", source=self.name)]
