"""Shared fixtures: isolation from the user's own config, and real peers.

Real peers (dockerd, PostgreSQL, moto S3, Kafka, ...) are started by
``scripts/peers/*.sh`` which write their addresses to the file named by
``OPSCONSOLE_PEERS_ENV``. A test asks for a peer with :func:`require_peer`: on a
laptop without it the test skips; in CI (``CI=true``) it fails, because CI starts
every peer itself and a missing one is a broken build, not a reason to skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_peers_env() -> None:
    path = os.environ.get("OPSCONSOLE_PEERS_ENV") or str(ROOT / ".peers" / "env")
    if not os.path.exists(path):
        return
    for line in Path(path).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            os.environ.setdefault(key.strip(), value.strip())


_load_peers_env()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_peer(var: str, what: str) -> str:
    """Address of a real peer from the environment; skip locally, fail in CI."""
    value = os.environ.get(var)
    if not value:
        message = f"real peer {what} not running (${var} unset; start it with scripts/peers/)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return value


@pytest.fixture(autouse=True)
def _isolate_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never read or write the developer's own config, data or audit log."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("OPSCONSOLE_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("OPSCONSOLE_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "xdg-state"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    return home


@pytest.fixture(autouse=True)
def _forget_secrets() -> None:
    """Secrets registered by one test's profiles must not mask text in the next (``/tmp/pytest-…``)."""
    from opsconsole.redact import forget_secrets

    forget_secrets()


@pytest.fixture
def root() -> Path:
    return ROOT
