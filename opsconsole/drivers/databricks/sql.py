"""SQL text for the maintenance statements, built only from validated parts.

Table names, columns and principals arrive from a person typing in a dialog or
a runbook's YAML, and the result runs on a production warehouse. So every
identifier is checked against a strict shape and then back-quoted (a backtick
inside is doubled, per Databricks SQL); privileges and securable types come
from closed lists; numbers must be numbers; timestamps must parse. Anything
else is refused with a message saying what was wrong, before any SQL is sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from opsconsole.errors import ActionRefused

PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]*")
"""One unquoted name part: letters, digits, underscore, hyphen (Unity Catalog allows hyphens when quoted)."""
PRIVILEGES = frozenset({
    "SELECT", "MODIFY", "READ VOLUME", "WRITE VOLUME", "USE CATALOG", "USE SCHEMA", "CREATE TABLE",
    "CREATE SCHEMA", "CREATE VOLUME", "CREATE FUNCTION", "EXECUTE", "APPLY TAG", "BROWSE", "REFRESH",
    "READ FILES", "WRITE FILES", "MANAGE", "ALL PRIVILEGES",
})
SECURABLES = frozenset({"CATALOG", "SCHEMA", "TABLE", "VIEW", "VOLUME", "FUNCTION"})
MIN_VACUUM_HOURS = 168
"""Delta's default retention check (7 days); shorter breaks time travel and concurrent readers."""


def quote(part: str) -> str:
    """Back-quote one identifier part, doubling embedded backticks."""
    return "`" + part.replace("`", "``") + "`"


def split_name(name: str, *, what: str = "table") -> list[str]:
    """Split ``[catalog.][schema.]name`` into validated parts (refuses anything odd)."""
    text = (name or "").strip()
    parts = text.split(".")
    if not text or len(parts) > 3 or not all(PART.fullmatch(p) for p in parts):
        raise ActionRefused(f"{what} name {name!r} is not valid: use catalog.schema.name with letters, "
                            "digits, '_' or '-' in each part")
    return parts


def qualified(name: str, catalog: str | None, schema: str | None, *, what: str = "table") -> str:
    """Fully qualified, quoted name; a short name is completed from the profile's catalog/schema."""
    parts = split_name(name, what=what)
    if len(parts) < 3:
        prefix = [catalog, schema][: 3 - len(parts)]
        if not all(prefix):
            raise ActionRefused(f"{what} {name!r} is not fully qualified and the profile sets no catalog/schema")
        parts = [str(p) for p in prefix] + parts
        for p in parts:
            split_name(p, what=what)
    return ".".join(quote(p) for p in parts)


def columns(value: str | Sequence[str]) -> list[str]:
    """Validated, quoted column list from ``"a, b"`` or a list."""
    items = [c.strip() for c in (value.split(",") if isinstance(value, str) else value) if c and c.strip()]
    for item in items:
        if not PART.fullmatch(item):
            raise ActionRefused(f"column name {item!r} is not valid")
    return [quote(c) for c in items]


def as_int(value: Any, what: str, minimum: int = 0) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ActionRefused(f"{what} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ActionRefused(f"{what} must be at least {minimum}, got {number}")
    return number


def optimize(table: str, zorder: str | Sequence[str] = "") -> str:
    cols = columns(zorder) if zorder else []
    return f"OPTIMIZE {table}" + (f" ZORDER BY ({', '.join(cols)})" if cols else "")


def vacuum(table: str, retain_hours: Any) -> str:
    hours = as_int(retain_hours, "retain_hours")
    if hours < MIN_VACUUM_HOURS:
        raise ActionRefused(f"VACUUM below {MIN_VACUUM_HOURS} hours would delete files that time travel and "
                            "running readers may still need; opsconsole refuses it")
    return f"VACUUM {table} RETAIN {hours} HOURS"


def analyze(table: str) -> str:
    return f"ANALYZE TABLE {table} COMPUTE STATISTICS"


def describe_history(table: str, limit: Any = 20) -> str:
    return f"DESCRIBE HISTORY {table} LIMIT {as_int(limit, 'limit', 1)}"


def restore(table: str, version: Any = None, timestamp: Any = None) -> str:
    """``RESTORE TABLE`` to exactly one of a version number or a timestamp."""
    has_version = version not in (None, "")
    has_time = timestamp not in (None, "")
    if has_version == has_time:
        raise ActionRefused("restore needs exactly one of version or timestamp")
    if has_version:
        return f"RESTORE TABLE {table} TO VERSION AS OF {as_int(version, 'version')}"
    return f"RESTORE TABLE {table} TO TIMESTAMP AS OF '{utc_timestamp(timestamp)}'"


def utc_timestamp(timestamp: Any) -> str:
    """An ISO 8601 timestamp as ``YYYY-MM-DD HH:MM:SS`` in UTC.

    An offset (``+02:00``) is converted, not dropped: restoring two hours too
    late or too early is irreversible. A timestamp without an offset is taken
    as UTC (Databricks SQL's default session time zone), and the confirmation
    and result say "UTC".
    """
    try:
        moment = timestamp if isinstance(timestamp, datetime) else datetime.fromisoformat(str(timestamp).strip())
    except ValueError:
        raise ActionRefused(f"timestamp {timestamp!r} is not ISO 8601 (e.g. 2026-02-07 10:00:00+02:00)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def securable(kind: str) -> str:
    value = (kind or "").strip().upper()
    if value not in SECURABLES:
        raise ActionRefused(f"securable type {kind!r} is not one of {', '.join(sorted(SECURABLES))}")
    return value


def show_grants(kind: str, name: str) -> str:
    return f"SHOW GRANTS ON {securable(kind)} {name}"


def privileges(value: str | Sequence[str]) -> list[str]:
    items = [" ".join(p.split()).upper() for p in (value.split(",") if isinstance(value, str) else value)]
    items = [p for p in items if p]
    unknown = [p for p in items if p not in PRIVILEGES]
    if not items or unknown:
        raise ActionRefused(f"unknown privilege(s) {', '.join(unknown) or '(none given)'}; "
                            f"known: {', '.join(sorted(PRIVILEGES))}")
    return items


def principal(value: str) -> str:
    text = (value or "").strip()
    if not text or any(ord(ch) < 32 for ch in text) or len(text) > 255:
        raise ActionRefused(f"principal {value!r} is not valid (a user e-mail, group or service principal id)")
    return quote(text)


def grant(privs: str | Sequence[str], kind: str, name: str, to: str) -> str:
    return f"GRANT {', '.join(privileges(privs))} ON {securable(kind)} {name} TO {principal(to)}"


def backup(source: str, target: str) -> str:
    """Snapshot a table into a new one (CTAS), as seed 000's weekly backups do."""
    return f"CREATE TABLE {target} AS SELECT * FROM {source}"


def format_result(column_names: Sequence[str], rows: Sequence[Sequence[Any]], limit: int = 200) -> str:
    """Result rows as tab-separated text for an action's output panel."""
    lines = ["\t".join(column_names)] if column_names else []
    for row in rows[:limit]:
        lines.append("\t".join("" if v is None else str(v) for v in row))
    if len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more rows")
    return "\n".join(lines)
