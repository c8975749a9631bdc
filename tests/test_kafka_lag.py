"""Kafka consumer lag against a real Kafka-protocol broker (Tansu, scripts/peers/kafka.sh).

Records are produced one per request: Tansu under-reports the high-water mark
after batched produces, and the figures asserted here must be exact.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsconsole.drivers.kafka.driver import KafkaLagDriver, partition_key
from opsconsole.drivers.kafka.lag_trend import LagHistory, is_growing, rate_per_second
from opsconsole.errors import ConfigError, DriverUnavailable
from opsconsole.model import Health
from tests.conftest import require_peer

# -- pure trend logic ---------------------------------------------------------------


def test_growing_needs_strict_increase_over_the_whole_window() -> None:
    assert is_growing([1, 5, 9], window=3)
    assert not is_growing([1, 5, 5], window=3), "a flat step is not growth"
    assert not is_growing([9, 5, 7], window=3), "a shrinking backlog is not growth"
    assert not is_growing([5, 9], window=3), "two samples cannot show a trend of three"
    assert is_growing([100, 1, 2, 3], window=3), "only the last samples count"


def test_history_reports_rate_and_forgets_vanished_keys() -> None:
    history = LagHistory(window=3)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    trends = [history.record("g/t[0]", v, t0 + timedelta(seconds=10 * i)) for i, v in enumerate([10, 30, 50])]
    assert [t.detail for t in trends] == ["", "", "growing"]
    assert trends[-1].rate_per_s == pytest.approx(2.0)
    history.record("g/t[1]", 1, t0)
    history.retain(["g/t[1]"])
    assert history.values("g/t[0]") == []
    assert history.values("g/t[1]") == [1.0]
    assert rate_per_second([(t0, 1.0), (t0, 5.0)]) is None


def test_driver_modules_import_no_client_library_nor_ui() -> None:
    """Listing or configuring these drivers must not pay for aiokafka/httpx (httpx drags in rich)."""
    import subprocess
    import sys

    code = ("import sys, opsconsole.drivers.kafka.driver, opsconsole.drivers.airflow, opsconsole.drivers.flink, "
            "opsconsole.drivers.spark, opsconsole.drivers.kafka.lag_trend; "
            "print(sorted(m for m in ('aiokafka', 'httpx', 'rich', 'textual') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_security_protocol_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="security_protocol 'SASL_SSl'"):
        KafkaLagDriver("kafka", {"bootstrap": "h:9093", "security_protocol": "SASL_SSl"})


# -- against the real broker ---------------------------------------------------------


@pytest.fixture
def bootstrap() -> str:
    return require_peer("OPSC_KAFKA_BOOTSTRAP", "Kafka-protocol broker (scripts/peers/kafka.sh)")


async def _create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, partition: int, count: int) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(count):  # one record per request (see module docstring)
            await producer.send_and_wait(topic, f"event-{i}".encode(), partition=partition)
    finally:
        await producer.stop()


async def _commit(bootstrap: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit offsets for a group the way a consumer does after processing."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(t, p) for t, p in offsets])  # manual assignment: no group join wait
        await consumer.commit({TopicPartition(t, p): o for (t, p), o in offsets.items()})
    finally:
        await consumer.stop()


def _driver(bootstrap: str, **options: object) -> KafkaLagDriver:
    return KafkaLagDriver("redpanda", {"bootstrap": bootstrap, **options}, timeout=10)


async def test_lag_per_partition_is_end_minus_committed(bootstrap: str) -> None:
    topic, group = f"orders-{uuid.uuid4().hex[:8]}", f"flink-raw-{uuid.uuid4().hex[:8]}"
    await _create_topic(bootstrap, topic, 2)
    await _produce(bootstrap, topic, 0, 7)
    await _produce(bootstrap, topic, 1, 3)
    await _commit(bootstrap, group, {(topic, 0): 2, (topic, 1): 3})
    driver = _driver(bootstrap, groups=[group], topics=[topic])
    try:
        rows = {s.name: s for s in await driver.lag()}
    finally:
        await driver.close()
    p0, p1 = rows[partition_key(group, topic, 0)], rows[partition_key(group, topic, 1)]
    assert (p0.upstream, p0.downstream, p0.lag) == (7, 2, 5)
    assert (p1.upstream, p1.downstream, p1.lag) == (3, 3, 0)
    assert p0.unit == "messages" and p0.source == "redpanda" and p0.measured_at is not None
    assert len(rows) == 2


async def test_lag_discovers_groups_and_skips_partitions_never_committed(bootstrap: str) -> None:
    topic, group = f"clicks-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    await _create_topic(bootstrap, topic, 2)
    await _produce(bootstrap, topic, 0, 4)
    await _commit(bootstrap, group, {(topic, 0): 1})
    driver = _driver(bootstrap)  # no filters: every group, every topic
    try:
        names = {s.name: s.lag for s in await driver.lag()}
    finally:
        await driver.close()
    assert names[partition_key(group, topic, 0)] == 3
    assert partition_key(group, topic, 1) not in names


async def test_lag_that_keeps_growing_is_marked_and_clears_when_consumer_catches_up(bootstrap: str) -> None:
    topic, group = f"events-{uuid.uuid4().hex[:8]}", f"stuck-{uuid.uuid4().hex[:8]}"
    await _create_topic(bootstrap, topic, 1)
    await _produce(bootstrap, topic, 0, 1)
    await _commit(bootstrap, group, {(topic, 0): 1})
    driver = _driver(bootstrap, groups=[group], topics=[topic], trend_samples=3)
    key = partition_key(group, topic, 0)
    try:
        seen = []
        for _ in range(3):  # the consumer is stuck while the producer goes on
            await _produce(bootstrap, topic, 0, 2)
            sample = next(s for s in await driver.lag() if s.name == key)
            seen.append((sample.lag, sample.detail))
        assert seen == [(2, ""), (4, ""), (6, "growing")]
        await _commit(bootstrap, group, {(topic, 0): 7})
        sample = next(s for s in await driver.lag() if s.name == key)
        assert (sample.lag, sample.detail) == (0, "")
        assert driver.history.values(key) == [2, 4, 6, 0]
    finally:
        await driver.close()


async def test_health_reports_the_broker_and_its_topics(bootstrap: str) -> None:
    topic = f"health-{uuid.uuid4().hex[:8]}"
    await _create_topic(bootstrap, topic, 1)
    driver = _driver(bootstrap)
    try:
        (row,) = await driver.health()
    finally:
        await driver.close()
    assert row.health is Health.OK
    assert "1 broker(s)" in row.detail and "topic(s)" in row.detail
    assert row.latency_ms is not None and row.latency_ms > 0


async def test_unreachable_broker_is_critical_and_lag_raises_a_typed_error() -> None:
    driver = KafkaLagDriver("kafka", {"bootstrap": "127.0.0.1:1"}, timeout=2)
    try:
        (row,) = await driver.health()
        assert row.health is Health.CRITICAL
        assert "127.0.0.1:1" in row.detail
        assert row.detail.count("KafkaConnectionError") == 1, row.detail  # said once, not "X: X: ..."
        with pytest.raises(DriverUnavailable, match=r"127\.0\.0\.1:1") as err:
            await driver.lag()
        assert str(err.value).count("KafkaConnectionError") == 1, str(err.value)
    finally:
        await driver.close()


async def test_azure_rt_profile_builds_a_working_kafka_driver(bootstrap: str, root: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped profile, pointed at a broker by $KAFKA_BOOTSTRAP, measures lag as configured."""
    from opsconsole.config import load
    from opsconsole.drivers import driver_class
    from opsconsole.secret import Secret

    monkeypatch.setenv("KAFKA_BOOTSTRAP", bootstrap)
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "Endpoint=sb://example/;SharedAccessKey=hunter2")
    profile = load(root / "profiles.yaml").profile("azure-rt")
    (spec,) = [d for d in profile.drivers if d.kind == "kafka"]
    assert isinstance(spec.options["sasl_password"], Secret)
    assert "hunter2" not in repr(spec.options)
    topic, group = f"azure-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    await _create_topic(bootstrap, topic, 1)
    await _produce(bootstrap, topic, 0, 3)
    await _commit(bootstrap, group, {(topic, 0): 1})
    driver = driver_class(spec.kind)(spec.name, spec.options, timeout=spec.timeout)
    try:
        lag = {s.name: s.lag for s in await driver.lag()}
    finally:
        await driver.close()
    assert lag[partition_key(group, topic, 0)] == 2


