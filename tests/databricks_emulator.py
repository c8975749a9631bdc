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

from databricks.sdk.service import apps, catalog, compute, iam, jobs, sql
from databricks_emulator_sql import Table, ToyCatalog

GOOD_TOKEN = "dapi-emulator-good"
READONLY_TOKEN = "dapi-emulator-readonly"
WAREHOUSE_SIZES = ("2X-Small", "X-Small", "Small", "Medium", "Large", "X-Large", "2X-Large", "3X-Large", "4X-Large",
                   "5X-Large")
TERMINATION = {  # result_state -> (status.termination_details code, type), per the Jobs 2.2 reference
    "SUCCESS": ("SUCCESS", "SUCCESS"), "FAILED": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    "TIMEDOUT": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"), "INTERNAL_ERROR": ("DRIVER_ERROR", "INTERNAL_ERROR"),
    "CANCELED": ("USER_CANCELED", "SUCCESS"), "SKIPPED": ("SKIPPED", "SUCCESS"),
    "CLOUD_FAILURE": ("CLOUD_FAILURE", "CLOUD_FAILURE"),
}


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


class DatabricksEmulator:
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
    def add_app(self, name: str, state: str = "ACTIVE", source: str = "/Workspace/Apps/src") -> None:
        dep_id = uuid.uuid4().hex[:12]
        self.workspace_paths.add(source)
        self.deployments[dep_id] = {"deployment_id": dep_id, "source_code_path": source,
                                    "create_time": "2026-02-07T10:00:00Z", "app": name}
        self.deployment_state[dep_id] = Timed("SUCCEEDED")
        self.apps[name] = {"url": f"https://{name}-123.aws.databricksapps.com", "service_principal_id": 4242,
                           "service_principal_client_id": "6f0c1c5e-8d7e-4c1b-9a47-3e2a1d4b5c6d",
                           "service_principal_name": f"app-{name}", "active": dep_id, "pending": None}
        self.app_compute[name] = Timed(state)

    def add_warehouse(self, wid: str, name: str, state: str = "RUNNING", size: str = "Medium",
                      min_clusters: int = 1, max_clusters: int = 2) -> None:
        self.warehouses[wid] = {"id": wid, "name": name, "cluster_size": size, "min_num_clusters": min_clusters,
                                "max_num_clusters": max_clusters, "warehouse_type": "PRO",
                                "enable_serverless_compute": True, "enable_photon": True, "auto_stop_mins": 30,
                                "tags": {"team": "ontos"}, "channel": "CHANNEL_NAME_CURRENT",
                                "spot_instance_policy": "COST_OPTIMIZED"}
        self.warehouse_state[wid] = Timed(state)

    def add_cluster(self, cid: str, name: str, state: str = "RUNNING", workers: int = 2,
                    autoscale: tuple[int, int] | None = None, source: str = "UI", pinned: bool = False) -> None:
        self.clusters[cid] = {"cluster_name": name, "autoscale": autoscale, "workers": workers, "source": source,
                              "pinned": pinned}
        self.cluster_state[cid] = Timed(state)

    def add_job_clusters(self, count: int) -> None:
        """Terminated job clusters, as a real workspace lists for 30 days after each job run."""
        for i in range(count):
            self.add_cluster(f"0000-job-{i:04d}", f"job-{1000 + i}-run-{i}", state="TERMINATED", source="JOB")

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

    def add_run(self, job_id: int, name: str, result: str | None, start_ms: int, duration_s: float,
                life_cycle: str = "TERMINATED", legacy_state: bool = True) -> None:
        """A job run; ``legacy_state=False`` leaves out the deprecated ``state`` (only ``status``)."""
        run_id = len(self.runs) + 1000
        done = life_cycle == "TERMINATED"
        details = None
        if done and result:
            code, kind = TERMINATION[result]
            details = jobs.TerminationDetails(code=jobs.TerminationCodeCode(code), type=jobs.TerminationTypeType(kind),
                                              message="" if kind == "SUCCESS" else "Task failed with an error.")
        legacy = None
        if legacy_state:
            legacy_result = {"CLOUD_FAILURE": "FAILED"}.get(result or "", result)
            legacy = jobs.RunState(
                life_cycle_state=jobs.RunLifeCycleState("INTERNAL_ERROR" if result == "INTERNAL_ERROR"
                                                        else life_cycle),
                result_state=jobs.RunResultState(legacy_result) if legacy_result and legacy_result not in (
                    "INTERNAL_ERROR", "SKIPPED") else None, state_message=details.message if details else "")
        self.runs.append(jobs.BaseRun(
            job_id=job_id, run_id=run_id, run_name=name, run_type=jobs.RunType.JOB_RUN, start_time=start_ms,
            end_time=start_ms + int(duration_s * 1000) if done else None,
            run_duration=int(duration_s * 1000) if done else None, state=legacy,
            status=jobs.RunStatus(state=jobs.RunLifecycleStateV2State(life_cycle), termination_details=details)))

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

    # ------------------------------------------------------------------ apps
    def _app(self, name: str) -> apps.App:
        if name not in self.apps:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"App with name {name} does not exist.")
        app = self.apps[name]
        pending = app["pending"]
        if pending and self.deployment_state[pending].current() != "IN_PROGRESS":
            if self.deployment_state[pending].current() == "SUCCEEDED":
                app["active"] = pending
            app["pending"] = pending = None
        compute_state = self.app_compute[name].current()
        app_state = {"ACTIVE": "RUNNING", "STARTING": "DEPLOYING"}.get(compute_state, "UNAVAILABLE")
        if compute_state == "ACTIVE" and pending:
            app_state = "DEPLOYING"
        return apps.App(
            name=name, url=app["url"], service_principal_id=app["service_principal_id"],
            service_principal_client_id=app["service_principal_client_id"],
            service_principal_name=app["service_principal_name"],
            compute_status=apps.ComputeStatus(state=apps.ComputeState(compute_state),
                                              message=f"App compute is {compute_state.lower()}."),
            app_status=apps.ApplicationStatus(state=apps.ApplicationState(app_state),
                                              message=f"App is {app_state.lower()}."),
            active_deployment=self._deployment(app["active"]) if app["active"] else None,
            pending_deployment=self._deployment(pending) if pending else None)

    def _deployment(self, dep_id: str) -> apps.AppDeployment:
        dep = self.deployments[dep_id]
        state = self.deployment_state[dep_id].current()
        message = {"SUCCEEDED": "App started successfully", "IN_PROGRESS": "Deploying",
                   "FAILED": dep.get("error", "Deployment failed")}.get(state, state)
        return apps.AppDeployment(deployment_id=dep_id, source_code_path=dep["source_code_path"],
                                  mode=apps.AppDeploymentMode.SNAPSHOT, create_time=dep["create_time"],
                                  status=apps.AppDeploymentStatus(state=apps.AppDeploymentState(state),
                                                                  message=message))

    def _app_get(self, name: str, **_: Any) -> apps.App:
        return self._app(name)

    def _app_stop(self, name: str, **_: Any) -> apps.App:
        self._app(name)
        self.app_compute[name].move("STOPPING", "STOPPED", self.transition_s)
        return self._app(name)

    def _new_deployment(self, name: str, source: str, seconds: float) -> str:
        dep_id = uuid.uuid4().hex[:12]
        self.deployments[dep_id] = {"deployment_id": dep_id, "source_code_path": source, "app": name,
                                    "create_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        timed = Timed("IN_PROGRESS")
        if source in self.workspace_paths:
            timed.move("IN_PROGRESS", "SUCCEEDED", seconds)
        else:
            self.deployments[dep_id]["error"] = f"Source code path {source} does not exist."
            timed.move("IN_PROGRESS", "FAILED", seconds)
        self.deployment_state[dep_id] = timed
        return dep_id

    def _app_start(self, name: str, **_: Any) -> apps.App:
        state = self._app(name).compute_status.state.value  # type: ignore[union-attr]
        if state not in ("STOPPED", "ERROR"):
            raise ApiError(400, "INVALID_STATE", f"Cannot start app {name}: compute is {state}.")
        self.app_compute[name].move("STARTING", "ACTIVE", self.transition_s)
        app = self.apps[name]
        if app["active"]:  # start re-deploys the last deployment, finishing after the compute is up
            source = self.deployments[app["active"]]["source_code_path"]
            app["pending"] = self._new_deployment(name, source, self.transition_s * 3)
        return self._app(name)

    def _deploy(self, name: str, body: dict[str, Any], **_: Any) -> apps.AppDeployment:
        current = self._app(name)
        if current.pending_deployment is not None:
            raise ApiError(400, "INVALID_STATE", f"Cannot deploy app {name} as there is an active deployment in "
                                                 f"progress ({current.pending_deployment.deployment_id}).")
        if current.compute_status.state is not apps.ComputeState.ACTIVE:  # type: ignore[union-attr]
            raise ApiError(400, "INVALID_STATE", f"Cannot deploy app {name}: compute is "
                                                 f"{current.compute_status.state.value}.")  # type: ignore[union-attr]
        dep_id = self._new_deployment(name, str(body.get("source_code_path", "")), self.transition_s)
        self.apps[name]["pending"] = dep_id
        return self._deployment(dep_id)

    def _deployment_get(self, name: str, dep: str, **_: Any) -> apps.AppDeployment:
        if dep not in self.deployments:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Deployment {dep} does not exist.")
        self._app(name)  # a finished deployment becomes the active one
        return self._deployment(dep)

    # ------------------------------------------------------------------ warehouses
    def _warehouse(self, wid: str) -> sql.GetWarehouseResponse:
        if wid not in self.warehouses:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Warehouse {wid} does not exist.")
        wh = self.warehouses[wid]
        state = self.warehouse_state[wid].current()
        return sql.GetWarehouseResponse(
            id=wid, name=wh["name"], cluster_size=wh["cluster_size"], min_num_clusters=wh["min_num_clusters"],
            max_num_clusters=wh["max_num_clusters"], auto_stop_mins=wh["auto_stop_mins"],
            warehouse_type=sql.GetWarehouseResponseWarehouseType(wh["warehouse_type"]),
            enable_serverless_compute=wh["enable_serverless_compute"], enable_photon=wh["enable_photon"],
            spot_instance_policy=sql.SpotInstancePolicy(wh["spot_instance_policy"]) if wh["spot_instance_policy"]
            else None,
            tags=sql.EndpointTags(custom_tags=[sql.EndpointTagPair(key=k, value=v) for k, v in wh["tags"].items()])
            if wh["tags"] else None,
            channel=sql.Channel(name=sql.ChannelName(wh["channel"])) if wh["channel"] else None,
            state=sql.State(state), num_clusters=wh["min_num_clusters"] if state == "RUNNING" else 0,
            num_active_sessions=0, creator_name="ops@example.com",
            health=sql.EndpointHealth(status=sql.Status.HEALTHY) if state == "RUNNING" else None)

    def _warehouse_get(self, wid: str, **_: Any) -> sql.GetWarehouseResponse:
        return self._warehouse(wid)

    def _warehouse_start(self, wid: str, **_: Any) -> dict[str, Any]:
        if self._warehouse(wid).state is sql.State.STOPPED:
            target = "STOPPED" if wid in self.warehouse_start_fails else "RUNNING"
            self.warehouse_state[wid].move("STARTING", target, self.transition_s)
        return {}

    def _warehouse_edit(self, wid: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Like the real edit: the request is the new configuration; what it leaves out is reset."""
        self._warehouse(wid)
        size = body.get("cluster_size")
        lo, hi = body.get("min_num_clusters", 1), body.get("max_num_clusters", 1)
        if size not in WAREHOUSE_SIZES:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Invalid cluster size {size}")
        if not (1 <= lo <= hi <= 30):
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           "min_num_clusters must be >= 1 and <= max_num_clusters <= 30")
        tags = {t["key"]: t.get("value", "") for t in (body.get("tags") or {}).get("custom_tags", [])}
        self.warehouses[wid].update(
            name=body.get("name", self.warehouses[wid]["name"]), cluster_size=size, min_num_clusters=lo,
            max_num_clusters=hi, auto_stop_mins=body.get("auto_stop_mins", 120),
            warehouse_type=body.get("warehouse_type", "CLASSIC"),
            enable_serverless_compute=bool(body.get("enable_serverless_compute", False)),
            enable_photon=bool(body.get("enable_photon", False)), tags=tags,
            channel=(body.get("channel") or {}).get("name"), spot_instance_policy=body.get("spot_instance_policy"))
        return {}

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

    # ------------------------------------------------------------------ jobs
    def _runs_list(self, query: dict[str, list[str]], **_: Any) -> jobs.ListRunsResponse:
        limit = int(query.get("limit", ["20"])[0])
        if not 0 <= limit <= 25:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "limit must be between 0 and 25")
        limit = limit or 20
        rows = sorted(self.runs, key=lambda r: r.start_time or 0, reverse=True)
        if query.get("job_id"):
            rows = [r for r in rows if r.job_id == int(query["job_id"][0])]
        if query.get("start_time_from"):
            rows = [r for r in rows if (r.start_time or 0) >= int(query["start_time_from"][0])]
        offset = int(query.get("page_token", ["0"])[0])
        more = offset + limit < len(rows)
        return jobs.ListRunsResponse(runs=rows[offset:offset + limit], has_more=more,
                                     next_page_token=str(offset + limit) if more else None)

    # ------------------------------------------------------------------ clusters
    def _cluster(self, cid: str) -> compute.ClusterDetails:
        if cid not in self.clusters:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Cluster {cid} does not exist")
        spec = self.clusters[cid]
        state = self.cluster_state[cid].current()
        autoscale = spec["autoscale"]
        live = autoscale[0] if autoscale else spec["workers"]
        return compute.ClusterDetails(
            cluster_id=cid, cluster_name=spec["cluster_name"], spark_version="15.4.x-scala2.12",
            node_type_id="Standard_D16s_v3", cluster_source=compute.ClusterSource(spec["source"]),
            autoscale=compute.AutoScale(min_workers=autoscale[0], max_workers=autoscale[1]) if autoscale else None,
            num_workers=None if autoscale else spec["workers"], state=compute.State(state),
            state_message="" if state == "RUNNING" else f"Cluster is {state.lower()}",
            executors=[compute.SparkNode(node_id=f"n{i}") for i in range(live)] if state == "RUNNING" else None,
            termination_reason=compute.TerminationReason(
                code=compute.TerminationReasonCode.JOB_FINISHED if spec["source"] == "JOB"
                else compute.TerminationReasonCode.INACTIVITY,
                type=compute.TerminationReasonType.SUCCESS) if state == "TERMINATED" else None)

    def _clusters_list(self, query: dict[str, list[str]], **_: Any) -> compute.ListClustersResponse:
        found = [self._cluster(cid) for cid in sorted(self.clusters)]
        sources = query.get("filter_by.cluster_sources")
        if sources:
            found = [c for c in found if c.cluster_source and c.cluster_source.value in sources]
        states = query.get("filter_by.cluster_states")
        if states:
            found = [c for c in found if c.state and c.state.value in states]
        if query.get("filter_by.is_pinned", [""])[0] == "true":
            found = [c for c in found if self.clusters[c.cluster_id or ""]["pinned"]]
        size = min(int(query.get("page_size", ["20"])[0]) or 20, 100)
        offset = int(query.get("page_token", ["0"])[0])
        more = offset + size < len(found)
        return compute.ListClustersResponse(clusters=found[offset:offset + size],
                                            next_page_token=str(offset + size) if more else None)

    def _cluster_get(self, query: dict[str, list[str]], **_: Any) -> compute.ClusterDetails:
        return self._cluster(query.get("cluster_id", [""])[0])

    def _cluster_restart(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        cid = body.get("cluster_id", "")
        state = self._cluster(cid).state.value  # type: ignore[union-attr]
        if state != "RUNNING":
            raise ApiError(400, "INVALID_STATE", f"Cluster {cid} is in unexpected state {state.title()}.")
        self.cluster_state[cid].move("RESTARTING", "RUNNING", self.transition_s)
        return {}

    def _cluster_start(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        cid = body.get("cluster_id", "")
        state = self._cluster(cid).state.value  # type: ignore[union-attr]
        if state != "TERMINATED":
            raise ApiError(400, "INVALID_STATE", f"Cluster {cid} is in unexpected state {state.title()}.")
        self.cluster_state[cid].move("PENDING", "RUNNING", self.transition_s)
        return {}

    # ------------------------------------------------------------------ Unity Catalog grants
    def _grant_list(self, kind: str, full: str) -> list[tuple[str, str]]:
        try:
            return self.toy.securable(kind, full)[1]
        except LookupError as exc:
            raise ApiError(404, "NOT_FOUND", str(exc)) from None

    def _grants_view(self, grants: list[tuple[str, str]]) -> list[catalog.PrivilegeAssignment]:
        who = sorted({p for p, _ in grants})
        return [catalog.PrivilegeAssignment(principal=p, privileges=[
            catalog.Privilege(a.replace(" ", "_")) for q, a in grants if q == p]) for p in who]

    def _grants_get(self, kind: str, full: str, **_: Any) -> catalog.GetPermissionsResponse:
        return catalog.GetPermissionsResponse(privilege_assignments=self._grants_view(self._grant_list(kind, full)))

    def _grants_update(self, kind: str, full: str, body: dict[str, Any], **_: Any) -> catalog.UpdatePermissionsResponse:
        grants = self._grant_list(kind, full)
        for change in body.get("changes", []):
            for privilege in change.get("add", []):
                entry = (change["principal"], privilege.replace("_", " "))
                if entry not in grants:
                    grants.append(entry)
            for privilege in change.get("remove", []):
                entry = (change["principal"], privilege.replace("_", " "))
                if entry in grants:
                    grants.remove(entry)
        return catalog.UpdatePermissionsResponse(privilege_assignments=self._grants_view(grants))
