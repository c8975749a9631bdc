"""A profile's ``alertmanager:`` section: where ``watch`` pushes its alerts (API v2), and how to log in.

Validated with the rest of the profile (file, line and key for a mistake); the
pusher itself is :mod:`opsconsole.monitor.alertmanager`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opsconsole.errors import ConfigError
from opsconsole.secret import Secret
from opsconsole.yamlio import check_type, coerce_scalar, expand_env, line_of

KEYS = {"urls": list, "timeout": (int, float), "resend_seconds": (int, float), "username": str, "password": str,
        "bearer_token": str}
SECRET_KEYS = {"password", "bearer_token"}


@dataclass(frozen=True)
class AlertmanagerSettings:
    urls: tuple[str, ...]
    timeout: float = 5.0
    resend_seconds: float = 60.0
    username: str = ""
    password: Secret | None = None
    bearer_token: Secret | None = None

    def secrets(self) -> list[str]:
        return [s.reveal() for s in (self.password, self.bearer_token) if s is not None and s.reveal()]


def parse_alertmanager(raw: Any, *, path: str, where: str, line: int | None) -> AlertmanagerSettings | None:
    """Validate a profile's ``alertmanager:`` mapping."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError("alertmanager must be a mapping (urls, timeout, resend_seconds, username, password, "
                          "bearer_token)", path=path, line=line, key=where)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        kline, kkey = line_of(raw, key), f"{where}.{key}"
        if key not in KEYS:
            raise ConfigError(f"unknown key {key!r} (allowed: {', '.join(sorted(KEYS))})", path=path, line=kline,
                              key=kkey)
        value = coerce_scalar(expand_env(value, path=path, line=kline, key=kkey), KEYS[key])
        check_type(value, KEYS[key], path=path, line=kline, key=kkey)
        if key == "urls":
            if not value or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in value):
                raise ConfigError("urls must be a non-empty list of http(s):// addresses", path=path, line=kline,
                                  key=kkey)
            value = tuple(expand_env(u, path=path, line=kline, key=kkey).rstrip("/") for u in value)
        elif key in {"timeout", "resend_seconds"} and value <= 0:
            raise ConfigError("must be positive", path=path, line=kline, key=kkey)
        values[key] = Secret(value) if key in SECRET_KEYS else value
    if "urls" not in values:
        raise ConfigError("missing required key 'urls'", path=path, line=line, key=f"{where}.urls")
    if values.get("bearer_token") and values.get("username"):
        raise ConfigError("use either username/password or bearer_token, not both", path=path, line=line, key=where)
    return AlertmanagerSettings(**values)
