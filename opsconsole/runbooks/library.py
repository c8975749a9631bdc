"""Load runbooks from YAML: the packaged library plus the user's own folder.

Runbooks are data so that an on-call engineer can read, review and extend them
without touching Python. Because a mistake in a procedure is discovered at the
worst possible moment, files are validated strictly when loaded, and every error
names the file, line and key (the same contract as ``profiles.yaml``).

Search order: the packaged ``opsconsole/runbooks/library/*.yaml``, then
``<user config dir>/runbooks/*.yaml``; a user runbook with the id of a packaged
one replaces it, so a team can adapt a procedure without forking opsconsole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsconsole.errors import ConfigError
from opsconsole.runbooks.model import Runbook
from opsconsole.runbooks.parse import parse_condition, parse_runbook
from opsconsole.yamlio import line_of, load_yaml, read_text, user_config_dir

PACKAGED_DIR = Path(__file__).resolve().parent / "library"


__all__ = [
    "PACKAGED_DIR",
    "Library",
    "load_file",
    "load_library",
    "offered_runbooks",
    "parse_condition",
    "parse_runbook",
]


@dataclass(frozen=True)
class Library:
    """All runbooks available to this user, by id."""

    runbooks: dict[str, Runbook]
    warnings: tuple[str, ...] = ()
    """User runbook files that were skipped, and why (shown to the user; never fatal)."""

    def get(self, runbook_id: str) -> Runbook:
        try:
            return self.runbooks[runbook_id]
        except KeyError:
            raise ConfigError(f"unknown procedure {runbook_id!r}; known procedures: "
                              f"{', '.join(sorted(self.runbooks))}") from None

    def all(self) -> list[Runbook]:
        return sorted(self.runbooks.values(), key=lambda r: r.id)

    def for_alert(self, rule: str) -> list[Runbook]:
        """Runbooks that declare they answer an alert rule."""
        return [r for r in self.all() if rule in r.alerts]

    def for_driver_types(self, types: Iterable[str]) -> list[Runbook]:
        """Runbooks whose required (non-optional) drivers a profile provides.

        A runbook of shell steps only names no driver: it is offered where its
        ``platform`` is (``full-reset`` of the compose stack is not offered on the
        demo), see :data:`PLATFORM_DRIVERS`.
        """
        have = set(types)
        return [r for r in self.all()
                if all(s.optional or not s.driver_type or s.driver_type in have for s in r.steps + r.cleanup)
                and (r.driver_types & have if r.driver_types else on_platform(r, have))]


def offered_runbooks(library: Library, drivers: Iterable[Any], profile: str = "") -> list[Runbook]:
    """The runbooks a profile offers: its drivers can run every required step (see ``RunbookEngine.preflight``)."""
    from opsconsole.runbooks.engine import RunbookEngine

    drivers = list(drivers)
    engine = RunbookEngine({d.name: d for d in drivers}, profile=profile)  # preflight writes no audit
    return [r for r in library.for_driver_types(d.kind for d in drivers) if not engine.preflight(r)]


PLATFORM_DRIVERS: dict[str, frozenset[str]] = {
    "iceberg-compose": frozenset({"docker"}),
    "iceberg": frozenset({"iceberg"}),
    "databricks": frozenset({"databricks"}),
    "azure-databricks": frozenset({"databricks"}),
    "azure": frozenset({"databricks", "kafka"}),
    "docker": frozenset({"docker", "duckdb"}),
    "duckdb": frozenset({"duckdb"}),
    "s3": frozenset({"s3"}),
    "demo": frozenset({"demo"}),
}
"""Driver types that mark a profile as a runbook's platform (``platform: any`` runs everywhere)."""


def on_platform(runbook: Runbook, driver_types: Iterable[str]) -> bool:
    if runbook.platform in ("", "any"):
        return True
    return bool(PLATFORM_DRIVERS.get(runbook.platform, frozenset({runbook.platform})) & set(driver_types))


def user_runbook_dir() -> Path:
    return user_config_dir() / "runbooks"


def load_library(extra_dirs: Iterable[Path] | None = None, *, include_user: bool = True) -> Library:
    """Load the packaged runbooks, then the user's (and any extra) directories."""
    dirs: list[Path] = [PACKAGED_DIR]
    if include_user:
        dirs.append(user_runbook_dir())
    dirs.extend(Path(d) for d in extra_dirs or ())
    result: dict[str, Runbook] = {}
    warnings: list[str] = []
    for directory in dirs:
        seen: dict[str, str] = {}
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
            try:
                runbooks = load_file(path)
                for rb in runbooks:
                    if rb.id in seen:
                        raise ConfigError(f"duplicate runbook id {rb.id!r} (also in {seen[rb.id]})",
                                          path=str(path), key=rb.id)
            except ConfigError as exc:
                if directory == PACKAGED_DIR:
                    raise  # our own library must load: a test guards it
                warnings.append(f"runbook file skipped: {exc}")  # one bad user file must not hide the rest
                continue
            for rb in runbooks:
                seen[rb.id] = str(path)
                result[rb.id] = rb
    return Library(result, tuple(warnings))


def load_file(path: Path | str) -> list[Runbook]:
    """Parse one YAML file holding a runbook or ``runbooks: [...]``."""
    path = str(path)
    data = load_yaml(read_text(path, "runbook file"), path)
    if isinstance(data, dict) and "runbooks" in data:
        extra = set(data) - {"runbooks", "version"}
        if extra:
            key = sorted(extra)[0]
            raise ConfigError(f"unknown key {key!r} (allowed: runbooks, version)", path=path,
                              line=line_of(data, key), key=key)
        items = data["runbooks"]
        if not isinstance(items, list):
            raise ConfigError("'runbooks' must be a list", path=path, line=line_of(data, "runbooks"), key="runbooks")
    elif isinstance(data, dict):
        items = [data]
    else:
        raise ConfigError("a runbook file holds a runbook mapping or 'runbooks: [...]'", path=path, line=1)
    return [parse_runbook(item, path, idx) for idx, item in enumerate(items)]
