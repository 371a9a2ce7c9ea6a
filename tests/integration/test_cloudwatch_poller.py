"""The CloudWatch poller against a real AWS-API-compatible server (moto) and the real broker."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from connectors.cloudwatch import CloudWatchPoller
from schemas import SchemaName, codec
from spendstream.config import CloudWatchQuery, CloudWatchSettings, Config
from tests.integration.test_events_beyond_the_bill import own_topics
from tests.integration.test_pipeline import read_topic

pytestmark = pytest.mark.integration
T0 = datetime(2026, 10, 1, tzinfo=UTC)
INSTANCES = ("i-0aaa", "i-0bbb")


def put_cpu(client, start: datetime, minutes: int) -> None:
    for instance in INSTANCES:
        client.put_metric_data(
            Namespace="AWS/EC2",
            MetricData=[
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "InstanceId", "Value": instance}],
                    "Timestamp": start + timedelta(minutes=m),
                    "Value": float(m % 100),
                    "Unit": "Percent",
                }
                for m in range(0, minutes, 5)
            ],
        )


def test_poller_resumes_from_its_checkpoint_without_skipping_or_repeating(
    stack: Config, cloudwatch_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    client = boto3.client("cloudwatch", endpoint_url=cloudwatch_server, region_name="us-east-1")
    settings = CloudWatchSettings(
        endpoint_url=cloudwatch_server,
        account_id="111111111111",
        lag_s=0,
        lookback_s=3600,
        queries=(CloudWatchQuery("AWS/EC2", "CPUUtilization", "InstanceId", unit="Percent"),),
    )
    config = replace(
        own_topics(stack, "cloudwatch"), cloudwatch=settings, stack=replace(stack.stack, state_dir=str(tmp_path))
    )
    put_cpu(client, T0, 180)

    first = CloudWatchPoller(config).poll_once(now=(T0 + timedelta(hours=1)).timestamp())
    assert (first.periods, first.resources, first.produced) == (12, 2, 24)
    assert CloudWatchPoller(config).poll_once(now=(T0 + timedelta(hours=1)).timestamp()).produced == 0

    restarted = CloudWatchPoller(config)  # a new process: only the checkpoint file carries over
    second = restarted.poll_once(now=(T0 + timedelta(hours=2, minutes=7)).timestamp())
    assert (second.periods, second.produced) == (13, 26)  # 01:00 .. 02:05, whole periods only

    events = [codec().decode(r.value, SchemaName.METRIC_EVENT) for r in read_topic(config, "metrics")]
    assert len(events) == 50 == len({e["metric_id"] for e in events})
    by_instance = {i: sorted(e["timestamp_ms"] for e in events if e["resource_id"] == i) for i in INSTANCES}
    expected = [int((T0 + timedelta(minutes=m)).timestamp() * 1000) for m in range(0, 125, 5)]
    assert by_instance == {i: expected for i in INSTANCES}  # every period once, none skipped
    assert {(e["source"], e["account_id"], e["unit"]) for e in events} == {("cloudwatch", "111111111111", "Percent")}
