"""App, warehouse and cluster actions of the Databricks driver, as the real API wants them.

A mixin of :class:`~opsconsole.drivers.databricks.driver.DatabricksDriver`, split out to
keep each module short. What the real API does, and so what these actions do:

* ``apps.start`` re-deploys the last deployment, and a deploy while a deployment
  is pending is rejected: restart and deploy wait for ``pending_deployment`` to
  clear and say so in their progress.
* ``warehouses.edit`` *replaces* the configuration: a field left out is reset
  (serverless off, photon off, tags gone). Edit sends the whole current
  configuration with only size and scaling changed.
* A warehouse start that falls back to STOPPED has failed: report it at once
  instead of waiting ``action_timeout`` for RUNNING.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from opsconsole.drivers.databricks import rows
from opsconsole.drivers.databricks import sql as dsql
from opsconsole.drivers.databricks.options import MAX_WAREHOUSE_CLUSTERS, WAREHOUSE_SIZES
from opsconsole.errors import ActionRefused
from opsconsole.model import ActionResult

T = TypeVar("T")
Progress = Callable[[str], None] | None


class ResourceActions:
    """App, warehouse and cluster actions; the host class provides the plumbing declared below."""

    name: str
    app: str | None
    warehouse_id: str | None

    async def _call(self, what: str, fn: Callable[[Any], T], timeout: float | None = None) -> T:
        raise NotImplementedError

    def _need(self, facet: str) -> None:
        raise NotImplementedError

    async def _watch(self, what: str, probe: Callable[[], Awaitable[str]], done: Callable[[str], bool],
                     log: list[str], progress: Progress, started: float) -> str:
        raise NotImplementedError

    async def _list_clusters(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    # ------------------------------------------------------------------ app actions
    async def _app(self) -> dict[str, Any]:
        return await self._call(f"get app {self.app}", lambda w: w.apps.get(self.app).as_dict())

    async def _app_state(self) -> str:
        return ((await self._app()).get("compute_status") or {}).get("state") or "UNKNOWN"

    async def _settled(self, log: list[str], progress: Progress, started: float) -> dict[str, Any]:
        """Wait until the app has no pending deployment (the API rejects a deploy meanwhile)."""
        snapshot: dict[str, Any] = {}

        async def probe() -> str:
            snapshot.update(app := await self._app())
            pending = app.get("pending_deployment") or {}
            if not pending:
                return "no pending deployment"
            state = (pending.get("status") or {}).get("state") or "?"
            return f"waiting for pending deployment {pending.get('deployment_id', '?')} ({state})"

        await self._watch("app", probe, lambda s: s == "no pending deployment", log, progress, started)
        return snapshot

    async def action_app_restart(self, progress: Progress = None) -> ActionResult:
        """Stop then start the app (which re-deploys its last deployment), until ACTIVE and settled."""
        self._need("app")
        log: list[str] = []
        started = time.monotonic()
        if await self._app_state() not in ("STOPPED", "ERROR"):
            await self._call(f"stop app {self.app}", lambda w: w.apps.stop(self.app).response.as_dict())
            state = await self._watch("compute", self._app_state, lambda s: s in ("STOPPED", "ERROR"), log, progress,
                                      started)
            if state != "STOPPED":
                return ActionResult(False, f"app {self.app} did not stop: compute {state}", "\n".join(log))
        await self._call(f"start app {self.app}", lambda w: w.apps.start(self.app).response.as_dict())
        state = await self._watch("compute", self._app_state, lambda s: s in ("ACTIVE", "ERROR", "STOPPED"), log,
                                  progress, started)
        if state == "ACTIVE":
            app = await self._settled(log, progress, started)
            dep_state = ((app.get("active_deployment") or {}).get("status") or {}).get("state") or "?"
            ok = dep_state == "SUCCEEDED"
            return ActionResult(ok, f"app {self.app} is ACTIVE, deployment {dep_state} after "
                                    f"{time.monotonic() - started:.0f}s", "\n".join(log))
        return ActionResult(False, f"app {self.app} is {state} after {time.monotonic() - started:.0f}s",
                            "\n".join(log))

    async def action_app_deploy(self, source_code_path: str, progress: Progress = None) -> ActionResult:
        """Deploy the app from a workspace source path (after any pending deployment) and wait for it."""
        self._need("app")
        path = str(source_code_path or "").strip()
        if not path.startswith("/") or any(ord(c) < 32 for c in path):
            raise ActionRefused(f"source_code_path {source_code_path!r} must be an absolute workspace path "
                                "(e.g. /Workspace/Users/me/Apps/ontos-ml-workbench)")
        started = time.monotonic()
        log: list[str] = []
        await self._settled(log, progress, started)

        def deploy(w: Any) -> dict[str, Any]:
            from databricks.sdk.service.apps import AppDeployment, AppDeploymentMode

            spec = AppDeployment(source_code_path=path, mode=AppDeploymentMode.SNAPSHOT)
            return w.apps.deploy(app_name=self.app, app_deployment=spec).response.as_dict()

        dep = await self._call(f"deploy app {self.app}", deploy)
        dep_id = dep["deployment_id"]
        messages: dict[str, str] = {}

        async def probe() -> str:
            cur = await self._call("get deployment", lambda w: w.apps.get_deployment(self.app, dep_id).as_dict())
            status = cur.get("status") or {}
            messages["last"] = status.get("message") or ""
            return status.get("state") or "UNKNOWN"

        state = await self._watch(f"deployment {dep_id}", probe, lambda s: s in ("SUCCEEDED", "FAILED", "CANCELLED"),
                                  log, progress, started)
        detail = f": {messages['last']}" if state != "SUCCEEDED" and messages.get("last") else ""
        return ActionResult(state == "SUCCEEDED", f"deployment {dep_id} of {path} {state}{detail}", "\n".join(log))

    # ------------------------------------------------------------------ warehouse actions
    async def _warehouse(self) -> dict[str, Any]:
        return await self._call("get warehouse", lambda w: w.warehouses.get(self.warehouse_id).as_dict())

    async def action_warehouse_start(self, progress: Progress = None) -> ActionResult:
        """Start the warehouse and wait until RUNNING; falling back to STOPPED is a failure at once."""
        self._need("warehouse")
        started = time.monotonic()
        log: list[str] = []
        if (await self._warehouse()).get("state") == "RUNNING":
            return ActionResult(True, f"warehouse {self.warehouse_id} is already RUNNING")
        await self._call("start warehouse", lambda w: w.warehouses.start(self.warehouse_id).response)
        seen: set[str] = set()

        async def probe() -> str:
            state = str((await self._warehouse()).get("state") or "UNKNOWN")
            seen.add(state)
            return state

        def done(state: str) -> bool:
            return state in ("RUNNING", "DELETED", "DELETING") or (state == "STOPPED" and "STARTING" in seen)

        state = await self._watch("warehouse", probe, done, log, progress, started)
        why = "" if state == "RUNNING" else " (the start failed: it went back to STOPPED)" if state == "STOPPED" else ""
        return ActionResult(state == "RUNNING", f"warehouse {self.warehouse_id} is {state}{why}", "\n".join(log))

    async def action_warehouse_edit(self, cluster_size: str | None = None, min_num_clusters: Any = None,
                                    max_num_clusters: Any = None) -> ActionResult:
        """Change size and/or scaling bounds; every other setting is sent back unchanged."""
        self._need("warehouse")
        current = await self._warehouse()
        size = current.get("cluster_size")
        if cluster_size not in (None, ""):
            sizes = {s.lower(): s for s in WAREHOUSE_SIZES}
            size = sizes.get(str(cluster_size).strip().lower())
            if size is None:
                raise ActionRefused(f"cluster_size {cluster_size!r} is not one of {', '.join(WAREHOUSE_SIZES)}")
        lo = dsql.as_int(min_num_clusters, "min_num_clusters", 1) if min_num_clusters not in (None, "") \
            else int(current.get("min_num_clusters") or 1)
        hi = dsql.as_int(max_num_clusters, "max_num_clusters", 1) if max_num_clusters not in (None, "") \
            else int(current.get("max_num_clusters") or lo)
        if hi > MAX_WAREHOUSE_CLUSTERS:
            raise ActionRefused(f"max_num_clusters must be at most {MAX_WAREHOUSE_CLUSTERS}, got {hi}")
        if lo > hi:
            raise ActionRefused(f"min_num_clusters ({lo}) must not exceed max_num_clusters ({hi})")
        before = (current.get("cluster_size"), current.get("min_num_clusters"), current.get("max_num_clusters"))
        if before == (size, lo, hi):
            return ActionResult(True, "warehouse already has this size and scaling; nothing changed")

        def edit(w: Any) -> None:
            from databricks.sdk.service import sql

            kinds = {"channel": sql.Channel.from_dict, "tags": sql.EndpointTags.from_dict,
                     "warehouse_type": sql.EditWarehouseRequestWarehouseType,
                     "spot_instance_policy": sql.SpotInstancePolicy}
            fields = ("name", "auto_stop_mins", "channel", "creator_name", "enable_photon", "enable_serverless_compute",
                      "instance_profile_arn", "max_dbu", "spot_instance_policy", "tags", "warehouse_type")
            keep = {k: kinds.get(k, lambda v: v)(current[k]) for k in fields if current.get(k) is not None}
            w.warehouses.edit(self.warehouse_id, cluster_size=size, min_num_clusters=lo, max_num_clusters=hi, **keep)

        await self._call("edit warehouse", edit)
        return ActionResult(True, f"warehouse {self.warehouse_id}: size {before[0]} -> {size}, "
                                  f"clusters {before[1]}-{before[2]} -> {lo}-{hi}")

    async def action_warehouse_test(self) -> ActionResult:
        """``SELECT 1`` through the Statement Execution API, timing the round trip."""
        started = time.monotonic()
        result = await self._statement("SELECT 1", "test connection")  # type: ignore[attr-defined]
        if result.ok:
            return ActionResult(True, f"SELECT 1 answered in {time.monotonic() - started:.2f}s", result.output)
        return result

    # ------------------------------------------------------------------ cluster actions
    async def action_cluster_restart(self, cluster: str, progress: Progress = None) -> ActionResult:
        """Restart a running cluster (or start a terminated one) and wait until RUNNING."""
        self._need("clusters")
        known = await self._list_clusters()
        match = [c for c in known if cluster in (c.get("cluster_id"), c.get("cluster_name"))]
        if len(match) != 1:
            names = ", ".join(sorted(str(c.get("cluster_name")) for c in known)) or "none"
            raise ActionRefused(f"cluster {cluster!r} {'is ambiguous' if match else 'not found'} (clusters: {names})")
        cid, state = match[0]["cluster_id"], match[0].get("state")
        started = time.monotonic()
        log: list[str] = []
        if state == "RUNNING":
            await self._call("restart cluster", lambda w: w.clusters.restart(cid).response)
        elif state == "TERMINATED":
            await self._call("start cluster", lambda w: w.clusters.start(cid).response)
        else:
            raise ActionRefused(f"cluster {cluster} is {state}; wait until it is RUNNING or TERMINATED")

        async def probe() -> str:
            detail = await self._call("get cluster", lambda w: w.clusters.get(cid).as_dict())
            live, size = rows.cluster_workers(detail)
            return f"{detail.get('state')} ({live}/{size} workers)" if detail.get("state") == "RUNNING" \
                else str(detail.get("state"))

        final = await self._watch(f"cluster {cluster}", probe,
                                  lambda s: s.startswith("RUNNING") or s in ("ERROR", "TERMINATED", "UNKNOWN"),
                                  log, progress, started)
        ok = final.startswith("RUNNING")
        return ActionResult(ok, f"cluster {cluster} is {final} after {time.monotonic() - started:.0f}s",
                            "\n".join(log))
