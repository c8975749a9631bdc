"""Glyphs and cell helpers of the TUI; numbers come from :mod:`opsconsole.humanize` (one convention)."""

from __future__ import annotations

from collections.abc import Iterable

from opsconsole.humanize import age, duration, duration_ms, number, size
from opsconsole.model import Health, Severity

__all__ = ["HEALTH_DOT", "HEALTH_STYLE", "SEVERITY_NAME", "SPARK_CHARS", "age", "clip", "duration", "duration_ms",
           "number", "size", "sparkline"]

SPARK_CHARS = "▁▂▃▄▅▆▇█"
HEALTH_DOT = {Health.OK: "●", Health.WARNING: "▲", Health.CRITICAL: "✖", Health.UNKNOWN: "?"}
HEALTH_STYLE = {Health.OK: "$health-ok", Health.WARNING: "$health-warning", Health.CRITICAL: "$health-critical",
                Health.UNKNOWN: "$health-unknown"}
SEVERITY_NAME = {Severity.CRITICAL: "CRIT", Severity.WARNING: "WARN", Severity.INFO: "INFO"}


def sparkline(values: Iterable[float], width: int = 12) -> str:
    """Unicode block sparkline of the last *width* values, scaled to their range."""
    data = list(values)[-width:]
    real = [v for v in data if v == v]  # NaN marks a failed poll: drawn as a gap, not a line across it
    if not real:
        return " " * len(data)
    low, high = min(real), max(real)
    span = high - low
    if span <= 0:
        return "".join(SPARK_CHARS[0 if high == 0 else 3] if v == v else " " for v in data)
    return "".join(SPARK_CHARS[min(7, int((v - low) / span * 7.999))] if v == v else " " for v in data)


def clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