async def test_real_samples_raise_kafka_consumer_lag_high_when_over_threshold_or_growing(bootstrap: str) -> None:
    """The driver's rows feed the alert rules: over consumer_lag_max, or growing below it."""
    from opsconsole.model import Pane, PaneResult
    from opsconsole.monitor.rules import evaluate

    topic = f"alerts-{uuid.uuid4().hex[:8]}"
    over, growing, fine = (f"{kind}-{uuid.uuid4().hex[:6]}" for kind in ("over", "growing", "fine"))
    await _create_topic(bootstrap, topic, 1)
    await _produce(bootstrap, topic, 0, 1)
    await _commit(bootstrap, over, {(topic, 0): 0})
    await _commit(bootstrap, growing, {(topic, 0): 1})
    await _commit(bootstrap, fine, {(topic, 0): 1})
    driver = _driver(bootstrap, groups=[over, growing, fine], topics=[topic], trend_samples=3)
    try:
        for i in range(3):
            await _produce(bootstrap, topic, 0, 1)
            await _commit(bootstrap, fine, {(topic, 0): 2 + i})  # keeps up with the producer
            rows = await driver.lag()
    finally:
        await driver.close()
    result = PaneResult(pane=Pane.LAG, rows=tuple(rows), errors={}, polled_at=datetime.now(UTC), duration_ms=1)
    alerts = {a.subject: a for a in evaluate({Pane.LAG: result}, {"consumer_lag_max": 3})}
    assert alerts[partition_key(over, topic, 0)].message == "lag 4 > 3"
    assert alerts[partition_key(growing, topic, 0)].message == "lag 3 keeps growing"
    assert partition_key(fine, topic, 0) not in alerts
    assert {a.rule for a in alerts.values()} == {"KafkaConsumerLagHigh"}
