"""The OSAA runbook's data-quality SQL (seed 003), as functions over DuckDB.

Each function takes an open DuckDB connection (read-only is enough) and table
or column names from the profile, runs one of the seed's queries and returns
plain figures. They import nothing heavy themselves and know nothing about
panes or alerts, so the driver, a benchmark or a runbook probe can share them.

Names come from configuration, never from the screen; they are still quoted as
identifiers so a dotted ``schema.table`` or an odd column name cannot change
the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

INTERNAL_SCHEMAS = frozenset({"information_schema", "pg_catalog"})


def quote_ident(name: str) -> str:
    """``schema.table`` -> ``"schema"."table"`` (each part quoted, quotes doubled)."""
    parts = [p for p in name.split(".") if p]
    if not parts:
        raise ValueError("empty identifier")
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


def _split(table: str) -> tuple[str, str]:
    schema, _, name = table.rpartition(".")
    return (schema or "main"), name


def table_exists(con: Any, table: str) -> bool:
    schema, name = _split(table)
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, name]
    ).fetchone()
    return bool(row and row[0])


def column_names(con: Any, table: str) -> list[str]:
    schema, name = _split(table)
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, name],
    ).fetchall()
    return [r[0] for r in rows]


# --------------------------------------------------------------------------- inventory
@dataclass(frozen=True, slots=True)
class TableInfo:
    """One user table of the pipeline database."""

    schema: str
    name: str
    rows: int
    columns: int
    last_loaded: datetime | None = None

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def table_inventory(con: Any, loaded_at_column: str = "loaded_at") -> list[TableInfo]:
    """Every user table with its exact row count and, if it has one, its newest load time.

    Row counts are exact (``count(*)``): DuckDB answers them from metadata for
    base tables, so this stays cheap on the pipeline's table sizes.
    """
    tables = con.execute(
        "SELECT schema_name, table_name, column_count FROM duckdb_tables() "
        "WHERE NOT internal AND database_name = current_database() ORDER BY schema_name, table_name"
    ).fetchall()
    result: list[TableInfo] = []
    for schema, name, ncols in tables:
        if schema in INTERNAL_SCHEMAS:
            continue
        qualified = f"{schema}.{name}"
        rows = con.execute(f"SELECT count(*) FROM {quote_ident(qualified)}").fetchone()[0]
        last = None
        if loaded_at_column and loaded_at_column in column_names(con, qualified):
            last = con.execute(
                f"SELECT max({quote_ident(loaded_at_column)}) FROM {quote_ident(qualified)}").fetchone()[0]
        result.append(TableInfo(schema=schema, name=name, rows=int(rows), columns=int(ncols),
                                last_loaded=last if isinstance(last, datetime) else None))
    return result


# --------------------------------------------------------------------------- freshness
@dataclass(frozen=True, slots=True)
class SourceFreshness:
    """Seed query "Check latest data dates": one row per source."""

    source: str
    latest_year: int | None
    records: int
    last_loaded: datetime | None = None
    """Newest value of the load-time column, when the table has one."""


def source_freshness(con: Any, table: str = "master.indicators", source_column: str = "source",
                     year_column: str = "year", loaded_at_column: str = "loaded_at") -> list[SourceFreshness]:
    """``SELECT source, MAX(year), COUNT(*) ... GROUP BY source``, plus the newest load time."""
    has_loaded = bool(loaded_at_column) and loaded_at_column in column_names(con, table)
    loaded = f"max({quote_ident(loaded_at_column)})" if has_loaded else "NULL"
    rows = con.execute(
        f"SELECT {quote_ident(source_column)}, max({quote_ident(year_column)}), count(*), {loaded} "
        f"FROM {quote_ident(table)} GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return [SourceFreshness(source=str(r[0]), latest_year=None if r[1] is None else int(r[1]), records=int(r[2]),
                            last_loaded=r[3] if isinstance(r[3], datetime) else None) for r in rows]


# --------------------------------------------------------------------------- duplicates
@dataclass(frozen=True, slots=True)
class DuplicateReport:
    """Seed query "Identify duplicates" on the natural key."""

    groups: int
    """Distinct key values that occur more than once."""
    extra_rows: int
    """Rows that would go with a DISTINCT (sum of count - 1)."""
    sample: tuple[tuple[Any, ...], ...] = ()
    """A few duplicated keys with their counts, worst first."""


def duplicates(con: Any, table: str = "master.indicators",
               key: Sequence[str] = ("indicator_id", "country_id", "year"), sample: int = 5) -> DuplicateReport:
    cols = ", ".join(quote_ident(c) for c in key)
    base = f"SELECT {cols}, count(*) AS n FROM {quote_ident(table)} GROUP BY {cols} HAVING count(*) > 1"
    groups, extra = con.execute(f"SELECT count(*), coalesce(sum(n - 1), 0) FROM ({base})").fetchone()
    top = con.execute(f"{base} ORDER BY n DESC, {cols} LIMIT {int(sample)}").fetchall() if groups else []
    return DuplicateReport(groups=int(groups), extra_rows=int(extra), sample=tuple(tuple(r) for r in top))


# --------------------------------------------------------------------------- completeness
@dataclass(frozen=True, slots=True)
class Completeness:
    """KPI "Data Completeness > 95 %: non-null critical fields"."""

    rows: int
    complete_rows: int
    """Rows where every critical field is non-null."""
    by_field: dict[str, float] = field(default_factory=dict)
    """Non-null ratio of each critical field."""

    @property
    def ratio(self) -> float:
        return 1.0 if self.rows == 0 else self.complete_rows / self.rows


def completeness(con: Any, table: str = "master.indicators",
                 fields: Sequence[str] = ("indicator_id", "country_id", "year", "value")) -> Completeness:
    if not fields:
        raise ValueError("completeness needs at least one critical field")
    counts = ", ".join(f"count({quote_ident(f)})" for f in fields)
    all_set = " AND ".join(f"{quote_ident(f)} IS NOT NULL" for f in fields)
    row = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {all_set}), {counts} FROM {quote_ident(table)}").fetchone()
    total = int(row[0])
    by_field = {f: (1.0 if total == 0 else int(n) / total) for f, n in zip(fields, row[2:], strict=True)}
    return Completeness(rows=total, complete_rows=int(row[1]), by_field=by_field)


# --------------------------------------------------------------------------- coverage
@dataclass(frozen=True, slots=True)
class YearCoverage:
    """Seed query "Monitor data gaps": distinct countries reporting in one year."""

    year: int
    countries: int
    expected: int

    @property
    def ratio(self) -> float:
        return 1.0 if self.expected == 0 else self.countries / self.expected


def coverage_by_year(con: Any, table: str = "sources.sdg", country_column: str = "country_id",
                     year_column: str = "year", since_year: int = 2020, expected: int = 0) -> list[YearCoverage]:
    """Countries per year since ``since_year``, against ``expected`` countries.

    ``expected`` 0 means "every country the table has ever reported", the
    denominator that needs no external country list.
    """
    country, year, tbl = quote_ident(country_column), quote_ident(year_column), quote_ident(table)
    if expected <= 0:
        expected = int(con.execute(f"SELECT count(DISTINCT {country}) FROM {tbl}").fetchone()[0])
    rows = con.execute(
        f"SELECT {year}, count(DISTINCT {country}) FROM {tbl} WHERE {year} >= ? GROUP BY 1 ORDER BY 1",
        [since_year],
    ).fetchall()
    return [YearCoverage(year=int(y), countries=int(n), expected=expected) for y, n in rows]


# --------------------------------------------------------------------------- anomalies
@dataclass(frozen=True, slots=True)
class Anomaly:
    """One value further than the threshold from its indicator's mean."""

    indicator_id: str
    country_id: str
    year: int | None
    value: float
    z_score: float


