"""Bad files cannot hang or crash the console (issue 18): bombs, FIFOs, devices, bytes, silly values.

Every case ends in a ConfigError naming the file (and line where there is one),
quickly and in bounded memory; a bad *user* runbook or theme file is skipped with
a warning while the rest still loads. Hypothesis fuzzes profiles, runbooks and
themes with the same contract: success or a clear error, in time and memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsconsole.config import load, load_profile
from opsconsole.errors import ConfigError
from opsconsole.runbooks.library import load_file, load_library

BOMB = "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}" if i else '"lol"'] * 9) + "]\n" for i in range(10))
PROFILE = """\
profiles:
  p:
    drivers:
      health:
        type: http
        options:
          endpoints: {api: "http://127.0.0.1:9/health"}
"""
RUNBOOK = """\
id: my-check
title: My check
steps:
  - {id: look, shell: [df, -h], mutating: false}
"""
THEME = "name: mine\nprimary: '#336699'\ndark: true\n"


def bounded(call, *, seconds: float = 1.0, megabytes: float = 100.0):
    """Run ``call``; assert it took < seconds and allocated < megabytes at peak. Returns (result, error)."""
    tracemalloc.start()
    started = time.perf_counter()
    result = error = None
    try:
        result = call()
    except ConfigError as exc:
        error = exc
    finally:
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f}s"
    assert peak < megabytes * 1e6, f"peak {peak / 1e6:.0f} MB"
    return result, error


def test_alias_bomb_in_a_profile_is_refused_fast_and_small(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    # under description: the loader walks the value (expanding ${VAR}) before it checks its type
    path.write_text(PROFILE + "    description:\n" + "".join("      - " + line.split(": ", 1)[1] + "\n"
                                                                for line in BOMB.splitlines()))
    _, error = bounded(lambda: load(path).profile("p"))
    assert error is not None and "alias" in str(error) and str(path) in str(error)


def test_alias_bomb_in_a_user_runbook_is_skipped_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(RUNBOOK)
    (tmp_path / "bomb.yaml").write_text(RUNBOOK.replace("my-check", "bomb") + "summary: x\nsymptoms:\n"
                                        + "".join("  - " + line + "\n" for line in BOMB.splitlines()))
    library, error = bounded(lambda: load_library([tmp_path], include_user=False))
    assert error is None and "my-check" in library.runbooks and "bomb" not in library.runbooks
    assert any("bomb.yaml" in w and "alias" in w for w in library.warnings), library.warnings


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "dir"])
def test_fifo_device_or_directory_as_config_is_refused_not_waited_on(tmp_path: Path, special: str) -> None:
    target = tmp_path / "cfg"
    if special == "fifo":
        os.mkfifo(target)
    elif special == "dir":
        target.mkdir()
    else:
        target = Path(special)
    result = subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(target), "check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 3, result.stdout + result.stderr  # check: a file it cannot read is UNKNOWN
    assert f"{target}: cannot read profiles file: " in result.stderr and "not a regular file" in result.stderr
    assert "Traceback" not in result.stderr


def test_non_utf8_profile_runbook_and_theme_name_the_byte(tmp_path: Path) -> None:
    from opsconsole.ui.themes import load_theme_files

    bad = PROFILE.encode() + b"# caf\xe9\n"
    (tmp_path / "profiles.yaml").write_bytes(bad)
    with pytest.raises(ConfigError, match=rf"profiles.yaml:8: not UTF-8 \(byte {len(PROFILE) + 5}\)"):
        load(tmp_path / "profiles.yaml")
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "ok.yaml").write_text(RUNBOOK)
    (runbooks / "binary.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    library = load_library([runbooks], include_user=False)
    assert "my-check" in library.runbooks
    assert any("binary.yaml" in w and "not UTF-8 (byte 0)" in w for w in library.warnings), library.warnings
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "mine.yaml").write_text(THEME)
    (themes / "broken.yaml").write_bytes(b"name: x\nprimary: '\xff'\n")
    files, errors = load_theme_files([themes])
    assert "mine" in files and any("broken.yaml:2: not UTF-8 (byte 18)" in str(e) for e in errors), errors


@pytest.mark.parametrize(("snippet", "line", "key", "words"), [
    ("    timeout: -1\n", 8, "profiles.p.timeout", "positive"),
    ("    timeout: .nan\n", 8, "profiles.p.timeout", "finite"),
    ("    poll: {services: .inf}\n", 8, "profiles.p.poll.services", "finite"),
    ("    title: ${HOME\n", 8, "profiles.p.title", "unterminated"),
    ("    keys: {x: no-such-procedure}\n", 8, "profiles.p.keys.x", "unknown procedure 'no-such-procedure'"),
])
def test_silly_values_are_errors_with_file_and_line(tmp_path: Path, snippet: str, line: int, key: str,
                                                    words: str) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(PROFILE + snippet)
    with pytest.raises(ConfigError) as info:
        load(path).profile("p")
    assert f"{path}:{line}: {key}" in str(info.value) and words in str(info.value), str(info.value)


def test_unknown_profile_theme_is_an_error_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(PROFILE + "    theme: no-such-theme\n")
    result = subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert f"{path}:8: profiles.p.theme" in result.stderr and "no-such-theme" in result.stderr, result.stderr
    assert load_profile("p", path).theme == "no-such-theme"  # core loads it; the UI names the problem


# ---------------------------------------------------------------------------- fuzzing
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _mutate(base: str, data: st.DataObject) -> bytes:
    raw = bytearray(base.encode())
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["insert", "delete", "replace", "splice"]))
        at = data.draw(st.integers(0, len(raw)))
        if op == "insert":
            raw[at:at] = data.draw(st.sampled_from([b"&a ", b"*a", b"${", b"\xff", b"- ", b": ", b"{", b"[", b"\n  ",
                                                    b".nan", b"-1", b"!!python/object:os.system ", b"\t", b"\x00"]))
        elif op == "delete":
            del raw[at:at + data.draw(st.integers(1, 8))]
        elif op == "replace" and at < len(raw):
            raw[at] = data.draw(st.integers(0, 255))
        else:
            raw[at:at] = BOMB.encode()[: data.draw(st.integers(0, len(BOMB)))]
    return bytes(raw)


@FUZZ
@given(data=st.data())
def test_fuzzed_profiles_load_or_fail_clearly(tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_bytes(_mutate(PROFILE + "    poll: {services: 5}\n    timeout: 3\n", data))
    bounded(lambda: load(path).profile("p"), seconds=2.0)


@FUZZ
@given(data=st.data())
def test_fuzzed_runbooks_load_or_fail_clearly(tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "rb.yaml"
    path.write_bytes(_mutate(RUNBOOK, data))
    bounded(lambda: load_file(path), seconds=2.0)


@FUZZ
@given(data=st.data())
def test_fuzzed_themes_load_or_fail_clearly(tmp_path: Path, data: st.DataObject) -> None:
    from opsconsole.ui.themes import parse_theme_file

    path = tmp_path / "theme.yaml"
    path.write_bytes(_mutate(THEME, data))
    bounded(lambda: parse_theme_file(path), seconds=2.0)


async def test_tui_starts_despite_a_binary_theme_and_a_fifo_in_the_user_themes(tmp_path: Path) -> None:
    """A theme file of the user's that is binary (or a FIFO) is skipped with a notification; the console runs."""
    from pilot_helpers import until
    from ui_profiles import http_profile

    from opsconsole.config import user_config_dir
    from opsconsole.ui.app import OpsConsoleApp

    themes = user_config_dir() / "themes"
    themes.mkdir(parents=True)
    (themes / "broken.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00")
    os.mkfifo(themes / "pipe.yaml")
    with http_profile(tmp_path) as (profile, _config):
        app = OpsConsoleApp(profile)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: "billing" in app.export_screenshot())
            shown = " ".join(str(n.message) for n in app._notifications)
            assert "broken.yaml" in shown and "not UTF-8 (byte 0)" in shown, shown
            assert "pipe.yaml" in shown and "FIFO" in shown, shown
