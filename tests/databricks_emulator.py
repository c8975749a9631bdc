"""A local HTTP emulator of the Databricks REST endpoints opsconsole uses.

This is a TEST DOUBLE, not Databricks. No Databricks workspace exists on this
machine or in CI, so the tests drive the real ``databricks-sdk`` (its HTTP
client, auth header, retry and error parsing) through opsconsole's driver
against this server. Every response body is built from the SDK's own
dataclasses (``databricks.sdk.service.*`` instances -> ``as_dict()``), so a
field the real API never returns cannot appear; ``test_databricks_emulator``
checks that each body sent round-trips through the SDK's ``from_dict``.

Modelled, including the inconvenient parts of the real API:

* Apps: ``GET /api/2.0/apps/{name}``, ``stop``, ``start`` (which re-deploys the
  last deployment: ``pending_deployment`` until it finishes), deployments; a
  deploy while a deployment is pending or the compute is not ACTIVE is rejected.
* SQL warehouses: get, start (optionally falling back to STOPPED), edit, which
  like the real API *replaces* the configuration (fields not sent are reset),
  sizes up to 5X-Large and ``max_num_clusters`` <= 30.
* Statement Execution: PENDING -> RUNNING -> SUCCEEDED/FAILED over a toy catalog
  (:mod:`databricks_emulator_sql`); SQL errors, permission errors included, are
  HTTP 200 with state FAILED and an ``error_code``.
* Query History: filters, paging, running statements included, ``max_results``
  must be < 1000.
* Jobs 2.2 ``runs/list``: runs with ``status``/``termination_details``/``run_type``
  and, unless told otherwise, the deprecated ``state``; ``limit`` <= 25.
* Clusters: paged ``list`` with ``filter_by`` (sources, states, pinned),
  terminated job clusters included; ``start`` on a RUNNING cluster -> INVALID_STATE.
* Unity Catalog grants REST API (``/api/2.1/unity-catalog/permissions``).

Auth: unknown token -> 401; a token in ``readonly_tokens`` gets 403 on REST
writes and INSUFFICIENT_PERMISSIONS on mutating SQL. Faults:
:meth:`DatabricksEmulator.fail_next` answers the next N requests with 429
(always with ``Retry-After`` >= 1, as Databricks does) or 503.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from databricks.sdk.service import iam, jobs, sql
from databricks_emulator_apps import AppWarehouseEmulation
from databricks_emulator_compute import ComputeEmulation
from databricks_emulator_sql import Table, ToyCatalog

GOOD_TOKEN = "dapi-emulator-good"
READONLY_TOKEN = "dapi-emulator-readonly"


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
class Statement:
    id: str
    sql: str
    warehouse_id: str
    created: float
    catalog: str | None = None
    schema: str | None = None
    may_write: bool = True
    state: str = "PENDING"
    columns: list[str] | None = None
    rows: list[list[Any]] | None = None
    error: tuple[str, str] | None = None
    hold: bool = False
    started_ms: int = 0


class DatabricksEmulator(AppWarehouseEmulation, ComputeEmulation):
    """In-memory workspace state plus the HTTP server thread (see module docstring)."""

    def __init__(self, transition_s: float = 0.1) -> None:
        self.transition_s = transition_s
        self.lock = threading.RLock()
        self.tokens = {GOOD_TOKEN}
        self.readonly_tokens = {READONLY_TOKEN}
        self.requests: list[tuple[str, str]] = []
        self.responses: list[tuple[str, str, int, Any]] = []
        """(method, path, HTTP status, JSON body) of every answer, for the round-trip test."""
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
        self.warehouse_start_fails: set[str] = set()
        """Warehouses whose start falls back to STOPPED (e.g. no capacity in the region)."""
        self.clusters: dict[str, dict[str, Any]] = {}
        self.cluster_state: dict[str, Timed] = {}
        self.toy = ToyCatalog()
        self.tables: dict[str, Table] = self.toy.tables
        self.queries: list[sql.QueryInfo] = []
        self.runs: list[jobs.BaseRun] = []
        self.workspace_paths: set[str] = set()
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ set-up helpers
    def _timed(self, state: str) -> Timed:
        return Timed(state)

    def _api_error(self, status: int, code: str, message: str) -> Exception:
        return ApiError(status, code, message)

    def add_table(self, name: str, versions: int = 3) -> Table:
        return self.toy.add_table(name, versions)

    def add_query(self, qid: str, warehouse_id: str, start_ms: int, duration_ms: int | None,
                  status: str = "FINISHED", text: str | None = None, error: str | None = None) -> None:
        """A Query History entry; ``duration_ms`` None for a query still running."""
        self.queries.append(sql.QueryInfo(
            query_id=qid, query_text=text or f"SELECT {qid}", status=sql.QueryStatus(status),
            warehouse_id=warehouse_id, query_start_time_ms=start_ms, user_name="u@example.com",
            query_end_time_ms=None if duration_ms is None else start_ms + duration_ms, duration=duration_ms,
            rows_produced=None if duration_ms is None else 1, error_message=error))

    def fail_next(self, path_prefix: str, status: int, count: int = 1, retry_after: int | None = 1,
                  method: str | None = None) -> None:
        """Answer the next ``count`` requests under ``path_prefix`` (of ``method``, or any) with ``status``."""
        if status == 429 and (retry_after is None or retry_after < 1):
            raise ValueError("Databricks answers 429 with Retry-After >= 1")
        with self.lock:
            self._faults.append([path_prefix, status, count, retry_after, method])

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
                headers: dict[str, str] = {}
                try:
                    body = json.loads(raw) if raw else {}
                    answer = emulator.dispatch(method, self.path, body, self.headers.get("Authorization", ""))
                    status, payload = 200, answer.as_dict() if hasattr(answer, "as_dict") else answer
                except ApiError as exc:
                    status, payload, headers = exc.status, {"error_code": exc.code, "message": exc.message}, exc.headers
                with emulator.lock:
                    emulator.responses.append((method, urlparse(self.path).path, status, payload))
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

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="databricks-emulator",
                         daemon=True).start()
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
        ("GET", r"/api/2\.1/unity-catalog/permissions/(?P<kind>[^/]+)/(?P<full>[^/]+)", "grants_get"),
        ("PATCH", r"/api/2\.1/unity-catalog/permissions/(?P<kind>[^/]+)/(?P<full>[^/]+)", "grants_update"),
    )

    def dispatch(self, method: str, target: str, body: dict[str, Any], auth: str) -> Any:
        parsed = urlparse(target)
        path = parsed.path
        query = dict(parse_qs(parsed.query))
        with self.lock:
            self.requests.append((method, path))
            for fault in self._faults:
                if path.startswith(fault[0]) and fault[2] > 0 and fault[4] in (None, method):
                    fault[2] -= 1
                    headers = {} if fault[3] is None else {"Retry-After": str(fault[3])}
                    code = "TOO_MANY_REQUESTS" if fault[1] == 429 else "TEMPORARILY_UNAVAILABLE"
                    raise ApiError(fault[1], code, f"emulated {fault[1]}", headers)
            readonly = False
            if path != "/.well-known/databricks-config":
                token = auth.removeprefix("Bearer ").strip()
                if token not in self.tokens and token not in self.readonly_tokens:
                    raise ApiError(401, "UNAUTHENTICATED", "Invalid access token.")
                readonly = token in self.readonly_tokens
                if readonly and method != "GET" and "/sql/statements" not in path:
                    raise ApiError(403, "PERMISSION_DENIED", "User does not have CAN_MANAGE permission.")
            for verb, pattern, handler in self.ROUTES:
                match = re.fullmatch(pattern, path)
                if verb == method and match:
                    kwargs = {k: unquote(v) for k, v in match.groupdict().items()}
                    return getattr(self, f"_{handler}")(body=body, query=query, readonly=readonly, **kwargs)
        raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")

    def _well_known(self, **_: Any) -> dict[str, Any]:
        # Host metadata for the SDK's config resolution; no service dataclass describes it.
        return {"oidc_endpoint": f"{self.url}/oidc", "workspace_id": "1234567890"}

    def _me(self, **_: Any) -> iam.User:
        return iam.User(id="42", user_name="ops@example.com", active=True)

    # ------------------------------------------------------------------ statements
    def _statement_execute(self, body: dict[str, Any], readonly: bool = False, **_: Any) -> sql.StatementResponse:
        wid = body.get("warehouse_id", "")
        self._warehouse(wid)
        if self.warehouse_state[wid].current() == "STOPPED":  # statements auto-start a warehouse
            self.warehouse_state[wid].move("STARTING", "RUNNING", self.transition_s)
        sid = f"01ef{uuid.uuid4().hex[:28]}"
        st = Statement(id=sid, sql=str(body.get("statement", "")), warehouse_id=wid, created=time.monotonic(),
                       catalog=body.get("catalog"), schema=body.get("schema"), may_write=not readonly,
                       hold=self.hold_statements, started_ms=int(time.time() * 1000))
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
        out = self.toy.run(st.sql, st.catalog, st.schema, may_write=st.may_write)
        st.columns, st.rows, st.error = out.columns, out.rows, out.error
        st.state = "FAILED" if st.error else "SUCCEEDED"
        self._record_query(st)

    def _statement_view(self, st: Statement) -> sql.StatementResponse:
        self._advance(st)
        error = sql.ServiceError(error_code=sql.ServiceErrorCode(st.error[0]), message=st.error[1]) if st.error \
            else None
        view = sql.StatementResponse(statement_id=st.id,
                                     status=sql.StatementStatus(state=sql.StatementState(st.state), error=error))
        if st.state == "SUCCEEDED":
            cols, rows = st.columns or [], st.rows or []
            view.manifest = sql.ResultManifest(
                format=sql.Format.JSON_ARRAY, total_chunk_count=1, total_row_count=len(rows), truncated=False,
                schema=sql.ResultSchema(column_count=len(cols), columns=[
                    sql.ColumnInfo(name=c, position=i, type_name=sql.ColumnInfoTypeName.STRING, type_text="STRING")
                    for i, c in enumerate(cols)]))
            view.result = sql.ResultData(chunk_index=0, row_offset=0, row_count=len(rows),
                                         data_array=[[None if v is None else str(v) for v in row] for row in rows])
        return view

    def _statement_get(self, sid: str, **_: Any) -> sql.StatementResponse:
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
        duration = int((time.monotonic() - st.created) * 1000)
        status = {"SUCCEEDED": "FINISHED", "FAILED": "FAILED", "CANCELED": "CANCELED"}[st.state]
        self.add_query(st.id, st.warehouse_id, st.started_ms, duration, status, st.sql,
                       st.error[1] if st.error else None)

    # ------------------------------------------------------------------ query history
    def _query_history(self, query: dict[str, list[str]], **_: Any) -> sql.ListQueriesResponse:
        size = int(query.get("max_results", ["100"])[0])
        if not 0 < size < 1000:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "max_results must be greater than 0 and less than 1000")
        for st in list(self.statements.values()):
            self._advance(st)
        running = [sql.QueryInfo(query_id=st.id, query_text=st.sql, status=sql.QueryStatus.RUNNING,
                                 warehouse_id=st.warehouse_id, query_start_time_ms=st.started_ms,
                                 user_name="ops@example.com")
                   for st in self.statements.values() if st.state in ("PENDING", "RUNNING")]
        rows = sorted(self.queries + running, key=lambda q: q.query_start_time_ms or 0, reverse=True)
        wids = query.get("filter_by.warehouse_ids")
        if wids:
            rows = [q for q in rows if q.warehouse_id in wids]
        start = query.get("filter_by.query_start_time_range.start_time_ms")
        if start:
            rows = [q for q in rows if (q.query_start_time_ms or 0) >= int(start[0])]
        end = query.get("filter_by.query_start_time_range.end_time_ms")
        if end:
            rows = [q for q in rows if (q.query_start_time_ms or 0) < int(end[0])]
        offset = int(query.get("page_token", ["0"])[0])
        more = offset + size < len(rows)
        return sql.ListQueriesResponse(res=rows[offset:offset + size], has_next_page=more,
                                       next_page_token=str(offset + size) if more else None)
