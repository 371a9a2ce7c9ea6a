"""HTTP ingest of custom JSON cost and metric events, on the API server.

POST a JSON object or array to ``/v1/cost-events`` or ``/v1/metric-events`` with a token that
may ``configure`` every account the events name (``usage_account_id``; ``account_id`` for
metrics). A batch is taken whole or not at all: 202 with counts once every record is on Kafka
(acknowledged by the broker); 400 with one error per invalid record and nothing produced; 403
when the token may not publish for an account of the batch; 413 for a body over
``ingest.max_body_bytes`` or more than ``ingest.max_events`` events; 411 without a
``Content-Length`` (uvicorn answers a negative or malformed one with 400); 408 for a client that
stops sending for ``ingest.client_timeout_s``, which holds only its own request.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from kafka import KafkaProducer
from starlette.concurrency import run_in_threadpool

from connectors.kafka_io import ensure_topics, producer
from pipelines.cost_event import RejectedRow
from pipelines.ingest_records import Validator, cost_record, metric_record
from spendstream.api.access import Principal
from spendstream.api.rest import principal
from spendstream.config import Config

# route → (topic role, validator, the field naming the event's account)
ROUTES: dict[str, tuple[str, Validator, str]] = {
    "/v1/cost-events": ("raw_cost", cost_record, "usage_account_id"),
    "/v1/metric-events": ("metrics", metric_record, "account_id"),
}


class Refused(Exception):
    """A request turned away before its events were read; the connection is closed after the answer."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status


async def refused(request: Request, error: Refused) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=error.status, headers={"Connection": "close"})


class Publisher:
    """One producer for the server's ingest requests, opened on first use (the API starts without Kafka)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def publish(self, role: str, records: list[tuple[bytes, bytes, int]]) -> None:
        """Send a validated batch and wait for the broker's acknowledgement of every record."""
        with self._lock:
            if self._producer is None:
                ensure_topics(self.config)
                self._producer = producer(self.config)
        topic = self.config.kafka.topic(role)
        futures = [self._producer.send(topic, key=k, value=v, timestamp_ms=ts) for k, v, ts in records]
        for future in futures:
            future.get(timeout=30)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()


async def body_of(request: Request) -> Any:
    """The request's JSON, read within the client timeout and the byte limit."""
    settings = request.app.state.config.ingest
    length = request.headers.get("content-length")
    if length is None:
        raise Refused(411, "a Content-Length header is required")
    if int(length) > settings.max_body_bytes:
        raise Refused(413, f"body of {length} bytes is over {settings.max_body_bytes}")
    try:
        raw = await asyncio.wait_for(request.body(), timeout=settings.client_timeout_s)
    except TimeoutError:
        raise Refused(408, "the request body did not arrive in time") from None
    try:
        return json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise Refused(400, f"the body is not JSON: {error}") from None


router = APIRouter()


def _route(path: str):
    role, validate, account_field = ROUTES[path]

    async def ingest(request: Request, who: Annotated[Principal, Depends(principal)]) -> JSONResponse:
        body = await body_of(request)
        items = body if isinstance(body, list) else [body]
        limit = request.app.state.config.ingest.max_events
        if len(items) > limit:
            raise Refused(413, f"{len(items)} events in one request; at most {limit}")
        records, errors, denied = [], [], []
        for index, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise RejectedRow("each event must be a JSON object")
                if not item.get(account_field):
                    raise RejectedRow(f"{account_field} is required: the account that publishes the event")
                records.append(validate(item))
                if not who.may(str(item[account_field]), "configure"):
                    denied.append(index)
            except (RejectedRow, KeyError, TypeError, ValueError) as error:
                errors.append({"index": index, "error": str(error)})
        if errors:
            return JSONResponse({"accepted": 0, "rejected": len(errors), "errors": errors}, status_code=400)
        if denied:
            error = f"events {denied} name accounts this token may not configure; nothing was published"
            return JSONResponse({"accepted": 0, "error": error}, status_code=403)
        await run_in_threadpool(request.app.state.publisher.publish, role, records)
        return JSONResponse({"accepted": len(records)}, status_code=202)

    router.add_api_route(path, ingest, methods=["POST"], status_code=202, summary=f"publish {role} events")


for _path in ROUTES:
    _route(_path)
