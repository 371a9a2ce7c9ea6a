"""HTTP ingest of custom JSON cost and metric events (``spendstream ingest serve``).

POST a JSON object or array to ``/v1/cost-events`` or ``/v1/metric-events``. A batch is taken
whole or not at all: 202 with counts once every record is on Kafka (acknowledged by the broker),
400 with one error per invalid record and nothing produced, 413 for a body over the byte limit or
a batch over the event limit, 401 without the configured bearer token, 411 without a
``Content-Length`` (400 for a negative or malformed one), 408 for a client that stops sending.

Each connection has its own thread and a socket timeout, so a slow client holds only its own
thread, and only for ``ingest.client_timeout_s``. Without a token the server binds loopback only:
anyone who can reach it may publish costs.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kafka import KafkaProducer

from connectors.kafka_io import ensure_topics, producer
from pipelines.cost_event import RejectedRow
from pipelines.ingest_records import Validator, cost_record, metric_record
from spendstream.config import Config, ConfigError

ROUTES: dict[str, tuple[str, Validator]] = {
    "/v1/cost-events": ("raw_cost", cost_record),
    "/v1/metric-events": ("metrics", metric_record),
}


class IngestHandler(BaseHTTPRequestHandler):
    server: IngestServer

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        route = ROUTES.get(self.path.split("?")[0])
        if route is None:
            return self._answer(HTTPStatus.NOT_FOUND, {"error": f"POST to one of {', '.join(ROUTES)}"})
        if not self._authorized():
            return self._answer(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong bearer token"})
        length = self._content_length()
        if length is None:
            return None
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except TimeoutError:
            return self._refuse(HTTPStatus.REQUEST_TIMEOUT, "the request body did not arrive in time")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            return self._answer(
                HTTPStatus.BAD_REQUEST, {"accepted": 0, "errors": [{"index": None, "error": str(error)}]}
            )
        items = body if isinstance(body, list) else [body]
        if len(items) > self.server.settings.max_events:
            return self._answer(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {"error": f"{len(items)} events in one request; at most {self.server.settings.max_events}"},
            )
        role, validate = route
        records, errors = [], []
        for index, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise RejectedRow("each event must be a JSON object")
                records.append(validate(item))
            except (RejectedRow, KeyError, TypeError, ValueError) as error:
                errors.append({"index": index, "error": str(error)})
        if errors:
            return self._answer(HTTPStatus.BAD_REQUEST, {"accepted": 0, "rejected": len(errors), "errors": errors})
        self.server.publish(role, records)
        self._answer(HTTPStatus.ACCEPTED, {"accepted": len(records)})

    def setup(self) -> None:
        self.timeout = self.server.settings.client_timeout_s  # StreamRequestHandler applies it to the socket
        super().setup()

    def _content_length(self) -> int | None:
        """The body's declared length, or None once the request has been refused with the reason."""
        header, limit = self.headers.get("Content-Length"), self.server.settings.max_body_bytes
        if header is None:
            return self._refuse(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        if not header.strip().isdigit():
            return self._refuse(HTTPStatus.BAD_REQUEST, f"Content-Length must be a byte count, not {header!r}")
        if int(header) > limit:
            return self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body of {header} bytes is over {limit}")
        return int(header)

    def _refuse(self, status: HTTPStatus, error: str) -> None:
        """Answer and close: the unread body must not be taken for the next request."""
        self.close_connection = True
        self._answer(status, {"error": error})

    def _authorized(self) -> bool:
        token = self.server.settings.token
        if not token:
            return True
        given = self.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    def _answer(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        pass


class IngestServer(ThreadingHTTPServer):
    """HTTP server owning one Kafka producer shared by its request threads."""

    def __init__(self, config: Config) -> None:
        self.config, self.settings = config, config.ingest
        if not self.settings.token and not is_loopback(self.settings.host):
            raise ConfigError(
                f"ingest.host {self.settings.host} is reachable from other machines, and no token is set: "
                "set SPENDSTREAM_INGEST_TOKEN (clients send it as a bearer token) or bind 127.0.0.1"
            )
        ensure_topics(config)
        self.out: KafkaProducer = producer(config)
        super().__init__((self.settings.host, self.settings.port), IngestHandler)

    def publish(self, role: str, records: list[tuple[bytes, bytes, int]]) -> None:
        """Send a validated batch and wait for the broker's acknowledgement of every record."""
        topic = self.config.kafka.topic(role)
        futures = [self.out.send(topic, key=k, value=v, timestamp_ms=ts) for k, v, ts in records]
        for future in futures:
            future.get(timeout=30)

    def server_close(self) -> None:
        super().server_close()
        self.out.close()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve anywhere
        return False
