"""Load, expand and strictly validate ``profiles.yaml``.

A profile names the drivers of one platform, their options, how often each pane
polls, the alert thresholds and the keys bound to runbooks. Mistakes are caught
here, before any backend is contacted, and reported with the file, line and key
(an on-call engineer editing YAML at 3 a.m. should not have to guess).

Discovery order: ``--config PATH``, ``./profiles.yaml``, the user config dir
(XDG via platformdirs), then the packaged default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsconsole.errors import ConfigError
from opsconsole.model import Pane
from opsconsole.secret import Secret
from opsconsole.yamlio import (
    check_type,
    coerce_scalar,
    expand_env,
    field_reader,
    line_of,
    load_yaml,
    positive,
    read_text,
    start_line,
    user_config_dir,
)

DEFAULT_POLL: Mapping[str, float] = {"services": 5, "queries": 10, "tables": 10, "lag": 10, "jobs": 30}
MIN_POLL_SECONDS = 0.5


# --------------------------------------------------------------------------- model
@dataclass(frozen=True)
class DriverConfig:
    """One driver instance of a profile."""

    name: str
    kind: str
    options: Mapping[str, Any]
    timeout: float


@dataclass(frozen=True)
class Profile:
    """A validated platform profile, ready to build drivers from."""

    name: str
    title: str
    description: str
    read_only: bool
    drivers: tuple[DriverConfig, ...]
    poll: Mapping[str, float]
    alerts: Mapping[str, Any]
    keys: Mapping[str, str]
    theme: str | None
    source: str
    """The file this profile was loaded from."""
    notify: Any = None
    """``opsconsole.notify.NotifySettings`` from the profile's ``notify:`` section."""
    keymap: Mapping[str, str] = field(default_factory=dict)
    """Binding id -> keys (``keymap:``), validated by :mod:`opsconsole.keymap`, applied with ``App.set_keymap``."""
    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Rule name -> fields changed or added (``rules:``), merged over the packaged rules by the monitor."""
    theme_line: int | None = None
    """Line of ``theme:``: the theme name is checked where themes are known (the UI), and reported here."""
    alertmanager: Any = None
    """``opsconsole.notify.alertmanager_settings.AlertmanagerSettings`` (``alertmanager:``), pushed to by ``watch``."""

    def secrets(self) -> list[str]:
        """Every secret value in this profile, for redaction."""
        found = [v.reveal() for d in self.drivers for v in d.options.values() if isinstance(v, Secret) and v.reveal()]
        return found + (self.notify.secrets() if self.notify is not None else []) + \
            (self.alertmanager.secrets() if self.alertmanager is not None else [])


@dataclass(frozen=True)
class ProfilesFile:
    """All profiles of one file; profiles are validated on :meth:`profile`."""

    path: str
    default_profile: str
    raw: Mapping[str, Any]
    names: tuple[str, ...] = field(default=())

    def profile(self, name: str | None = None) -> Profile:
        wanted = name or self.default_profile
        if wanted not in self.raw:
            raise ConfigError(f"unknown profile {wanted!r}; known profiles: {', '.join(self.names)}", path=self.path)
        return _build_profile(wanted, self.raw[wanted], self.path)


# Alert thresholds a profile may set; read by the rules in :mod:`opsconsole.monitor.rules`.
ALERT_THRESHOLDS: Mapping[str, tuple[type | tuple[type, ...], float]] = {
    "table_files_max": (int, 100),
    "lag_rows_max": ((int, float), 500),
    "lag_seconds_max": ((int, float), 300),
    "consumer_lag_max": ((int, float), 10_000),
    "error_rate_max": ((int, float), 0.05),
    "p95_ms_max": ((int, float), 10_000),
    "freshness_hours_max": ((int, float), 24),
    "coverage_min": ((int, float), 0.90),
    "service_latency_ms_max": ((int, float), 2_000),
    "restarts_max": ((int, float), 3),
    "job_health_warning": ((int, float), 80),
    "job_health_critical": ((int, float), 50),
    "job_duration_z_max": ((int, float), 3.5),
    "clickhouse_parts_max": (int, 150),
}

PROFILE_KEYS = {"title", "description", "read_only", "timeout", "drivers", "poll", "alerts", "keys", "theme", "notify",
                "keymap", "rules", "alertmanager"}

RULE_CHECKS = ("service_down", "app_down", "service_degraded", "latency", "warehouse_down", "coverage", "restart_loop",
               "table_files", "too_many_parts", "consumer_lag", "lag_rows", "lag_seconds", "freshness", "job_failed",
               "job_health", "job_duration_anomaly", "error_rate", "p95")
"""The checks a rule may use (``opsconsole.monitor.rules.CHECKS``; a test keeps the two equal)."""
RULE_FIELDS: Mapping[str, type | tuple[type, ...]] = {
    "check": str, "severity": str, "runbook": str, "runbooks": list, "threshold": (int, float),
    "subjects": list, "driver_types": list, "for_polls": int, "clear_polls": int, "window_s": (int, float),
    "enabled": bool, "summary": str,
}
"""Fields of a profile's ``rules:`` entries (see ``opsconsole.monitor.rules.Rule``)."""


