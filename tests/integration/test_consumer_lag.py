"""Consumer lag from committed offsets and the records actually stored, on the real broker.

Tansu reports a partition's end as its last batch's base offset + 1, so the records are sent
in large batches here: a lag taken from that answer would be short by almost a whole batch.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata

from connectors.consumer_lag import consumer_lag
from connectors.kafka_io import client_settings, ensure_topics, producer
from connectors.pipeline_health import dead_letter_points
from spendstream.config import Config
from tests.integration.test_formats_pipeline import isolated
from tests.integration.test_pipeline import ROOT

pytestmark = pytest.mark.integration

SENT = {0: 1000, 1: 10}
COMMITTED = {0: 400, 1: 10}


def fill_and_commit(config: Config, topic: str, group: str) -> None:
    sender = producer(config)
    for partition, count in SENT.items():
        for i in range(count):
            sender.send(topic, f"record {i}".encode(), partition=partition)
    sender.flush()
    sender.close()
    committer = KafkaConsumer(**client_settings(config), group_id=group, enable_auto_commit=False)
    committer.commit({TopicPartition(topic, p): OffsetAndMetadata(offset, "", -1) for p, offset in COMMITTED.items()})
    committer.close()


def test_lag_counts_the_records_stored_after_the_committed_offset(stack: Config, stack_env):
    topic, group = f"lag-probe-{uuid.uuid4().hex[:8]}", "spendstream-lag-probe"
    admin = KafkaAdminClient(**client_settings(stack))
    admin.create_topics([NewTopic(topic, len(SENT), 1)])
    admin.close()
    fill_and_commit(stack, topic, group)

    lags = {(lag.topic, lag.partition): lag for lag in consumer_lag(stack, [group])}
    assert {key: (lag.committed, lag.end, lag.lag) for key, lag in lags.items()} == {
        (topic, 0): (400, 1000, 600),
        (topic, 1): (10, 10, 0),
    }

    status = subprocess.run(
        [sys.executable, "-m", "spendstream.cli", "stack", "status"],
        env={**stack_env, "COLUMNS": "200"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    row = next(line for line in status.splitlines() if group in line and topic in line)
    assert [cell.strip() for cell in row.split("│")[-4:-1]] == ["410", "1,010", "600"]


def test_health_counts_no_dead_letters_on_an_empty_topic(stack: Config):
    config = isolated(stack, "empty-dlq")
    ensure_topics(config)
    assert dead_letter_points(config, 0) == []  # and no error: a quiet pipeline has an empty DLQ
