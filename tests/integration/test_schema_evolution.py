"""Every consumer reads records of the previous, current and next schema version side by side.

The Flink job reads cost events of the previous (v1), current and next version (an appended
optional field, a charge type it does not know yet → ``other``); the InfluxDB sink reads a
next-version aggregate; ``alerts tail``'s reader reads a next-version alert.
"""

from __future__ import annotations

import json

import pytest

from connectors.alerts import read_alerts
from connectors.influx_query import influxql
from connectors.influx_sink import InfluxSink
from connectors.kafka_io import ensure_topics, producer
from connectors.replay import format_offsets
from schemas import SchemaName, codec
from schemas.codec import SCHEMA_DIR
from spendstream.config import Config
from spendstream.flink_client import job_failure, submit, wait_for_job
from tests.integration.test_formats_pipeline import isolated
from tests.schema_versions import encode_as, encode_next

pytestmark = pytest.mark.integration
HOUR_MS = 3_600_000
START_MS = 1_788_220_800_000  # 2026-09-01T00:00Z


def cost_event(i: int, charge_type: str = "usage") -> dict:
    start = START_MS + i * HOUR_MS
    return {
        "event_id": f"e{i}",
        "source_format": "cur2",
        "line_item_id": f"li-{i}",
        "billing_period": "2026-09",
        "usage_start_ms": start,
        "usage_end_ms": start + HOUR_MS,
        "payer_account_id": "900000000001",
        "usage_account_id": "100000000009",
        "service": "AmazonEC2",
        "region": "us-east-1",
        "resource_id": "",
        "line_item_type": "Usage",
        "charge_type": charge_type,
        "usage_type": "BoxUsage",
        "unblended_cost": "1.25",
        "net_cost": "1.25",
        "currency": "USD",
        "usage_amount": "1",
        "tags": {},
    }


def encode_previous(record: dict) -> bytes:
    """As cost_event@1 (before amortized_cost and list_cost) wrote it."""
    return encode_as(json.loads((SCHEMA_DIR / "history" / "cost_event@1.avsc").read_text()), record)


ALERT = {
    "alert_id": "alert-next-1",
    "kind": "added_in_next_version",
    "severity": "warning",
    "account_id": "100000000009",
    "account_name": "future",
    "service": "*",
    "window_start_ms": START_MS,
    "window_end_ms": START_MS + HOUR_MS,
    "title": "a kind of alert this build does not know",
    "message": "m",
    "details": {"actual": "12.50"},
}


def test_job_sink_and_alert_readers_take_previous_current_and_next_versions(stack: Config):
    config = isolated(stack, "schema-versions")
    ensure_topics(config)
    out, ends = producer(config), {}
    current = lambda record: codec().encode(SchemaName.COST_EVENT, record)  # noqa: E731
    newer = lambda record: encode_next(SchemaName.COST_EVENT, record)  # noqa: E731
    for i in range(30):  # previous, current and next version in turn; the next one brings a new charge type
        writer = (encode_previous, current, newer)[i % 3]
        record = cost_event(i, "added_in_next_version" if i % 6 == 5 else "usage")
        topic, ts = config.kafka.topic("raw_cost"), record["usage_start_ms"]
        meta = out.send(topic, key=b"100000000009", value=writer(record), timestamp_ms=ts).get(10)
        ends[meta.partition] = meta.offset + 1
    aggregate = {
        "aggregate_id": "next-1",
        "scope": "account_service",
        "window_start_ms": START_MS + 100 * HOUR_MS,
        "window_end_ms": START_MS + 101 * HOUR_MS,
        "account_id": "100000000010",
        "account_name": "future",
        "service": "AmazonS3",
        "region": "us-east-1",
        "charge_type": "usage",
        "cost_center": "cc",
        "project": "p",
        "environment": "prod",
        "team": "t",
        "currency": "USD",
        "unblended_cost": "2.5",
        "net_cost": "2.5",
        "line_items": 1,
    }
    out.send(config.kafka.topic("aggregate"), key=b"next-1", value=encode_next(SchemaName.COST_AGGREGATE, aggregate))
    out.send(config.kafka.topic("alert"), value=encode_next(SchemaName.ALERT, ALERT))
    out.flush()
    out.close()

    for partition in range(config.kafka.topics["raw_cost"].partitions):
        ends.setdefault(partition, 0)
    job_id = submit(config, "cost-aggregation", ["--from-earliest", "--until-offsets", format_offsets(ends)])
    assert wait_for_job(config, job_id) == "FINISHED", job_failure(config, job_id)
    stats = InfluxSink(config).run(until_idle_s=3)
    assert stats.dead_letters == 0

    series = influxql(config.influx, "SELECT SUM(usd_micros), SUM(line_items) FROM cost GROUP BY account, charge_type")
    totals = {(s["tags"]["account"], s["tags"]["charge_type"]): tuple(s["values"][0][1:]) for s in series}
    assert totals == {
        ("100000000009", "usage"): (25 * 1_250_000, 25),
        ("100000000009", "other"): (5 * 1_250_000, 5),  # charge type unknown to this build → the enum default
        ("100000000010", "usage"): (2_500_000, 1),
    }
    alerts = list(read_alerts(config, from_beginning=True, group=None, until_idle_s=2))
    assert alerts == [{**ALERT, "kind": "other"}]  # an alert kind this build does not know → the default