def _build_profile(name: str, raw: Any, path: str) -> Profile:
    from opsconsole.drivers import driver_class

    where = f"profiles.{name}"
    if not isinstance(raw, dict):
        raise ConfigError("a profile must be a mapping", path=path, key=where)
    for key in raw:
        if key not in PROFILE_KEYS:
            raise ConfigError(f"unknown key {key!r} (allowed: {', '.join(sorted(PROFILE_KEYS))})",
                              path=path, line=line_of(raw, key), key=f"{where}.{key}")
    get = field_reader(raw, path=path, where=where)

    title = get("title", str, name)
    description = get("description", str, "")
    read_only = get("read_only", bool, False)
    timeout = positive(get("timeout", (int, float), 10), path=path, line=line_of(raw, "timeout"),
                        key=f"{where}.timeout")
    theme = get("theme", str, None)

    drivers_raw = raw.get("drivers")
    if not isinstance(drivers_raw, dict) or not drivers_raw:
        raise ConfigError("a profile needs a non-empty 'drivers' mapping", path=path,
                          line=line_of(raw, "drivers") or start_line(raw), key=f"{where}.drivers")
    drivers: list[DriverConfig] = []
    for inst, spec in drivers_raw.items():
        dwhere = f"{where}.drivers.{inst}"
        dline = line_of(drivers_raw, inst)
        if not isinstance(spec, dict):
            raise ConfigError("a driver must be a mapping with 'type' and 'options'", path=path, line=dline, key=dwhere)
        for key in spec:
            if key not in {"type", "options", "timeout"}:
                raise ConfigError(f"unknown key {key!r} (allowed: options, timeout, type)", path=path,
                                  line=line_of(spec, key), key=f"{dwhere}.{key}")
        if "type" not in spec:
            raise ConfigError("missing required key 'type'", path=path, line=dline, key=f"{dwhere}.type")
        try:
            cls = driver_class(str(spec["type"]))
        except ConfigError as exc:
            raise ConfigError(exc.message, path=path, line=line_of(spec, "type"),
                              key=f"{dwhere}.type") from None
        options_raw = spec.get("options") or {}
        if not isinstance(options_raw, dict):
            raise ConfigError("options must be a mapping", path=path, line=line_of(spec, "options"),
                              key=f"{dwhere}.options")
        declared = {o.name: o for o in cls.options}
        options: dict[str, Any] = {}
        for key, value in options_raw.items():
            oline = line_of(options_raw, key)
            okey = f"{dwhere}.options.{key}"
            if key not in declared:
                raise ConfigError(f"unknown option {key!r} for driver type {cls.kind!r} "
                                  f"(options: {', '.join(sorted(declared)) or 'none'})",
                                  path=path, line=oline, key=okey)
            opt = declared[key]
            value = coerce_scalar(expand_env(value, path=path, line=oline, key=okey), opt.type)
            check_type(value, opt.type, path=path, line=oline, key=okey)
            options[key] = Secret(value) if opt.secret and isinstance(value, str) else value
        for opt in cls.options:
            if opt.name not in options:
                if opt.required:
                    raise ConfigError(f"missing required option {opt.name!r} for driver type {cls.kind!r}"
                                      + (f" ({opt.help})" if opt.help else ""), path=path,
                                      line=line_of(spec, "options") or dline, key=f"{dwhere}.options.{opt.name}")
                options[opt.name] = opt.default
        dtimeout = spec.get("timeout", timeout)
        check_type(dtimeout, (int, float), path=path, line=line_of(spec, "timeout"), key=f"{dwhere}.timeout")
        positive(dtimeout, path=path, line=line_of(spec, "timeout"), key=f"{dwhere}.timeout")
        drivers.append(DriverConfig(name=str(inst), kind=cls.kind, options=options, timeout=float(dtimeout)))

    poll = dict(DEFAULT_POLL)
    poll_raw = raw.get("poll") or {}
    if not isinstance(poll_raw, dict):
        raise ConfigError("poll must be a mapping of pane -> seconds", path=path, line=line_of(raw, "poll"),
                          key=f"{where}.poll")
    for key, value in poll_raw.items():
        pkey = f"{where}.poll.{key}"
        if key not in {p.value for p in Pane}:
            raise ConfigError(f"unknown pane {key!r} (panes: {', '.join(p.value for p in Pane)})", path=path,
                              line=line_of(poll_raw, key), key=pkey)
        value = coerce_scalar(expand_env(value, path=path, line=line_of(poll_raw, key), key=pkey), (int, float))
        check_type(value, (int, float), path=path, line=line_of(poll_raw, key), key=pkey)
        if value < MIN_POLL_SECONDS:
            raise ConfigError(f"poll interval must be at least {MIN_POLL_SECONDS}s", path=path,
                              line=line_of(poll_raw, key), key=pkey)
        poll[key] = float(value)

    alerts = {k: v[1] for k, v in ALERT_THRESHOLDS.items()}
    alerts_raw = raw.get("alerts") or {}
    if not isinstance(alerts_raw, dict):
        raise ConfigError("alerts must be a mapping of threshold -> value", path=path,
                          line=line_of(raw, "alerts"), key=f"{where}.alerts")
    for key, value in alerts_raw.items():
        akey = f"{where}.alerts.{key}"
        if key not in ALERT_THRESHOLDS:
            raise ConfigError(f"unknown alert threshold {key!r} (known: {', '.join(ALERT_THRESHOLDS)})",
                              path=path, line=line_of(alerts_raw, key), key=akey)
        expected = ALERT_THRESHOLDS[key][0]
        value = coerce_scalar(expand_env(value, path=path, line=line_of(alerts_raw, key), key=akey), expected)
        check_type(value, expected, path=path, line=line_of(alerts_raw, key), key=akey)
        alerts[key] = value

    keys_raw = raw.get("keys") or {}
    if not isinstance(keys_raw, dict):
        raise ConfigError("keys must be a mapping of key -> procedure", path=path, line=line_of(raw, "keys"),
                          key=f"{where}.keys")
    keys: dict[str, str] = {}
    for key, value in keys_raw.items():
        check_type(value, str, path=path, line=line_of(keys_raw, key), key=f"{where}.keys.{key}")
        keys[str(key)] = value
    if keys:  # a key bound to a procedure that does not exist would do nothing when pressed
        from opsconsole.runbooks.library import load_library

        known = load_library().runbooks
        for key, value in keys.items():
            if value not in known:
                raise ConfigError(f"key {key!r} is bound to unknown procedure {value!r}", path=path,
                                  line=line_of(keys_raw, key), key=f"{where}.keys.{key}")

    return Profile(name=name, title=title, description=description, read_only=read_only,
                   drivers=tuple(drivers), poll=poll, alerts=alerts, keys=keys, theme=theme, source=path,
                   notify=_notify(raw, path, where), keymap=_keymap(raw, path, where, keys),
                   rules=_rules(raw, path, where), theme_line=line_of(raw, "theme") if theme else None,
                   alertmanager=_alertmanager(raw, path, where))


