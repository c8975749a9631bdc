"""The ``notify:`` section of a profile: channels, rate limit, resolve messages.

Validated as strictly as the rest of ``profiles.yaml`` (file, line and key in
every error) because a notification channel that is silently misconfigured is
found out during the outage it was meant to announce.

Example::

    notify:
      rate_limit_minutes: 15     # seed 004: one message per alert per 15 min
      max_per_hour: 30           # per channel, against alert storms
      resolve: true              # send "resolved" when an alert clears
      min_severity: warning
      channels:
        # any apprise URL: slack://, msteams://, mailto://, json://, pagerduty://, opsgenie:// ...
        pager: {type: apprise, url: "pagerduty://${PD_INTEGRATION_KEY}@${PD_API_KEY}", min_severity: critical}
        oncall: {type: slack, url: "${SLACK_WEBHOOK_URL}", min_severity: critical}
        teams: {type: teams, url: "${TEAMS_WORKFLOW_URL}"}   # a Teams workflow (Power Automate) webhook
        hook: {type: webhook, url: "https://...", headers: {Authorization: "Bearer ${TOKEN}"}}
        mail: {type: email, host: smtp.example.com, port: 587, starttls: true,
               username: ops, password: "${SMTP_PASSWORD}", sender: ops@example.com, to: [oncall@example.com]}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsconsole.errors import ConfigError
from opsconsole.model import Severity
from opsconsole.secret import Secret
from opsconsole.yamlio import check_type, coerce_scalar, expand_env, field_reader, line_of

CHANNEL_TYPES = ("apprise", "slack", "teams", "webhook", "email")
TOP_KEYS = {"rate_limit_minutes", "max_per_hour", "resolve", "min_severity", "channels"}
CHANNEL_KEYS: Mapping[str, dict[str, tuple[type | tuple[type, ...], bool, bool]]] = {
    # key -> (type, required, secret)
    "apprise": {"url": (str, True, True)},
    "slack": {"url": (str, True, True)},
    "teams": {"url": (str, True, True)},
    "webhook": {"url": (str, True, True), "headers": (dict, False, False)},
    "email": {"host": (str, True, False), "port": (int, False, False), "starttls": (bool, False, False),
              "ssl": (bool, False, False), "username": (str, False, False), "password": (str, False, True),
              "sender": (str, True, False), "to": (list, True, False)},
}
COMMON_KEYS = {"type", "min_severity", "timeout"}


@dataclass(frozen=True)
class ChannelSettings:
    name: str
    type: str
    options: Mapping[str, Any]
    min_severity: Severity = Severity.WARNING
    timeout: float = 10.0


@dataclass(frozen=True)
class NotifySettings:
    channels: tuple[ChannelSettings, ...] = ()
    rate_limit_minutes: float = 15.0
    max_per_hour: int = 30
    resolve: bool = True
    min_severity: Severity = Severity.WARNING
    extra: Mapping[str, Any] = field(default_factory=dict)

    def secrets(self) -> list[str]:
        out: list[str] = []
        for ch in self.channels:
            for value in ch.options.values():
                if isinstance(value, Secret):
                    out.append(value.reveal())
                elif isinstance(value, Mapping):
                    out.extend(v.reveal() for v in value.values() if isinstance(v, Secret))
        return [s for s in out if s]


def _severity(value: Any, *, path: str, line: int | None, key: str) -> Severity:
    names = {s.name.lower(): s for s in Severity}
    if not isinstance(value, str) or value.lower() not in names:
        raise ConfigError(f"expected one of {', '.join(names)}, got {value!r}", path=path, line=line, key=key)
    return names[value.lower()]


def parse_notify(raw: Any, *, path: str, where: str, line: int | None) -> NotifySettings:
    """Validate a profile's ``notify:`` mapping (``${VAR}`` already allowed in values)."""
    if raw is None:
        return NotifySettings()
    if not isinstance(raw, dict):
        raise ConfigError("notify must be a mapping (channels, rate_limit_minutes, max_per_hour, resolve, "
                          "min_severity)", path=path, line=line, key=where)
    for key in raw:
        if key not in TOP_KEYS:
            raise ConfigError(f"unknown key {key!r} (allowed: {', '.join(sorted(TOP_KEYS))})", path=path,
                              line=line_of(raw, key), key=f"{where}.{key}")

    top = field_reader(raw, path=path, where=where)

    rate = float(top("rate_limit_minutes", (int, float), 15))
    max_per_hour = int(top("max_per_hour", int, 30))
    resolve = bool(top("resolve", bool, True))
    min_sev = _severity(top("min_severity", str, "warning"), path=path, line=line_of(raw, "min_severity"),
                        key=f"{where}.min_severity")
    for key, value in (("rate_limit_minutes", rate), ("max_per_hour", max_per_hour)):
        if value < 0:
            raise ConfigError("must not be negative", path=path, line=line_of(raw, key), key=f"{where}.{key}")

    channels_raw = raw.get("channels") or {}
    if not isinstance(channels_raw, dict):
        raise ConfigError("channels must be a mapping of name -> channel", path=path, line=line_of(raw, "channels"),
                          key=f"{where}.channels")
    channels: list[ChannelSettings] = []
    for name, spec in channels_raw.items():
        cwhere = f"{where}.channels.{name}"
        cline = line_of(channels_raw, name)
        if not isinstance(spec, dict):
            raise ConfigError("a channel must be a mapping with a 'type'", path=path, line=cline, key=cwhere)
        ctype = spec.get("type")
        if ctype not in CHANNEL_TYPES:
            raise ConfigError(f"type must be one of {', '.join(CHANNEL_TYPES)}, got {ctype!r}", path=path,
                              line=line_of(spec, "type") if "type" in spec else cline, key=f"{cwhere}.type")
        allowed = CHANNEL_KEYS[ctype]
        options: dict[str, Any] = {}
        for key, value in spec.items():
            kline, kkey = line_of(spec, key), f"{cwhere}.{key}"
            if key in COMMON_KEYS:
                continue
            if key not in allowed:
                raise ConfigError(f"unknown key {key!r} for a {ctype} channel (allowed: "
                                  f"{', '.join(sorted(set(allowed) | COMMON_KEYS))})", path=path, line=kline, key=kkey)
            expected, _required, secret = allowed[key]
            value = coerce_scalar(expand_env(value, path=path, line=kline, key=kkey), expected)
            check_type(value, expected, path=path, line=kline, key=kkey)
            if key == "to" and (not value or not all(isinstance(v, str) and "@" in v for v in value)):
                raise ConfigError("to must be a non-empty list of e-mail addresses", path=path, line=kline, key=kkey)
            if key == "url" and ctype != "apprise" and not str(value).startswith(("http://", "https://")):
                raise ConfigError("url must start with http:// or https://", path=path, line=kline, key=kkey)
            if key == "headers":
                value = {str(k): Secret(str(v)) for k, v in value.items()}
            options[key] = Secret(value) if secret else value
        for key, (_t, required, _s) in allowed.items():
            if required and key not in options:
                raise ConfigError(f"missing required key {key!r} for a {ctype} channel", path=path, line=cline,
                                  key=f"{cwhere}.{key}")
        if ctype in APPRISE_TYPES:
            url = _apprise_url(ctype, options)
            _check_apprise(url, ctype, path=path, line=line_of(spec, "url") if "url" in spec else cline,
                           key=f"{cwhere}.url" if "url" in spec else cwhere)
            options["url"] = Secret(url)
        sev = _severity(spec.get("min_severity", min_sev.name.lower()), path=path,
                        line=line_of(spec, "min_severity") if "min_severity" in spec else cline,
                        key=f"{cwhere}.min_severity")
        timeout = spec.get("timeout", 10)
        check_type(timeout, (int, float), path=path, line=line_of(spec, "timeout"), key=f"{cwhere}.timeout")
        channels.append(ChannelSettings(name=str(name), type=ctype, options=options, min_severity=sev,
                                        timeout=float(timeout)))
    return NotifySettings(channels=tuple(channels), rate_limit_minutes=rate, max_per_hour=max_per_hour,
                          resolve=resolve, min_severity=min_sev)


