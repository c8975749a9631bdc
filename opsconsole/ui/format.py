"""Glyphs and cell helpers of the TUI; numbers come from :mod:`opsconsole.humanize` (one convention)."""

from __future__ import annotations

from collections.abc import Iterable

from opsconsole.humanize import age, duration, duration_ms, number, size
from opsconsole.model import Health, Severity

__all__ = ["HEALTH_DOT", "HEALTH_STYLE", "SEVERITY_NAME", "SPARK_CHARS", "WORST_FIRST", "age", "clip", "duration",
           "duration_ms", "number", "size", "sparkline"]

SPARK_CHARS = "▁▂▃▄▅▆▇█"
HEALTH_DOT = {Health.OK: "●", Health.WARNING: "▲", Health.CRITICAL: "✖", Health.UNKNOWN: "?"}
UNICODE_SPARK, UNICODE_DOT = SPARK_CHARS, dict(HEALTH_DOT)
ASCII_SPARK = "_.-:=+*#"
ASCII_DOT = {Health.OK: "", Health.WARNING: "", Health.CRITICAL: "", Health.UNKNOWN: ""}
"""ASCII terminals: the status *word* alone (``crit``, ``CRITICAL``), no glyph that shows as ``?``."""
ascii_only = False


def ascii_terminal(environ: dict[str, str] | None = None) -> bool:
    """True when the terminal's locale cannot show box-drawing and status glyphs (``LANG=C``, Latin-1...).

    The locale variables in POSIX order (``LC_ALL`` over ``LC_CTYPE`` over ``LANG``);
    ``OPSCONSOLE_ASCII=1`` forces ASCII, ``=0`` forces Unicode.
    """
    import os

    env = os.environ if environ is None else environ
    forced = env.get("OPSCONSOLE_ASCII", "").strip()
    if forced:
        return forced not in ("0", "false", "no")
    if (env.get("LC_CTYPE") in ("C.UTF-8", "C.utf8", "UTF-8") and not env.get("LC_ALL")
            and env.get("LANG", "") in ("", "C", "POSIX")):
        return True  # Python itself set LC_CTYPE (PEP 538 coerces a C locale): the terminal is still LANG=C
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = env.get(name, "")
        if value:
            return "utf-8" not in value.lower() and "utf8" not in value.lower()
    return False  # nothing set: leave Textual's (UTF-8) default alone


def use_ascii(on: bool) -> None:
    """Switch the glyph tables every pane formats with (called once by the app at start)."""
    global ascii_only, SPARK_CHARS
    ascii_only = on
    SPARK_CHARS = ASCII_SPARK if on else UNICODE_SPARK
    HEALTH_DOT.clear()
    HEALTH_DOT.update(ASCII_DOT if on else UNICODE_DOT)
HEALTH_STYLE = {Health.OK: "$health-ok", Health.WARNING: "$health-warning", Health.CRITICAL: "$health-critical",
                Health.UNKNOWN: "$health-unknown"}
WORST_FIRST = {Health.CRITICAL: 0, Health.UNKNOWN: 1, Health.WARNING: 2, Health.OK: 3}
"""Unknown before warning: a service we cannot see may be down, a warning is known to be up."""
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


def compact(value: float) -> str:
    """A scale bound in 4 characters or so: 0.029, 0.8, 12, 340, 1.2k, 3.4M."""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.1f}M"
    if magnitude >= 1e3:
        return f"{value / 1e3:.1f}k"
    if magnitude >= 10 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2g}"  # 5.1, 0.5, 0.029: a 29 ms job is not "0.0s"


def trend(samples: Iterable[tuple[float, float]], unit: str = "", width: int = 8) -> str:
    """Sparkline of the last ``width`` samples with its scale: ``▁▃▅█ 5–14ms``.

    Without the scale a flat line at 2 ms and one at 2 s look the same; a failed poll
    (NaN) is a blank in the line, not a join across the outage.
    """
    values = [v for _t, v in samples][-width:]
    real = [v for v in values if v == v]
    if not real:
        return ""
    low, high = min(real), max(real)
    scale = compact(low) if low == high else f"{compact(low)}–{compact(high)}"
    return f"{sparkline(values, width)} {scale}{unit}"