def _rules(raw: Any, path: str, where: str) -> dict[str, dict[str, Any]]:
    """``rules:`` of a profile: each rule's fields checked here, with file and line, before any poll."""
    rules_raw = raw.get("rules") or {}
    if not isinstance(rules_raw, dict):
        raise ConfigError("rules must be a mapping of rule name -> fields", path=path, line=line_of(raw, "rules"),
                          key=f"{where}.rules")
    out: dict[str, dict[str, Any]] = {}
    for name, fields in rules_raw.items():
        rwhere = f"{where}.rules.{name}"
        if not isinstance(fields, dict):
            raise ConfigError("a rule is a mapping of fields (check, severity, runbook, threshold, subjects, ...)",
                              path=path, line=line_of(rules_raw, name), key=rwhere)
        rule: dict[str, Any] = {}
        for key, value in fields.items():
            fkey, fline = f"{rwhere}.{key}", line_of(fields, key)
            if key not in RULE_FIELDS:
                raise ConfigError(f"unknown rule field {key!r} (fields: {', '.join(RULE_FIELDS)})", path=path,
                                  line=fline, key=fkey)
            value = coerce_scalar(expand_env(value, path=path, line=fline, key=fkey), RULE_FIELDS[key])
            check_type(value, RULE_FIELDS[key], path=path, line=fline, key=fkey)
            if key == "check" and value not in RULE_CHECKS:
                raise ConfigError(f"unknown check {value!r} (checks: {', '.join(RULE_CHECKS)})", path=path,
                                  line=fline, key=fkey)
            if key == "severity" and value not in {"critical", "warning", "info"}:
                raise ConfigError(f"severity must be critical, warning or info, not {value!r}", path=path,
                                  line=fline, key=fkey)
            if key in {"for_polls", "clear_polls"} and value < 1:
                raise ConfigError(f"{key} must be at least 1", path=path, line=fline, key=fkey)
            if key in {"runbooks", "subjects", "driver_types"} and not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{key} must be a list of names", path=path, line=fline, key=fkey)
            rule[key] = value
        out[str(name)] = rule
    return out


