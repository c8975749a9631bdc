"""One convention for numbers on screen, in alerts and in run logs (IEC sizes, durations by magnitude)."""

from __future__ import annotations

from opsconsole.humanize import duration, duration_ms, hms, number, size


def test_sizes_are_iec_everywhere() -> None:
    assert [size(n) for n in (512, 1536, 5 * 1024**2, 3 * 1024**3 + 1)] == ["512 B", "1.5 KiB", "5.0 MiB", "3.0 GiB"]
    assert size(None) == "—"


def test_durations_pick_their_unit() -> None:
    assert [duration_ms(v) for v in (4.21, 850, 12_300, 245_000)] == ["4.2 ms", "850 ms", "12.3 s", "4m 05s"]
    assert hms(7_383) == "2:03:03" and number(12345) == "12,345" and number(3.5) == "3.5"
    assert duration(None) == "—"


def test_drivers_and_the_ui_share_the_formatters() -> None:
    """The S3 and DuckDB drivers' messages and the TUI's cells use the same function, not their own KB/MB."""
    import inspect

    from opsconsole.drivers import s3
    from opsconsole.drivers.duckdb import pipeline
    from opsconsole.ui import format as ui_format

    assert s3.human_size is size and pipeline.human_size is size and ui_format.size is size
    assert "KB" not in inspect.getsource(s3) and "KB" not in inspect.getsource(pipeline)
