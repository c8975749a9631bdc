"""One redaction for every text that leaves a driver: URL passwords, token query parameters, known secrets.

Why one place: the same error string travels to the TUI, ``check`` (text and
JSON), alert notifications sent to Slack and webhooks, the audit log and the
diagnostics bundle. Redacting in each of those would miss the next one; instead
the model objects scrub their text fields when they are built
(:mod:`opsconsole.model`), the poller scrubs driver errors, and the writers of
files (audit, bundle) call :func:`scrub` once more on what they write.

* ``scheme://user:password@host`` -> ``scheme://user:••••@host`` (userinfo
  without a password is hidden whole: it is often a token);
* query parameters whose name says token/key/secret/password/signature/auth/
  credential/session/sas -> ``name=••••``;
* ``Bearer``/``Basic`` credentials -> ``Bearer ••••``;
* every value ever wrapped in :class:`opsconsole.config.Secret` (registered
  here when created) -> ``••••``.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Mapping

REDACTED = "••••"
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<info>[^/\s@?#\"'<>]+)@")
_QUERY = re.compile(r"(?P<name>[?&;](?:[A-Za-z0-9_.\-]*?)(?:token|key|secret|pass(?:word|wd)?|pwd|sig(?:nature)?|"
                    r"auth|credential|session|sas)[A-Za-z0-9_.\-]*=)(?P<value>[^&\s#\"'<>]+)", re.IGNORECASE)
# A credential has a digit somewhere ("Basic authentication failed" is not one).
_AUTH = re.compile(r"\b(?P<kind>Bearer|Basic|Token)\s+(?P<value>(?=[A-Za-z._~+/=\-]*[0-9])[A-Za-z0-9._~+/=\-]{8,})",
                   re.IGNORECASE)
_known: set[str] = set()
_known_values: tuple[str, ...] = ()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember a secret's value so :func:`scrub` removes it wherever it turns up (values under 4 chars are not
    searched for: they would blank ordinary words)."""
    global _known_values
    if isinstance(value, str) and len(value) >= 4 and value not in _known:
        with _lock:
            _known.add(value)
            _known_values = tuple(sorted(_known, key=len, reverse=True))
        _scrub_cached.cache_clear()


def forget_secrets() -> None:
    """Forget every registered value (a test, or a process that loads another profiles file for good)."""
    global _known_values
    with _lock:
        _known.clear()
        _known_values = ()
    _scrub_cached.cache_clear()


def _userinfo(m: re.Match[str]) -> str:
    info = m.group("info")
    user, sep, _password = info.partition(":")
    return f"{m.group('scheme')}{user}:{REDACTED}@" if sep else f"{m.group('scheme')}{REDACTED}@"


def _scrub(text: str, extra: tuple[str, ...]) -> str:
    if "://" in text and "@" in text:
        text = _USERINFO.sub(_userinfo, text)
    if "=" in text:
        text = _QUERY.sub(lambda m: m.group("name") + REDACTED, text)
    if " " in text:
        text = _AUTH.sub(lambda m: f"{m.group('kind')} {REDACTED}", text)
    for value in (*_known_values, *extra):
        if value and len(value) >= 4 and value in text:
            text = text.replace(value, REDACTED)
    return text


# Pane details repeat poll after poll: remember the last few thousand answers (cleared when a secret is added).
_scrub_cached = functools.lru_cache(maxsize=4096)(lambda text: _scrub(text, ()))


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` without URL passwords, token parameters, auth headers and known secret values."""
    if not text or not isinstance(text, str):
        return text
    extra = tuple(extra)
    if extra:
        return _scrub(text, extra)
    return _scrub_cached(text) if len(text) <= 2048 else _scrub(text, ())


def scrub_fields(obj: object, names: Iterable[str]) -> None:
    """Scrub string fields (and the string values of mapping fields) of a frozen dataclass, in ``__post_init__``."""
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, str) and value:
            clean = scrub(value)
            if clean != value:
                object.__setattr__(obj, name, clean)
        elif isinstance(value, Mapping) and value:
            cleaned = {k: scrub(v) if isinstance(v, str) else v for k, v in value.items()}
            if cleaned != value:
                object.__setattr__(obj, name, cleaned)
