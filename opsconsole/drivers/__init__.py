"""Driver registry: ``type:`` names in profiles.yaml -> driver classes.

Entries are import paths, resolved on first use, so listing the registry (for an
error message or ``--help``) imports no backend code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from opsconsole.errors import ConfigError

if TYPE_CHECKING:
    from opsconsole.drivers.base import Driver

REGISTRY: dict[str, str] = {
    "demo": "opsconsole.drivers.demo:DemoDriver",
    "http": "opsconsole.drivers.http_health:HttpHealthDriver",
    "docker": "opsconsole.drivers.docker_compose:DockerComposeDriver",
    "iceberg": "opsconsole.drivers.iceberg.driver:IcebergDriver",
    "databricks": "opsconsole.drivers.databricks.driver:DatabricksDriver",
    "duckdb": "opsconsole.drivers.duckdb.pipeline:DuckDBPipelineDriver",
    "s3": "opsconsole.drivers.s3:S3Driver",
    "kafka": "opsconsole.drivers.kafka.driver:KafkaLagDriver",
    "airflow": "opsconsole.drivers.airflow:AirflowDriver",
    "flink": "opsconsole.drivers.flink:FlinkDriver",
    "spark": "opsconsole.drivers.spark:SparkDriver",
    "clickhouse": "opsconsole.drivers.clickhouse:ClickHouseDriver",
}


def driver_class(kind: str) -> type[Driver]:
    """Resolve a driver type name, or raise a ConfigError listing the known ones."""
    target = REGISTRY.get(kind)
    if target is None:
        raise ConfigError(f"unknown driver type {kind!r}; known drivers: {', '.join(sorted(REGISTRY))}")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise ConfigError(f"driver type {kind!r} is not available in this build ({module_name} missing)") from exc
        raise
    return getattr(module, attr)
