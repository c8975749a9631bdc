"""A real Prometheus scraping ``opsconsole watch`` on the demo: its figures are pyiceberg's and DuckDB's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_peer
from tests.watch_helpers import (
    Prometheus,
    duckdb_lag,
    fast_demo_profile,
    free_port,
    iceberg_files,
    set_fault,
    start_watch,
    stop_watch,
    wait_for,
)

pytestmark = pytest.mark.peer("prometheus")

RULES = """\
groups:
  - name: opsconsole
    rules:
      - record: table:opsconsole_table_data_files:sum
        expr: sum by (table) (opsconsole_table_data_files)
      - alert: RawToStagingLagHigh
        expr: opsconsole_lag_rows{name="raw→staging"} > 10
        labels: {severity: warning}
        annotations: {summary: "staging is {{ $value }} rows behind raw"}
"""


def test_prometheus_reads_file_count_and_lag_equal_to_pyiceberg_and_duckdb(tmp_path: Path) -> None:
    binary = require_peer("OPSC_PROMETHEUS_BIN", "Prometheus")
    demo_dir = tmp_path / "demo"
    # No transform during the test: staging holds still, so the lag is raw's row count minus staging's.
    config = fast_demo_profile(tmp_path, demo_dir, transform_interval=3600)
    port, log = free_port(), tmp_path / "watch.log"
    watch = start_watch(config, port, log=log)
    prom = Prometheus(binary, tmp_path / "prom", [f"127.0.0.1:{port}"], RULES)
    try:
        wait_for(lambda: prom.query('up{job="opsconsole"} == 1'), 30, "Prometheus scraping watch")
        wait_for(lambda: prom.query('opsconsole_lag_rows{name="raw→staging"} > 10'), 60, "some lag")
        set_fault(demo_dir, "stop-ingestion")

        def agree() -> bool:
            files = prom.query('table:opsconsole_table_data_files:sum{table="raw.orders"}')
            lag = prom.query('opsconsole_lag_rows{name="raw→staging",profile="demo"}')
            raw, staged = duckdb_lag(demo_dir)
            return list(files.values()) == [iceberg_files(demo_dir)] and list(lag.values()) == [raw - staged]
        wait_for(agree, 60, "Prometheus' recording rule == pyiceberg files and lag == pyiceberg rows - DuckDB rows",
                 every=1)

        def alert_firing() -> list[dict[str, object]]:
            return [a for a in prom.api("alerts")["alerts"]
                    if a["labels"]["alertname"] == "RawToStagingLagHigh" and a["state"] == "firing"]
        firing = wait_for(alert_firing, 30, "the alerting rule firing in Prometheus")
        assert firing[0]["labels"]["profile"] == "demo"
    finally:
        prom.stop()
        assert stop_watch(watch) == 0, log.read_text()
