"""Secrets from profiles: usable by the driver that needs one, unprintable everywhere else.

The lowest room of the house: drivers, notifications, the audit log and the
config loader all hold :class:`Secret` values, and none of them needs more
than this to keep a password off the screen.
"""

from __future__ import annotations

from typing import Any

from opsconsole.redact import register_secret


class Secret:
    """A configured secret: usable by drivers, unprintable everywhere else."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)  # so it is scrubbed from any text it later turns up in (opsconsole.redact)

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
