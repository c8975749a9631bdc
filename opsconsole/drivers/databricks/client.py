"""Building a databricks-sdk WorkspaceClient and translating its errors.

Auth follows the ``databricks`` CLI: a named profile of ``~/.databrickscfg``
(``DATABRICKS_CONFIG_FILE`` moves it), or ``DATABRICKS_HOST``/``DATABRICKS_TOKEN``
and the SDK's other unified-auth environment variables, or ``host``/``token``
given in profiles.yaml. Everything here runs on the driver's worker thread:
importing the SDK costs ~1.5 s and building a client probes the host, so it
never happens on the UI thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from opsconsole.errors import AuthError, DriverError, DriverUnavailable
from opsconsole.secret import reveal

T = TypeVar("T")
_CALL = threading.local()
"""Per worker thread: the running call's deadline and the last throttling answer seen."""


class Throttled(DriverUnavailable):
    """The workspace answered 429/503 with a Retry-After longer than the call's remaining budget."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _RetryBudgetExceeded(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry wait of {seconds:.0f}s exceeds the call's budget")
        self.seconds = seconds


def _bounded_clock() -> Any:
    """The SDK's clock, except that a retry sleep past the current call's deadline raises instead.

    The SDK sleeps the whole ``Retry-After`` of a 429/503 whatever its own
    timeout (``Retry-After: 30`` blocks a 10 s poll for 30 s). Refusing the
    sleep lets :func:`guarded` report "throttled (retry after N s)" at once,
    while short waits inside the budget are still retried by the SDK.
    """
    from databricks.sdk.clock import RealClock

    class BoundedClock(RealClock):
        def sleep(self, seconds: float) -> None:
            deadline = getattr(_CALL, "deadline", None)
            if deadline is not None and time.monotonic() + seconds > deadline:
                raise _RetryBudgetExceeded(seconds)
            super().sleep(seconds)

    return BoundedClock()


def _note_response(response: Any, *args: Any, **kwargs: Any) -> None:
    """requests hook: remember a throttling answer so a refused retry can say it was throttled."""
    if response.status_code in (429, 503):
        _CALL.retry_after = response.headers.get("Retry-After")
        _CALL.status = response.status_code


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
        "clock": _bounded_clock(),
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
        client = WorkspaceClient(config=Config(**kwargs))
    except ValueError as exc:  # the SDK's "cannot configure default credentials" family
        where = f"profile {profile!r}" if profile else "the environment"
        raise AuthError(f"Databricks auth from {where} failed: {first_line(exc)}. "
                        "Run `databricks auth login` or set host/token in profiles.yaml.") from exc
    session = getattr(getattr(client.api_client, "_api_client", None), "_session", None)
    if session is not None:  # the SDK keeps its requests.Session private; without it 429s read "unavailable"
        session.hooks["response"].append(_note_response)
    return client


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
    if isinstance(exc, _RetryBudgetExceeded):
        status, after = getattr(_CALL, "status", None), getattr(_CALL, "retry_after", None)
        wait = float(after) if str(after or "").strip().isdigit() else exc.seconds
        if status == 429:
            return Throttled(f"{what}: throttled (retry after {wait:.0f} s)", wait)
        if status == 503:
            return Throttled(f"{what}: temporarily unavailable (retry after {wait:.0f} s)", wait)
        return DriverUnavailable(f"{what}: workspace unreachable (retries exceed the {what} budget)")
    if isinstance(exc, TimeoutError) and isinstance(exc.__cause__, errors.TooManyRequests):
        exc = exc.__cause__  # the SDK's own retry deadline ran out on 429s: still throttling, not unreachable
    if isinstance(exc, errors.TooManyRequests):
        after = getattr(exc, "retry_after_secs", None)
        return Throttled(f"{what}: throttled" + (f" (retry after {after} s)" if after else ""), float(after or 0))
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


def guarded(fn: Callable[..., T], what: str, budget: float | None = None) -> Callable[..., T]:
    """Wrap a blocking SDK call so it raises only opsconsole errors (runs on the worker thread).

    ``budget`` (seconds) bounds the SDK's retry waits inside this call (see
    :func:`_bounded_clock`); leave a little of it for the retried request itself.
    """

    def call(*args: Any, **kwargs: Any) -> T:
        _CALL.deadline = None if budget is None else time.monotonic() + max(0.0, budget * 0.8)
        _CALL.status = _CALL.retry_after = None
        try:
            return fn(*args, **kwargs)
        except DriverError:
            raise
        except Exception as exc:
            raise translate(exc, what) from exc
        finally:
            _CALL.deadline = None

    return call
