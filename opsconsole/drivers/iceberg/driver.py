"""Iceberg lakehouse driver: table files, snapshots, layer lag and maintenance.

Seed 002 watches Iceberg tables through Trino (``SELECT COUNT(*) FROM
t.files``) and maintains them with Spark jobs. The console talks to the
catalog directly with pyiceberg instead (REST or SQL catalog, S3 or local
storage), so it needs neither engine: figures come from snapshot summaries
(cheap, see :mod:`opsconsole.drivers.iceberg.ops`), maintenance runs in process.

The catalog is created lazily on a worker thread and dropped whenever a call
fails, so a catalog database or REST server that went away is reconnected on
the next poll instead of leaving a dead connection pool behind.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opsconsole.drivers.base import Driver, OptionSpec
from opsconsole.drivers.iceberg.catalog import (
    catalog_properties,
    classify,
    load,
    redact_uri,
    secret_values,
    wrap_secrets,
)
from opsconsole.errors import AuthError, DriverError, DriverTimeout, DriverUnavailable
from opsconsole.model import ActionResult, ActionSpec, Health, LagSample, Pane, ServiceStatus, TableStats

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

TABLE_NAME = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)+$")


class IcebergDriver(Driver):
    """Iceberg tables of one catalog: Tables, Lag and catalog health."""

    kind = "iceberg"
    description = "Apache Iceberg tables through pyiceberg (REST or SQL catalog; S3 or local storage)."
    panes = frozenset({Pane.SERVICES, Pane.TABLES, Pane.LAG})
    extra_checks = frozenset({"lag_rows"})
    options = (
        OptionSpec("catalog_uri", str, required=True,
                   help="REST catalog URL (http://...) or SQLAlchemy URL of a SQL catalog "
                        "(postgresql+psycopg2://..., sqlite:///...); put passwords in catalog_password"),
        OptionSpec("catalog_type", str, default="auto", help="rest, sql, or auto (from the URI scheme)"),
        OptionSpec("catalog_name", str, default="iceberg", help="catalog name (SQL catalogs keep it in every row)"),
        OptionSpec("catalog_password", str, default="", secret=True,
                   help="password added to a SQL catalog URI"),
        OptionSpec("token", str, default="", secret=True, help="bearer token for a REST catalog"),
        OptionSpec("catalog_token", str, default="", secret=True, help="older name of token"),
        OptionSpec("credential", str, default="", secret=True,
                   help="OAuth2 client credentials client_id:client_secret (REST catalog)"),
        OptionSpec("oauth2_server_uri", str, default="", help="OAuth2 token endpoint (default: the catalog's)"),
        OptionSpec("scope", str, default="", help="OAuth2 scope, e.g. PRINCIPAL_ROLE:ALL (Polaris)"),
        OptionSpec("audience", str, default="", help="OAuth2 audience (REST catalog)"),
        OptionSpec("resource", str, default="", help="OAuth2 resource (REST catalog)"),
        OptionSpec("prefix", str, default="", help="REST URL prefix (/v1/{prefix}/...) when the server does not "
                                                   "derive it from the warehouse"),
        OptionSpec("headers", dict, default={}, help="extra HTTP headers sent to a REST catalog"),
        OptionSpec("properties", dict, default={},
                   help="any other pyiceberg catalog property, passed as is (wins over the options above)"),
        OptionSpec("warehouse", str, default="",
                   help="warehouse: s3://bucket/ or file:///path (SQL), or the warehouse name a REST server "
                        "maps to its prefix"),
        OptionSpec("s3_endpoint", str, default="", help="S3-compatible endpoint (MinIO, moto); empty = AWS"),
        OptionSpec("s3_access_key", str, default=""),
        OptionSpec("s3_secret_key", str, default="", secret=True),
        OptionSpec("s3_region", str, default="us-east-1"),
        OptionSpec("tables", list, default=[],
                   help="namespace.table names to watch; empty = every table of every namespace"),
        OptionSpec("layers", dict, default={},
                   help="layer name -> table, in pipeline order (raw, staging, ...); "
                        "consecutive layers are compared as row lag"),
        OptionSpec("max_tables", int, default=200, help="cap on discovered tables per poll"),
        OptionSpec("compact_target_bytes", int, default=128 * 1024 * 1024,
                   help="compaction packs small files into bins of about this many bytes and rewrites one bin "
                        "at a time (bounds memory)"),
    )
    actions = (
        ActionSpec("snapshots", "List snapshots",
                   effect="Read-only: lists the table's snapshots (id, time, operation, rows, files).",
                   mutating=False, params=("table",)),
        ActionSpec("compact", "Compact table",
                   effect="Rewrites the table's small data files into files of about compact_target_bytes in ONE "
                          "'replace' snapshot (as Iceberg's RewriteDataFiles): rows are unchanged and incremental "
                          "readers see no new data; older snapshots still reference the old files (rollback is "
                          "possible until they are expired). One bin of files is in memory at a time.",
                   mutating=True, dangerous=True, params=("table",)),
        ActionSpec("expire_snapshots", "Expire old snapshots",
                   effect="Removes snapshots older than N days from the table's metadata (time travel and "
                          "rollback to them become impossible), then DELETES from storage the data files, "
                          "manifests and manifest lists that only those snapshots referenced (never a file a "
                          "remaining snapshot, branch or tag needs). Current rows are unchanged. Each deleted "
                          "file is written to the audit log.",
                   mutating=True, dangerous=True, irreversible=True, params=("table", "older_than_days")),
        ActionSpec("rollback", "Roll back to snapshot",
                   effect="Makes another snapshot the table's current state: every row committed after it "
                          "disappears from queries, and writes made after the rollback build on it. The previous "
                          "current snapshot is recorded, so rolling back to it undoes this.",
                   mutating=True, dangerous=True, irreversible=True, params=("table", "snapshot_id")),
    )

    def __init__(self, name: str, options: Mapping[str, Any], *, timeout: float = 10.0) -> None:
        super().__init__(name, options, timeout=timeout)
        self._catalog: Catalog | None = None
        self._catalog_lock = threading.Lock()
        """Polls load tables on several threads; only one may create the catalog."""
        layers = self.config.get("layers") or {}
        if not isinstance(layers, Mapping) or not all(isinstance(v, str) for v in layers.values()):
            raise DriverError(f"{name}: option layers must map layer names to namespace.table strings")
        self._layers: dict[str, str] = {str(k): v for k, v in layers.items()}
        self._layer_of: dict[str, str] = {table: layer for layer, table in self._layers.items()}
        tables = self.config.get("tables") or []
        self._tables: list[str] = [str(t) for t in tables]
        try:
            for key in ("properties", "headers"):
                self.config[key] = wrap_secrets(self.config.get(key), key)
        except TypeError as exc:
            raise DriverError(f"{name}: {exc}") from None

    # ------------------------------------------------------------------ catalog
    @property
    def catalog_type(self) -> str:
        kind = str(self.config.get("catalog_type") or "auto").lower()
        if kind == "auto":
            scheme = urlsplit(str(self.config["catalog_uri"])).scheme.lower()
            return "rest" if scheme in {"http", "https"} else "sql"
        if kind not in {"rest", "sql"}:
            raise DriverError(f"{self.name}: catalog_type must be rest, sql or auto, not {kind!r}")
        return kind

    def _catalog_properties(self) -> dict[str, str]:
        defaults = {o.name: o.default for o in self.options}
        return catalog_properties(self.config, self.catalog_type, self.timeout, defaults)

    def _load_catalog(self) -> Catalog:
        with self._catalog_lock:
            if self._catalog is None:
                self._catalog = load(str(self.config.get("catalog_name") or "iceberg"), self._catalog_properties())
            return self._catalog

    def _drop_catalog(self) -> None:
        """Forget the catalog (and its connection pool) after a failure."""
        catalog, self._catalog = self._catalog, None
        engine = getattr(catalog, "engine", None)
        if engine is not None:
            try:
                engine.dispose()
            except Exception:
                pass

    async def _call(self, fn: Any, *args: Any, what: str, timeout: float | None = None) -> Any:
        """Run a catalog call on the pool; on failure drop the catalog so the next call reconnects."""
        try:
            return await self.run_sync(fn, *args, what=what, timeout=timeout)
        except DriverTimeout as exc:
            self._drop_catalog()
            raise DriverTimeout(self._scrub(str(exc))) from exc
        except DriverUnavailable as exc:
            self._drop_catalog()
            where = f"{self.catalog_type} catalog {redact_uri(str(self.config['catalog_uri']))}"
            text = f"{self.name}: {what} failed: {classify(exc.__cause__ or exc, where=where, prefix=self._prefix())}"
            if "failed: credentials rejected" in text:
                raise AuthError(self._scrub(text)) from exc
            raise DriverUnavailable(self._scrub(text)) from exc

    def _prefix(self) -> str:
        return str(self.config.get("prefix") or (self.config.get("properties") or {}).get("prefix") or "")

    def _scrub(self, text: str) -> str:
        """Remove secrets an SDK error message might echo back."""
        for value in secret_values(self.config):
            text = text.replace(value, "***")
        return text

    def _load_table(self, ident: str) -> Table:
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self._load_catalog().load_table(ident)
        except NoSuchTableError as exc:
            raise DriverError(f"{self.name}: table {ident} does not exist in catalog "
                              f"{self.config.get('catalog_name')!r}") from exc

    def _watched(self) -> list[str]:
        """Tables to report: configured ones (tables + layers), or every table found."""
        names = list(dict.fromkeys([*self._tables, *self._layers.values()]))
        if names:
            return names
        catalog = self._load_catalog()
        found: list[str] = []
        limit = int(self.config.get("max_tables") or 200)
        for ns in catalog.list_namespaces():
            for ident in catalog.list_tables(ns):
                found.append(".".join(ident))
                if len(found) >= limit:
                    return found
        return found

    def _layer(self, ident: str) -> str:
        return self._layer_of.get(ident, ident.rsplit(".", 1)[0])

    # ------------------------------------------------------------------ panes
    async def health(self) -> list[ServiceStatus]:
        """One row for the catalog: CRITICAL when it cannot be listed (IcebergCatalogDown)."""
        started = time.perf_counter()
        where = redact_uri(str(self.config["catalog_uri"]))
        try:
            await self._call(lambda: self._load_catalog().list_namespaces(), what="list namespaces")
        except DriverError as exc:
            return [ServiceStatus(name=f"{self.name} catalog", health=Health.CRITICAL,
                                  detail=f"{self.catalog_type} catalog {where}: {exc}",
                                  checked_at=datetime.now(UTC), source=self.name)]
        latency = (time.perf_counter() - started) * 1000
        return [ServiceStatus(name=f"{self.name} catalog", health=Health.OK,
                              detail=f"{self.catalog_type} catalog {where}", latency_ms=latency,
                              checked_at=datetime.now(UTC), source=self.name,
                              extra={"catalog_type": self.catalog_type})]

    async def table_stats(self) -> list[TableStats]:
        """File count, size, rows, snapshots and last commit of every watched table."""
        from opsconsole.drivers.iceberg import ops as iceberg_ops

        idents = await self._call(self._watched, what="list tables")

        def one(ident: str) -> TableStats:
            return iceberg_ops.table_stats(self._load_table(ident), ident, self._layer(ident), self.name)

        return list(await asyncio.gather(*(self._call(one, i, what=f"load {i}") for i in idents)))

    async def lag(self) -> list[LagSample]:
        """Rows present upstream but not yet downstream, for each consecutive layer pair."""
        from opsconsole.drivers.iceberg import ops as iceberg_ops

        pairs = list(zip(self._layers.items(), list(self._layers.items())[1:], strict=False))
        if not pairs:
            return []
        idents = list(dict.fromkeys(t for layer_pair in pairs for _, t in layer_pair))

        def count(ident: str) -> int:
            return iceberg_ops.row_count(self._load_table(ident))

        counts = dict(zip(idents, await asyncio.gather(
            *(self._call(count, i, what=f"count {i}") for i in idents)), strict=True))
        now = datetime.now(UTC)
        return [LagSample(name=f"{up_layer} -> {down_layer}", lag=float(counts[up] - counts[down]), unit="rows",
                          upstream=float(counts[up]), downstream=float(counts[down]), measured_at=now,
                          detail=f"{up}: {counts[up]} rows, {down}: {counts[down]} rows", source=self.name)
                for (up_layer, up), (down_layer, down) in pairs]

    # ------------------------------------------------------------------ actions
    def _check_table(self, table: Any) -> str:
        ident = str(table or "").strip()
        if not TABLE_NAME.match(ident):
            raise DriverError(f"{self.name}: expected a table as namespace.table, got {table!r}")
        return ident

    async def action_snapshots(self, table: str) -> ActionResult:
        from opsconsole.drivers.iceberg import ops as iceberg_ops

        ident = self._check_table(table)
        rows = await self._call(lambda: iceberg_ops.snapshots(self._load_table(ident)), what=f"snapshots {ident}")
        lines = [f"{'snapshot_id':>20}  {'committed (UTC)':19}  {'operation':9}  {'rows':>10}  {'files':>6}  "]
        for s in rows:
            mark = "current" if s.is_current else (
                "" if s.is_ancestor else "off the current history (rollback sets the table back to it)")
            lines.append(f"{s.snapshot_id:>20}  {s.committed_at:%Y-%m-%d %H:%M:%S}  {s.operation:9}  "
                         f"{'' if s.records is None else s.records:>10}  "
                         f"{'' if s.data_files is None else s.data_files:>6}  {mark}")
        return ActionResult(ok=True, message=f"{ident}: {len(rows)} snapshots", output="\n".join(lines))

    async def action_compact(self, table: str) -> ActionResult:
        from opsconsole.drivers.iceberg import ops as iceberg_ops

        ident = self._check_table(table)
        target = int(self.config.get("compact_target_bytes") or 0) or None

        def run() -> Any:
            try:
                return iceberg_ops.compact(self._load_table(ident), target_bytes=target)
            except iceberg_ops.CompactionConflict as exc:
                raise DriverError(f"{self.name}: {ident}: {exc}") from exc

        # Compaction rewrites data: allow it far longer than a poll.
        result = await self._call(run, what=f"compact {ident}", timeout=max(self.timeout, 600.0))
        if not result.files_rewritten:
            return ActionResult(ok=True, message=f"{ident}: nothing to compact ({result.files_before} data files, "
                                                 "none small enough to merge)")
        return ActionResult(ok=True, message=f"{ident}: {result.files_before} -> {result.files_after} data files "
                                             f"({result.files_rewritten} rewritten into {result.files_added} in "
                                             f"{result.bins} bin(s), {result.records} rows) in replace snapshot "
                                             f"{result.snapshot_id}"
                                             + (f" after {result.attempts} attempts" if result.attempts > 1 else ""))

    def _audit_removal(self, ident: str, cutoff: datetime) -> Any:
        """A callback writing one audit line per file deleted by an expiry (path, kind, bytes, outcome)."""
        from opsconsole.audit import AuditLog

        log = AuditLog()
        run_id = f"expire-{ident}-{int(time.time() * 1000)}"

        def record(item: Any) -> None:
            log.write(log.event(run_id=run_id, phase="file-delete", procedure="iceberg.expire_snapshots",
                                driver=self.name, ref="iceberg.expire_snapshots", target=item.path,
                                params={"table": ident, "kind": item.kind, "bytes": item.size,
                                        "older_than": cutoff.isoformat()},
                                outcome="failed" if item.error else "ok",
                                message=item.error or f"deleted {item.kind} file ({item.size} bytes), referenced "
                                                      "only by expired snapshots"))

        return record

    async def action_expire_snapshots(self, table: str, older_than_days: int | float | str = 7) -> ActionResult:
        from opsconsole.drivers.iceberg import ops as iceberg_ops

        ident = self._check_table(table)
        try:
            days = float(older_than_days)
        except (TypeError, ValueError):
            raise DriverError(f"{self.name}: older_than_days must be a number, got {older_than_days!r}") from None
        if days < 0:
            raise DriverError(f"{self.name}: older_than_days must be >= 0, got {days:g}")
        cutoff = datetime.now(UTC) - timedelta(days=days)
        on_delete = self._audit_removal(ident, cutoff)

        def run() -> Any:
            from pyiceberg.exceptions import BadRequestError, ForbiddenError

            table = self._load_table(ident)
            try:
                return iceberg_ops.expire_snapshots(table, cutoff, on_delete)
            except (ForbiddenError, BadRequestError, NotImplementedError) as exc:
                # Some REST servers run their own maintenance and refuse this commit (403/400/501).
                raise DriverError(f"{self.name}: {ident}: the catalog refused client-side snapshot expiry, "
                                  f"nothing was deleted ({exc}); it may run its own maintenance: expire "
                                  "snapshots with the catalog's tools") from exc

        result = await self._call(run, what=f"expire snapshots {ident}", timeout=max(self.timeout, 600.0))
        kinds: dict[str, int] = {}
        for f in result.removed:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        message = (f"{ident}: expired {result.expired} snapshots older than {days:g} days "
                   f"(before {cutoff:%Y-%m-%d %H:%M} UTC); deleted {len(result.removed)} files"
                   + (f" ({detail})" if detail else "") + f", {result.bytes_freed} bytes freed"
                   + (f"; {result.kept_live} still used by remaining snapshots/refs kept" if result.kept_live else "")
                   + (f"; {len(result.failed)} could not be deleted (see output)" if result.failed else ""))
        output = "\n".join([f"deleted {f.kind:13} {f.size:>12}  {f.path}" for f in result.removed]
                           + [f"FAILED  {f.kind:13} {f.size:>12}  {f.path}: {f.error}" for f in result.failed])
        return ActionResult(ok=not result.failed, message=message, output=output)

    async def preview_action(self, name: str, params: Mapping[str, Any]) -> str:
        """What a rollback would return to (summary, time, current state), shown before the typed confirmation."""
        if name != "rollback":
            return ""
        from opsconsole.drivers.iceberg import ops as iceberg_ops

        ident = self._check_table(params.get("table"))
        target = int(params.get("snapshot_id"))  # type: ignore[arg-type]
        return await self._call(lambda: iceberg_ops.describe_snapshot(self._load_table(ident), target),
                                what=f"describe snapshot {target}")

    async def action_rollback(self, table: str, snapshot_id: int | str) -> ActionResult:
        from opsconsole.drivers.iceberg import ops as iceberg_ops

        ident = self._check_table(table)
        try:
            target = int(snapshot_id)
        except (TypeError, ValueError):
            raise DriverError(f"{self.name}: snapshot_id must be an integer, got {snapshot_id!r}") from None

        def run() -> Any:
            try:
                return iceberg_ops.rollback(self._load_table(ident), target)
            except ValueError as exc:
                raise DriverError(f"{self.name}: {ident}: {exc}") from exc

        snap, previous = await self._call(run, what=f"rollback {ident}", timeout=max(self.timeout, 120.0))
        undo = (f"; previous current snapshot {previous} (undo: rollback table={ident} snapshot_id={previous})"
                if previous is not None and previous != snap.snapshot_id else "")
        return ActionResult(ok=True, message=f"{ident}: current snapshot is now {snap.snapshot_id} "
                                             f"({snap.records} rows, committed {snap.committed_at:%Y-%m-%d %H:%M:%S}"
                                             f" UTC){undo}")

    async def close(self) -> None:
        self._drop_catalog()
        await super().close()


__all__ = ["IcebergDriver", "redact_uri"]
