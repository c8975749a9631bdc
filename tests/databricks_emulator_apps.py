"""Apps and SQL warehouses of the Databricks emulator (a mixin of ``DatabricksEmulator``).

Part of the TEST DOUBLE (see :mod:`databricks_emulator`), split out to keep each
module short. Bodies are the SDK's own dataclasses, as in the rest of the emulator.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from databricks.sdk.service import apps, sql

WAREHOUSE_SIZES = ("2X-Small", "X-Small", "Small", "Medium", "Large", "X-Large", "2X-Large", "3X-Large", "4X-Large",
                   "5X-Large")


class AppWarehouseEmulation:
    """Apps (compute, deployments, pending deployment) and warehouses; the host class provides the state."""

    apps: dict[str, dict[str, Any]]
    app_compute: dict[str, Any]
    deployments: dict[str, dict[str, Any]]
    deployment_state: dict[str, Any]
    warehouses: dict[str, dict[str, Any]]
    warehouse_state: dict[str, Any]
    warehouse_start_fails: set[str]
    workspace_paths: set[str]
    transition_s: float

    def _timed(self, state: str) -> Any:
        raise NotImplementedError

    def _api_error(self, status: int, code: str, message: str) -> Exception:
        raise NotImplementedError

    def add_app(self, name: str, state: str = "ACTIVE", source: str = "/Workspace/Apps/src") -> None:
        dep_id = uuid.uuid4().hex[:12]
        self.workspace_paths.add(source)
        self.deployments[dep_id] = {"deployment_id": dep_id, "source_code_path": source,
                                    "create_time": "2026-02-07T10:00:00Z", "app": name}
        self.deployment_state[dep_id] = self._timed("SUCCEEDED")
        self.apps[name] = {"url": f"https://{name}-123.aws.databricksapps.com", "service_principal_id": 4242,
                           "service_principal_client_id": "6f0c1c5e-8d7e-4c1b-9a47-3e2a1d4b5c6d",
                           "service_principal_name": f"app-{name}", "active": dep_id, "pending": None}
        self.app_compute[name] = self._timed(state)


    def add_warehouse(self, wid: str, name: str, state: str = "RUNNING", size: str = "Medium",
                      min_clusters: int = 1, max_clusters: int = 2) -> None:
        self.warehouses[wid] = {"id": wid, "name": name, "cluster_size": size, "min_num_clusters": min_clusters,
                                "max_num_clusters": max_clusters, "warehouse_type": "PRO",
                                "enable_serverless_compute": True, "enable_photon": True, "auto_stop_mins": 30,
                                "tags": {"team": "ontos"}, "channel": "CHANNEL_NAME_CURRENT",
                                "spot_instance_policy": "COST_OPTIMIZED"}
        self.warehouse_state[wid] = self._timed(state)


    # ------------------------------------------------------------------ apps
    def _app(self, name: str) -> apps.App:
        if name not in self.apps:
            raise self._api_error(404, "RESOURCE_DOES_NOT_EXIST", f"App with name {name} does not exist.")
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
        timed = self._timed("IN_PROGRESS")
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
            raise self._api_error(400, "INVALID_STATE", f"Cannot start app {name}: compute is {state}.")
        self.app_compute[name].move("STARTING", "ACTIVE", self.transition_s)
        app = self.apps[name]
        if app["active"]:  # start re-deploys the last deployment, finishing after the compute is up
            source = self.deployments[app["active"]]["source_code_path"]
            app["pending"] = self._new_deployment(name, source, self.transition_s * 3)
        return self._app(name)

    def _deploy(self, name: str, body: dict[str, Any], **_: Any) -> apps.AppDeployment:
        current = self._app(name)
        if current.pending_deployment is not None:
            raise self._api_error(400, "INVALID_STATE", f"Cannot deploy app {name} as there is an active deployment in "
                                                 f"progress ({current.pending_deployment.deployment_id}).")
        if current.compute_status.state is not apps.ComputeState.ACTIVE:  # type: ignore[union-attr]
            raise self._api_error(400, "INVALID_STATE", f"Cannot deploy app {name}: compute is "
                                                 f"{current.compute_status.state.value}.")  # type: ignore[union-attr]
        dep_id = self._new_deployment(name, str(body.get("source_code_path", "")), self.transition_s)
        self.apps[name]["pending"] = dep_id
        return self._deployment(dep_id)

    def _deployment_get(self, name: str, dep: str, **_: Any) -> apps.AppDeployment:
        if dep not in self.deployments:
            raise self._api_error(404, "RESOURCE_DOES_NOT_EXIST", f"Deployment {dep} does not exist.")
        self._app(name)  # a finished deployment becomes the active one
        return self._deployment(dep)

    # ------------------------------------------------------------------ warehouses
    def _warehouse(self, wid: str) -> sql.GetWarehouseResponse:
        if wid not in self.warehouses:
            raise self._api_error(404, "RESOURCE_DOES_NOT_EXIST", f"Warehouse {wid} does not exist.")
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
            raise self._api_error(400, "INVALID_PARAMETER_VALUE", f"Invalid cluster size {size}")
        if not (1 <= lo <= hi <= 30):
            raise self._api_error(400, "INVALID_PARAMETER_VALUE",
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
