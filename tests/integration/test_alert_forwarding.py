"""``alerts forward``: alerts from the real broker to a real HTTP webhook, once each, committed after delivery."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from connectors.alert_forwarder import DeliveryError, WebhookForwarder, forward_alerts
from connectors.kafka_io import ensure_topics, producer
from schemas import SchemaName, codec
from spendstream.config import Config, to_env
from tests.integration.test_formats_pipeline import isolated

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxb-SECRET-token"


def alert(n: int) -> dict:
    return {
        "alert_id": f"alert-{n}",
        "kind": "anomaly",
        "severity": "critical",
        "account_id": "111111111111",
        "account_name": "retail-prod",
        "service": "AmazonEC2",
        "window_start_ms": 1_788_220_800_000 + n * 3_600_000,
        "window_end_ms": 1_788_224_400_000 + n * 3_600_000,
        "title": f'retail-prod AmazonEC2: "unusual" spend #{n}',
        "message": "cost 80.00, expected 20.00",
        "details": {},
    }


class Webhook:
    """A real HTTP server; answers 500 to the first ``failures`` requests, then 200."""

    def __init__(self, failures: int, status: int = 500) -> None:
        self.failures, self.status, self.bodies = failures, status, []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.failures > 0:
                    hook.failures -= 1
                    self.send_response(hook.status)
                else:
                    hook.bodies.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.url = f"{self.origin}{SECRET_PATH}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def alerts_on_topic(stack: Config) -> Config:
    config = isolated(stack, "forward")
    ensure_topics(config)
    out = producer(config)
    for n in (1, 2, 2, 3):  # alert 2 is delivered twice by the job (at-least-once)
        out.send(
            config.kafka.topic("alert"), key=f"alert-{n}".encode(), value=codec().encode(SchemaName.ALERT, alert(n))
        )
    out.flush()
    out.close()
    return config


def test_each_alert_is_posted_once_with_retries_and_committed_only_after_delivery(alerts_on_topic, tmp_path):
    config = alerts_on_topic
    down = Webhook(failures=1000)
    with pytest.raises(DeliveryError, match="failed 2 times for alert alert-1"):
        forward_alerts(config, WebhookForwarder(down.url, attempts=2, backoff_s=0.05), "webhook", until_idle_s=5)

    flaky = Webhook(failures=2)
    stats = forward_alerts(config, WebhookForwarder(flaky.url, backoff_s=0.05), "webhook", until_idle_s=3)
    assert (stats.delivered, stats.duplicates, stats.retries) == (3, 1, 2)
    texts = [body["text"] for body in flaky.bodies]
    assert [next(f"alert-{n}" for n in (1, 2, 3) if f"id alert-{n}_" in text) for text in texts] == [
        "alert-1",
        "alert-2",
        "alert-3",
    ]
    again = forward_alerts(config, WebhookForwarder(flaky.url), "webhook", until_idle_s=3)
    assert again.delivered == 0 and len(flaky.bodies) == 3  # offsets were committed after each delivery


def test_a_template_shapes_the_request_with_json_safe_values(alerts_on_topic, tmp_path):
    template = tmp_path / "teams.json"
    template.write_text('{"id": "$alert_id", "title": "$title", "from": "$window_start", "sev": "$severity"}')
    hook = Webhook(failures=0)
    forward_alerts(alerts_on_topic, WebhookForwarder(hook.url, template), "templated", until_idle_s=3)
    assert hook.bodies[0] == {
        "id": "alert-1",
        "title": 'retail-prod AmazonEC2: "unusual" spend #1',
        "from": "2026-09-01T01:00:00Z",
        "sev": "critical",
    }


def forward_cli(config: Config, *args: str, url: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **to_env(config), "SPENDSTREAM_LOG_FORMAT": "json", "COLUMNS": "400"}
    env.pop("SPENDSTREAM_WEBHOOK_URL", None)
    if url is not None:
        env["SPENDSTREAM_WEBHOOK_URL"] = url
    argv = [str(ROOT / ".venv" / "bin" / "spendstream"), "alerts", "forward", "--until-idle", "3", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def test_the_webhook_url_is_a_secret_never_printed_logged_or_taken_from_argv(alerts_on_topic, tmp_path):
    """Retries, a refusal, and a success through the real CLI: only scheme://host:port is ever shown."""
    refusing, flaky = Webhook(failures=1000, status=403), Webhook(failures=2)
    refused = forward_cli(alerts_on_topic, "--group", "secret", url=refusing.url)
    url_file = tmp_path / "webhook-url"
    url_file.write_text(flaky.url + "\n")
    delivered = forward_cli(alerts_on_topic, "--group", "secret", "--webhook-file", str(url_file))
    on_argv = forward_cli(alerts_on_topic, "--webhook", flaky.url)
    missing = forward_cli(alerts_on_topic)

    assert refused.returncode == 2 and f"webhook {refusing.origin} refused alert alert-1: HTTP 403" in refused.stdout
    assert delivered.returncode == 0 and len(flaky.bodies) == 3
    assert f"to {flaky.origin} (group" in delivered.stdout and "retry 2" in delivered.stderr
    assert on_argv.returncode == 2 and "--webhook URL is refused" in on_argv.stdout and len(flaky.bodies) == 3
    assert missing.returncode == 2 and "set SPENDSTREAM_WEBHOOK_URL or pass --webhook-file" in missing.stdout
    for run in (refused, delivered, on_argv, missing):
        assert "SECRET" not in run.stdout + run.stderr
