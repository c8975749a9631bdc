"""Alert notifications: Slack, Microsoft Teams, generic webhook and e-mail.

Configured per profile under ``notify:`` in profiles.yaml (see
:mod:`opsconsole.notify.settings`); :class:`Notifier` is fed the alerts of every
poll and handles de-duplication, rate limiting and resolve messages.
"""

from __future__ import annotations

from opsconsole.notify.channels import Message, NotifyError
from opsconsole.notify.notifier import Delivery, Notifier
from opsconsole.notify.settings import ChannelSettings, NotifySettings, parse_notify

__all__ = ["ChannelSettings", "Delivery", "Message", "Notifier", "NotifyError", "NotifySettings", "parse_notify"]