APPRISE_TYPES = {"apprise", "slack", "teams", "email"}
"""Channel types delivered by apprise: slack and teams take their webhook URL as apprise reads it
natively, email becomes a ``mailto://`` URL."""


def _apprise_url(ctype: str, options: Mapping[str, Any]) -> str:
    from urllib.parse import quote

    from opsconsole.secret import reveal

    if ctype != "email":
        return str(reveal(options["url"]))
    scheme = "mailtos" if options.get("ssl") or options.get("starttls") else "mailto"
    auth = ""
    if options.get("username"):
        auth = f"{quote(options['username'], safe='')}:{quote(reveal(options.get('password')) or '', safe='')}@"
    port = f":{options['port']}" if options.get("port") else ""
    query = f"from={quote(options['sender'])}&to={quote(','.join(options['to']), safe=',@')}&smtp={options['host']}"
    if options.get("ssl") or options.get("starttls"):
        query += "&mode=" + ("ssl" if options.get("ssl") else "starttls")
    return f"{scheme}://{auth}{options['host']}{port}?{query}"


def _check_apprise(url: str, ctype: str, *, path: str, line: int | None, key: str) -> None:
    """A URL apprise cannot read is a config error now, not a silent failure during the outage."""
    import apprise

    if apprise.Apprise.instantiate(url, suppress_exceptions=True):
        return

    hint = {"slack": "a Slack incoming-webhook URL (https://hooks.slack.com/services/...) or type: apprise with "
                     "slack://", "teams": "a Teams workflow (Power Automate) webhook URL, or type: apprise with "
                     "workflows://"}.get(ctype, "see https://github.com/caronc/apprise/wiki for URL formats")
    raise ConfigError(f"apprise does not recognise {redact_url(url)}: expected {hint}", path=path, line=line, key=key)


_HEADER_ARG = re.compile(r"((?:\+|%2B)[^=&]+=)[^&]*", re.IGNORECASE)
_SECRET_ARG = re.compile(r"((?:^|[?&])(?:token|key|apikey|api_key|secret|password|pass|pw|webhook)=)[^&]*",
                         re.IGNORECASE)


def redact_url(url: str) -> str:
    """An apprise or http(s) URL with its credentials, tokens and header values masked.

    apprise's own ``url(privacy=True)`` masks what each service counts as secret;
    header arguments (``+Authorization=...``) and credential-like query keys are
    masked on top, because apprise shows those in clear.
    """
    shown = url
    try:
        import apprise

        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if plugin:
            shown = plugin.url(privacy=True)
    except Exception:  # showing a URL must never fail; fall through to the generic masking
        pass
    shown = re.sub(r"^([a-z0-9+.-]+://)[^/@?#]*@", r"\1****@", shown, flags=re.IGNORECASE)
    if not shown.startswith(("http://", "https://")) or shown == url:
        shown = _HEADER_ARG.sub(r"\1****", shown)
    shown = _SECRET_ARG.sub(r"\1****", shown)
    if shown.startswith(("http://", "https://")) and shown == url:
        # A bare webhook URL is itself the secret (Slack, Teams): keep scheme and host only.
        shown = re.sub(r"^(https?://[^/?#]+).*$", r"\1/****", shown)
    return shown
