"""``spendstream alerts forward``: each alert to a webhook, delivered before it is committed.

read the alert topic in a consumer group → skip alert ids already delivered → render
(Slack-compatible ``{"text": …}`` by default, or a template) → POST with retries and back-off →
commit. A crash between a POST and its commit re-posts that one alert after a restart; receivers
see the alert id in every payload and can drop the repeat.

A Slack or Teams incoming-webhook URL *is* the credential: it comes from the environment
(``SPENDSTREAM_WEBHOOK_URL``) or a file, and only its scheme and host are ever printed or logged.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from connectors.alerts import iso, read_alerts
from spendstream.config import Config

log = logging.getLogger(__name__)
REMEMBERED_IDS = 100_000
WEBHOOK_ENV = "SPENDSTREAM_WEBHOOK_URL"


class DeliveryError(RuntimeError):
    """The webhook refused an alert for good (4xx other than 429) or kept failing."""


def webhook_url(url_file: Path | None, env: Mapping[str, str]) -> str:
    """The webhook URL from ``url_file`` (first line) or ``$SPENDSTREAM_WEBHOOK_URL``, checked, never echoed."""
    if url_file is not None:
        try:
            url = url_file.read_text().strip()
        except OSError as error:
            raise ValueError(f"cannot read the webhook URL file {url_file}: {error.strerror}") from None
    else:
        url = env.get(WEBHOOK_ENV, "").strip()
    if not url:
        raise ValueError(f"alerts forward needs a webhook URL: set {WEBHOOK_ENV} or pass --webhook-file FILE")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the webhook URL must be http(s)://host/...; got one starting {redacted(url)!r}")
    return url


def redacted(url: str) -> str:
    """Scheme and host of ``url`` only: its path and query (a webhook's secret) never reach a log."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}" if parts.scheme else "(no scheme)"


def slack_payload(alert: dict) -> dict:
    """Slack's incoming-webhook format (also understood by Mattermost and Rocket.Chat)."""
    icon = {"critical": ":rotating_light:", "warning": ":warning:"}.get(alert["severity"], ":information_source:")
    return {
        "text": f"{icon} *{alert['title']}*\n{alert['message']}\n_{alert['kind']} · {alert['severity']} · "
        f"{iso(alert['window_start_ms'])} → {iso(alert['window_end_ms'])} · id {alert['alert_id']}_",
    }


def render(alert: dict, template: Template | None) -> bytes:
    """The request body; a template's ``$field`` placeholders get JSON-escaped alert values."""
    if template is None:
        return json.dumps(slack_payload(alert)).encode()
    values = {
        key: json.dumps(value)[1:-1] if isinstance(value, str) else json.dumps(value) for key, value in alert.items()
    }
    values.update(window_start=iso(alert["window_start_ms"]), window_end=iso(alert["window_end_ms"]))
    return template.substitute(values).encode()


@dataclass
class ForwardStats:
    delivered: int = 0
    duplicates: int = 0
    retries: int = 0


class WebhookForwarder:
    """Posts alerts; remembers the last delivered ids so a re-delivered alert is posted once."""

    def __init__(self, url: str, template_file: Path | None = None, attempts: int = 6, backoff_s: float = 0.5) -> None:
        self.url, self.attempts, self.backoff_s = url, attempts, backoff_s
        self.where = redacted(url)  # what logs and errors name
        self.template = Template(template_file.read_text()) if template_file else None
        self.delivered: OrderedDict[str, None] = OrderedDict()
        self.stats = ForwardStats()

    def forward(self, alert: dict) -> None:
        if alert["alert_id"] in self.delivered:
            self.stats.duplicates += 1
            return
        self._post(render(alert, self.template), alert["alert_id"])
        self.delivered[alert["alert_id"]] = None
        if len(self.delivered) > REMEMBERED_IDS:
            self.delivered.popitem(last=False)
        self.stats.delivered += 1

    def _post(self, body: bytes, alert_id: str) -> None:
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"}, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10):
                    return
            except urllib.error.HTTPError as error:
                if error.code < 500 and error.code != 429:
                    raise DeliveryError(f"webhook {self.where} refused alert {alert_id}: HTTP {error.code}") from None
                problem = f"HTTP {error.code}"
            except (urllib.error.URLError, OSError, ValueError) as error:
                problem = str(error).replace(self.url, self.where)
            if attempt == self.attempts:
                raise DeliveryError(f"webhook {self.where} failed {attempt} times for alert {alert_id}: {problem}")
            self.stats.retries += 1
            log.warning("webhook %s: %s; retry %d in %.1fs", self.where, problem, attempt, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)


def forward_alerts(
    config: Config, forwarder: WebhookForwarder, group: str, until_idle_s: float | None = None
) -> ForwardStats:
    """Forward every alert not yet committed by ``group``; each offset is committed after its POST."""
    for alert in read_alerts(config, from_beginning=True, group=group, until_idle_s=until_idle_s):
        forwarder.forward(alert)
    return forwarder.stats
