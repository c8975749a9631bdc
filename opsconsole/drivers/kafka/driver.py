"""Kafka consumer lag over the Kafka protocol (Kafka, Redpanda, Event Hubs, Tansu).

Seed 002 checks lag with ``rpk group describe flink-raw-consumer``; a CLI ties the
console to one broker product and to a container shell. Speaking the protocol
(aiokafka, natively async) works against any of them. For each consumer group,
topic and partition the driver reports the committed offset, the log end offset
and the lag between them, and remembers the lag per partition so it can say
when lag keeps growing (``LagSample.detail == "growing"``): the alert rules raise
``KafkaConsumerLagHigh`` from these samples.

aiokafka is imported inside the methods so the first frame does not pay for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from opsconsole.drivers.base import Driver, OptionSpec, describe
from opsconsole.drivers.kafka.lag_trend import DEFAULT_WINDOW, LagHistory
from opsconsole.errors import AuthError, ConfigError, DriverError, DriverTimeout, DriverUnavailable
from opsconsole.model import Health, LagSample, Pane, ServiceStatus
from opsconsole.secret import reveal

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

T = TypeVar("T")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def partition_key(group: str, topic: str, partition: int) -> str:
    """Row name of one partition's lag: ``group/topic[p]`` (rpk's grouping, one line)."""
    return f"{group}/{topic}[{partition}]"


class KafkaLagDriver(Driver):
    """Consumer-group lag and broker reachability of one Kafka-protocol cluster."""

    kind: ClassVar[str] = "kafka"
    description: ClassVar[str] = "Kafka/Redpanda consumer lag per group, topic and partition (Kafka protocol)"
    panes: ClassVar[frozenset[Pane]] = frozenset({Pane.SERVICES, Pane.LAG})
    extra_checks = frozenset({"consumer_lag"})
    options: ClassVar[tuple[OptionSpec, ...]] = (
        OptionSpec("bootstrap", str, required=True,
                   help="bootstrap servers, host:port[,host:port]"),
        OptionSpec("groups", list, default=[],
                   help="consumer groups to watch; empty watches every group"),
        OptionSpec("topics", list, default=[],
                   help="topics to watch; empty watches every topic not starting with '__'"),
        OptionSpec("trend_samples", int, default=DEFAULT_WINDOW,
                   help="consecutive increasing samples that mark lag as growing"),
        OptionSpec("security_protocol", str, default="PLAINTEXT",
                   help="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (Event Hubs: SASL_SSL)"),
        OptionSpec("sasl_mechanism", str, default="PLAIN", help="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
        OptionSpec("sasl_username", str, default="", help="SASL user (Event Hubs: $ConnectionString)"),
        OptionSpec("sasl_password", str, default="", secret=True, help="SASL password or connection string"),
    )

    def __init__(self, name: str, options: Mapping[str, Any], *, timeout: float = 10.0) -> None:
        super().__init__(name, options, timeout=timeout)
        protocol = self.config.get("security_protocol") or "PLAINTEXT"
        if protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(f"driver {name!r}: security_protocol {protocol!r} is not one of "
                              f"{', '.join(SECURITY_PROTOCOLS)}", key=f"{name}.options.security_protocol")
        window = int(self.config.get("trend_samples") or DEFAULT_WINDOW)
        self.history = LagHistory(window=max(window, 2))
        """Lag per partition over recent polls; feeds the ``growing`` detail."""
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    # -- connection ------------------------------------------------------------
    def _client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.config["bootstrap"],
            "request_timeout_ms": int(self.timeout * 1000),
            "security_protocol": self.config.get("security_protocol") or "PLAINTEXT",
        }
        if kwargs["security_protocol"] in {"SSL", "SASL_SSL"}:
            from aiokafka.helpers import create_ssl_context

            kwargs["ssl_context"] = create_ssl_context()
        if kwargs["security_protocol"].startswith("SASL"):
            kwargs["sasl_mechanism"] = self.config.get("sasl_mechanism") or "PLAIN"
            kwargs["sasl_plain_username"] = self.config.get("sasl_username") or None
            password = reveal(self.config.get("sasl_password"))
            kwargs["sasl_plain_password"] = password or None
        return kwargs

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        """The admin client (groups, committed offsets) and a group-less consumer (end offsets)."""
        if self._admin is None or self._consumer is None:
            from aiokafka import AIOKafkaConsumer
            from aiokafka.admin import AIOKafkaAdminClient

            kwargs = self._client_kwargs()
            admin = AIOKafkaAdminClient(**kwargs)
            consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **kwargs)
            try:
                await admin.start()
                await consumer.start()
            except BaseException:
                await _quietly(admin.close())
                await _quietly(consumer.stop())
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def _reset(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        if admin is not None:
            await _quietly(admin.close())
        if consumer is not None:
            await _quietly(consumer.stop())

    async def close(self) -> None:
        await self._reset()
        await super().close()

    async def _call(self, coro: Awaitable[T], what: str) -> T:
        """Await a protocol call with the driver timeout, translating aiokafka errors.

        A failed call drops the clients so the next poll reconnects instead of
        reusing a connection aiokafka has already given up on.
        """
        from aiokafka import errors as kafka_errors

        try:
            return await asyncio.wait_for(coro, self.timeout)
        except TimeoutError as exc:
            await self._reset()
            raise DriverTimeout(f"{self.name}: {what} timed out after {self.timeout:g}s "
                                f"(is the broker at {self.config['bootstrap']} up?)") from exc
        except DriverError:
            raise
        except (kafka_errors.SaslAuthenticationFailed, kafka_errors.GroupAuthorizationFailedError,
                kafka_errors.TopicAuthorizationFailedError, kafka_errors.ClusterAuthorizationFailedError) as exc:
            await self._reset()
            raise AuthError(f"{self.name}: {what} refused: {describe(exc)} (check sasl_username/sasl_password)") \
                from exc
        except Exception as exc:
            await self._reset()
            raise DriverUnavailable(f"{self.name}: {what} failed at {self.config['bootstrap']}: {describe(exc)}") \
                from exc

    # -- panes -------------------------------------------------------------------
    async def health(self) -> list[ServiceStatus]:
        """One row for the cluster: reachable, brokers, topics and groups seen."""
        started = time.perf_counter()
        now = datetime.now(UTC)
        try:
            async with self._lock:
                admin, _ = await self._call(self._clients(), "connect")
                cluster = await self._call(admin.describe_cluster(), "describe cluster")
                topics = await self._call(admin.list_topics(), "list topics")
                groups = await self._call(admin.list_consumer_groups(), "list groups")
        except DriverError as exc:
            return [ServiceStatus(name=self.name, health=Health.CRITICAL, detail=str(exc), checked_at=now,
                                  source=self.name, extra={"bootstrap": self.config["bootstrap"]})]
        brokers = cluster.get("brokers") or []
        user_topics = [t for t in topics if not t.startswith("__")]
        detail = f"{len(brokers)} broker(s), {len(user_topics)} topic(s), {len(groups)} group(s)"
        return [ServiceStatus(name=self.name, health=Health.OK if brokers else Health.WARNING, detail=detail,
                              latency_ms=(time.perf_counter() - started) * 1000, checked_at=now, source=self.name,
                              extra={"bootstrap": self.config["bootstrap"],
                                     "cluster_id": cluster.get("cluster_id") or ""})]

    async def lag(self) -> list[LagSample]:
        """Committed offset, log end offset and lag of every watched group partition."""
        async with self._lock:
            return await self._lag()

    async def _lag(self) -> list[LagSample]:
        from aiokafka import TopicPartition

        admin, consumer = await self._call(self._clients(), "connect")
        wanted_groups = [str(g) for g in self.config.get("groups") or []]
        if wanted_groups:
            groups = wanted_groups
        else:
            listed = await self._call(admin.list_consumer_groups(), "list groups")
            groups = sorted({str(g[0]) for g in listed if len(g) < 2 or g[1] in ("consumer", "")})
        wanted_topics = [str(t) for t in self.config.get("topics") or []]
        topic_names = wanted_topics or [t for t in await self._call(admin.list_topics(), "list topics")
                                        if not t.startswith("__")]
        if not groups or not topic_names:
            self.history.retain(())
            return []
        described = await self._call(admin.describe_topics(sorted(topic_names)), "describe topics")
        partitions = sorted(
            (TopicPartition(t["topic"], p["partition"])
             for t in described if not t.get("error_code") for p in t.get("partitions") or ()),
            key=lambda tp: (tp.topic, tp.partition))
        if not partitions:
            self.history.retain(())
            return []
        end_offsets = await self._call(consumer.end_offsets(partitions), "fetch end offsets")
        now = datetime.now(UTC)
        samples: list[LagSample] = []
        for group in groups:
            # Explicit partitions: "all partitions" (topics=null) is not understood by every broker.
            committed = await self._call(admin.list_consumer_group_offsets(group, partitions=partitions),
                                         f"fetch offsets of group {group!r}")
            for tp in partitions:
                meta = committed.get(tp)
                if meta is None or meta.offset < 0:
                    continue  # the group never committed on this partition: not a consumer of it
                end = int(end_offsets.get(tp, 0))
                lag = max(end - meta.offset, 0)
                key = partition_key(group, tp.topic, tp.partition)
                trend = self.history.record(key, lag, now)
                samples.append(LagSample(name=key, lag=float(lag), unit="messages", upstream=float(end),
                                         downstream=float(meta.offset), measured_at=now, detail=trend.detail,
                                         source=self.name))
        self.history.retain(s.name for s in samples)
        return samples


async def _quietly(coro: Awaitable[Any]) -> None:
    """Close a client without letting a second failure hide the first."""
    try:
        await asyncio.wait_for(coro, 5)
    except Exception:
        pass
