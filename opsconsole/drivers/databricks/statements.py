"""SQL statements on the warehouse: maintenance, time travel, grants, backups.

A mixin of :class:`~opsconsole.drivers.databricks.driver.DatabricksDriver`, split out
to keep each module short. Statements go through the Statement Execution API
asynchronously (``wait_timeout=0s``) and are polled from the event loop; when
the caller gives up (task cancelled, ``statement_timeout`` reached, the
workspace stops answering) the statement is cancelled on the warehouse too, so
an abandoned OPTIMIZE does not keep burning the warehouse. SQL text comes only
from :mod:`opsconsole.drivers.databricks.sql`, which validates and quotes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from opsconsole.drivers.databricks import sql as dsql
from opsconsole.errors import ActionRefused, DriverError, DriverTimeout, DriverUnavailable
from opsconsole.model import ActionResult

T = TypeVar("T")
Progress = Callable[[str], None] | None
TERMINAL_STATEMENT = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "CLOSED"})


class StatementActions:
    """Statement-backed actions; the host class provides the plumbing declared below."""

    name: str
    warehouse_id: str | None
    catalog: str | None
    schema: str | None
    _running: dict[str, str]

    async def _call(self, what: str, fn: Callable[[Any], T], timeout: float | None = None) -> T:
        raise NotImplementedError

    def _need(self, facet: str) -> None:
        raise NotImplementedError

    def _num(self, key: str, default: float) -> float:
        raise NotImplementedError

    def _opt(self, key: str) -> str | None:
        raise NotImplementedError

    async def _statement(self, sql: str, what: str, progress: Progress = None) -> ActionResult:
        """Execute one statement asynchronously, poll it, cancel it on the warehouse if we give up."""
        self._need("warehouse")

        def submit(w: Any) -> dict[str, Any]:
            from databricks.sdk.service.sql import ExecuteStatementRequestOnWaitTimeout

            return w.statement_execution.execute_statement(
                statement=sql, warehouse_id=self.warehouse_id, catalog=self.catalog, schema=self.schema,
                wait_timeout="0s", on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CONTINUE).as_dict()

        started = time.monotonic()
        resp = await self._call(what, submit)
        sid = resp["statement_id"]
        self._running[sid] = sql
        deadline = started + self._num("statement_timeout", 900)
        delay = min(0.25, self._num("poll_interval", 5))
        last = None
        try:
            while (state := (resp.get("status") or {}).get("state")) not in TERMINAL_STATEMENT:
                if state != last and progress:
                    progress(f"{time.monotonic() - started:6.1f}s  {what}: {state}")
                last = state
                if time.monotonic() > deadline:
                    raise DriverTimeout(f"{self.name}: {what} still {state} after "
                                        f"{self._num('statement_timeout', 900):g}s; cancelled")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._num("poll_interval", 5))
                try:
                    resp = await self._call(what, lambda w: w.statement_execution.get_statement(sid).as_dict())
                except DriverUnavailable as exc:
                    # A throttled or dropped poll says nothing about the statement, which keeps running on the
                    # warehouse: wait and poll again; only the user or the statement's deadline cancels it.
                    wait = max(delay, getattr(exc, "retry_after", 0.0))
                    wait = min(wait, max(0.0, deadline - time.monotonic()))
                    if progress:
                        progress(f"{time.monotonic() - started:6.1f}s  {what}: poll failed ({exc}); "
                                 f"retrying in {wait:.0f}s")
                    await asyncio.sleep(wait)
        except (asyncio.CancelledError, DriverError):
            await self._cancel(sid)
            raise
        finally:
            self._running.pop(sid, None)
        took = time.monotonic() - started
        if state == "SUCCEEDED":
            cols = [c.get("name", "") for c in ((resp.get("manifest") or {}).get("schema") or {}).get("columns", [])]
            data = (resp.get("result") or {}).get("data_array") or []
            return ActionResult(True, f"{what} succeeded in {took:.1f}s (statement {sid})",
                                dsql.format_result(cols, data))
        error = (resp.get("status") or {}).get("error") or {}
        return ActionResult(False, f"{what} {state}: {error.get('message') or 'no message'}", sql)

    async def _cancel(self, sid: str) -> None:
        """Best effort: ask the warehouse to stop a statement we no longer wait for."""
        try:
            await asyncio.shield(self._call("cancel statement",
                                            lambda w: w.statement_execution.cancel_execution(sid)))
        except (DriverError, asyncio.CancelledError):
            pass

    async def action_statements_cancel(self) -> ActionResult:
        """Cancel every statement this console is still waiting on."""
        ids = list(self._running)
        for sid in ids:
            await self._call("cancel statement", lambda w, sid=sid: w.statement_execution.cancel_execution(sid))
        return ActionResult(True, f"asked the warehouse to cancel {len(ids)} statement(s)", "\n".join(ids))

    def _table(self, table: str) -> str:
        return dsql.qualified(table, self.catalog, self.schema)

    async def action_table_optimize(self, table: str, zorder: str = "", progress: Progress = None) -> ActionResult:
        return await self._statement(dsql.optimize(self._table(table), zorder), f"OPTIMIZE {table}", progress)

    async def action_table_vacuum(self, table: str, retain_hours: Any = 168, progress: Progress = None) -> ActionResult:
        return await self._statement(dsql.vacuum(self._table(table), retain_hours), f"VACUUM {table}", progress)

    async def action_table_analyze(self, table: str, progress: Progress = None) -> ActionResult:
        return await self._statement(dsql.analyze(self._table(table)), f"ANALYZE {table}", progress)

    async def action_table_history(self, table: str, limit: Any = 20) -> ActionResult:
        return await self._statement(dsql.describe_history(self._table(table), limit), f"DESCRIBE HISTORY {table}")

    async def action_table_restore(self, table: str, version: Any = None, timestamp: Any = None,
                                   progress: Progress = None) -> ActionResult:
        sql = dsql.restore(self._table(table), version, timestamp)
        point = f"version {version}" if version not in (None, "") else f"{dsql.utc_timestamp(timestamp)} UTC"
        return await self._statement(sql, f"RESTORE {table} to {point}", progress)

    async def action_grants_show(self, securable: str = "TABLE", name: str = "") -> ActionResult:
        """Privileges on a securable: SQL on the warehouse, or the Unity Catalog REST API without one."""
        kind = dsql.securable(securable)
        parts = self._securable_parts(kind, name)
        if self.warehouse_id:
            target = ".".join(dsql.quote(p) for p in parts)
            return await self._statement(dsql.show_grants(kind, target), f"SHOW GRANTS ON {kind} {name}")
        full = ".".join(parts)
        found = await self._call(f"grants on {kind} {full}",
                                 lambda w: w.grants.get(kind.lower(), full).as_dict())
        lines = [(a.get("principal", ""), p, kind, full) for a in found.get("privilege_assignments", [])
                 for p in a.get("privileges", [])]
        return ActionResult(True, f"{len(lines)} grant(s) on {kind} {full}",
                            dsql.format_result(["Principal", "ActionType", "ObjectType", "ObjectKey"],
                                               [[who, p.replace("_", " "), k, key] for who, p, k, key in lines]))

    async def action_grant(self, privileges: str, principal: str, securable: str = "TABLE",
                           name: str = "") -> ActionResult:
        """GRANT privileges; principal ``@app`` is the app's service principal (its application id)."""
        kind = dsql.securable(securable)
        privs = dsql.privileges(privileges)
        parts = self._securable_parts(kind, name)
        who = await self._principal(principal)
        if self.warehouse_id:
            sql = dsql.grant(privs, kind, ".".join(dsql.quote(p) for p in parts), who)
            return await self._statement(sql, f"GRANT on {kind} {name} to {who}")
        full = ".".join(parts)

        def update(w: Any) -> dict[str, Any]:
            from databricks.sdk.service.catalog import PermissionsChange, Privilege

            change = PermissionsChange(principal=who, add=[Privilege(p.replace(" ", "_")) for p in privs])
            return w.grants.update(kind.lower(), full, changes=[change]).as_dict()

        await self._call(f"grant on {kind} {full}", update)
        return ActionResult(True, f"granted {', '.join(privs)} on {kind} {full} to {who}")

    async def _principal(self, principal: str) -> str:
        """The principal as SQL GRANT wants it; ``@app`` reads the app's ``service_principal_client_id``.

        SQL GRANT names a service principal by its application id, not by the
        numeric ``service_principal_id`` that ``databricks apps get`` shows first.
        """
        text = str(principal or "").strip()
        if text.lower() != "@app":
            dsql.principal(text)
            return text
        if not self.app:
            raise ActionRefused(f"{self.name}: principal @app needs an app in the profile (set app)")
        app = await self._call(f"get app {self.app}", lambda w: w.apps.get(self.app).as_dict())
        client_id = app.get("service_principal_client_id")
        if not client_id:
            raise ActionRefused(f"app {self.app} reports no service_principal_client_id")
        return str(client_id)

    def _securable_parts(self, kind: str, name: str) -> list[str]:
        """Validated name parts of a catalog (1), schema (2) or table-like object (3), completed from the profile."""
        depth = {"CATALOG": 1, "SCHEMA": 2}.get(kind, 3)
        given = dsql.split_name(name, what=kind.lower()) if name else []
        if len(given) > depth:
            raise ActionRefused(f"{kind.lower()} name {name!r} has too many parts")
        prefix = [self.catalog, self.schema][: depth - len(given)]
        if not all(prefix):
            raise ActionRefused(f"{kind.lower()} {name!r} is not fully qualified and the profile sets no "
                                "catalog/schema")
        parts = [str(p) for p in prefix] + given
        for part in parts:
            dsql.split_name(part, what=kind.lower())
        return parts

    async def action_table_backup(self, table: str, target: str = "", progress: Progress = None) -> ActionResult:
        """CTAS snapshot ``<schema>_backups.<table>_backup_<yyyymmdd>`` unless a target is given (seed 000)."""
        source = self._table(table)
        if not target:
            short = dsql.split_name(table)[-1]
            backup_schema = self._opt("backup_schema") or f"{self.schema}_backups"
            target = f"{self.catalog}.{backup_schema}.{short}_backup_{datetime.now(UTC):%Y%m%d}"
        return await self._statement(dsql.backup(source, self._table(target)), f"backup {table} -> {target}",
                                     progress)
