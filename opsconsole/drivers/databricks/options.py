"""What the ``databricks`` driver accepts in profiles.yaml and which actions it declares.

Kept apart from the driver so the option and action tables read as the
driver's user-facing contract (and so the driver module stays short).
"""

from __future__ import annotations

from opsconsole.drivers.base import OptionSpec
from opsconsole.model import ActionSpec

NUMBER = (int, float)
WAREHOUSE_SIZES = ("2X-Small", "X-Small", "Small", "Medium", "Large", "X-Large", "2X-Large", "3X-Large", "4X-Large",
                   "5X-Large")
"""``cluster_size`` values the SQL Warehouses API accepts."""
MAX_WAREHOUSE_CLUSTERS = 30
"""The SQL Warehouses API's upper bound on ``max_num_clusters``."""

OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("profile", str, help="~/.databrickscfg profile, as `databricks --profile` (default: SDK auth chain)"),
    OptionSpec("host", str, help="workspace URL; overrides the profile's host"),
    OptionSpec("token", str, secret=True, help="personal access token; prefer a profile or DATABRICKS_TOKEN"),
    OptionSpec("app", str, help="Databricks app name to watch, restart and deploy"),
    OptionSpec("warehouse_id", str, help="SQL warehouse id: state, statements and query history"),
    OptionSpec("catalog", str, help="default Unity Catalog catalog for short table names"),
    OptionSpec("schema", str, help="default schema for short table names"),
    OptionSpec("backup_schema", str, help="schema for backup snapshots (default: <schema>_backups)"),
    OptionSpec("clusters", bool, default=False, help="list clusters with state and workers; allow restart"),
    OptionSpec("jobs", bool, default=False, help="job runs, per-job health scores and duration anomalies"),
    OptionSpec("history_hours", NUMBER, default=24, help="query history window in hours"),
    OptionSpec("jobs_days", NUMBER, default=7, help="job runs window in days"),
    OptionSpec("jobs_runs_per_job", int, default=50, help="most recent runs kept per job (the scoring window)"),
    OptionSpec("jobs_max_runs", int, default=5000, help="most job runs scanned per poll (a safety bound)"),
    OptionSpec("clusters_max", int, default=100, help="most interactive clusters listed"),
    OptionSpec("list_timeout", NUMBER, help="seconds a paged list (query history, runs, clusters) may take "
               "(default 1.8 x the driver timeout: inside the pane's 2 x)"),
    OptionSpec("p50_ms_target", NUMBER, help="query latency p50 target in ms (seed 001: 100); adds a targets row"),
    OptionSpec("p99_ms_target", NUMBER, help="query latency p99 target in ms (seed 001: 500)"),
    OptionSpec("error_rate_target", NUMBER, help="query error-rate target as a fraction (seed 001: 0.001)"),
    OptionSpec("targets_minutes", NUMBER, default=60, help="query history window the targets are judged on"),
    OptionSpec("poll_interval", NUMBER, default=5, help="seconds between state checks while an action waits"),
    OptionSpec("action_timeout", NUMBER, default=1200, help="seconds an app/warehouse/cluster action may wait"),
    OptionSpec("statement_timeout", NUMBER, default=900, help="seconds before a SQL statement is cancelled"),
)

_T = "table"
ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("app-restart", "Restart app", "Stops the app (users get 503 until it is ACTIVE again), then starts "
               "its last deployment; no data changes.", dangerous=True),
    ActionSpec("app-deploy", "Deploy app", "Deploys the app from a workspace source path, replacing the running "
               "code; no data changes.", dangerous=True, params=("source_code_path",)),
    ActionSpec("warehouse-start", "Start warehouse", "Starts the SQL warehouse (billing starts); no data changes."),
    ActionSpec("warehouse-edit", "Resize warehouse", "Changes the warehouse size and min/max clusters (cost and "
               "capacity; running queries may be re-queued); no data changes.", dangerous=True,
               params=("cluster_size", "min_num_clusters", "max_num_clusters")),
    ActionSpec("warehouse-test", "Test connection", "Runs SELECT 1 on the warehouse; reads nothing.",
               mutating=False),
    ActionSpec("table-optimize", "OPTIMIZE / ZORDER", "Rewrites the table's small files into larger ones "
               "(optionally Z-ordered); same rows, new version.", params=(_T, "zorder")),
    ActionSpec("table-vacuum", "VACUUM", "Deletes data files no longer referenced and older than the retention; "
               "time travel to versions before it becomes impossible.", dangerous=True, irreversible=True,
               params=(_T, "retain_hours")),
    ActionSpec("table-analyze", "ANALYZE", "Recomputes table statistics for the optimizer; no data changes.",
               params=(_T,)),
    ActionSpec("table-history", "Describe history", "Lists the table's Delta versions; reads only.",
               mutating=False, params=(_T, "limit")),
    ActionSpec("table-restore", "RESTORE TABLE", "Replaces the table's current data with an older version or "
               "timestamp; later rows disappear from the current version.", dangerous=True, irreversible=True,
               params=(_T, "version", "timestamp")),
    ActionSpec("grants-show", "Show grants", "Lists privileges on a catalog, schema or table; reads only.",
               mutating=False, params=("securable", "name")),
    ActionSpec("grant", "Grant privileges", "Grants privileges to a principal: it can then read or change "
               "that data.", dangerous=True, params=("privileges", "principal", "securable", "name")),
    ActionSpec("table-backup", "Backup snapshot", "Copies the table into a new backup table (CTAS); the source "
               "is unchanged.", params=(_T, "target")),
    ActionSpec("statements-cancel", "Cancel statements", "Cancels the SQL statements this console is waiting on; "
               "a cancelled statement's changes are not committed."),
    ActionSpec("cluster-restart", "Restart cluster", "Restarts the cluster (running jobs and streams on it fail "
               "or pause until it is RUNNING); no data changes.", dangerous=True, params=("cluster",)),
)

_FACETS = {"app-": "app", "warehouse-": "warehouse", "table-": "warehouse", "grant": "workspace",
           "statements-": "warehouse", "cluster-": "clusters"}


def facet_of(action: str) -> str:
    """Which configured facet (app, warehouse, clusters; workspace = always) an action needs."""
    for prefix, facet in _FACETS.items():
        if action.startswith(prefix):
            return facet
    raise KeyError(action)
