"""Numbers for people, one convention everywhere: drivers' messages, ``check``, the TUI and run logs.

Sizes are IEC (1 KiB = 1024 B, as ``ls -h`` and ``du -h`` mean it); durations
pick their unit by magnitude; ages say how long ago. Drivers, the CLI and the
UI all call these, so "1.5 MiB" on screen is "1.5 MiB" in an alert.
"""

from __future__ import annotations

from datetime import UTC, datetime

DASH = "—"


def size(num: float | None) -> str:
    """Bytes in IEC units: ``512 B``, ``1.5 KiB``, ``3.2 GiB``."""
    if num is None:
        return DASH
    value = float(num)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} PiB"


def duration_ms(ms: float | None) -> str:
    """Milliseconds for a latency or a query: ``4.2 ms``, ``850 ms``, ``12.3 s``, ``4m 05s``."""
    if ms is None:
        return DASH
    if ms < 1000:
        return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"
    return duration(ms / 1000)


def duration(seconds: float | None) -> str:
    """Seconds for a job or a run: ``12.3 s``, ``4m 05s``, ``2h 03m``, ``3d 4h``."""
    if seconds is None:
        return DASH
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def hms(seconds: float) -> str:
    """A fixed-width clock duration, ``1:02:03``, for SLAs and elapsed times."""
    total = round(seconds)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def age(when: datetime | None, now: datetime | None = None) -> str:
    """How long ago: ``12s``, ``4m``, ``3.0h``, ``2.1d`` (or a dash)."""
    if when is None:
        return DASH
    now = now or datetime.now(UTC)
    seconds = max(0.0, (now - when).total_seconds())
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def number(value: float | int | None) -> str:
    """A count or a figure with thousands separators: ``12,345``, ``3.5``."""
    if value is None:
        return DASH
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"
