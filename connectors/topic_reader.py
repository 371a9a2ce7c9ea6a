"""Every record a topic retains, from its first to its last stored offset, then stop.

For the commands that need a topic's whole content once (find an alert, fold the labels people
gave): no consumer group, nothing committed. The end is read rather than asked for, as Tansu's
LATEST offsets can lag (connectors/consumer_lag.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from connectors.consumer_lag import stored_end_offsets
from connectors.kafka_io import consumer
from spendstream.config import Config


def retained(config: Config, role: str) -> Iterator[ConsumerRecord]:
    """The records of the ``role`` topic in offset order per partition."""
    topic = config.kafka.topic(role)
    reader = consumer(config, None, from_beginning=True)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or [])]
        ends = stored_end_offsets(reader, partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        reader.assign(sorted(remaining, key=lambda tp: tp.partition))
        reader.seek_to_beginning(*remaining)
        while remaining:
            batches = reader.poll(timeout_ms=1000)
            for tp, records in batches.items():
                yield from (r for r in records if r.offset < ends[tp])
                if records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
    finally:
        reader.close(autocommit=False)
