"""The concrete data panes: Services, Queries, Tables, Lag, Jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opsconsole.model import Health, JobRun, LagSample, Pane, QueryRecord, ServiceStatus, TableStats
from opsconsole.ui.format import HEALTH_DOT, age, clip, duration_ms, number, size, sparkline
from opsconsole.ui.widgets.data_pane import DashboardPane
from opsconsole.ui.widgets.pane_table import Cell, cell

HISTORY = 24


def health_text(app: Any, health: Health, label: str | None = None) -> Cell:
    style = app.health_style(health) if hasattr(app, "health_style") else ""
    short = {Health.OK: "ok", Health.WARNING: "warn", Health.CRITICAL: "crit", Health.UNKNOWN: "unkn"}[health]
    return cell(f"{HEALTH_DOT[health]} {label or short}", style=style)


class ServicesPane(DashboardPane):
    pane = Pane.SERVICES
    title = "Services"
    columns = (("state", "State", 6), ("name", "Service", 16), ("latency", "Latency", 8),
               ("trend", "History", 12), ("detail", "Detail", None), ("checked", "Checked", 7))

    def cells(self, row: ServiceStatus) -> list[Cell]:
        trend = [v for _t, v in self.history(f"latency:{row.source}:{row.name}")][-HISTORY:]
        return [health_text(self.app, row.health), cell(row.name), cell(duration_ms(row.latency_ms)),
                cell(sparkline(trend)), cell(clip(row.detail, 200)), cell(age(row.checked_at))]


class QueriesPane(DashboardPane):
    pane = Pane.QUERIES
    title = "Queries"
    grows = True
    max_rows = 50
    columns = (("when", "Started", 8), ("status", "Status", 9), ("duration", "Duration", 9),
               ("rows", "Rows", 7), ("sql", "Query", None))

    def row_key(self, row: QueryRecord) -> str:
        return f"{row.source}:{row.query_id}"

    def cells(self, row: QueryRecord) -> list[Cell]:
        failed = row.status.upper() in {"FAILED", "CANCELED", "ERROR"}
        status = cell(row.status.lower(), style=self.app.health_style(Health.CRITICAL) if failed else "")
        text = row.error if failed and row.error else row.text
        return [cell(f"{row.started_at.astimezone():%H:%M:%S}"), status, cell(duration_ms(row.duration_ms)),
                cell(number(row.rows)), cell(clip(text, 300))]


class TablesPane(DashboardPane):
    pane = Pane.TABLES
    title = "Tables"
    columns = (("name", "Table", 22), ("files", "Files", 6), ("snapshots", "Snaps", 6), ("rows", "Rows", 9),
               ("size", "Size", 10), ("commit", "Commit", 7))

    def cells(self, row: TableStats) -> list[Cell]:
        limit = getattr(self.app, "thresholds", {}).get("table_files_max", 100)
        files = cell(number(row.file_count))
        if row.file_count is not None and row.file_count > limit:
            files.stylize(self.app.health_style(Health.WARNING))
        return [cell(row.name), files, cell(number(row.snapshot_count)), cell(number(row.row_count)),
                cell(size(row.size_bytes)), cell(age(row.last_commit))]


class LagPane(DashboardPane):
    pane = Pane.LAG
    title = "Lag"
    columns = (("name", "Consumer / layer", 22), ("lag", "Lag", 12), ("trend", "Trend", 12), ("detail", "Detail", None))

    def cells(self, row: LagSample) -> list[Cell]:
        unit = {"seconds": "s", "messages": "msg", "rows": "rows", "hours": "h"}.get(row.unit, row.unit)
        return [cell(row.name), cell(f"{number(row.lag)} {unit}"),
                cell(sparkline([v for _t, v in self.history(f"lag:{row.source}:{row.name}")][-HISTORY:])),
                cell(clip(row.detail, 200))]


class JobsPane(DashboardPane):
    pane = Pane.JOBS
    title = "Jobs"
    grows = True
    max_rows = 50
    columns = (("job", "Job", 16), ("state", "State", 10), ("started", "Started", 8), ("duration", "Took", 8),
               ("detail", "Detail", None))

    def row_key(self, row: JobRun) -> str:
        return f"{row.source}:{row.job}:{row.run_id}"

    def cells(self, row: JobRun) -> list[Cell]:
        bad = row.state.lower() in {"failed", "error", "internal_error", "timedout"}
        state = cell(row.state.lower(), style=self.app.health_style(Health.CRITICAL) if bad else "")
        started = f"{row.started_at.astimezone():%H:%M:%S}" if row.started_at else "—"
        took = duration_ms(row.duration_s * 1000) if row.duration_s is not None else "—"
        return [cell(row.job), state, cell(started), cell(took), cell(clip(row.detail, 200))]


PANE_CLASSES: dict[Pane, type[DashboardPane]] = {
    Pane.SERVICES: ServicesPane,
    Pane.QUERIES: QueriesPane,
    Pane.TABLES: TablesPane,
    Pane.LAG: LagPane,
    Pane.JOBS: JobsPane,
}


def now() -> datetime:
    return datetime.now(UTC)
