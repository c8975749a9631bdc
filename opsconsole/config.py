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
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opsconsole.errors import ConfigError
from opsconsole.model import Pane

ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")
DEFAULT_POLL: Mapping[str, float] = {"services": 5, "queries": 10, "tables": 10, "lag": 10, "jobs": 30}
MIN_POLL_SECONDS = 0.5


class Secret:
    """A configured secret: usable by drivers, unprintable everywhere else."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('••••')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def reveal(value: Any) -> Any:
    """Plain value of an option that may be a :class:`Secret`."""
    return value.reveal() if isinstance(value, Secret) else value


# --------------------------------------------------------------------------- YAML with lines
class _LineDict(dict):
    """A mapping that remembers the line (1-based) of each key."""

    lines: dict[str, int]
    line: int


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader (libyaml's when present: 10x faster, it matters for the first frame)
    that records key lines and rejects duplicate keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    result = _LineDict()
    result.lines = {}
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in result:
            raise ConfigError(f"duplicate key (first at line {result.lines[key]})",
                              path=getattr(loader, "source_path", None), line=key_node.start_mark.line + 1, key=key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _load_yaml(text: str, path: str) -> Any:
    loader = _Loader(text)
    loader.source_path = path  # type: ignore[attr-defined]
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", path=path, line=line) from None
    finally:
        loader.dispose()


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
    alertmanager: Any = None
    """``opsconsole.notify.alertmanager.AlertmanagerSettings`` (``alertmanager:``), pushed to by ``watch``."""

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
}

PROFILE_KEYS = {"title", "description", "read_only", "timeout", "drivers", "poll", "alerts", "keys", "theme", "notify",
                "keymap", "rules", "alertmanager"}

RULE_CHECKS = ("service_down", "service_degraded", "latency", "warehouse_down", "coverage", "restart_loop",
               "table_files", "consumer_lag", "lag_rows", "lag_seconds", "freshness", "job_failed", "error_rate",
               "p95")
"""The checks a rule may use (``opsconsole.monitor.rules.CHECKS``; a test keeps the two equal)."""
RULE_FIELDS: Mapping[str, type | tuple[type, ...]] = {
    "check": str, "severity": str, "runbook": str, "runbooks": list, "threshold": (int, float),
    "subjects": list, "driver_types": list, "for_polls": int, "clear_polls": int, "window_s": (int, float),
    "enabled": bool, "summary": str,
}
"""Fields of a profile's ``rules:`` entries (see ``opsconsole.monitor.rules.Rule``)."""


def _type_name(t: type | tuple[type, ...]) -> str:
    if isinstance(t, tuple):
        return " or ".join(x.__name__ for x in t)
    return t.__name__


def _check_type(value: Any, expected: type | tuple[type, ...], *, path: str, line: int | None, key: str) -> None:
    types = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types) or (float in types and isinstance(value, int) and not isinstance(value, bool))
    if not ok:
        raise ConfigError(f"expected {_type_name(expected)}, got {type(value).__name__} {value!r}",
                          path=path, line=line, key=key)


def _line(mapping: Any, key: str) -> int | None:
    if isinstance(mapping, _LineDict):
        return mapping.lines.get(key, mapping.line)
    return None


def _expand(value: Any, *, path: str, line: int | None, key: str) -> Any:
    """Expand ``${VAR}`` and ``${VAR:default}`` from the environment (seed 004)."""
    if isinstance(value, str):
        def sub(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
            if var in os.environ:
                return os.environ[var]
            if default is not None:
                return default
            raise ConfigError(f"environment variable ${{{var}}} is not set and has no default "
                              f"(write ${{{var}:default}} to give one)", path=path, line=line, key=key)
        return ENV_PATTERN.sub(sub, value)
    if isinstance(value, list):
        return [_expand(v, path=path, line=line, key=key) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, path=path, line=_line(value, k) or line, key=f"{key}.{k}") for k, v in value.items()}
    return value


def _coerce_scalar(value: Any, expected: type | tuple[type, ...]) -> Any:
    """Values from ``${VAR}`` arrive as strings; turn them into the declared type."""
    if not isinstance(value, str):
        return value
    types = expected if isinstance(expected, tuple) else (expected,)
    if str in types:
        return value
    for t in types:
        try:
            if t is bool:
                if value.lower() in {"true", "yes", "1", "on"}:
                    return True
                if value.lower() in {"false", "no", "0", "off"}:
                    return False
            elif t in (int, float):
                return t(value)
        except ValueError:
            continue
    return value


