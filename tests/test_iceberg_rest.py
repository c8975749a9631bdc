"""Iceberg driver against a real token-and-prefix REST catalog server (scripts/peers/lakana.sh).

Lakana (PyPI ``lakana[server]``) serves the Iceberg REST API under
``/v1/{prefix}/...`` (its environments) and refuses requests without a valid
bearer token, like Polaris or Lakekeeper do. Tables are written with pyiceberg
through the same server, then watched through the driver built from a profile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsconsole import config
from opsconsole.drivers import driver_class
from opsconsole.drivers.iceberg.catalog import catalog_properties
from opsconsole.drivers.iceberg.driver import IcebergDriver
from opsconsole.errors import AuthError, DriverError, DriverUnavailable
from opsconsole.model import Health
from opsconsole.secret import Secret
from tests.conftest import ROOT, require_peer


@pytest.fixture(scope="module")
def rest() -> dict[str, Any]:
    uri = require_peer("OPSC_REST_URI", "Lakana Iceberg REST catalog (scripts/peers/lakana.sh)")
    token = require_peer("OPSC_REST_TOKEN", "Lakana bootstrap token (scripts/peers/lakana.sh)")
    prefix = require_peer("OPSC_REST_PREFIX", "Lakana environment (scripts/peers/lakana.sh)")
    import pyarrow as pa
    from pyiceberg.catalog.rest import RestCatalog
    from pyiceberg.exceptions import NamespaceAlreadyExistsError

    catalog = RestCatalog("writer", uri=uri, token=token, prefix=prefix)
    try:
        catalog.create_namespace("bronze")
    except NamespaceAlreadyExistsError:
        pass
    name = f"bronze.orders_{uuid.uuid4().hex[:8]}"
    table = catalog.create_table(name, schema=pa.schema([("id", pa.int64()), ("email", pa.string())]))
    for i in range(4):  # four appends: four data files
        table.append(pa.table({"id": [i * 2, i * 2 + 1], "email": [f"a{i}@x", f"b{i}@x"]}))
    return {"uri": uri, "token": token, "prefix": prefix, "table": name, "catalog": catalog}


def build(tmp_path: Path, opts: dict[str, Any], timeout: float = 15) -> IcebergDriver:
    path = tmp_path / "profiles.yaml"
    path.write_text(yaml.safe_dump({"profiles": {"t": {"drivers": {"lake": {
        "type": "iceberg", "timeout": timeout, "options": opts}}}}}))
    spec = config.load(path).profile("t").drivers[0]
    return driver_class(spec.kind)(spec.name, spec.options, timeout=spec.timeout)  # type: ignore[return-value]


async def test_lists_tables_with_file_counts_through_token_and_prefix(rest: dict[str, Any], tmp_path: Path) -> None:
    driver = build(tmp_path, {"catalog_uri": rest["uri"], "token": rest["token"], "prefix": rest["prefix"]})
    try:
        [health] = await driver.health()
        stats = {s.name: s for s in await driver.table_stats()}
    finally:
        await driver.close()
    assert health.health is Health.OK
    files = rest["catalog"].load_table(rest["table"]).inspect.files()
    mine = stats[rest["table"]]
    assert mine.file_count == files.num_rows == 4
    assert (mine.row_count, mine.snapshot_count, mine.layer) == (8, 4, "bronze")


async def test_wrong_token_is_credentials_rejected_with_the_servers_message(rest: dict[str, Any],
                                                                          tmp_path: Path) -> None:
    wrong = "lakana_pat_opsctest01_" + "not-the-secret-" + uuid.uuid4().hex
    driver = build(tmp_path, {"catalog_uri": rest["uri"], "token": wrong, "prefix": rest["prefix"]})
    try:
        [health] = await driver.health()
        with pytest.raises(AuthError, match="credentials rejected") as raised:
            await driver.table_stats()
    finally:
        await driver.close()
    assert health.health is Health.CRITICAL
    assert "credentials rejected" in health.detail and "Invalid credentials" in health.detail
    assert "unreachable" not in health.detail
    assert wrong not in health.detail and wrong not in str(raised.value)


async def test_wrong_prefix_asks_about_warehouse_or_prefix(rest: dict[str, Any], tmp_path: Path) -> None:
    driver = build(tmp_path, {"catalog_uri": rest["uri"], "token": rest["token"], "prefix": "no-such-env"})
    try:
        [health] = await driver.health()
    finally:
        await driver.close()
    assert health.health is Health.CRITICAL and "wrong warehouse or prefix?" in health.detail
    assert "no-such-env" in health.detail


async def test_server_down_is_unreachable(tmp_path: Path) -> None:
    driver = build(tmp_path, {"catalog_uri": "http://127.0.0.1:9", "token": "t", "prefix": "dev"}, timeout=5)
    try:
        [health] = await driver.health()
        with pytest.raises(DriverUnavailable, match="unreachable"):
            await driver.table_stats()
    finally:
        await driver.close()
    assert health.health is Health.CRITICAL and "unreachable" in health.detail


def test_pyiceberg_environment_supplies_what_the_profile_leaves_out(rest: dict[str, Any], tmp_path: Path) -> None:
    """PYICEBERG_CATALOG__<NAME>__* fills options the profile does not set; the profile wins where it does."""
    script = (
        "import asyncio, json, sys\n"
        "from opsconsole.drivers.iceberg.driver import IcebergDriver\n"
        "opts = json.loads(sys.argv[1])\n"
        "async def main():\n"
        "    d = IcebergDriver('lake', opts, timeout=15)\n"
        "    try:\n"
        "        [h] = await d.health()\n"
        "        print(h.health.name, h.detail)\n"
        "    finally:\n"
        "        await d.close()\n"
        "asyncio.run(main())\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYICEBERG_CATALOG__LAKEHOUSE__TOKEN": rest["token"],
           "PYICEBERG_CATALOG__LAKEHOUSE__PREFIX": rest["prefix"]}

    def health(opts: dict[str, Any]) -> str:
        run = subprocess.run([sys.executable, "-c", script, json.dumps(opts)], env=env, capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        return run.stdout

    base = {"catalog_uri": rest["uri"], "catalog_name": "lakehouse"}
    assert health(base).startswith("OK")
    overridden = health({**base, "token": "lakana_pat_opsctest01_overridden-by-the-profile"})
    assert overridden.startswith("CRITICAL") and "credentials rejected" in overridden


def test_oauth2_headers_and_free_properties_reach_pyiceberg(tmp_path: Path) -> None:
    driver = build(tmp_path, {
        "catalog_uri": "https://polaris.example/api/catalog", "warehouse": "analytics",
        "credential": "client-id:client-secret", "oauth2_server_uri": "https://idp.example/oauth/token",
        "scope": "PRINCIPAL_ROLE:ALL", "headers": {"X-Iceberg-Access-Delegation": "vended-credentials"},
        "properties": {"rest.sigv4-enabled": "false", "client.secret-token": "s3cr3t-value"}})
    assert isinstance(driver.config["credential"], Secret)
    assert isinstance(driver.config["properties"]["client.secret-token"], Secret)
    assert "s3cr3t-value" not in repr(driver.config)
    props = catalog_properties(driver.config, "rest", 10, {o.name: o.default for o in driver.options})
    assert props["credential"] == "client-id:client-secret"
    assert props["oauth2-server-uri"] == "https://idp.example/oauth/token"
    assert props["scope"] == "PRINCIPAL_ROLE:ALL" and props["warehouse"] == "analytics"
    assert props["header.X-Iceberg-Access-Delegation"] == "vended-credentials"
    assert props["rest.sigv4-enabled"] == "false" and props["client.secret-token"] == "s3cr3t-value"
    assert "s3.region" in props and "token" not in props


async def test_compaction_over_rest_commits_replace_and_refused_expiry_says_so(rest: dict[str, Any],
                                                                                tmp_path: Path) -> None:
    """Lakana accepts a client's replace commit but refuses client-side snapshot expiry (it maintains itself)."""
    driver = build(tmp_path, {"catalog_uri": rest["uri"], "token": rest["token"], "prefix": rest["prefix"]})
    try:
        compacted = await driver.run_action("compact", {"table": rest["table"]})
        with pytest.raises(DriverError, match="refused client-side snapshot expiry") as refused:
            await driver.run_action("expire_snapshots", {"table": rest["table"], "older_than_days": 0})
    finally:
        await driver.close()
    table = rest["catalog"].load_table(rest["table"])
    assert "4 -> 1 data files" in compacted.message
    assert table.current_snapshot().summary.operation.value == "replace"
    assert "credentials rejected" not in str(refused.value) and "PermissionDenied" in str(refused.value)
    assert len(table.metadata.snapshots) == 5 and table.scan().to_arrow().num_rows == 8


