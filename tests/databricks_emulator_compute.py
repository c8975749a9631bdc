"""Jobs, clusters and Unity Catalog grants of the Databricks emulator (a mixin of ``DatabricksEmulator``).

Part of the TEST DOUBLE (see :mod:`databricks_emulator`), split out to keep each
module short. Bodies are the SDK's own dataclasses, as in the rest of the emulator.
"""

from __future__ import annotations

from typing import Any

from databricks.sdk.service import catalog, compute, jobs
from databricks_emulator_sql import ToyCatalog

TERMINATION = {  # result_state -> (status.termination_details code, type), per the Jobs 2.2 reference
    "SUCCESS": ("SUCCESS", "SUCCESS"), "FAILED": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    "TIMEDOUT": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"), "INTERNAL_ERROR": ("DRIVER_ERROR", "INTERNAL_ERROR"),
    "CANCELED": ("USER_CANCELED", "SUCCESS"), "SKIPPED": ("SKIPPED", "SUCCESS"),
    "CLOUD_FAILURE": ("CLOUD_FAILURE", "CLOUD_FAILURE"),
}


class ComputeEmulation:
    """Runs, clusters and grants; the host class provides the state declared below."""

    clusters: dict[str, dict[str, Any]]
    cluster_state: dict[str, Any]
    runs: list[jobs.BaseRun]
    toy: ToyCatalog
    transition_s: float

    def _timed(self, state: str) -> Any:
        raise NotImplementedError

    def _api_error(self, status: int, code: str, message: str) -> Exception:
        raise NotImplementedError

    def add_cluster(self, cid: str, name: str, state: str = "RUNNING", workers: int = 2,
                    autoscale: tuple[int, int] | None = None, source: str = "UI", pinned: bool = False) -> None:
        self.clusters[cid] = {"cluster_name": name, "autoscale": autoscale, "workers": workers, "source": source,
                              "pinned": pinned}
        self.cluster_state[cid] = self._timed(state)

    def add_job_clusters(self, count: int) -> None:
        """Terminated job clusters, as a real workspace lists for 30 days after each job run."""
        for i in range(count):
            self.add_cluster(f"0000-job-{i:04d}", f"job-{1000 + i}-run-{i}", state="TERMINATED", source="JOB")

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


    # ------------------------------------------------------------------ jobs
    def _runs_list(self, query: dict[str, list[str]], **_: Any) -> jobs.ListRunsResponse:
        limit = int(query.get("limit", ["20"])[0])
        if not 0 <= limit <= 25:
            raise self._api_error(400, "INVALID_PARAMETER_VALUE", "limit must be between 0 and 25")
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
            raise self._api_error(400, "INVALID_PARAMETER_VALUE", f"Cluster {cid} does not exist")
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
            raise self._api_error(400, "INVALID_STATE", f"Cluster {cid} is in unexpected state {state.title()}.")
        self.cluster_state[cid].move("RESTARTING", "RUNNING", self.transition_s)
        return {}

    def _cluster_start(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        cid = body.get("cluster_id", "")
        state = self._cluster(cid).state.value  # type: ignore[union-attr]
        if state != "TERMINATED":
            raise self._api_error(400, "INVALID_STATE", f"Cluster {cid} is in unexpected state {state.title()}.")
        self.cluster_state[cid].move("PENDING", "RUNNING", self.transition_s)
        return {}

    # ------------------------------------------------------------------ Unity Catalog grants
    def _grant_list(self, kind: str, full: str) -> list[tuple[str, str]]:
        try:
            return self.toy.securable(kind, full)[1]
        except LookupError as exc:
            raise self._api_error(404, "NOT_FOUND", str(exc)) from None

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
