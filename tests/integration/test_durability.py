"""Durability of the embedded broker.

Topics, records and committed offsets survive a restart of the broker and of its storage
(Tansu's s3:// engine on SeaweedFS).
"""

from __future__ import annotations

import pytest
from kafka import OffsetAndMetadata, TopicPartition

from connectors.kafka_io import consumer, ensure_topics, producer
from spendstream.config import Config
from spendstream.processes import running_pid, stop
from spendstream.stack import LocalStack
from tests.integration.test_events_beyond_the_bill import own_topics
from tests.integration.test_pipeline import read_topic

pytestmark = pytest.mark.integration
RECORDS = 3000


def test_records_and_committed_offsets_survive_a_broker_and_storage_restart(stack: Config):
    config = own_topics(stack, "durability")
    ensure_topics(config)
    topic = config.kafka.topic("raw_cost")
    out = producer(config)
    for i in range(RECORDS):
        out.send(topic, key=f"k{i % 7}".encode(), value=f"record-{i}".encode(), timestamp_ms=1_790_000_000_000 + i)
    out.flush()
    out.close()
    group = consumer(config, "durability-test")
    group.assign([TopicPartition(topic, 0)])
    group.seek_to_beginning()
    group.commit({TopicPartition(topic, 0): OffsetAndMetadata(1234, "", -1)})
    group.close(autocommit=False)
    before = [(r.offset, r.key, r.value, r.timestamp) for r in read_topic(config, "raw_cost")]

    pids = running_pid("tansu", config.state_dir), running_pid("seaweedfs", config.state_dir)
    assert stop("tansu", config.state_dir) and stop("seaweedfs", config.state_dir)
    LocalStack(config).up()
    assert (running_pid("tansu", config.state_dir), running_pid("seaweedfs", config.state_dir)) != pids

    after = [(r.offset, r.key, r.value, r.timestamp) for r in read_topic(config, "raw_cost")]
    assert len(before) == RECORDS
    assert after == before
    group = consumer(config, "durability-test")
    assert group.committed(TopicPartition(topic, 0)) == 1234
    group.close(autocommit=False)
