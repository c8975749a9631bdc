"""Typed errors with messages a person can act on.

Drivers raise these instead of SDK exceptions so the UI and the headless CLI can
say what failed, where, and what to do without knowing any backend library.
"""

from __future__ import annotations


class OpsConsoleError(Exception):
    """Base of every error opsconsole raises on purpose."""


class ConfigError(OpsConsoleError):
    """A profiles file is malformed or names something that does not exist.

    The message always names the file, and the line and key where known.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.message = message
        """The message without its location, for re-raising with a better one."""
        where = path or ""
        if line is not None:
            where += f":{line}"
        if key:
            where += f": {key}" if where else key
        super().__init__(f"{where}: {message}" if where else message)  # no location: say nothing made up


class DriverError(OpsConsoleError):
    """A backend call failed; the pane goes stale and shows this message."""


class DriverUnavailable(DriverError):
    """The backend cannot be reached (connection refused, DNS, daemon down)."""


class DriverTimeout(DriverUnavailable):
    """The backend did not answer within the call's timeout."""


class AuthError(DriverError):
    """The backend refused our credentials."""


class ActionRefused(OpsConsoleError):
    """A mutating action was refused (read-only mode, busy target, no confirmation)."""


class UnknownActionError(DriverError):
    """The driver does not declare the requested action."""
