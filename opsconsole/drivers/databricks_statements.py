"""SQL statements on the warehouse: maintenance, time travel, grants, backups.

A mixin of :class:`~opsconsole.drivers.databricks.DatabricksDriver`, split out
to keep each module short. Statements go through the Statement Execution API
asynchronously (``wait_timeout=0s``) and are polled from the event loop; when
the caller gives up (task cancelled, ``statement_timeout`` reached, the
workspace stops answering) the statement is cancelled on the warehouse too, so
an abandoned OPTIMIZE does not keep burning the warehouse. SQL text comes only
from :mod:`opsconsole.drivers.databricks_sql`, which validates and quotes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from opsconsole.drivers import databricks_sql as dsql
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
        return await self._statement(sql, f"RESTORE {table}", progress)

    async def action_grants_show(self, securable: str = "TABLE", name: str = "") -> ActionResult:
        kind = dsql.securable(securable)
        target = self._securable_name(kind, name)
        return await self._statement(dsql.show_grants(kind, target), f"SHOW GRANTS ON {kind} {name}")

    async def action_grant(self, privileges: str, principal: str, securable: str = "TABLE",
                           name: str = "") -> ActionResult:
        kind = dsql.securable(securable)
        sql = dsql.grant(privileges, kind, self._securable_name(kind, name), principal)
        return await self._statement(sql, f"GRANT on {kind} {name}")

    def _securable_name(self, kind: str, name: str) -> str:
        """Quoted name of a catalog (1 part), schema (2) or table-like object (3), completed from the profile."""
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
        return ".".join(dsql.quote(p) for p in parts)

    async def action_table_backup(self, table: str, target: str = "", progress: Progress = None) -> ActionResult:
        """CTAS snapshot ``<schema>_backups.<table>_backup_<yyyymmdd>`` unless a target is given (seed 000)."""
        source = self._table(table)
        if not target:
            short = dsql.split_name(table)[-1]
            backup_schema = self._opt("backup_schema") or f"{self.schema}_backups"
            target = f"{self.catalog}.{backup_schema}.{short}_backup_{datetime.now(UTC):%Y%m%d}"
        return await self._statement(dsql.backup(source, self._table(target)), f"backup {table} -> {target}",
                                     progress)
