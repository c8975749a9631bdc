"""The floor plan holds: import-linter's contracts in pyproject.toml, and they can fail.

Layers (top to bottom): cli, ui, monitor, config/keymap, runbooks, notify | drivers,
demo, audit, then the model and its helpers. Nothing below imports anything above;
the core never imports Textual, Rich or the UI.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter against the package found in ``root`` (a copy, or the checkout itself)."""
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                           "lint_imports_command()", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_layer_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_a_driver_importing_the_ui_breaks_them(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "opsconsole", tmp_path / "opsconsole", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    driver = tmp_path / "opsconsole" / "drivers" / "http_json.py"
    driver.write_text(driver.read_text() + "\n\ndef _up() -> None:\n    import opsconsole.ui.app  # noqa: F401\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "opsconsole.drivers is not allowed to import opsconsole.ui" in result.stdout
    assert "opsconsole.drivers.http_json -> opsconsole.ui.app" in result.stdout
