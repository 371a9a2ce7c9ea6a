"""Metric replay and HTTP ingest against the real broker."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from connectors.metric_replay import replay_metrics
from pipelines.metrics import MetricSeries
from schemas import SchemaName, codec
from spendstream.api.access import SECRET_ENV, TokenKeys
from spendstream.api.process import api_server
from spendstream.config import Config, IngestSettings, Topic
from tests.integration.test_pipeline import read_topic

pytestmark = pytest.mark.integration
NAB = Path(__file__).parents[1] / "fixtures" / "nab" / "ec2_cpu_utilization_5f5533.csv"


def own_topics(config: Config, name: str) -> Config:
    topics = {role: Topic(f"{name}.{role}", 1) for role in config.kafka.topics}
    return replace(config, kafka=replace(config.kafka, topics=topics))


def test_nab_cloudwatch_series_replays_into_the_metrics_topic(stack: Config):
    config = own_topics(stack, "nab")
    summary = replay_metrics(NAB, MetricSeries("i-5f5533", "CPUUtilization"), config)
    assert (summary.rows_read, summary.produced, summary.rejected) == (4032, 4032, 0)
    events = [codec().decode(r.value, SchemaName.METRIC_EVENT) for r in read_topic(config, "metrics")]
    assert len(events) == 4032
    assert [e["timestamp_ms"] for e in events] == sorted(e["timestamp_ms"] for e in events)
    assert events[0]["value"] == 51.846000000000004 and events[0]["resource_id"] == "i-5f5533"


SECRET = "ingest-test-secret-of-at-least-32-bytes"
ACCOUNT = "111111111111"


def token(permission: str = "configure", account: str = ACCOUNT) -> str:
    return TokenKeys("HS256", SECRET.encode()).mint("ingest-test", {account: permission}, ("engineer",), 600)


@pytest.fixture
def ingest(stack: Config):
    """The API server, whose ingest routes publish to topics of this test's own."""
    limits = IngestSettings(max_body_bytes=4096, max_events=3, client_timeout_s=1.0)
    config = replace(own_topics(stack, "ingest"), ingest=limits)
    with api_server(config, {SECRET_ENV: SECRET}) as url:
        yield config, url


def post(url: str, body: object, bearer: str | None = "", raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else json.dumps(body).encode()
    bearer = token() if bearer == "" else bearer
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {bearer}"} if bearer else {})}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


COST = {
    "usage_account_id": "111111111111",
    "line_item_id": "job-1",
    "usage_start_ms": 1790776800000,
    "usage_end_ms": 1790780400000,
    "service": "Snowflake",
    "unblended_cost": "12.50",
}


def test_ingest_accepts_batches_refuses_bad_ones_whole_and_guards_its_door(ingest):
    config, url = ingest
    status, body = post(f"{url}/v1/cost-events", [COST, {**COST, "line_item_id": "job-2", "unblended_cost": "0.5"}])
    assert (status, body) == (202, {"accepted": 2})
    status, body = post(
        f"{url}/v1/metric-events",
        {"resource_id": "i-1", "metric": "CPUUtilization", "timestamp_ms": 1790776800000, "value": 12.5,
         "account_id": ACCOUNT},
    )  # fmt: skip
    assert (status, body) == (202, {"accepted": 1})

    status, body = post(f"{url}/v1/cost-events", [COST, {**COST, "unblended_cost": "lots"}, {"x": 1}])
    assert status == 400 and body["accepted"] == 0
    assert [e["index"] for e in body["errors"]] == [1, 2]
    assert "not a decimal number" in body["errors"][0]["error"]

    assert post(f"{url}/v1/cost-events", [COST] * 200)[0] == 413
    status, body = post(f"{url}/v1/cost-events", [COST] * 4)
    assert (status, body) == (413, {"error": "4 events in one request; at most 3"})
    assert post(f"{url}/v1/cost-events", COST, bearer=None)[0] == 401
    assert post(f"{url}/v1/cost-events", COST, bearer="wrong")[0] == 401
    assert post(f"{url}/v1/cost-events", COST, bearer=token("read"))[0] == 403  # reading is not publishing
    status, body = post(f"{url}/v1/cost-events", [COST, {**COST, "usage_account_id": "222222222222"}])
    assert status == 403 and "[1]" in body["error"]  # the whole batch, for the one account it may not configure
    assert post(f"{url}/v1/cost-events", None, raw=b"{not json")[0] == 400
    metric = {"resource_id": "i-1", "metric": "CPUUtilization", "timestamp_ms": 1790776800000, "value": 1.0}
    status, body = post(f"{url}/v1/metric-events", metric)
    assert status == 400 and "account_id is required" in body["errors"][0]["error"]

    costs = [codec().decode(r.value, SchemaName.COST_EVENT) for r in read_topic(config, "raw_cost")]
    assert sorted(c["unblended_cost"] for c in costs) == ["0.5", "12.50"]  # nothing of the refused batch
    assert [r.timestamp for r in read_topic(config, "raw_cost")] == [1790776800000] * 2
    assert len(read_topic(config, "metrics")) == 1


def raw_request(port: int, head: str, body: bytes = b"", wait_s: float = 5.0) -> tuple[float, bytes]:
    """Send a hand-made request over a socket; (seconds until the server answered, its status line)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as connection:
        started = time.monotonic()
        connection.sendall(head.encode() + b"\r\n" + body)
        answer = connection.recv(200)
        return time.monotonic() - started, answer.split(b"\r\n")[0]


def head() -> str:
    return f"POST /v1/cost-events HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer {token()}\r\n"


def test_ingest_answers_bad_lengths_at_once_and_cuts_off_slow_clients(ingest):
    _, url = ingest
    port = int(url.rsplit(":", 1)[1])
    assert b" 411 " in raw_request(port, head())[1]
    seconds, status = raw_request(port, head() + "Content-Length: -5\r\n", b"{}")
    assert b" 400 " in status and seconds < 0.5
    assert b" 400 " in raw_request(port, head() + "Content-Length: 1e3\r\n", b"{}")[1]
    assert b" 413 " in raw_request(port, head() + "Content-Length: 5000\r\n", b"[")[1]

    slow = threading.Thread(target=lambda: results.append(raw_request(port, head() + "Content-Length: 100\r\n", b"[")))
    results: list[tuple[float, bytes]] = []
    slow.start()
    time.sleep(0.2)
    assert post(f"{url}/v1/cost-events", COST)[0] == 202  # not blocked by the slow client
    slow.join(10)
    seconds, status = results[0]
    assert b" 408 " in status and 0.9 < seconds < 3
