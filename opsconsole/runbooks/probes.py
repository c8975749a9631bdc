"""Probe conditions: select pane rows, compare a field, summarize a row for a run log or a bundle."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from opsconsole.humanize import age
from opsconsole.runbooks.model import (
    Condition,
)

if TYPE_CHECKING:
    pass

DEFAULT_SHELL_TIMEOUT = 3600.0
MAX_SUMMARY_ROWS = 20


def field_value(row: Any, name: str) -> Any:
    """``row.a.b`` for dataclass rows, with ``extra`` mappings searched too."""
    value: Any = row
    for part in name.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif hasattr(value, part):
            value = getattr(value, part)
        elif hasattr(value, "extra") and isinstance(value.extra, Mapping) and part in value.extra:
            value = value.extra[part]
        else:
            return None
    return value


def _text(value: Any) -> str:
    if isinstance(value, Enum):
        return value.name.lower()
    return "" if value is None else str(value)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "in":
        return any(_compare(actual, "==", e) for e in expected)
    if actual is None:
        return (op == "==" and expected is None) or (op == "!=" and expected is not None)
    if isinstance(actual, Enum) and isinstance(expected, str):
        member = {m.name.lower(): m for m in type(actual)}.get(expected.lower())
        if member is None:
            return op == "!="
        expected = member
    if isinstance(actual, (int, float)) and not isinstance(actual, bool) and isinstance(expected, (int, float)):
        a, e = actual, expected
    elif isinstance(actual, Enum) and isinstance(expected, Enum):
        a, e = actual, expected
    else:
        a, e = _text(actual).lower(), _text(expected).lower()
    try:
        return {"==": a == e, "!=": a != e, "<": a < e, "<=": a <= e, ">": a > e, ">=": a >= e}[op]
    except TypeError:
        return False


def select_rows(rows: Iterable[Any], select: Mapping[str, Any]) -> list[Any]:
    """Rows whose fields match every ``select`` entry (case-insensitive glob)."""
    result = []
    for row in rows:
        if all(fnmatch.fnmatchcase(_text(field_value(row, k)).lower(), _text(v).lower()) for k, v in select.items()):
            result.append(row)
    return result


def check_condition(rows: list[Any], cond: Condition) -> bool:
    if cond.field == "count":
        return _compare(len(rows), cond.op, cond.value)
    hits = [_compare(field_value(r, cond.field), cond.op, cond.value) for r in rows]
    if cond.match == "none":
        return not any(hits)
    if not rows:
        return False  # nothing observed is not evidence that all is well
    return any(hits) if cond.match == "any" else all(hits)


def summarize_row(row: Any) -> str:
    if not is_dataclass(row):
        return str(row)
    parts = []
    for f in fields(row):
        if f.name in ("extra", "source"):
            continue
        value = getattr(row, f.name)
        if value in (None, "", ()):
            continue
        parts.append(f"{f.name}={human_value(f.name, value)}")
    return " ".join(parts)


def human_value(name: str, value: Any) -> str:
    """A value as a person reads it in a run log: ``latency_ms=10.7 ms``, ``checked_at=12s ago``,
    not ``10.726421999834201`` or ``2026-11-29T11:23:16+00:00``."""
    if isinstance(value, datetime):
        now = datetime.now(UTC)
        if value.tzinfo is None or value > now:
            return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        return f"{age(value, now)} ago"
    if isinstance(value, float):
        text = f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
        return text + (" ms" if name.endswith("_ms") else " s" if name.endswith("_s") else "")
    return _text(value)
