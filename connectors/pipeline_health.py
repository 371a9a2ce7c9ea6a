"""Pipeline health as InfluxDB points, for the pipeline-health dashboard.

Every ``every_s`` seconds: the records stored per topic (their rate is the throughput; the
dead-letter topic's is the DLQ count), the lag of each consumer group per topic, the new dead
letters per stage and reason (late events, undecodable records, refused points, ...), and the
records in and out of each running Flink job. Everything is counted from Kafka and the Flink
REST API, so the figures hold whichever process does the work.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable

from influxdb_client import Point, WritePrecision
from kafka import TopicPartition

from connectors.consumer_lag import consumer_lag, stored_end_offsets
from connectors.influx_writers import writer_for
from connectors.kafka_io import consumer
from schemas import SchemaName, codec
from spendstream.config import Config
from spendstream.flink_client import list_jobs

log = logging.getLogger(__name__)


def topic_points(config: Config, at_ms: int) -> list[Point]:
    reader = consumer(config, None, max_poll_records=100_000)
    try:
        partitions = [
            TopicPartition(topic.name, p)
            for topic in config.kafka.topics.values()
            for p in sorted(reader.partitions_for_topic(topic.name) or [])
        ]
        stored: dict[str, int] = defaultdict(int)
        for tp, end in stored_end_offsets(reader, partitions).items():
            stored[tp.topic] += end
    finally:
        reader.close()
    roles = {topic.name: role for role, topic in config.kafka.topics.items()}
    return [
        Point("pipeline_topic")
        .tag("topic", name)
        .tag("role", roles[name])
        .field("records", count)
        .time(at_ms, WritePrecision.MS)
        for name, count in stored.items()
    ]


def lag_points(config: Config, at_ms: int) -> list[Point]:
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for item in consumer_lag(config):
        totals[(item.group, item.topic)] += item.lag
    return [
        Point("pipeline_lag").tag("group", group).tag("topic", topic).field("lag", lag).time(at_ms, WritePrecision.MS)
        for (group, topic), lag in totals.items()
    ]


def dead_letter_points(config: Config, at_ms: int) -> list[Point]:
    """Dead letters stored since the last round, per stage and reason (the reason up to its colon).

    The health writer's own group keeps its place in the dead-letter topic; a round killed between
    writing and committing counts its dead letters again (a health figure, not the books).
    """
    topic = config.kafka.topic("dead_letter")
    reader = consumer(config, f"{config.kafka.consumer_group}-health", from_beginning=True, max_poll_records=10_000)
    counts: Counter[tuple[str, str]] = Counter()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or [])]
        ends = stored_end_offsets(reader, partitions)  # moves the reader: assign and seek afterwards
        reader.assign(partitions)
        for tp in partitions:
            committed = reader.committed(tp)
            reader.seek(tp, committed if committed is not None else 0)
        deadline = time.monotonic() + 60
        while any(reader.position(tp) < ends[tp] for tp in partitions) and time.monotonic() < deadline:
            for record in (r for batch in reader.poll(timeout_ms=500).values() for r in batch):
                counts[_stage_and_reason(record.value)] += 1
        reader.commit()
    finally:
        reader.close(autocommit=False)
    return [
        Point("pipeline_dead_letters")
        .tag("stage", stage)
        .tag("reason", reason)
        .field("records", count)
        .time(at_ms, WritePrecision.MS)
        for (stage, reason), count in counts.items()
    ]


def _stage_and_reason(payload: bytes) -> tuple[str, str]:
    try:
        letter = codec().decode(payload, SchemaName.DEAD_LETTER)
    except (ValueError, KeyError, TypeError):
        return "unknown", "not a dead letter record"
    return letter["stage"], letter["reason"].split(":")[0].strip()[:80]


def job_points(config: Config, at_ms: int) -> list[Point]:
    if not config.flink.rest_url:
        return []
    try:
        jobs = [job for job in list_jobs(config) if job["state"] == "RUNNING"]
    except (OSError, RuntimeError) as error:  # no Flink reachable: the Kafka figures still count
        log.warning("Flink REST API at %s not reachable: %s", config.flink.rest_url, error)
        return []
    return [
        Point("pipeline_job")
        .tag("job", job["name"])
        .field("records_in", job["records_in"])
        .field("records_out", job["records_out"])
        .time(at_ms, WritePrecision.MS)
        for job in jobs
    ]


COLLECTORS: tuple[Callable[[Config, int], list[Point]], ...] = (
    topic_points,
    lag_points,
    dead_letter_points,
    job_points,
)


def collect_health(config: Config, every_s: float, rounds: int | None = None, on_round=None) -> int:
    """Write the health points every ``every_s`` seconds (``rounds`` times, or until stopped)."""
    writer = writer_for(config.influx)
    done = 0
    try:
        while rounds is None or done < rounds:
            started = time.monotonic()
            at_ms = int(time.time() * 1000)
            points = [point for collect in COLLECTORS for point in collect(config, at_ms)]
            writer.write(points)
            done += 1
            if on_round:
                on_round(done, len(points))
            if rounds is None or done < rounds:
                time.sleep(max(every_s - (time.monotonic() - started), 0))
    finally:
        writer.close()
    return done