def test_empty_secret_options_are_not_sent(tmp_path: Path) -> None:
    """`credential: ${VAR:}` left empty must not start an OAuth2 exchange with an empty secret."""
    driver = build(tmp_path, {"catalog_uri": "http://localhost:8181", "credential": "", "token": "", "prefix": ""})
    props = catalog_properties(driver.config, "rest", 10, {o.name: o.default for o in driver.options})
    assert not {"credential", "token", "prefix"} & set(props)


class TokenEndpoint:
    """A local OAuth2 token endpoint (client-credentials grant) in front of the real catalog.

    Lakana itself takes personal access tokens, not client credentials, so the
    identity provider is played by this stdlib server: it checks the client's
    id:secret and hands out Lakana's token, and records what pyiceberg sent.
    """

    def __init__(self, client: str, secret: str, access_token: str) -> None:
        import threading
        import urllib.parse
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict[str, str]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = dict(urllib.parse.parse_qsl(body))
                endpoint.requests.append(form)
                if form.get("client_id") == client and form.get("client_secret") == secret:
                    status, payload = 200, {"access_token": access_token, "token_type": "bearer",
                                            "expires_in": 3600, "issued_token_type":
                                            "urn:ietf:params:oauth:token-type:access_token"}
                else:
                    status, payload = 401, {"error": "invalid_client", "error_description": "unknown client secret"}
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oauth/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


async def test_oauth2_client_credentials_against_the_real_catalog(rest: dict[str, Any], tmp_path: Path) -> None:
    idp = TokenEndpoint("opsconsole", "client-secret-123", rest["token"])
    base = {"catalog_uri": rest["uri"], "prefix": rest["prefix"], "oauth2_server_uri": idp.url,
            "scope": "catalog:read"}
    good = build(tmp_path, {**base, "credential": "opsconsole:client-secret-123"})
    bad = build(tmp_path, {**base, "credential": "opsconsole:wrong-secret-456"})
    try:
        stats = {s.name: s for s in await good.table_stats()}
        [rejected] = await bad.health()
    finally:
        await good.close()
        await bad.close()
        idp.close()
    assert rest["table"] in stats
    assert idp.requests[0]["grant_type"] == "client_credentials" and idp.requests[0]["scope"] == "catalog:read"
    assert rejected.health is Health.CRITICAL and "credentials rejected" in rejected.detail
    assert "unknown client secret" in rejected.detail and "wrong-secret-456" not in rejected.detail
