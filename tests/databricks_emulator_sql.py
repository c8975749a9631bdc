"""The emulator's toy Unity Catalog: Delta tables, versions and grants, driven by SQL shapes.

Part of the Databricks TEST DOUBLE (see :mod:`databricks_emulator`). SQL is not
executed: a few regexes recognise the statement shapes opsconsole sends and
update an in-memory catalog, so a test can see e.g. that a RESTORE adds a
history entry. Anything else, or an unknown table, FAILS like Databricks would
(TABLE_OR_VIEW_NOT_FOUND, PARSE_SYNTAX_ERROR); a principal without write
privileges gets Databricks' INSUFFICIENT_PERMISSIONS error for a mutating
statement. The same grants back the REST grants API
(``/api/2.1/unity-catalog/permissions``).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

READ_ONLY_SQL = re.compile(r"\s*(SELECT|DESCRIBE|SHOW)\b", re.I)


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
class SqlResult:
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    error: tuple[str, str] | None = None
    """(error_code, message) as the Statement Execution API reports them."""


class ToyCatalog:
    """Tables (``catalog.schema.table``, lower case) and grants on tables, schemas and catalogs."""

    IDENT = r"(?:`(?:[^`]|``)+`|[A-Za-z_][A-Za-z0-9_]*)"
    NAME = rf"({IDENT}(?:\.{IDENT}){{0,2}})"

    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}
        self.other_grants: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.executed: list[str] = []
        """Statements that reached the catalog, in order (what a test asserts on)."""

    def add_table(self, name: str, versions: int = 3) -> Table:
        table = Table(name=name.lower())
        table.commit("CREATE TABLE")
        for _ in range(versions - 1):
            table.commit("WRITE", {"mode": "Append"})
        self.tables[table.name] = table
        return table

    def table(self, quoted: str, catalog: str | None = None, schema: str | None = None) -> Table:
        parts = [p[1:-1].replace("``", "`") if p.startswith("`") else p for p in re.findall(self.IDENT, quoted)]
        full = ".".join([d or "" for d in (catalog, schema)][: 3 - len(parts)] + parts).lower()
        if full not in self.tables:
            raise LookupError(f"[TABLE_OR_VIEW_NOT_FOUND] The table or view {quoted} cannot be found.")
        return self.tables[full]

    def securable(self, kind: str, quoted: str, catalog: str | None = None,
                  schema: str | None = None) -> tuple[str, list[tuple[str, str]]]:
        """Key and grant list of a table, schema or catalog (schemas/catalogs exist if a table is in them)."""
        if kind.upper() == "TABLE":
            table = self.table(quoted, catalog, schema)
            return table.name, table.grants
        key = quoted.replace("`", "").lower()
        if not any(name.startswith(key + ".") for name in self.tables):
            raise LookupError(f"[NO_SUCH_{kind.upper()}_EXCEPTION] {kind.title()} {quoted} not found.")
        return key, self.other_grants.setdefault((kind.upper(), key), [])

    def run(self, sql_text: str, catalog: str | None, schema: str | None, *, may_write: bool = True) -> SqlResult:
        """Apply one statement; errors come back in the result (HTTP 200, state FAILED), as on Databricks."""
        sql = sql_text.strip().rstrip(";")
        n, out = self.NAME, SqlResult()
        self.executed.append(sql_text)
        try:
            if not may_write and not READ_ONLY_SQL.match(sql):
                target = re.search(n, sql.split(" ON ")[-1] if " ON " in sql else sql.split(None, 2)[-1])
                raise PermissionError("[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have "
                                      f"MODIFY on Table '{target.group(1) if target else '?'}'.")
            if re.fullmatch(r"SELECT 1", sql, re.I):
                out.columns, out.rows = ["1"], [[1]]
            elif m := re.fullmatch(rf"OPTIMIZE {n}(?: ZORDER BY \((.+)\))?", sql, re.I):
                table = self.table(m.group(1), catalog, schema)
                table.commit("OPTIMIZE", {"zOrderBy": m.group(2) or "[]"})
                out.columns, out.rows = ["path", "metrics"], [[table.name, '{"numFilesAdded": 1}']]
            elif m := re.fullmatch(rf"VACUUM {n} RETAIN (\d+) HOURS", sql, re.I):
                table = self.table(m.group(1), catalog, schema)
                table.commit("VACUUM END", {"retain": m.group(2)})
                out.columns, out.rows = ["path"], [[f"dbfs:/tables/{table.name}"]]
            elif m := re.fullmatch(rf"ANALYZE TABLE {n} COMPUTE STATISTICS(?: FOR ALL COLUMNS)?", sql, re.I):
                self.table(m.group(1), catalog, schema)
            elif m := re.fullmatch(rf"DESCRIBE HISTORY {n}(?: LIMIT (\d+))?", sql, re.I):
                table = self.table(m.group(1), catalog, schema)
                out.columns = ["version", "timestamp", "operation", "operationParameters"]
                out.rows = [[v[c] for c in out.columns] for v in reversed(table.versions)][:int(m.group(2) or 1000)]
            elif m := re.fullmatch(rf"RESTORE TABLE {n} TO (VERSION|TIMESTAMP) AS OF (\d+|'[^']+')", sql, re.I):
                table = self.table(m.group(1), catalog, schema)
                if m.group(2).upper() == "VERSION" and int(m.group(3)) >= len(table.versions):
                    raise LookupError(f"[DELTA_VERSION_NOT_FOUND] Cannot time travel Delta table to version "
                                      f"{m.group(3)}. Available versions: [0, {len(table.versions) - 1}].")
                table.commit("RESTORE", {m.group(2).lower(): m.group(3)})
                out.columns, out.rows = ["table_size_after_restore", "num_of_files_after_restore"], [[1024, 4]]
            elif m := re.fullmatch(rf"SHOW GRANTS ON (TABLE|SCHEMA|CATALOG) {n}", sql, re.I):
                key, grants = self.securable(m.group(1), m.group(2), catalog, schema)
                out.columns = ["Principal", "ActionType", "ObjectType", "ObjectKey"]
                out.rows = [[p, a, m.group(1).upper(), key] for p, a in grants]
            elif m := re.fullmatch(rf"GRANT ([A-Z ,]+) ON (TABLE|SCHEMA|CATALOG) {n} TO `((?:[^`]|``)+)`", sql, re.I):
                _, grants = self.securable(m.group(2), m.group(3), catalog, schema)
                who = m.group(4).replace("``", "`")
                for privilege in (p.strip().upper() for p in m.group(1).split(",")):
                    if (who, privilege) not in grants:
                        grants.append((who, privilege))
            elif m := re.fullmatch(rf"CREATE TABLE {n} AS SELECT \* FROM {n}", sql, re.I):
                source = self.table(m.group(2), catalog, schema)
                target = m.group(1).replace("`", "").lower()
                if target in self.tables:
                    raise LookupError(f"[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table {m.group(1)}.")
                self.add_table(target, versions=1)
                out.columns, out.rows = ["num_affected_rows", "num_inserted_rows"], [[len(source.versions), 0]]
            else:
                out.error = ("BAD_REQUEST", f"[PARSE_SYNTAX_ERROR] emulator does not understand: {sql[:80]}")
        except (LookupError, PermissionError) as exc:
            out.error = ("BAD_REQUEST", str(exc).strip("'\""))
        return out
