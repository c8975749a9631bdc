"""A local HTTP emulator of the Databricks REST endpoints opsconsole uses.

This is a TEST DOUBLE, not Databricks. No Databricks workspace exists on this
machine or in CI, so the tests drive the real ``databricks-sdk`` (its HTTP
client, auth header, retry and error parsing) through opsconsole's driver
against this server. It implements, from the public REST reference, only the
endpoints and fields the driver reads, with in-memory state:

* ``/.well-known/databricks-config`` (the SDK's host metadata probe)
* Apps: ``GET /api/2.0/apps/{name}``, ``POST .../stop``, ``POST .../start``,
  ``POST/GET .../deployments[/{id}]`` - compute status STOPPING -> STOPPED,
  STARTING -> ACTIVE, deployments IN_PROGRESS -> SUCCEEDED/FAILED.
* SQL warehouses: ``GET /api/2.0/sql/warehouses/{id}``, ``POST .../start``
  (STARTING -> RUNNING), ``POST .../edit`` with the documented bounds.
* Statement Execution: ``POST /api/2.0/sql/statements``, ``GET`` and
  ``POST .../cancel`` - PENDING -> RUNNING -> SUCCEEDED/FAILED. SQL is not
  executed: a few regexes recognise the statement shapes opsconsole sends
  (SELECT 1, OPTIMIZE, VACUUM, ANALYZE, DESCRIBE HISTORY, RESTORE, SHOW GRANTS,
  GRANT, CTAS) and update a toy catalog of Delta tables (versions, grants), so
  a test can see e.g. that a RESTORE adds a history entry. Anything else, or an
  unknown table, FAILS like Databricks would (TABLE_OR_VIEW_NOT_FOUND,
  PARSE_SYNTAX_ERROR). Executed statements also land in the query history.
* Query History: ``GET /api/2.0/sql/history/queries`` with ``filter_by``
  (warehouse ids, start-time range) and paging.
* Jobs: ``GET /api/2.2/jobs/runs/list`` with ``start_time_from`` and paging.
* Clusters: ``GET /api/2.1/clusters/list``, ``GET /api/2.1/clusters/get``,
  ``POST /api/2.1/clusters/restart|start`` (RESTARTING/PENDING -> RUNNING).

Auth: ``Authorization: Bearer <token>``; unknown token -> 401
``UNAUTHENTICATED``; a token in :attr:`DatabricksEmulator.readonly_tokens` gets
403 ``PERMISSION_DENIED`` on writes. Faults: :meth:`DatabricksEmulator.fail_next`
answers the next N matching requests with 429/503 and ``Retry-After`` (the SDK
retries those). State transitions take :attr:`transition_s` seconds of wall
time (tests use ~0.1 s so nothing waits long).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

GOOD_TOKEN = "dapi-emulator-good"
READONLY_TOKEN = "dapi-emulator-readonly"
WAREHOUSE_SIZES = ("2X-Small", "X-Small", "Small", "Medium", "Large", "X-Large", "2X-Large", "3X-Large", "4X-Large")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


@dataclass
class Timed:
    """A state that moves to ``target`` once ``until`` (monotonic) has passed."""

    state: str
    target: str | None = None
    until: float = 0.0

    def current(self) -> str:
        if self.target is not None and time.monotonic() >= self.until:
            self.state, self.target = self.target, None
        return self.state

    def move(self, via: str, target: str, seconds: float) -> None:
        self.state, self.target, self.until = via, target, time.monotonic() + seconds


@dataclass
class Table:
    name: str
    versions: list[dict[str, Any]] = field(default_factory=list)
    grants: list[tuple[str, str]] = field(default_factory=list)
    """(principal, privilege)."""

    def commit(self, operation: str, params: dict[str, Any] | None = None) -> int:
        version = len(self.versions)
        self.versions.append({"version": version, "timestamp": time.strftime("%Y-%m-%d %H:%M:%S"),
                              "operation": operation, "operationParameters": json.dumps(params or {})})
        return version


@dataclass
class Statement:
    id: str
    sql: str
    warehouse_id: str
    created: float
    state: str = "PENDING"
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    error: tuple[str, str] | None = None
    hold: bool = False
    done: bool = False


class DatabricksEmulator:
    """In-memory workspace state plus the HTTP server thread (see module docstring)."""

    def __init__(self, transition_s: float = 0.1) -> None:
        self.transition_s = transition_s
        self.lock = threading.RLock()
        self.tokens = {GOOD_TOKEN}
        self.readonly_tokens = {READONLY_TOKEN}
        self.requests: list[tuple[str, str]] = []
        self.statements: dict[str, Statement] = {}
        self.hold_statements = False
        """Keep new statements RUNNING until cancelled (to test cancel and timeouts)."""
        self._faults: list[list[Any]] = []
        self.apps: dict[str, dict[str, Any]] = {}
        self.app_compute: dict[str, Timed] = {}
        self.deployments: dict[str, dict[str, Any]] = {}
        self.deployment_state: dict[str, Timed] = {}
        self.warehouses: dict[str, dict[str, Any]] = {}
        self.warehouse_state: dict[str, Timed] = {}
        self.clusters: dict[str, dict[str, Any]] = {}
        self.cluster_state: dict[str, Timed] = {}
        self.tables: dict[str, Table] = {}
        self.queries: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []
        self.workspace_paths: set[str] = set()
        self.other_grants: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ set-up helpers
    def add_app(self, name: str, state: str = "ACTIVE", source: str = "/Workspace/Apps/src") -> None:
        dep_id = uuid.uuid4().hex[:12]
        self.workspace_paths.add(source)
        self.deployments[dep_id] = {"deployment_id": dep_id, "source_code_path": source, "mode": "SNAPSHOT",
                                    "create_time": "2026-02-07T10:00:00Z"}
        self.deployment_state[dep_id] = Timed("SUCCEEDED")
        self.apps[name] = {"name": name, "url": f"https://{name}-123.aws.databricksapps.com",
                           "service_principal_id": 4242, "active_deployment_id": dep_id}
        self.app_compute[name] = Timed(state)

    def add_warehouse(self, wid: str, name: str, state: str = "RUNNING", size: str = "Medium",
                      min_clusters: int = 1, max_clusters: int = 2) -> None:
        self.warehouses[wid] = {"id": wid, "name": name, "cluster_size": size, "min_num_clusters": min_clusters,
                                "max_num_clusters": max_clusters, "warehouse_type": "PRO",
                                "enable_serverless_compute": True, "auto_stop_mins": 30, "num_active_sessions": 0}
        self.warehouse_state[wid] = Timed(state)

    def add_cluster(self, cid: str, name: str, state: str = "RUNNING", workers: int = 2,
                    autoscale: tuple[int, int] | None = None) -> None:
        spec: dict[str, Any] = {"cluster_id": cid, "cluster_name": name, "spark_version": "15.4.x-scala2.12",
                                "node_type_id": "Standard_D16s_v3"}
        if autoscale:
            spec["autoscale"] = {"min_workers": autoscale[0], "max_workers": autoscale[1]}
        else:
            spec["num_workers"] = workers
        self.clusters[cid] = spec
        self.cluster_state[cid] = Timed(state)

    def add_table(self, name: str, versions: int = 3) -> Table:
        table = Table(name=name.lower())
        table.commit("CREATE TABLE")
        for _ in range(versions - 1):
            table.commit("WRITE", {"mode": "Append"})
        self.tables[table.name] = table
        return table

    def fail_next(self, path_prefix: str, status: int, count: int = 1, retry_after: int | None = 0) -> None:
        """Answer the next ``count`` requests under ``path_prefix`` with ``status``."""
        with self.lock:
            self._faults.append([path_prefix, status, count, retry_after])

    # ------------------------------------------------------------------ server
    def start(self) -> str:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes: avoid 40 ms delayed ACKs

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                    status, payload, headers = 200, emulator.dispatch(method, self.path, body,
                                                                      self.headers.get("Authorization", "")), {}
                except ApiError as exc:
                    status, payload, headers = exc.status, {"error_code": exc.code, "message": exc.message}, exc.headers
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="databricks-emulator",
                                        daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------------ routing
    ROUTES: tuple[tuple[str, str, str], ...] = (
        ("GET", r"/\.well-known/databricks-config", "well_known"),
        ("GET", r"/api/2\.0/preview/scim/v2/Me", "me"),
        ("GET", r"/api/2\.0/apps/(?P<name>[^/]+)", "app_get"),
        ("POST", r"/api/2\.0/apps/(?P<name>[^/]+)/stop", "app_stop"),
        ("POST", r"/api/2\.0/apps/(?P<name>[^/]+)/start", "app_start"),
        ("POST", r"/api/2\.0/apps/(?P<name>[^/]+)/deployments", "deploy"),
        ("GET", r"/api/2\.0/apps/(?P<name>[^/]+)/deployments/(?P<dep>[^/]+)", "deployment_get"),
        ("GET", r"/api/2\.0/sql/warehouses/(?P<wid>[^/]+)", "warehouse_get"),
        ("POST", r"/api/2\.0/sql/warehouses/(?P<wid>[^/]+)/start", "warehouse_start"),
        ("POST", r"/api/2\.0/sql/warehouses/(?P<wid>[^/]+)/edit", "warehouse_edit"),
        ("POST", r"/api/2\.0/sql/statements/?", "statement_execute"),
        ("GET", r"/api/2\.0/sql/statements/(?P<sid>[^/]+)", "statement_get"),
        ("POST", r"/api/2\.0/sql/statements/(?P<sid>[^/]+)/cancel", "statement_cancel"),
        ("GET", r"/api/2\.0/sql/history/queries", "query_history"),
        ("GET", r"/api/2\.2/jobs/runs/list", "runs_list"),
        ("GET", r"/api/2\.1/clusters/list", "clusters_list"),
        ("GET", r"/api/2\.1/clusters/get", "cluster_get"),
        ("POST", r"/api/2\.1/clusters/restart", "cluster_restart"),
        ("POST", r"/api/2\.1/clusters/start", "cluster_start"),
    )

    def dispatch(self, method: str, target: str, body: dict[str, Any], auth: str) -> Any:
        parsed = urlparse(target)
        path = parsed.path
        query = {k: v for k, v in parse_qs(parsed.query).items()}
        with self.lock:
            self.requests.append((method, path))
            for fault in self._faults:
                if path.startswith(fault[0]) and fault[2] > 0:
                    fault[2] -= 1
                    headers = {} if fault[3] is None else {"Retry-After": str(fault[3])}
                    code = "TOO_MANY_REQUESTS" if fault[1] == 429 else "TEMPORARILY_UNAVAILABLE"
                    raise ApiError(fault[1], code, f"emulated {fault[1]}", headers)
            if path != "/.well-known/databricks-config":
                token = auth.removeprefix("Bearer ").strip()
                if token not in self.tokens and token not in self.readonly_tokens:
                    raise ApiError(401, "UNAUTHENTICATED", "Invalid access token.")
                if token in self.readonly_tokens and method == "POST":
                    raise ApiError(403, "PERMISSION_DENIED", "User does not have CAN_MANAGE permission.")
            for verb, pattern, handler in self.ROUTES:
                match = re.fullmatch(pattern, path)
                if verb == method and match:
                    return getattr(self, f"_{handler}")(body=body, query=query, **match.groupdict())
        raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")

    # ------------------------------------------------------------------ apps
    def _well_known(self, **_: Any) -> dict[str, Any]:
        return {"oidc_endpoint": f"{self.url}/oidc", "workspace_id": "1234567890"}

    def _me(self, **_: Any) -> dict[str, Any]:
        return {"id": "42", "userName": "ops@example.com", "active": True}

    def _app(self, name: str) -> dict[str, Any]:
        if name not in self.apps:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"App with name {name} does not exist.")
        for dep_id, dep in list(self.deployments.items()):
            if dep.get("_pending_for") == name:
                self._deployment(dep_id)  # a finished deployment becomes the active one
        app = dict(self.apps[name])
        compute = self.app_compute[name].current()
        dep_id = app.pop("active_deployment_id")
        app["compute_status"] = {"state": compute, "message": f"App compute is {compute.lower()}."}
        app_state = {"ACTIVE": "RUNNING", "STARTING": "DEPLOYING"}.get(compute, "UNAVAILABLE")
        app["app_status"] = {"state": app_state, "message": f"App is {app_state.lower()}."}
        if dep_id:
            app["active_deployment"] = self._deployment(dep_id)
        return app

    def _deployment(self, dep_id: str) -> dict[str, Any]:
        dep = dict(self.deployments[dep_id])
        state = self.deployment_state[dep_id].current()
        if state == "SUCCEEDED" and dep.get("_pending_for"):
            self.apps[dep.pop("_pending_for")]["active_deployment_id"] = dep_id
            self.deployments[dep_id].pop("_pending_for", None)
        dep.pop("_pending_for", None)
        message = {"SUCCEEDED": "App started successfully", "IN_PROGRESS": "Deploying",
                   "FAILED": dep.pop("_error", "Deployment failed")}.get(state, state)
        dep.pop("_error", None)
        dep["status"] = {"state": state, "message": message}
        return dep

    def _app_get(self, name: str, **_: Any) -> dict[str, Any]:
        return self._app(name)

    def _app_stop(self, name: str, **_: Any) -> dict[str, Any]:
        self._app(name)
        self.app_compute[name].move("STOPPING", "STOPPED", self.transition_s)
        return self._app(name)

    def _app_start(self, name: str, **_: Any) -> dict[str, Any]:
        state = self._app(name)["compute_status"]["state"]
        if state not in ("STOPPED", "ERROR"):
            raise ApiError(400, "INVALID_STATE", f"Cannot start app {name}: compute is {state}.")
        self.app_compute[name].move("STARTING", "ACTIVE", self.transition_s)
        return self._app(name)

    def _deploy(self, name: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        self._app(name)
        dep_id = uuid.uuid4().hex[:12]
        source = body.get("source_code_path", "")
        self.deployments[dep_id] = {"deployment_id": dep_id, "source_code_path": source,
                                    "mode": body.get("mode", "SNAPSHOT"), "create_time": time.strftime(
                                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "_pending_for": name}
        timed = Timed("IN_PROGRESS")
        if source in self.workspace_paths:
            timed.move("IN_PROGRESS", "SUCCEEDED", self.transition_s)
        else:
            self.deployments[dep_id]["_error"] = f"Source code path {source} does not exist."
            self.deployments[dep_id].pop("_pending_for")
            timed.move("IN_PROGRESS", "FAILED", self.transition_s)
        self.deployment_state[dep_id] = timed
        return self._deployment(dep_id)

    def _deployment_get(self, name: str, dep: str, **_: Any) -> dict[str, Any]:
        if dep not in self.deployments:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Deployment {dep} does not exist.")
        return self._deployment(dep)

    # ------------------------------------------------------------------ warehouses
    def _warehouse(self, wid: str) -> dict[str, Any]:
        if wid not in self.warehouses:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Warehouse {wid} does not exist.")
        wh = dict(self.warehouses[wid])
        state = self.warehouse_state[wid].current()
        wh["state"] = state
        wh["num_clusters"] = wh["min_num_clusters"] if state == "RUNNING" else 0
        wh["health"] = {"status": "HEALTHY"} if state == "RUNNING" else {}
        return wh

    def _warehouse_get(self, wid: str, **_: Any) -> dict[str, Any]:
        return self._warehouse(wid)

    def _warehouse_start(self, wid: str, **_: Any) -> dict[str, Any]:
        if self._warehouse(wid)["state"] == "STOPPED":
            self.warehouse_state[wid].move("STARTING", "RUNNING", self.transition_s)
        return {}

    def _warehouse_edit(self, wid: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        current = self._warehouse(wid)
        size = body.get("cluster_size", current["cluster_size"])
        lo = body.get("min_num_clusters", current["min_num_clusters"])
        hi = body.get("max_num_clusters", current["max_num_clusters"])
        if size not in WAREHOUSE_SIZES:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Invalid cluster size {size}")
        if not (1 <= lo <= hi <= 40):
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           "min_num_clusters must be >= 1 and <= max_num_clusters <= 40")
        self.warehouses[wid].update(cluster_size=size, min_num_clusters=lo, max_num_clusters=hi)
        return {}

    # ------------------------------------------------------------------ statements
    def _statement_execute(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        wid = body.get("warehouse_id", "")
        self._warehouse(wid)
        if self.warehouse_state[wid].current() == "STOPPED":  # statements auto-start a warehouse
            self.warehouse_state[wid].move("STARTING", "RUNNING", self.transition_s)
        sid = f"01ef{uuid.uuid4().hex[:28]}"
        st = Statement(id=sid, sql=str(body.get("statement", "")), warehouse_id=wid, created=time.monotonic(),
                       hold=self.hold_statements)
        st.catalog, st.schema = body.get("catalog"), body.get("schema")  # type: ignore[attr-defined]
        self.statements[sid] = st
        return self._statement_view(st)

    def _advance(self, st: Statement) -> None:
        if st.state in ("SUCCEEDED", "FAILED", "CANCELED", "CLOSED"):
            return
        if self.warehouse_state[st.warehouse_id].current() != "RUNNING":
            return
        elapsed = time.monotonic() - st.created
        if st.hold or elapsed < self.transition_s:
            st.state = "RUNNING" if elapsed >= self.transition_s / 2 else "PENDING"
            return
        self._run_sql(st)
        st.state = "FAILED" if st.error else "SUCCEEDED"
        self._record_query(st)

    def _statement_view(self, st: Statement) -> dict[str, Any]:
        self._advance(st)
        view: dict[str, Any] = {"statement_id": st.id, "status": {"state": st.state}}
        if st.error:
            view["status"]["error"] = {"error_code": st.error[0], "message": st.error[1]}
        if st.state == "SUCCEEDED":
            view["manifest"] = {"format": "JSON_ARRAY", "total_chunk_count": 1, "total_row_count": len(st.rows),
                                "truncated": False, "schema": {"column_count": len(st.columns), "columns": [
                                    {"name": c, "position": i, "type_name": "STRING", "type_text": "STRING"}
                                    for i, c in enumerate(st.columns)]}}
            view["result"] = {"chunk_index": 0, "row_offset": 0, "row_count": len(st.rows),
                              "data_array": [[None if v is None else str(v) for v in row] for row in st.rows]}
        return view

    def _statement_get(self, sid: str, **_: Any) -> dict[str, Any]:
        if sid not in self.statements:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Statement {sid} not found.")
        return self._statement_view(self.statements[sid])

    def _statement_cancel(self, sid: str, **_: Any) -> dict[str, Any]:
        st = self.statements.get(sid)
        if st is not None and st.state in ("PENDING", "RUNNING"):
            st.state = "CANCELED"
            self._record_query(st)
        return {}

    def _record_query(self, st: Statement) -> None:
        now_ms = int(time.time() * 1000)
        duration = int((time.monotonic() - st.created) * 1000)
        status = {"SUCCEEDED": "FINISHED", "FAILED": "FAILED", "CANCELED": "CANCELED"}[st.state]
        self.queries.append({"query_id": st.id, "query_text": st.sql, "status": status,
                             "query_start_time_ms": now_ms - duration, "query_end_time_ms": now_ms,
                             "duration": duration, "rows_produced": len(st.rows), "user_name": "ops@example.com",
                             "warehouse_id": st.warehouse_id, "error_message": st.error[1] if st.error else None})

    IDENT = r"(?:`(?:[^`]|``)+`|[A-Za-z_][A-Za-z0-9_]*)"
    NAME = rf"({IDENT}(?:\.{IDENT}){{0,2}})"

    def _table(self, st: Statement, quoted: str) -> Table:
        parts = [p[1:-1].replace("``", "`") if p.startswith("`") else p
                 for p in re.findall(self.IDENT, quoted)]
        defaults = [getattr(st, "catalog", None), getattr(st, "schema", None)]
        full = ".".join([d or "" for d in defaults][: 3 - len(parts)] + parts).lower()
        if full not in self.tables:
            raise LookupError(f"[TABLE_OR_VIEW_NOT_FOUND] The table or view {quoted} cannot be found.")
        return self.tables[full]

    def _securable(self, st: Statement, kind: str, quoted: str) -> tuple[str, list[tuple[str, str]]]:
        """Key and grant list of a table, schema or catalog (schemas/catalogs exist if a table is in them)."""
        if kind.upper() == "TABLE":
            table = self._table(st, quoted)
            return table.name, table.grants
        key = quoted.replace("`", "").lower()
        if not any(name.startswith(key + ".") for name in self.tables):
            raise LookupError(f"[NO_SUCH_{kind.upper()}_EXCEPTION] {kind.title()} {quoted} not found.")
        return key, self.other_grants.setdefault((kind.upper(), key), [])

    def _run_sql(self, st: Statement) -> None:
        sql = st.sql.strip().rstrip(";")
        n = self.NAME
        try:
            if re.fullmatch(r"SELECT 1", sql, re.I):
                st.columns, st.rows = ["1"], [[1]]
            elif m := re.fullmatch(rf"OPTIMIZE {n}(?: ZORDER BY \((.+)\))?", sql, re.I):
                table = self._table(st, m.group(1))
                table.commit("OPTIMIZE", {"zOrderBy": m.group(2) or "[]"})
                st.columns, st.rows = ["path", "metrics"], [[table.name, '{"numFilesAdded": 1, "numFilesRemoved": 8}']]
            elif m := re.fullmatch(rf"VACUUM {n} RETAIN (\d+) HOURS", sql, re.I):
                table = self._table(st, m.group(1))
                table.commit("VACUUM END", {"retain": m.group(2)})
                st.columns, st.rows = ["path"], [[f"dbfs:/tables/{table.name}"]]
            elif m := re.fullmatch(rf"ANALYZE TABLE {n} COMPUTE STATISTICS(?: FOR ALL COLUMNS)?", sql, re.I):
                self._table(st, m.group(1))
            elif m := re.fullmatch(rf"DESCRIBE HISTORY {n}(?: LIMIT (\d+))?", sql, re.I):
                table = self._table(st, m.group(1))
                limit = int(m.group(2) or 1000)
                st.columns = ["version", "timestamp", "operation", "operationParameters"]
                st.rows = [[v[c] for c in st.columns] for v in reversed(table.versions)][:limit]
            elif m := re.fullmatch(rf"RESTORE TABLE {n} TO (VERSION|TIMESTAMP) AS OF (\d+|'[^']+')", sql, re.I):
                table = self._table(st, m.group(1))
                if m.group(2).upper() == "VERSION" and int(m.group(3)) >= len(table.versions):
                    raise LookupError(f"[DELTA_VERSION_NOT_FOUND] Cannot time travel Delta table to version "
                                      f"{m.group(3)}. Available versions: [0, {len(table.versions) - 1}].")
                table.commit("RESTORE", {m.group(2).lower(): m.group(3)})
                st.columns, st.rows = ["table_size_after_restore", "num_of_files_after_restore"], [[1024, 4]]
            elif m := re.fullmatch(rf"SHOW GRANTS ON (TABLE|SCHEMA|CATALOG) {n}", sql, re.I):
                key, grants = self._securable(st, m.group(1), m.group(2))
                st.columns = ["Principal", "ActionType", "ObjectType", "ObjectKey"]
                st.rows = [[p, a, m.group(1).upper(), key] for p, a in grants]
            elif m := re.fullmatch(rf"GRANT ([A-Z ,]+) ON (TABLE|SCHEMA|CATALOG) {n} TO `((?:[^`]|``)+)`", sql, re.I):
                _, grants = self._securable(st, m.group(2), m.group(3))
                principal = m.group(4).replace("``", "`")
                for privilege in (p.strip().upper() for p in m.group(1).split(",")):
                    if (principal, privilege) not in grants:
                        grants.append((principal, privilege))
            elif m := re.fullmatch(rf"CREATE TABLE {n} AS SELECT \* FROM {n}", sql, re.I):
                source = self._table(st, m.group(2))
                target = m.group(1).replace("`", "").lower()
                if target in self.tables:
                    raise LookupError(f"[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table {m.group(1)}.")
                self.add_table(target, versions=1)
                st.columns, st.rows = ["num_affected_rows", "num_inserted_rows"], [[len(source.versions), 0]]
            else:
                st.error = ("PARSE_SYNTAX_ERROR", f"[PARSE_SYNTAX_ERROR] emulator does not understand: {sql[:80]}")
        except LookupError as exc:
            st.error = ("BAD_REQUEST", str(exc).strip("'\""))

    # ------------------------------------------------------------------ query history
    def _query_history(self, query: dict[str, list[str]], **_: Any) -> dict[str, Any]:
        rows = sorted(self.queries, key=lambda q: q["query_start_time_ms"], reverse=True)
        wids = query.get("filter_by.warehouse_ids")
        if wids:
            rows = [q for q in rows if q["warehouse_id"] in wids]
        start = query.get("filter_by.query_start_time_range.start_time_ms")
        if start:
            rows = [q for q in rows if q["query_start_time_ms"] >= int(start[0])]
        end = query.get("filter_by.query_start_time_range.end_time_ms")
        if end:
            rows = [q for q in rows if q["query_start_time_ms"] < int(end[0])]
        size = min(int(query.get("max_results", ["100"])[0]), 1000)
        offset = int(query.get("page_token", ["0"])[0])
        page = rows[offset:offset + size]
        result: dict[str, Any] = {"res": page, "has_next_page": offset + size < len(rows)}
        if offset + size < len(rows):
            result["next_page_token"] = str(offset + size)
        return result

    # ------------------------------------------------------------------ jobs
    def _runs_list(self, query: dict[str, list[str]], **_: Any) -> dict[str, Any]:
        limit = int(query.get("limit", ["20"])[0])
        if not 0 <= limit <= 25:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "limit must be between 0 and 25")
        limit = limit or 25
        rows = sorted(self.runs, key=lambda r: r["start_time"], reverse=True)
        since = query.get("start_time_from")
        if since:
            rows = [r for r in rows if r["start_time"] >= int(since[0])]
        offset = int(query.get("page_token", ["0"])[0])
        page = rows[offset:offset + limit]
        more = offset + limit < len(rows)
        result: dict[str, Any] = {"runs": page, "has_more": more}
        if more:
            result["next_page_token"] = str(offset + limit)
        return result

    def add_run(self, job_id: int, name: str, result: str | None, start_ms: int, duration_s: float,
                life_cycle: str = "TERMINATED") -> None:
        run_id = len(self.runs) + 1000
        run: dict[str, Any] = {"job_id": job_id, "run_id": run_id, "run_name": name, "start_time": start_ms,
                               "state": {"life_cycle_state": life_cycle, "state_message": ""}}
        if result:
            run["state"]["result_state"] = result
        if life_cycle == "TERMINATED":
            run["end_time"] = start_ms + int(duration_s * 1000)
            run["run_duration"] = int(duration_s * 1000)
        self.runs.append(run)

    # ------------------------------------------------------------------ clusters
    def _cluster(self, cid: str) -> dict[str, Any]:
        if cid not in self.clusters:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Cluster {cid} does not exist")
        spec = dict(self.clusters[cid])
        state = self.cluster_state[cid].current()
        spec["state"] = state
        spec["state_message"] = "" if state == "RUNNING" else f"Cluster is {state.lower()}"
        live = spec.get("num_workers") or (spec.get("autoscale") or {}).get("min_workers", 0)
        spec["executors"] = [{"node_id": f"n{i}"} for i in range(live)] if state == "RUNNING" else []
        return spec

    def _clusters_list(self, query: dict[str, list[str]], **_: Any) -> dict[str, Any]:
        return {"clusters": [self._cluster(cid) for cid in sorted(self.clusters)]}

    def _cluster_get(self, query: dict[str, list[str]], **_: Any) -> dict[str, Any]:
        return self._cluster(query.get("cluster_id", [""])[0])

    def _cluster_restart(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        cid = body.get("cluster_id", "")
        state = self._cluster(cid)["state"]
        if state != "RUNNING":
            raise ApiError(400, "INVALID_STATE", f"Cluster {cid} is in unexpected state {state.title()}.")
        self.cluster_state[cid].move("RESTARTING", "RUNNING", self.transition_s)
        return {}

    def _cluster_start(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        cid = body.get("cluster_id", "")
        if self._cluster(cid)["state"] == "TERMINATED":
            self.cluster_state[cid].move("PENDING", "RUNNING", self.transition_s)
        return {}
