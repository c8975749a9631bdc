"""``opsconsole notify --test [--profile P]``: send a test message to every channel of a profile.

Used by the ``alert-delivery-failures`` runbook (seed 004: "Validate webhook URLs,
test SMTP server connectivity"). Exit 0 when every channel delivered, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from opsconsole.config import load_profile
from opsconsole.errors import ConfigError
from opsconsole.notify.notifier import Notifier


def add_notify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", "-p", dest="notify_profile", metavar="NAME")
    parser.add_argument("--config", dest="notify_config", metavar="PATH")
    parser.add_argument("--test", action="store_true", required=True, help="send a test message to every channel")


def run_notify(args: argparse.Namespace) -> int:
    try:
        profile = load_profile(args.notify_profile or args.profile, args.notify_config or args.config)
    except ConfigError as exc:
        print(f"opsconsole notify: {exc}", file=sys.stderr)
        return 2
    notifier = Notifier(profile.notify, profile=profile.name)
    if not notifier.channels:
        print(f"profile {profile.name!r} has no notify channels", file=sys.stderr)
        return 1
    results = asyncio.run(notifier.test())
    shown = {c.name: c.display() for c in notifier.channels}  # secrets in URLs masked
    for d in results:
        print(f"{d.channel} ({shown.get(d.channel, '?')}): {'delivered' if d.ok else 'FAILED: ' + d.error}")
    return 0 if all(d.ok for d in results) else 1

