"""Iceberg catalog connection: pyiceberg properties from driver options, and errors in words.

Production REST catalogs (Polaris, Lakekeeper, Unity Catalog, Gravitino, S3
Tables, ...) need more than a URI: a bearer ``token`` or OAuth2 client
``credential`` (with ``oauth2-server-uri`` and ``scope``), a ``warehouse`` the
server maps to a URL ``prefix`` (``/v1/{prefix}/namespaces``), sometimes extra
headers. This module turns the driver's options into pyiceberg catalog
properties and loads the catalog through ``pyiceberg.catalog.load_catalog``,
so pyiceberg's own configuration applies with its own precedence: options
given in the profile override ``PYICEBERG_CATALOG__<NAME>__<KEY>`` variables,
which override ``~/.pyiceberg.yaml``. Options left at their defaults are not
passed, so they never mask what the environment says.

Failures are classified for the person reading the Services pane:
rejected credentials (401/403, OAuth errors) say so with the server's message;
a 404 on the config or a namespace asks about the warehouse or prefix; a
refused or timed-out connection is "unreachable".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opsconsole.drivers.base import describe
from opsconsole.secret import Secret, reveal

SECRET_KEY = re.compile(r"token|credential|secret|password|passwd|api[-_]?key|authorization", re.IGNORECASE)
"""Keys of ``properties``/``headers`` whose values are secrets (wrapped in :class:`Secret`)."""

REST_OPTIONS = {"token": "token", "credential": "credential", "oauth2_server_uri": "oauth2-server-uri",
                "scope": "scope", "prefix": "prefix", "audience": "audience", "resource": "resource"}
"""Driver option -> pyiceberg REST catalog property."""


def redact_uri(uri: str) -> str:
    """A catalog URI safe to show: any password in it replaced by ``***``."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparsable uri>"
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def wrap_secrets(mapping: Any, where: str) -> dict[str, Any]:
    """``properties``/``headers`` as a dict whose secret-looking values are :class:`Secret`."""
    if mapping in (None, ""):
        return {}
    if not isinstance(mapping, Mapping):
        raise TypeError(f"option {where} must be a mapping of names to values")
    wrapped: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, (dict, list)):
            raise TypeError(f"option {where}.{key} must be a single value, not {type(value).__name__}")
        text = value if isinstance(value, Secret) else str(value)
        wrapped[str(key)] = Secret(text) if SECRET_KEY.search(str(key)) and isinstance(text, str) else text
    return wrapped


def secret_values(config: Mapping[str, Any]) -> list[str]:
    """Every secret the options hold (top level and inside properties/headers), for scrubbing messages."""
    found = [reveal(v) for v in config.values() if isinstance(v, Secret)]
    for key in ("properties", "headers"):
        found += [reveal(v) for v in (config.get(key) or {}).values() if isinstance(v, Secret)]
    return [s for s in found if s]


def catalog_properties(config: Mapping[str, Any], catalog_type: str, timeout: float,
                       defaults: Mapping[str, Any]) -> dict[str, str]:
    """pyiceberg catalog properties; secrets are revealed here, at the point of use.

    ``defaults`` are the driver's declared option defaults: an option equal to
    its default is left out, so pyiceberg's env/yaml configuration can supply it.
    """

    def given(key: str) -> Any:
        value = reveal(config.get(key))
        return None if value in (None, "") or value == defaults.get(key) else value

    props: dict[str, str] = {"type": catalog_type}
    uri = str(config["catalog_uri"])
    password = reveal(config.get("catalog_password") or "")
    if password and catalog_type == "sql":
        parts = urlsplit(uri)
        user = parts.username or ""
        host = parts.netloc.rsplit("@", 1)[-1]
        uri = urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))
    props["uri"] = uri
    if catalog_type == "rest":
        token = reveal(config.get("token") or config.get("catalog_token") or "")
        if token:
            props["token"] = token
        for option, prop in REST_OPTIONS.items():
            if option != "token" and given(option) is not None:
                props[prop] = str(reveal(config[option]))
        for name, value in (config.get("headers") or {}).items():
            props[f"header.{name}"] = str(reveal(value))
    if given("warehouse") is not None:
        props["warehouse"] = str(config["warehouse"])
    if given("s3_endpoint") is not None:
        props["s3.endpoint"] = str(config["s3_endpoint"])
        props["s3.force-virtual-addressing"] = "false"  # MinIO/moto serve path-style URLs
    if given("s3_access_key") is not None:
        props["s3.access-key-id"] = str(reveal(config["s3_access_key"]))
    secret = reveal(config.get("s3_secret_key") or "")
    if secret:
        props["s3.secret-access-key"] = secret
    if config.get("s3_region"):
        props["s3.region"] = str(config["s3_region"])
    # Fail fast instead of retrying for minutes against a storage that is down.
    props["s3.connect-timeout"] = str(min(timeout, 5.0))
    props["s3.request-timeout"] = str(timeout)
    if catalog_type == "sql":
        # A console observes a catalog; it must never create schema in someone's database.
        props["init_catalog_tables"] = "false"
    for key, value in (config.get("properties") or {}).items():
        props[str(key)] = str(reveal(value))  # the free map wins: it is the user's last word
    return props


def load(name: str, props: Mapping[str, str]) -> Any:
    """The catalog, through pyiceberg's loader (env and ~/.pyiceberg.yaml merged under ``props``)."""
    if props.get("type") == "sql" and str(props.get("uri", "")).startswith("postgresql"):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            from opsconsole.errors import DriverError

            raise DriverError("the SQL catalog on PostgreSQL needs psycopg2: pip install 'opsconsole[postgres]' "
                              "(or psycopg2-binary)") from None
    from pyiceberg.catalog import load_catalog

    return load_catalog(name, **props)


def classify(exc: BaseException, *, where: str, prefix: str = "") -> str:
    """One sentence saying what went wrong talking to the catalog, and what to check."""
    from pyiceberg.exceptions import (
        ForbiddenError,
        NoSuchNamespaceError,
        NoSuchTableError,
        OAuthError,
        RESTError,
        UnauthorizedError,
    )

    cause: BaseException = exc
    while cause.__cause__ is not None and not isinstance(cause, (RESTError, NoSuchNamespaceError)):
        cause = cause.__cause__
    message = str(cause).strip().splitlines()[0][:300] if str(cause).strip() else type(cause).__name__
    if isinstance(cause, (UnauthorizedError, ForbiddenError, OAuthError)):
        return f"credentials rejected by {where}: {message}"
    if isinstance(cause, NoSuchNamespaceError) or (
            isinstance(cause, RESTError) and re.search(r"\b404\b|not ?found", message, re.IGNORECASE)):
        hint = f" (prefix {prefix!r})" if prefix else ""
        return f"wrong warehouse or prefix?{hint} {where} answered not found: {message}"
    if isinstance(cause, NoSuchTableError):
        return message
    text = describe(cause)
    if re.search(r"connection|connect|refused|timed? ?out|name or service|unreachable|max retries", text,
                 re.IGNORECASE):
        return f"unreachable: {text}"
    return text


__all__ = ["catalog_properties", "classify", "load", "redact_uri", "secret_values", "wrap_secrets"]
