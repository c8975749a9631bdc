"""Notification channels: any service apprise speaks, plus the project's own JSON webhook.

Slack, Microsoft Teams, e-mail, PagerDuty, Opsgenie and a hundred more are
delivered by **apprise** (``slack://``, ``msteams://``, ``mailto://``,
``json://``, ``pagerduty://`` ...): a well-kept library, not hand-written HTTP
and SMTP. ``type: slack``, ``teams`` and ``email`` channels are turned into
apprise URLs (:mod:`opsconsole.notify.settings`). ``type: webhook`` keeps the
project's structured JSON body (rule, key, severity, runbook) that receivers
route on, which apprise's fixed ``json://`` schema (title, message, type)
cannot carry.

Each channel turns a :class:`Message` into one delivery and raises
:class:`NotifyError` with a message a person can act on when it fails; it never
retries on its own (the :class:`~opsconsole.notify.notifier.Notifier` decides).
Secrets (webhook URLs, tokens, passwords, auth headers) are revealed only here,
at the point of use; what is shown goes through :func:`redact_url`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from opsconsole.errors import OpsConsoleError
from opsconsole.model import Alert
from opsconsole.notify.settings import ChannelSettings, redact_url
from opsconsole.secret import reveal


class NotifyError(OpsConsoleError):
    """A channel could not deliver a message."""


@dataclass(frozen=True, slots=True)
class Message:
    """What is announced: an alert firing, resolving, or a channel test."""

    kind: str
    """``firing``, ``resolved`` or ``test``."""
    alert: Alert
    profile: str
    at: datetime

    @property
    def title(self) -> str:
        if self.kind == "resolved":
            return f"[RESOLVED] {self.alert.rule} {self.alert.subject}"
        if self.kind == "test":
            return f"[TEST] opsconsole notification test ({self.profile})"
        return f"[{self.alert.severity.name}] {self.alert.rule} {self.alert.subject}"

    @property
    def body(self) -> str:
        if self.kind == "test":
            return "If you can read this, the channel works."
        lines = [self.alert.message if self.kind == "firing" else f"cleared: was {self.alert.message}",
                 f"profile: {self.profile}"]
        if self.alert.runbook and self.kind == "firing":
            rb = self.alert.runbook
            lines.append(f"runbook: {rb} (opsconsole run {rb} --profile {self.profile})")
        lines.append(f"at: {self.at.isoformat(timespec='seconds')}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        a = self.alert
        return {"status": self.kind, "rule": a.rule, "severity": a.severity.name.lower(), "subject": a.subject,
                "message": a.message, "runbook": a.runbook, "key": a.key, "profile": self.profile,
                "at": self.at.isoformat(), "title": self.title}


class Channel:
    def __init__(self, settings: ChannelSettings) -> None:
        self.settings = settings
        self.name = settings.name

    async def send(self, message: Message) -> None:
        raise NotImplementedError

    def display(self) -> str:
        """Where it delivers, safe to show (secrets masked)."""
        return redact_url(str(reveal(self.settings.options.get("url", ""))))




NOTIFY_TYPES = {"resolved": "success", "test": "info"}


class AppriseChannel(Channel):
    """Any apprise URL: Slack, Teams, e-mail, json://, PagerDuty, Opsgenie, ..."""

    def url(self) -> str:
        """The apprise URL, with the channel's ``timeout`` as apprise's socket timeouts.

        apprise gives up reading after 4 s on its own, whatever the channel says; a
        chat service answering in 5 s would fail although the profile allowed 10 s.
        ``cto``/``rto`` already in the URL win.
        """
        url = str(reveal(self.settings.options["url"]))
        parts = urlsplit(url)
        given = {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
        extra = [(k, f"{self.settings.timeout:g}") for k in ("cto", "rto") if k not in given]
        if not extra:
            return url
        return urlunsplit(parts._replace(query="&".join(filter(None, [parts.query, urlencode(extra)]))))

    async def send(self, message: Message) -> None:
        import apprise

        url = self.url()
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if not plugin:
            raise NotifyError(f"{self.settings.type} channel {self.name!r}: apprise does not recognise "
                              f"{redact_url(url)}")
        sender = apprise.Apprise()
        sender.add(plugin)
        kind = NOTIFY_TYPES.get(message.kind) or ("failure" if message.alert.severity >= 2 else "warning")
        with apprise.LogCapture(level=apprise.logging.WARNING) as captured:
            try:
                ok = await asyncio.wait_for(sender.async_notify(body=message.body, title=message.title,
                                                                notify_type=kind), self.settings.timeout + 5)
            except TimeoutError:
                ok, detail = False, f"no answer within {self.settings.timeout + 5:g}s"
            else:
                detail = captured.getvalue().strip().splitlines()[-1] if captured.getvalue().strip() else ""
        if not ok:
            detail = re.sub(r"^[\d:, -]+- [A-Z]+ - ", "", detail) or "delivery failed"
            for secret in _secrets_of(url):
                detail = detail.replace(secret, "****")
            raise NotifyError(f"{self.settings.type} channel {self.name!r} ({redact_url(url)}): {detail}")


def _secrets_of(url: str) -> list[str]:
    """Pieces of a URL that must not reach an error message (credentials, path tokens, header values)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    found = [parts.password or "", unquote(parts.password or "")]
    found += [p for p in parts.path.split("/") if len(p) >= 8]
    found += [unquote(v) for v in re.findall(r"(?:\+|%2B)[^=&]+=([^&]*)", parts.query, re.IGNORECASE)]
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


class _HttpChannel(Channel):
    """The project's own JSON webhook over httpx (see the module docstring for why it is not apprise's)."""

    def payload(self, message: Message) -> dict[str, Any]:
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        return {}

    async def send(self, message: Message) -> None:
        import httpx

        url = reveal(self.settings.options["url"])
        try:
            async with httpx.AsyncClient(timeout=self.settings.timeout) as client:
                response = await client.post(url, json=self.payload(message), headers=self.headers())
        except httpx.HTTPError as exc:
            raise NotifyError(f"{self.settings.type} channel {self.name!r}: {type(exc).__name__} "
                              f"(check the URL and network)") from None
        if response.status_code >= 300:
            raise NotifyError(f"{self.settings.type} channel {self.name!r}: HTTP {response.status_code} "
                              f"{response.text[:200]!r}")


class WebhookChannel(_HttpChannel):
    """Generic JSON webhook (PagerDuty-style integrations, chat bridges, your own receiver)."""

    def payload(self, message: Message) -> dict[str, Any]:
        return message.as_json()

    def headers(self) -> dict[str, str]:
        return {k: str(reveal(v)) for k, v in (self.settings.options.get("headers") or {}).items()}


CHANNELS: dict[str, type[Channel]] = {"webhook": WebhookChannel}


def build_channel(settings: ChannelSettings) -> Channel:
    """``webhook`` keeps its JSON body; every other type is an apprise URL (settings built it)."""
    return CHANNELS.get(settings.type, AppriseChannel)(settings)