def _build_profile(name: str, raw: Any, path: str) -> Profile:
    from opsconsole.drivers import driver_class

    where = f"profiles.{name}"
    if not isinstance(raw, dict):
        raise ConfigError("a profile must be a mapping", path=path, key=where)
    for key in raw:
        if key not in PROFILE_KEYS:
            raise ConfigError(f"unknown key {key!r} (allowed: {', '.join(sorted(PROFILE_KEYS))})",
                              path=path, line=_line(raw, key), key=f"{where}.{key}")
    def get(key: str, expected: type | tuple[type, ...], default: Any) -> Any:
        if key not in raw:
            return default
        value = _coerce_scalar(_expand(raw[key], path=path, line=_line(raw, key), key=f"{where}.{key}"), expected)
        _check_type(value, expected, path=path, line=_line(raw, key), key=f"{where}.{key}")
        return value

    title = get("title", str, name)
    description = get("description", str, "")
    read_only = get("read_only", bool, False)
    timeout = float(get("timeout", (int, float), 10))
    theme = get("theme", str, None)

    drivers_raw = raw.get("drivers")
    if not isinstance(drivers_raw, dict) or not drivers_raw:
        raise ConfigError("a profile needs a non-empty 'drivers' mapping", path=path,
                          line=_line(raw, "drivers") or _line_of(raw), key=f"{where}.drivers")
    drivers: list[DriverConfig] = []
    for inst, spec in drivers_raw.items():
        dwhere = f"{where}.drivers.{inst}"
        dline = _line(drivers_raw, inst)
        if not isinstance(spec, dict):
            raise ConfigError("a driver must be a mapping with 'type' and 'options'", path=path, line=dline, key=dwhere)
        for key in spec:
            if key not in {"type", "options", "timeout"}:
                raise ConfigError(f"unknown key {key!r} (allowed: options, timeout, type)", path=path,
                                  line=_line(spec, key), key=f"{dwhere}.{key}")
        if "type" not in spec:
            raise ConfigError("missing required key 'type'", path=path, line=dline, key=f"{dwhere}.type")
        try:
            cls = driver_class(str(spec["type"]))
        except ConfigError as exc:
            raise ConfigError(str(exc).split(": ", 1)[-1], path=path, line=_line(spec, "type"),
                              key=f"{dwhere}.type") from None
        options_raw = spec.get("options") or {}
        if not isinstance(options_raw, dict):
            raise ConfigError("options must be a mapping", path=path, line=_line(spec, "options"),
                              key=f"{dwhere}.options")
        declared = {o.name: o for o in cls.options}
        options: dict[str, Any] = {}
        for key, value in options_raw.items():
            oline = _line(options_raw, key)
            okey = f"{dwhere}.options.{key}"
            if key not in declared:
                raise ConfigError(f"unknown option {key!r} for driver type {cls.kind!r} "
                                  f"(options: {', '.join(sorted(declared)) or 'none'})",
                                  path=path, line=oline, key=okey)
            opt = declared[key]
            value = _coerce_scalar(_expand(value, path=path, line=oline, key=okey), opt.type)
            _check_type(value, opt.type, path=path, line=oline, key=okey)
            options[key] = Secret(value) if opt.secret and isinstance(value, str) else value
        for opt in cls.options:
            if opt.name not in options:
                if opt.required:
                    raise ConfigError(f"missing required option {opt.name!r} for driver type {cls.kind!r}"
                                      + (f" ({opt.help})" if opt.help else ""), path=path,
                                      line=_line(spec, "options") or dline, key=f"{dwhere}.options.{opt.name}")
                options[opt.name] = opt.default
        dtimeout = spec.get("timeout", timeout)
        _check_type(dtimeout, (int, float), path=path, line=_line(spec, "timeout"), key=f"{dwhere}.timeout")
        drivers.append(DriverConfig(name=str(inst), kind=cls.kind, options=options, timeout=float(dtimeout)))

    poll = dict(DEFAULT_POLL)
    poll_raw = raw.get("poll") or {}
    if not isinstance(poll_raw, dict):
        raise ConfigError("poll must be a mapping of pane -> seconds", path=path, line=_line(raw, "poll"),
                          key=f"{where}.poll")
    for key, value in poll_raw.items():
        pkey = f"{where}.poll.{key}"
        if key not in {p.value for p in Pane}:
            raise ConfigError(f"unknown pane {key!r} (panes: {', '.join(p.value for p in Pane)})", path=path,
                              line=_line(poll_raw, key), key=pkey)
        value = _coerce_scalar(_expand(value, path=path, line=_line(poll_raw, key), key=pkey), (int, float))
        _check_type(value, (int, float), path=path, line=_line(poll_raw, key), key=pkey)
        if value < MIN_POLL_SECONDS:
            raise ConfigError(f"poll interval must be at least {MIN_POLL_SECONDS}s", path=path,
                              line=_line(poll_raw, key), key=pkey)
        poll[key] = float(value)

    alerts = {k: v[1] for k, v in ALERT_THRESHOLDS.items()}
    alerts_raw = raw.get("alerts") or {}
    if not isinstance(alerts_raw, dict):
        raise ConfigError("alerts must be a mapping of threshold -> value", path=path,
                          line=_line(raw, "alerts"), key=f"{where}.alerts")
    for key, value in alerts_raw.items():
        akey = f"{where}.alerts.{key}"
        if key not in ALERT_THRESHOLDS:
            raise ConfigError(f"unknown alert threshold {key!r} (known: {', '.join(ALERT_THRESHOLDS)})",
                              path=path, line=_line(alerts_raw, key), key=akey)
        expected = ALERT_THRESHOLDS[key][0]
        value = _coerce_scalar(_expand(value, path=path, line=_line(alerts_raw, key), key=akey), expected)
        _check_type(value, expected, path=path, line=_line(alerts_raw, key), key=akey)
        alerts[key] = value

    keys_raw = raw.get("keys") or {}
    if not isinstance(keys_raw, dict):
        raise ConfigError("keys must be a mapping of key -> procedure", path=path, line=_line(raw, "keys"),
                          key=f"{where}.keys")
    keys: dict[str, str] = {}
    for key, value in keys_raw.items():
        _check_type(value, str, path=path, line=_line(keys_raw, key), key=f"{where}.keys.{key}")
        keys[str(key)] = value

    return Profile(name=name, title=title, description=description, read_only=read_only,
                   drivers=tuple(drivers), poll=poll, alerts=alerts, keys=keys, theme=theme, source=path,
                   notify=_notify(raw, path, where), keymap=_keymap(raw, path, where, keys),
                   rules=_rules(raw, path, where), alertmanager=_alertmanager(raw, path, where))


