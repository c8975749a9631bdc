"""The one redaction (opsconsole.redact): what it masks, and ordinary words it must leave alone."""

from __future__ import annotations

import pytest

from opsconsole.redact import scrub
from opsconsole.secret import Secret


@pytest.mark.parametrize(("text", "expected"), [
    ("GET http://opsuser:hunter22@airflow:8080/api failed", "GET http://opsuser:••••@airflow:8080/api failed"),
    ("s3://AKIA123:abc%2Fdef@bucket/k", "s3://AKIA123:••••@bucket/k"),
    ("https://ghp_abcdef123@github.com/x", "https://••••@github.com/x"),
    ("http://h/health?token=abc123&region=eu", "http://h/health?token=••••&region=eu"),
    ("https://acct.blob.core.windows.net/c?sv=2024&sig=Zm9v%2B", "https://acct.blob.core.windows.net/c?sv=2024&sig=••••"),
    ("x?X-Amz-Security-Token=FQo9&X-Amz-Date=1", "x?X-Amz-Security-Token=••••&X-Amz-Date=1"),
    ("Authorization: Bearer eyJhbGciOi.J9x1", "Authorization: Bearer ••••"),
    ("Basic authentication failed for user opsuser", "Basic authentication failed for user opsuser"),
    ("connection refused: http://127.0.0.1:9/health", "connection refused: http://127.0.0.1:9/health"),
    ("email ops@example.com about it", "email ops@example.com about it"),
])
def test_scrub(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_every_secret_value_is_masked_once_known() -> None:
    Secret("Sup3r-s3cret-value")
    assert scrub("login failed with Sup3r-s3cret-value (401)") == "login failed with •••• (401)"
