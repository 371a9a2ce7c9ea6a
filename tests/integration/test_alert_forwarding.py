"""``alerts forward``: alerts from the real broker to a real HTTP webhook, once each, committed after delivery."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.alert_forwarder import DeliveryError, WebhookForwarder, forward_alerts
from connectors.kafka_io import ensure_topics, producer
from schemas import SchemaName, codec
from spendstream.config import Config
from tests.integration.test_formats_pipeline import isolated

pytestmark = pytest.mark.integration


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

    def __init__(self, failures: int) -> None:
        self.failures, self.bodies = failures, []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.failures > 0:
                    hook.failures -= 1
                    self.send_response(500)
                else:
                    hook.bodies.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
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