def _rules(raw: Any, path: str, where: str) -> dict[str, dict[str, Any]]:
    """``rules:`` of a profile: each rule's fields checked here, with file and line, before any poll."""
    rules_raw = raw.get("rules") or {}
    if not isinstance(rules_raw, dict):
        raise ConfigError("rules must be a mapping of rule name -> fields", path=path, line=_line(raw, "rules"),
                          key=f"{where}.rules")
    out: dict[str, dict[str, Any]] = {}
    for name, fields in rules_raw.items():
        rwhere = f"{where}.rules.{name}"
        if not isinstance(fields, dict):
            raise ConfigError("a rule is a mapping of fields (check, severity, runbook, threshold, subjects, ...)",
                              path=path, line=_line(rules_raw, name), key=rwhere)
        rule: dict[str, Any] = {}
        for key, value in fields.items():
            fkey, fline = f"{rwhere}.{key}", _line(fields, key)
            if key not in RULE_FIELDS:
                raise ConfigError(f"unknown rule field {key!r} (fields: {', '.join(RULE_FIELDS)})", path=path,
                                  line=fline, key=fkey)
            value = _coerce_scalar(_expand(value, path=path, line=fline, key=fkey), RULE_FIELDS[key])
            _check_type(value, RULE_FIELDS[key], path=path, line=fline, key=fkey)
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

    return parse_keymap(raw.get("keymap"), path=path, where=f"{where}.keymap", line=_line, runbook_keys=runbook_keys)


def _notify(raw: Any, path: str, where: str) -> Any:
    if "notify" not in raw:  # the notify package pulls in smtplib and email: not on the first frame's path
        return None
    from opsconsole.notify.settings import parse_notify

    return parse_notify(raw.get("notify"), path=path, where=f"{where}.notify", line=_line(raw, "notify"))


def _alertmanager(raw: Any, path: str, where: str) -> Any:
    if "alertmanager" not in raw:
        return None
    from opsconsole.notify.alertmanager import parse_alertmanager

    return parse_alertmanager(raw.get("alertmanager"), path=path, where=f"{where}.alertmanager",
                              line=_line(raw, "alertmanager"))


def _line_of(mapping: Any) -> int | None:
    return mapping.line if isinstance(mapping, _LineDict) else None


# --------------------------------------------------------------------------- discovery
def packaged_profiles_path() -> Path:
    """The profiles file shipped with opsconsole (wheel data, or the source tree)."""
    here = Path(__file__).resolve().parent
    wheel_copy = here / "data" / "profiles.yaml"
    if wheel_copy.exists():
        return wheel_copy
    return here.parent / "profiles.yaml"


def user_config_dir() -> Path:
    from platformdirs import user_config_dir as _ucd

    return Path(os.environ.get("OPSCONSOLE_CONFIG_DIR") or _ucd("opsconsole"))


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
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from None
    data = _load_yaml(text, path)
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping with a 'profiles' key", path=path, line=1)
    for key in data:
        if key not in {"profiles", "default_profile", "version"}:
            raise ConfigError(f"unknown key {key!r} (allowed: default_profile, profiles, version)",
                              path=path, line=_line(data, key), key=key)
    profiles = data.get("profiles")
    if not isinstance(profiles, dict) or not profiles:
        raise ConfigError("missing or empty 'profiles' mapping", path=path, line=_line(data, "profiles") or 1,
                          key="profiles")
    default = data.get("default_profile", next(iter(profiles)))
    if default not in profiles:
        raise ConfigError(f"default_profile {default!r} is not a profile; known profiles: {', '.join(profiles)}",
                          path=path, line=_line(data, "default_profile"), key="default_profile")
    return ProfilesFile(path=path, default_profile=str(default), raw=profiles, names=tuple(profiles))


def load_profile(name: str | None = None, config: str | os.PathLike[str] | None = None) -> Profile:
    """Discover, load and validate one profile (the common entry point)."""
    return load(discover(config)).profile(name)


def validate_all(path: str | os.PathLike[str]) -> list[Profile]:
    """Validate every profile of a file (used by tests and ``opsconsole check --all``)."""
    pf = load(path)
    return [pf.profile(n) for n in pf.names]
