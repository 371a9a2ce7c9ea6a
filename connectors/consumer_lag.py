"""Consumer lag per group and partition: records written to a topic minus the group's committed offset.

The end of a partition is not taken from ListOffsets(LATEST): Tansu answers it with the base
offset of the last batch + 1. We seek to that answer minus one and read to the end of the batch,
so the end is the offset after the last record actually stored; on a standard Kafka broker the
read finds the last record at the answer minus one and the result is the same.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient

from connectors.kafka_io import client_settings, consumer
from spendstream.config import Config


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - self.committed, 0)


def stored_end_offsets(reader: KafkaConsumer, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
    """The offset after the last stored record of each partition, read rather than asked for."""
    partitions = list(partitions)
    reported = reader.end_offsets(partitions)
    ends = dict(reported)
    stored = [tp for tp in partitions if reported[tp] > 0]
    reader.assign(stored)
    for tp in stored:
        reader.seek(tp, reported[tp] - 1)
    deadline = time.monotonic() + 10
    while stored and time.monotonic() < deadline:
        batches = reader.poll(timeout_ms=1000)
        if not batches:  # the last batch of every partition has been read
            break
        for tp, records in batches.items():
            ends[tp] = max(ends[tp], records[-1].offset + 1)
    return ends


def consumer_lag(config: Config, groups: Iterable[str] | None = None) -> list[PartitionLag]:
    """Lag of the given groups (default: every group named after ``kafka.consumer_group``)."""
    admin = KafkaAdminClient(**client_settings(config))
    reader = consumer(config, None, max_poll_records=100_000)
    try:
        if groups is None:
            prefix = config.kafka.consumer_group
            groups = sorted(g["group_id"] for g in admin.list_groups() if g["group_id"].startswith(prefix))
        committed = {group: admin.list_group_offsets(group)[group] for group in groups}  # one by one: Tansu
        partitions = {tp for offsets in committed.values() for tp in offsets}
        ends = stored_end_offsets(reader, sorted(partitions)) if partitions else {}
        return [
            PartitionLag(group, tp.topic, tp.partition, meta.offset, ends[tp])
            for group, offsets in committed.items()
            for tp, meta in sorted(offsets.items())
            if meta.offset >= 0
        ]
    finally:
        reader.close()
        admin.close()
