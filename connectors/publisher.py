"""Producing a replay: records in, dead letters for rejects, end offsets and failures accounted for."""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from connectors.cur_files import SourceRow
from connectors.dead_letters import dead_letter
from connectors.kafka_io import producer
from connectors.process_metrics import REPLAY_PRODUCED, REPLAY_REJECTED
from pipelines.ordering import TimedRecord
from spendstream.config import Config


class Offsets(Protocol):
    """Per partition of one topic: the first offset a producer wrote and the one after its last."""

    start_offsets: dict[int, int]
    end_offsets: dict[int, int]


class Tally(Offsets, Protocol):
    """The counters a replay summary keeps (and the offsets of its main topic)."""

    produced: int
    rejected: int
    reasons: Counter
    first_rejected_at: dict[str, str]  # reason → file:line of its first row


def count_reject(tally: Tally, row: SourceRow, reason: str) -> None:
    """Count a rejected row under its reason (the text before any ``:`` and quoted value)."""
    kind = reason.split(":")[0]
    tally.rejected += 1
    tally.reasons[kind] += 1
    tally.first_rejected_at.setdefault(kind, f"{row.file}:{row.line}")
    REPLAY_REJECTED.labels(kind).inc()


class Publisher:
    """One producer per replay and topic; ``close`` raises if the broker did not acknowledge every record.

    Offsets go to ``offsets`` when given (a second topic of the same replay), else to ``tally``.
    """

    def __init__(self, config: Config, stage: str, topic: str, tally: Tally, offsets: Offsets | None = None) -> None:
        self.out, self.stage, self.topic, self.tally = producer(config), stage, topic, tally
        self.offsets: Offsets = tally if offsets is None else offsets
        self.dead_letter_topic = config.kafka.topic("dead_letter")
        self.failures: list[BaseException] = []

    def send(self, record: TimedRecord) -> None:
        future = self.out.send(self.topic, key=record.key, value=record.value, timestamp_ms=record.ts_ms)
        future.add_callback(self._delivered).add_errback(self.failures.append)
        self.tally.produced += 1
        REPLAY_PRODUCED.inc()

    def heartbeat(self, ts_ms: int) -> None:
        """A null-value record on every partition at ``ts_ms``: moves the job's watermarks, adds no cost."""
        for partition in sorted(self.out.partitions_for(self.topic) or ()):
            future = self.out.send(self.topic, key=b"heartbeat", value=None, partition=partition, timestamp_ms=ts_ms)
            future.add_callback(self._delivered).add_errback(self.failures.append)

    def reject(self, row: SourceRow, reason: str) -> None:
        """A row that cannot be an event: counted by reason and kept, raw, in the dead-letter topic."""
        count_reject(self.tally, row, reason)
        letter = dead_letter(self.stage, f"{row.file}:{row.line}", reason, row.raw)
        self.out.send(self.dead_letter_topic, key=row.file.name.encode(), value=letter).add_errback(
            self.failures.append
        )

    def close(self) -> None:
        """Wait for every acknowledgement; partitions that got nothing start and end at offset 0."""
        self.out.flush()
        for partition in self.out.partitions_for(self.topic) or ():
            self.offsets.end_offsets.setdefault(partition, 0)
            self.offsets.start_offsets.setdefault(partition, self.offsets.end_offsets[partition])
        self.out.close()
        if self.failures:
            raise RuntimeError(
                f"{len(self.failures)} records were not acknowledged by the broker: {self.failures[0]!r}"
            )

    def _delivered(self, metadata) -> None:
        starts, ends, partition = self.offsets.start_offsets, self.offsets.end_offsets, metadata.partition
        starts[partition] = min(starts.get(partition, metadata.offset), metadata.offset)
        ends[partition] = max(ends.get(partition, 0), metadata.offset + 1)


class Rehearsal:
    """A publisher that sends nothing and counts what it would have: ``replay --dry-run``."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    def send(self, record: TimedRecord) -> None:
        self.tally.produced += 1

    def heartbeat(self, ts_ms: int) -> None:
        """Nothing to move: no job reads a rehearsal."""

    def reject(self, row: SourceRow, reason: str) -> None:
        count_reject(self.tally, row, reason)

    def close(self) -> None:
        """Nothing was sent, so nothing to wait for."""
