"""Notifications delivered to real local receivers: an HTTP server and an SMTP server.

apprise delivers ``json://`` to the HTTP receiver (stdlib ``http.server`` in a
thread, standing in for Slack and Teams, whose apprise URLs name fixed hosts)
and ``mailto://`` (a ``type: email`` channel) to aiosmtpd; the project's own
JSON webhook posts to the same HTTP receiver. Both record what really arrived
over the socket.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from opsconsole.config import load
from opsconsole.errors import ConfigError
from opsconsole.model import Alert, Severity
from opsconsole.notify import Notifier, NotifySettings, parse_notify


class Receiver:
    """A local HTTP server recording every POST; ``fail`` makes it answer 500."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict, dict]] = []
        self.fail = False
        self.delay = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.posts.append((self.path, json.loads(body), {k.lower(): v for k, v in self.headers.items()}))
                time.sleep(outer.delay)
                self.send_response(500 if outer.fail else 200)
                self.end_headers()
                self.wfile.write(b"boom" if outer.fail else b"ok")

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.posts]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message as MessageHandler

    received: list = []

    class Collect(MessageHandler):
        def handle_message(self, message) -> None:
            received.append(message)

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    controller.received = received
    yield controller
    controller.stop()


def settings(http: Receiver, smtp=None, **top) -> NotifySettings:
    host = http.url.removeprefix("http://")
    channels = {
        "chat": {"type": "apprise", "url": f"json://{host}/chat?+Authorization=Bearer%20s3cr3t-token"},
        "crit": {"type": "apprise", "url": f"json://{host}/crit", "min_severity": "critical"},
        "hook": {"type": "webhook", "url": f"{http.url}/hook", "headers": {"Authorization": "Bearer s3cr3t-token"}},
    }
    if smtp is not None:
        channels["mail"] = {"type": "email", "host": "127.0.0.1", "port": smtp.port,
                            "sender": "opsconsole@example.com", "to": ["oncall@example.com"]}
    return parse_notify({"channels": channels, **top}, path="p.yaml", where="profiles.x.notify", line=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


MINIO = Alert("MinIODown", Severity.CRITICAL, "minio", "connection refused", "minio-down")
LAG = Alert("KafkaConsumerLagHigh", Severity.WARNING, "flink-raw-consumer", "lag 12,000 > 10,000", "kafka-consumer-lag")


async def test_firing_dedup_and_resolve_reach_every_channel(http: Receiver, smtp) -> None:
    notifier = Notifier(settings(http, smtp), profile="iceberg-local", clock=Clock())
    first = await notifier.process([MINIO, LAG])
    assert all(d.ok for d in first), first
    # critical goes everywhere; the warning skips the critical-only channel
    assert sorted(http.paths()) == ["/chat", "/chat", "/crit", "/hook", "/hook"]
    assert len(smtp.received) == 2
    chat = next((b, h) for p, b, h in http.posts if p == "/chat" and "MinIODown" in b["title"])
    assert chat[0]["title"] == "[CRITICAL] MinIODown minio" and chat[0]["type"] == "failure"
    assert "opsconsole run minio-down" in chat[0]["message"]
    assert chat[1]["authorization"] == "Bearer s3cr3t-token" and chat[1]["user-agent"] == "Apprise"
    assert next(b for p, b, _ in http.posts if p == "/chat" and "Kafka" in b["title"])["type"] == "warning"
    hook = next((b, h) for p, b, h in http.posts if p == "/hook" and b["rule"] == "MinIODown")
    assert hook[0]["status"] == "firing" and hook[0]["key"] == "MinIODown:minio"
    assert hook[1]["authorization"] == "Bearer s3cr3t-token"
    subjects = sorted(m["Subject"] for m in smtp.received)
    assert subjects == ["[CRITICAL] MinIODown minio", "[WARNING] KafkaConsumerLagHigh flink-raw-consumer"]
    assert smtp.received[0]["From"] == "opsconsole@example.com" and smtp.received[0]["To"] == "oncall@example.com"

    # the same alerts on the next poll: nothing new is sent
    http.posts.clear()
    assert await notifier.process([MINIO, LAG]) == []
    assert http.posts == [] and len(smtp.received) == 2

    # MinIO recovers: a resolve message to each channel that announced it
    resolved = await notifier.process([LAG])
    assert {d.channel for d in resolved} == {"chat", "crit", "hook", "mail"} and all(d.kind == "resolved"
                                                                                    for d in resolved)
    assert [b["status"] for p, b, _ in http.posts if p == "/hook"] == ["resolved"]
    assert [(b["title"], b["type"]) for p, b, _ in http.posts if p == "/crit"] == [("[RESOLVED] MinIODown minio",
                                                                                     "success")]
    assert smtp.received[-1]["Subject"] == "[RESOLVED] MinIODown minio"


async def test_flapping_alert_is_rate_limited(http: Receiver) -> None:
    clock = Clock()
    notifier = Notifier(settings(http, rate_limit_minutes=15), profile="p", clock=clock)
    await notifier.process([MINIO])
    await notifier.process([])          # resolves (sent)
    clock.now += 60
    again = await notifier.process([MINIO])   # fires again a minute later: suppressed
    assert [d.suppressed for d in again] == ["rate-limited"]
    await notifier.process([])          # and its resolve is not sent either (nothing was announced)
    assert [b.get("status") for p, b, _ in http.posts if p == "/hook"] == ["firing", "resolved"]
    clock.now += 15 * 60
    later = await notifier.process([MINIO])   # after the window it is announced again
    assert {d.channel for d in later if d.ok} == {"chat", "crit", "hook"}
    assert [b["type"] for p, b, _ in http.posts if p == "/chat"] == ["failure", "success", "failure"]
    assert notifier.suppressed == 1


async def test_channel_cap_per_hour(http: Receiver) -> None:
    clock = Clock()
    notifier = Notifier(settings(http, max_per_hour=2), profile="p", clock=clock)
    storm = [Alert("ServiceDown", Severity.CRITICAL, f"svc-{i}", "down") for i in range(5)]
    results = await notifier.process(storm)
    assert sum(1 for p in http.paths() if p == "/chat") == 2
    assert sum(1 for d in results if d.channel == "chat" and d.suppressed == "channel-cap") == 3
    clock.now += 3601
    await notifier.process(storm)  # the hour has passed: the rest go out now
    assert sum(1 for p in http.paths() if p == "/chat") == 4


async def test_failed_delivery_is_reported_and_retried(http: Receiver) -> None:
    notifier = Notifier(settings(http), profile="p", clock=Clock())
    http.fail = True
    failed = await notifier.process([MINIO])
    assert not any(d.ok for d in failed)
    errors = {d.channel: d.error for d in failed}
    assert "500" in errors["chat"] and "HTTP 500" in errors["hook"]
    assert "s3cr3t" not in " ".join(errors.values())
    http.fail = False
    retried = await notifier.process([MINIO])
    assert {d.channel for d in retried if d.ok} == {"chat", "crit", "hook"}


async def test_unreachable_smtp_is_an_actionable_error(http: Receiver) -> None:
    s = parse_notify({"channels": {"mail": {"type": "email", "host": "127.0.0.1", "port": 1, "timeout": 2,
                                            "sender": "a@example.com", "to": ["b@example.com"]}}},
                     path="p.yaml", where="n", line=1)
    result = await Notifier(s, profile="p").test()
    assert not result[0].ok and "email channel 'mail' (mailto://127.0.0.1:1" in result[0].error
    assert "connection error" in result[0].error.lower()


@pytest.mark.parametrize(("snippet", "where"), [
    ("notify:\n      channels:\n        x: {type: pager, url: http://a}\n", ":9: profiles.p.notify.channels.x.type"),
    ("notify:\n      channels:\n        x: {type: slack}\n", ":9: profiles.p.notify.channels.x.url"),
    ("notify:\n      channels:\n        x:\n          type: email\n          host: h\n          sender: a@b\n"
     "          to: [nobody]\n", ":13: profiles.p.notify.channels.x.to"),
    ("notify:\n      rate_limit: 5\n", ":8: profiles.p.notify.rate_limit"),
    ("notify:\n      channels:\n        x:\n          type: apprise\n          url: 'nope://x'\n",
     ":11: profiles.p.notify.channels.x.url"),
    ("notify:\n      channels:\n        x: {type: slack, url: 'https://example.com/hook'}\n",
     ":9: profiles.p.notify.channels.x.url"),
    ("notify:\n      min_severity: loud\n", ":8: profiles.p.notify.min_severity"),
])
def test_notify_config_errors_name_file_line_and_key(tmp_path: Path, snippet: str, where: str) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text("profiles:\n  p:\n    drivers:\n      bus:\n        type: kafka\n"
                    "        options: {bootstrap: 'localhost:9092'}\n    " + snippet)
    with pytest.raises(ConfigError) as err:
        load(path).profile("p")
    assert f"{path}{where}" in str(err.value)


def test_notify_secrets_are_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T000AAAA/B000BBBB/XXXXSECRETXXXXXXXXXXXXXX")
    path = tmp_path / "profiles.yaml"
    path.write_text("profiles:\n  p:\n    drivers:\n      bus:\n        type: kafka\n"
                    "        options: {bootstrap: 'localhost:9092'}\n"
                    "    notify:\n      channels:\n        s: {type: slack, url: '${SLACK_WEBHOOK_URL}'}\n")
    profile = load(path).profile("p")
    assert "XXXXSECRET" not in repr(profile.notify)
    assert "https://hooks.slack.com/services/T000AAAA/B000BBBB/XXXXSECRETXXXXXXXXXXXXXX" in profile.secrets()
    from opsconsole.notify.channels import build_channel

    assert "XXXXSECRET" not in build_channel(profile.notify.channels[0]).display()


@pytest.mark.parametrize(("url", "hidden"), [
    ("https://hooks.slack.com/services/T000AAAA/B000BBBB/XXXXSECRETXXXXXXXXXXXXXX", "XXXXSECRET"),
    ("slack://T000AAAA/B000BBBB/XXXXSECRETXXXXXXXXXXXXXX", "XXXXSECRET"),
    ("mailtos://ops:hunter2pw@smtp.example.com:587?from=a@example.com&to=b@example.com", "hunter2pw"),
    ("json://hooks.example.com/in?+Authorization=Bearer%20tok3n-value", "tok3n-value"),
    ("pagerduty://intkey12345@apikey67890", "apikey67890"),
    ("opsgenie://0123456789abcdef0123456789abcdef", "0123456789abcdef"),
    ("https://prod-00.westus.logic.azure.com:443/workflows/0123456789abcdef0123456789abcdef/triggers/manual/paths/"
     "invoke?api-version=2016-06-01&sv=1.0&sig=SiGsEcReT0123456789", "SiGsEcReT"),
    ("https://example.com/webhook/abc?token=t0ps3cret", "t0ps3cret"),
])
def test_urls_are_redacted_wherever_they_are_shown(url: str, hidden: str) -> None:
    from opsconsole.notify.channels import redact_url

    shown = redact_url(url)
    assert hidden not in shown, shown


EXAMPLE_ENV = {
    "TEAMS_WORKFLOW_URL": "https://prod-00.westus.logic.azure.com:443/workflows/0123456789abcdef0123456789abcdef"
                          "/triggers/manual/paths/invoke?api-version=2016-06-01&sv=1.0&sig=SiGsEcReT0123456789",
    "SMTP_USER": "ops", "SMTP_PASSWORD": "hunter2pw", "SMTP_HOST": "smtp.example.com",
    "OPSGENIE_API_KEY": "0123456789abcdef0123456789abcdef", "PD_INTEGRATION_KEY": "intkey12345",
    "PD_API_KEY": "apikey67890", "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000AAAA/B000BBBB/XXXXSECRETX",
    "ALERT_WEBHOOK_URL": "https://alerts.example.com/in", "ALERT_WEBHOOK_TOKEN": "t0k3n",
}


@pytest.mark.parametrize("name", ["ontos-prod", "azure-rt", "dataops"])
def test_shipped_notify_examples_are_valid_once_uncommented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             root: Path, name: str) -> None:
    import re

    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    text = re.sub(r"(?m)^    # ((?:notify|alertmanager):.*|  .*)$", r"    \1", (root / "profiles.yaml").read_text())
    path = tmp_path / "profiles.yaml"
    path.write_text(text)
    profile = load(path).profile(name)
    assert profile.notify is not None and profile.notify.channels
    assert "hunter2pw" not in repr(profile.notify) and "apikey67890" not in repr(profile.notify)


async def test_a_slow_chat_service_gets_the_channels_timeout_not_apprises_own_4_seconds(http: Receiver) -> None:
    """apprise stops reading after 4 s by default; a channel allowed 8 s must wait for a 5 s answer,
    and one allowed 2 s must report the slow service as failed."""
    host = http.url.removeprefix("http://")
    http.delay = 5.0
    patient = parse_notify({"channels": {"chat": {"type": "apprise", "url": f"json://{host}/chat", "timeout": 8}}},
                           path="p.yaml", where="profiles.x.notify", line=1)
    [delivered] = await Notifier(patient, profile="demo", clock=Clock()).process([MINIO])
    assert delivered.ok, delivered.error
    hasty = parse_notify({"channels": {"chat": {"type": "apprise", "url": f"json://{host}/chat?rto=1", "timeout": 8}}},
                         path="p.yaml", where="profiles.x.notify", line=1)
    [failed] = await Notifier(hasty, profile="demo", clock=Clock()).process([MINIO])
    assert not failed.ok  # an explicit rto in the URL wins