def _keymap(raw: Any, path: str, where: str, runbook_keys: Mapping[str, str]) -> dict[str, str]:
    if "keymap" not in raw:
        return {}
    from opsconsole.keymap import parse_keymap

    return parse_keymap(raw.get("keymap"), path=path, where=f"{where}.keymap", line=line_of, runbook_keys=runbook_keys)


def _notify(raw: Any, path: str, where: str) -> Any:
    if "notify" not in raw:  # the notify package pulls in smtplib and email: not on the first frame's path
        return None
    from opsconsole.notify.settings import parse_notify

    return parse_notify(raw.get("notify"), path=path, where=f"{where}.notify", line=line_of(raw, "notify"))


def _alertmanager(raw: Any, path: str, where: str) -> Any:
    if "alertmanager" not in raw:
        return None
    from opsconsole.notify.alertmanager_settings import parse_alertmanager

    return parse_alertmanager(raw.get("alertmanager"), path=path, where=f"{where}.alertmanager",
                              line=line_of(raw, "alertmanager"))



# --------------------------------------------------------------------------- discovery
def packaged_profiles_path() -> Path:
    """The profiles file shipped with opsconsole (wheel data, or the source tree)."""
    here = Path(__file__).resolve().parent
    wheel_copy = here / "data" / "profiles.yaml"
    if wheel_copy.exists():
        return wheel_copy
    return here.parent / "profiles.yaml"


def discover(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Find the profiles file to use, in the documented order."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.exists():
            raise ConfigError("file not found (given with --config)", path=str(path))
        return path
    for candidate in (Path.cwd() / "profiles.yaml", user_config_dir() / "profiles.yaml"):
        if candidate.is_file():
            return candidate
    return packaged_profiles_path()


def load(path: str | os.PathLike[str]) -> ProfilesFile:
    """Parse a profiles file and check its top level; profiles are checked when chosen."""
    path = str(path)
    data = load_yaml(read_text(path, "profiles file"), path)
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping with a 'profiles' key", path=path, line=1)
    for key in data:
        if key not in {"profiles", "default_profile", "version", "state_dir"}:
            raise ConfigError(f"unknown key {key!r} (allowed: default_profile, profiles, state_dir, version)",
                              path=path, line=line_of(data, key), key=key)
    if "state_dir" in data:  # --state-dir and $OPSCONSOLE_STATE_DIR win over the file
        state_dir = expand_env(data["state_dir"], path=path, line=line_of(data, "state_dir"), key="state_dir")
        check_type(state_dir, str, path=path, line=line_of(data, "state_dir"), key="state_dir")
        base = Path(path).parent
        os.environ.setdefault("OPSCONSOLE_STATE_DIR", str((base / Path(state_dir).expanduser()).resolve()))
    profiles = data.get("profiles")
    if not isinstance(profiles, dict) or not profiles:
        raise ConfigError("missing or empty 'profiles' mapping", path=path, line=line_of(data, "profiles") or 1,
                          key="profiles")
    default = data.get("default_profile", next(iter(profiles)))
    if default not in profiles:
        raise ConfigError(f"default_profile {default!r} is not a profile; known profiles: {', '.join(profiles)}",
                          path=path, line=line_of(data, "default_profile"), key="default_profile")
    return ProfilesFile(path=path, default_profile=str(default), raw=profiles, names=tuple(profiles))


def load_profile(name: str | None = None, config: str | os.PathLike[str] | None = None) -> Profile:
    """Discover, load and validate one profile (the common entry point)."""
    return load(discover(config)).profile(name)


def validate_all(path: str | os.PathLike[str]) -> list[Profile]:
    """Validate every profile of a file (used by tests and ``opsconsole check --all``)."""
    pf = load(path)
    return [pf.profile(n) for n in pf.names]
