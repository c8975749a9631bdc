"""The concrete data panes: Services, Queries, Tables, Lag, Jobs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from opsconsole.model import Health, JobRun, LagSample, Pane, QueryRecord, ServiceStatus, TableStats
from opsconsole.ui.format import HEALTH_DOT, WORST_FIRST, age, clip, duration_ms, number, size, trend
from opsconsole.ui.widgets.data_pane import DashboardPane
from opsconsole.ui.widgets.pane_table import Cell, cell

if TYPE_CHECKING:
    from opsconsole.ui.host import ConsoleHost

FAILED_QUERY = frozenset({"FAILED", "CANCELED", "ERROR"})
FAILED_JOB = frozenset({"failed", "error", "internal_error", "timedout"})


def health_text(app: ConsoleHost, health: Health, label: str | None = None) -> Cell:
    style = app.health_style(health)
    short = {Health.OK: "ok", Health.WARNING: "warn", Health.CRITICAL: "crit", Health.UNKNOWN: "unkn"}[health]
    dot = HEALTH_DOT[health]
    return cell(f"{dot} {label or short}" if dot else (label or short).upper(), style=style)


class ServicesPane(DashboardPane):
    pane = Pane.SERVICES
    title = "Services"
    columns = (("state", "State", 6), ("name", "Service", 16), ("latency", "Latency", 8),
               ("trend", "Latency trend", 20), ("detail", "Detail", None), ("checked", "Checked", 7))
    drop = ("checked", "latency", "trend")

    def ordered(self, rows: Sequence[ServiceStatus]) -> list[ServiceStatus]:
        """Worst first (stable: equal health keeps the driver's order), so a critical row is never below the fold."""
        return sorted(rows, key=lambda r: WORST_FIRST.get(r.health, 1))

    def row_health(self, row: ServiceStatus) -> Health:
        return row.health

    def history_keys(self, row: ServiceStatus) -> list[tuple[str, str]]:
        return [(f"{row.name} latency (ms)", f"latency:{row.source}:{row.name}")]

    def cells(self, row: ServiceStatus) -> list[Cell]:
        history = self.history(f"latency:{row.source}:{row.name}")
        return [health_text(self.app, row.health), cell(row.name), cell(duration_ms(row.latency_ms)),
                cell(trend(history, "ms")), cell(clip(row.detail, 200)), cell(age(row.checked_at))]


class QueriesPane(DashboardPane):
    pane = Pane.QUERIES
    title = "Queries"
    grows = True
    max_rows = 50
    columns = (("when", "Started", 8), ("status", "Status", 9), ("duration", "Duration", 9),
               ("rows", "Rows", 7), ("sql", "Query", None))
    drop = ("rows", "when", "duration")

    def row_key(self, row: QueryRecord) -> str:
        return f"{row.source}:{row.query_id}"

    def ordered(self, rows: Sequence[QueryRecord]) -> list[QueryRecord]:
        """Failed queries first (newest first among them), then the rest newest first."""
        return sorted(rows, key=lambda r: r.status.upper() not in FAILED_QUERY)

    def row_health(self, row: QueryRecord) -> Health:
        return Health.WARNING if row.status.upper() in FAILED_QUERY else Health.OK

    def cells(self, row: QueryRecord) -> list[Cell]:
        failed = row.status.upper() in FAILED_QUERY
        status = cell(row.status.lower(), style=self.app.health_style(Health.CRITICAL) if failed else "")
        text = row.error if failed and row.error else row.text
        return [cell(f"{row.started_at.astimezone():%H:%M:%S}"), status, cell(duration_ms(row.duration_ms)),
                cell(number(row.rows)), cell(clip(text, 300))]


class TablesPane(DashboardPane):
    pane = Pane.TABLES
    title = "Tables"
    columns = (("name", "Table", None), ("files", "Files", 6), ("trend", "Files trend", 18), ("snapshots", "Snaps", 6),
               ("rows", "Rows", 9), ("size", "Size", 10), ("commit", "Commit", 7))
    drop = ("commit", "snapshots", "size", "trend")

    def ordered(self, rows: Sequence[TableStats]) -> list[TableStats]:
        """Tables over the file-count threshold first (the compaction candidates)."""
        limit = cast("ConsoleHost", self.app).thresholds.get("table_files_max", 100)
        return sorted(rows, key=lambda r: not (r.file_count is not None and r.file_count > limit))

    def row_health(self, row: TableStats) -> Health:
        limit = cast("ConsoleHost", self.app).thresholds.get("table_files_max", 100)
        return Health.WARNING if row.file_count is not None and row.file_count > limit else Health.OK

    def history_keys(self, row: TableStats) -> list[tuple[str, str]]:
        return [(f"{row.name} files", f"files:{row.source}:{row.name}")]

    def cells(self, row: TableStats) -> list[Cell]:
        limit = cast("ConsoleHost", self.app).thresholds.get("table_files_max", 100)
        files = cell(number(row.file_count))
        if row.file_count is not None and row.file_count > limit:
            files.stylize(self.app.health_style(Health.WARNING))
        history = self.history(f"files:{row.source}:{row.name}")
        return [cell(row.name), files, cell(trend(history)), cell(number(row.snapshot_count)),
                cell(number(row.row_count)), cell(size(row.size_bytes)), cell(age(row.last_commit))]


class LagPane(DashboardPane):
    pane = Pane.LAG
    title = "Lag"
    columns = (("name", "Consumer / layer", 22), ("lag", "Lag", 12), ("trend", "Trend", 18), ("detail", "Detail", None))
    drop = ("trend",)

    def history_keys(self, row: LagSample) -> list[tuple[str, str]]:
        return [(f"{row.name} lag ({row.unit})", f"lag:{row.source}:{row.name}")]

    def cells(self, row: LagSample) -> list[Cell]:
        unit = {"seconds": "s", "messages": "msg", "rows": "rows", "hours": "h"}.get(row.unit, row.unit)
        return [cell(row.name), cell(f"{number(row.lag)} {unit}"),
                cell(trend(self.history(f"lag:{row.source}:{row.name}"))),
                cell(clip(row.detail, 200))]


class JobsPane(DashboardPane):
    pane = Pane.JOBS
    title = "Jobs"
    grows = True
    max_rows = 50
    columns = (("job", "Job", 16), ("state", "State", 10), ("started", "Started", 8), ("duration", "Took", 8),
               ("trend", "Duration trend", 18), ("detail", "Detail", None))
    drop = ("trend", "started", "duration")

    def row_key(self, row: JobRun) -> str:
        return f"{row.source}:{row.job}:{row.run_id}"

    def ordered(self, rows: Sequence[JobRun]) -> list[JobRun]:
        """Failed runs first (newest first among them): a failure is never below the fold."""
        return sorted(rows, key=lambda r: r.state.lower() not in FAILED_JOB)

    def row_health(self, row: JobRun) -> Health:
        return Health.CRITICAL if row.state.lower() in FAILED_JOB else Health.OK

    def history_keys(self, row: JobRun) -> list[tuple[str, str]]:
        return [(f"{row.job} duration (s)", f"duration:{row.source}:{row.job}")]

    def cells(self, row: JobRun) -> list[Cell]:
        bad = row.state.lower() in FAILED_JOB
        state = cell(row.state.lower(), style=self.app.health_style(Health.CRITICAL) if bad else "")
        started = f"{row.started_at.astimezone():%H:%M:%S}" if row.started_at else "—"
        took = duration_ms(row.duration_s * 1000) if row.duration_s is not None else "—"
        history = self.history(f"duration:{row.source}:{row.job}")
        return [cell(row.job), state, cell(started), cell(took), cell(trend(history, "s")), cell(clip(row.detail, 200))]


PANE_CLASSES: dict[Pane, type[DashboardPane]] = {
    Pane.SERVICES: ServicesPane,
    Pane.QUERIES: QueriesPane,
    Pane.TABLES: TablesPane,
    Pane.LAG: LagPane,
    Pane.JOBS: JobsPane,
}


def now() -> datetime:
    return datetime.now(UTC)
