"""Notification channels: Slack, Microsoft Teams, generic webhook (httpx) and e-mail (smtplib).

Each channel turns a :class:`Message` into one delivery and raises
:class:`NotifyError` with a message a person can act on when it fails; it never
retries on its own (the :class:`~opsconsole.notify.notifier.Notifier` decides).
Secrets (webhook URLs, passwords, auth headers) are revealed only here, at the
point of use, and never appear in an error message.
"""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from opsconsole.errors import OpsConsoleError
from opsconsole.model import Alert
from opsconsole.notify.settings import ChannelSettings
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


class _HttpChannel(Channel):
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


class SlackChannel(_HttpChannel):
    """Slack incoming webhook: ``{"text": ...}`` with mrkdwn."""

    def payload(self, message: Message) -> dict[str, Any]:
        return {"text": f"*{message.title}*\n{message.body}"}


class TeamsChannel(_HttpChannel):
    """Microsoft Teams workflow webhook with an Adaptive Card."""

    def payload(self, message: Message) -> dict[str, Any]:
        color = {"firing": "Attention", "resolved": "Good"}.get(message.kind, "Default")
        card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                "version": "1.4",
                "body": [{"type": "TextBlock", "text": message.title, "weight": "Bolder", "color": color,
                          "wrap": True},
                         {"type": "TextBlock", "text": message.body, "wrap": True}]}
        return {"type": "message",
                "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}


class WebhookChannel(_HttpChannel):
    """Generic JSON webhook (PagerDuty-style integrations, chat bridges, your own receiver)."""

    def payload(self, message: Message) -> dict[str, Any]:
        return message.as_json()

    def headers(self) -> dict[str, str]:
        return {k: str(reveal(v)) for k, v in (self.settings.options.get("headers") or {}).items()}


class EmailChannel(Channel):
    """SMTP e-mail through the standard library, on a worker thread."""

    def _send_sync(self, message: Message) -> None:
        o = self.settings.options
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = o["sender"]
        mail["To"] = ", ".join(o["to"])
        mail.set_content(message.body)
        port = int(o.get("port") or (465 if o.get("ssl") else 25))
        factory = smtplib.SMTP_SSL if o.get("ssl") else smtplib.SMTP
        with factory(o["host"], port, timeout=self.settings.timeout) as smtp:
            if o.get("starttls"):
                smtp.starttls()
            if o.get("username"):
                smtp.login(o["username"], reveal(o.get("password")) or "")
            smtp.send_message(mail)

    async def send(self, message: Message) -> None:
        try:
            await asyncio.wait_for(asyncio.to_thread(self._send_sync, message), self.settings.timeout + 5)
        except (OSError, smtplib.SMTPException, TimeoutError) as exc:
            detail = type(exc).__name__ if isinstance(exc, smtplib.SMTPAuthenticationError) else str(exc) or \
                type(exc).__name__
            raise NotifyError(f"email channel {self.name!r} via {self.settings.options['host']}: {detail}") from None


CHANNELS: dict[str, type[Channel]] = {"slack": SlackChannel, "teams": TeamsChannel, "webhook": WebhookChannel,
                                      "email": EmailChannel}


def build_channel(settings: ChannelSettings) -> Channel:
    return CHANNELS[settings.type](settings)
