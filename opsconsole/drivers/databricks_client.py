"""Building a databricks-sdk WorkspaceClient and translating its errors.

Auth follows the ``databricks`` CLI: a named profile of ``~/.databrickscfg``
(``DATABRICKS_CONFIG_FILE`` moves it), or ``DATABRICKS_HOST``/``DATABRICKS_TOKEN``
and the SDK's other unified-auth environment variables, or ``host``/``token``
given in profiles.yaml. Everything here runs on the driver's worker thread:
importing the SDK costs ~1.5 s and building a client probes the host, so it
never happens on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from opsconsole.config import reveal
from opsconsole.errors import AuthError, DriverError, DriverUnavailable

T = TypeVar("T")


def _text(value: Any) -> str | None:
    """Option value as text, treating an empty string (``${VAR:}``) as unset."""
    value = reveal(value)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def make_client(options: Mapping[str, Any], timeout: float) -> Any:
    """A WorkspaceClient for the configured profile or host/token.

    The SDK's own retry budget (for 429/503 with ``Retry-After`` and dropped
    connections) is bounded by the driver's call timeout, so a dead workspace
    fails the call instead of retrying for the SDK's default 5 minutes.
    """
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    kwargs: dict[str, Any] = {
        "retry_timeout_seconds": max(1, int(timeout)),
        "http_timeout_seconds": max(1.0, float(timeout)),
    }
    profile = _text(options.get("profile"))
    host = _text(options.get("host"))
    token = _text(options.get("token"))
    if profile:
        kwargs["profile"] = profile
    if host:
        kwargs["host"] = host
    if token:
        kwargs["token"] = token
        kwargs["auth_type"] = "pat"
    try:
        return WorkspaceClient(config=Config(**kwargs))
    except ValueError as exc:  # the SDK's "cannot configure default credentials" family
        where = f"profile {profile!r}" if profile else "the environment"
        raise AuthError(f"Databricks auth from {where} failed: {first_line(exc)}. "
                        "Run `databricks auth login` or set host/token in profiles.yaml.") from exc


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def translate(exc: BaseException, what: str) -> DriverError:
    """Map a databricks-sdk / requests exception to opsconsole's typed errors.

    401/403 -> :class:`AuthError` (the token is wrong or lacks a permission: a
    person must act); connection failures, timeouts, 429/5xx that outlived the
    SDK's retries -> :class:`DriverUnavailable`; other API errors (bad
    parameter, not found, invalid state) -> :class:`DriverError` with the
    server's message.
    """
    import requests
    from databricks.sdk import errors

    message = f"{what}: {first_line(exc)}"
    if isinstance(exc, errors.Unauthenticated):
        return AuthError(f"{message} (check the token or run `databricks auth login`)")
    if isinstance(exc, errors.PermissionDenied):
        return AuthError(f"{message} (the identity lacks a permission)")
    if isinstance(exc, (errors.TooManyRequests, errors.TemporarilyUnavailable, errors.InternalError,
                        errors.DeadlineExceeded, errors.RequestLimitExceeded, errors.ResourceExhausted)):
        return DriverUnavailable(message)
    if isinstance(exc, errors.DatabricksError):
        return DriverError(message)
    if isinstance(exc, (requests.ConnectionError, requests.Timeout, TimeoutError, OSError)):
        return DriverUnavailable(f"{what}: workspace unreachable ({first_line(exc)})")
    return DriverUnavailable(message)


def guarded(fn: Callable[..., T], what: str) -> Callable[..., T]:
    """Wrap a blocking SDK call so it raises only opsconsole errors (runs on the worker thread)."""

    def call(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except DriverError:
            raise
        except Exception as exc:
            raise translate(exc, what) from exc

    return call
