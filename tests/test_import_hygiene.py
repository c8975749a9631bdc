"""The core stays importable without the TUI, and nothing imports a heavy SDK at module level.

Why it matters to a user: ``opsconsole check`` on a jump box must not pay for
(or need) Textual, and the console's first frame must not wait for
databricks-sdk, pyiceberg, pyarrow, docker, duckdb or boto3 (hundreds of ms
each). Each check runs in a fresh interpreter so earlier tests' imports do not
hide a regression.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import opsconsole

HEAVY = {"databricks", "pyiceberg", "pyarrow", "docker", "duckdb", "boto3", "botocore"}
TUI = {"textual", "rich"}


def core_modules() -> list[str]:
    """Every module under opsconsole/ except the TUI package and ``__main__`` entry points."""
    return sorted(m.name for m in pkgutil.walk_packages(opsconsole.__path__, "opsconsole.")
                  if not m.name.startswith("opsconsole.ui") and not m.name.endswith("__main__"))


def loaded_after(imports: list[str], statements: str = "") -> set[str]:
    code = ("import importlib, json, sys\n"
            f"for name in {imports!r}:\n    importlib.import_module(name)\n{statements}\n"
            "print(json.dumps(sorted({k.split('.')[0] for k in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_lists_the_seams() -> None:
    modules = core_modules()
    for seam in ("opsconsole.model", "opsconsole.config", "opsconsole.drivers", "opsconsole.monitor",
                 "opsconsole.monitor.engine", "opsconsole.cli.check", "opsconsole.runbooks.engine",
                 "opsconsole.drivers.demo"):
        assert seam in modules


def test_core_imports_neither_tui_nor_heavy_sdks() -> None:
    modules = core_modules()
    loaded = loaded_after(modules)
    bad = loaded & (TUI | HEAVY)
    if bad:  # name the module that pulled them in
        culprits = {m: sorted(loaded_after([m]) & (TUI | HEAVY)) for m in modules}
        culprits = {m: found for m, found in culprits.items() if found}
        raise AssertionError(f"core modules import {sorted(bad)} at module level: {culprits}")


def test_tui_modules_import_no_heavy_sdk() -> None:
    ui = sorted(m.name for m in pkgutil.walk_packages(opsconsole.__path__, "opsconsole.")
                if m.name.startswith("opsconsole.ui"))
    assert "opsconsole.ui.app" in ui
    loaded = loaded_after(ui)
    assert "textual" in loaded  # the check would be vacuous if the TUI did not load at all
    assert not loaded & HEAVY, f"the TUI imports {sorted(loaded & HEAVY)} before any driver asks for it"


def test_cli_parser_does_not_load_textual() -> None:
    loaded = loaded_after(["opsconsole.cli.main"], "opsconsole_cli = sys.modules['opsconsole.cli.main']\n"
                          "opsconsole_cli.build_parser().parse_args(['check'])")
    assert not loaded & (TUI | HEAVY)