@dataclass(frozen=True, slots=True)
class AnomalyReport:
    """Seed query "Identify anomalies" (z-score per indicator)."""

    count: int
    threshold: float
    top: tuple[Anomaly, ...] = ()


def zscore_anomalies(con: Any, table: str = "sources.wdi", group_column: str = "indicator_id",
                     value_column: str = "value", country_column: str = "country_id", year_column: str = "year",
                     threshold: float = 3.0, top: int = 5) -> AnomalyReport:
    """Values with ``|value - mean| / stddev > threshold`` within their indicator."""
    grp, val, tbl = quote_ident(group_column), quote_ident(value_column), quote_ident(table)
    scored = (
        f"WITH stats AS (SELECT {grp} AS g, avg({val}) AS mean_val, stddev({val}) AS std_val FROM {tbl} GROUP BY 1) "
        f"SELECT w.{grp}, w.{quote_ident(country_column)}, w.{quote_ident(year_column)}, w.{val}, "
        f"abs(w.{val} - s.mean_val) / nullif(s.std_val, 0) AS z "
        f"FROM {tbl} w JOIN stats s ON w.{grp} = s.g "
        f"WHERE abs(w.{val} - s.mean_val) / nullif(s.std_val, 0) > ?"
    )
    count = int(con.execute(f"SELECT count(*) FROM ({scored})", [threshold]).fetchone()[0])
    rows = con.execute(f"{scored} ORDER BY z DESC LIMIT {int(top)}", [threshold]).fetchall() if count else []
    return AnomalyReport(count=count, threshold=threshold, top=tuple(
        Anomaly(indicator_id=str(r[0]), country_id=str(r[1]), year=None if r[2] is None else int(r[2]),
                value=float(r[3]), z_score=float(r[4])) for r in rows))
