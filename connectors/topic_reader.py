"""Every record a topic retains, from its first to its last stored offset, then stop.

For the commands that need a topic's whole content once (find an alert, fold the labels people
gave): no consumer group, nothing committed. The end is read rather than asked for, as Tansu's
LATEST offsets can lag (connectors/consumer_lag.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from connectors.consumer_lag import stored_end_offsets
from connectors.kafka_io import consumer
from spendstream.config import Config

STALL_S = 15.0  # a read that makes no progress this long fails instead of hanging the command


def retained(config: Config, role: str) -> Iterator[ConsumerRecord]:
    """The records of the ``role`` topic in offset order per partition."""
    topic = config.kafka.topic(role)
    reader = consumer(config, None, from_beginning=True)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or [])]
        ends = stored_end_offsets(reader, partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        if not remaining:  # seek_to_beginning() of no partitions means "of all assigned": it raises
            return
        reader.assign(sorted(remaining, key=lambda tp: tp.partition))
        reader.seek_to_beginning(*remaining)
        stalled_since = time.monotonic()
        while remaining:
            batches = reader.poll(timeout_ms=1000)
            if batches:
                stalled_since = time.monotonic()
            elif time.monotonic() - stalled_since > STALL_S:
                raise TimeoutError(
                    f"{topic}: no records for {STALL_S:.0f} s before its stored end; is the broker reachable?"
                )
            for tp, records in batches.items():
                yield from (r for r in records if r.offset < ends[tp])
                if records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
    finally:
        reader.close(autocommit=False)
