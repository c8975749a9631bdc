"""``opsconsole run`` on one compose service: a driver action directly, and the parameterised runbooks.

Real Docker Engine (scripts/peers/docker.sh): one busybox container labelled as
compose service ``web`` of a fresh project. ``docker.restart_service`` used to
answer "unknown procedure '<config>'..."; now it runs the action, and
``compose-service-{stop,start,restart}`` take the service as a parameter.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsconsole.audit import AuditLog
from tests.conftest import ROOT, require_peer


def opsconsole(profiles: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "opsconsole", "--config", str(profiles), "run", *args],
                          input=stdin, capture_output=True, text=True, env=env, timeout=180)


@pytest.fixture(scope="module")
def web() -> Iterator[tuple[Any, str]]:
    require_peer("OPSC_DOCKER", "Docker Engine (scripts/peers/docker.sh)")
    import docker

    client = docker.from_env()
    project = f"opsc-rb-{uuid.uuid4().hex[:8]}"
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "web",
              "com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False"}
    container = client.containers.run(os.environ.get("OPSC_DOCKER_IMAGE", "opsconsole-busybox:test"),
                                      ["httpd", "-f", "-p", "8080", "-h", "/www"], name=f"{project}-web-1",
                                      labels=labels, detach=True)
    try:
        yield container, project
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True)
        client.close()


@pytest.fixture
def profiles(tmp_path: Path, web: tuple[Any, str]) -> Path:
    path = tmp_path / "profiles.yaml"
    path.write_text(f"profiles:\n  t:\n    drivers:\n      compose:\n        type: docker\n"
                    f"        options: {{project: {web[1]}, stop_timeout: 1}}\n")
    return path


def _started(container: Any) -> str:
    container.reload()
    return str(container.attrs["State"]["StartedAt"])


def test_run_takes_a_driver_action_directly(profiles: Path, web: tuple[Any, str]) -> None:
    container = web[0]
    before = _started(container)
    result = opsconsole(profiles, "docker.restart_service", "-p", "t", "--param", "service=web")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "docker.restart_service(service=web)" in result.stdout and "<config>" not in result.stdout
    assert _started(container) != before and container.status == "running"
    ends = [e for e in AuditLog().read() if e.phase == "end" and e.ref == "docker.restart_service"]
    assert ends and ends[-1].outcome == "ok" and ends[-1].params == {"service": "web"}


def test_direct_action_errors_say_what_to_do(profiles: Path) -> None:
    missing = opsconsole(profiles, "docker.restart_service", "-p", "t")
    assert missing.returncode == 2 and "service" in missing.stderr and "required" in missing.stderr
    unknown = opsconsole(profiles, "docker.reboot_everything", "-p", "t")
    assert unknown.returncode == 2 and "has no action 'reboot_everything'" in unknown.stderr
    assert "restart_service" in unknown.stderr
    nosuch = opsconsole(profiles, "no-such-procedure", "-p", "t")
    assert nosuch.returncode == 2 and "<config>" not in nosuch.stderr
    assert nosuch.stderr.startswith("opsconsole run: unknown procedure 'no-such-procedure'")
    assert "TYPE.ACTION" in nosuch.stderr


def test_parameterised_stop_start_restart_runbooks(profiles: Path, web: tuple[Any, str]) -> None:
    container = web[0]
    stop = opsconsole(profiles, "compose-service-stop", "-p", "t", "--yes", "--param", "service=web")
    assert stop.returncode == 0, stop.stdout + stop.stderr
    container.reload()
    assert container.status == "exited"
    start = opsconsole(profiles, "compose-service-start", "-p", "t", "--param", "service=web",
                       "--param", "timeout=60")
    assert start.returncode == 0, start.stdout + start.stderr
    container.reload()
    assert container.status == "running"
    before = _started(container)
    restart = opsconsole(profiles, "compose-service-restart", "-p", "t", "--param", "service=web")
    assert restart.returncode == 0, restart.stdout + restart.stderr
    assert _started(container) != before
