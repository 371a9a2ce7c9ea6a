"""InfluxDB sink: aggregate, utilization, anomaly, forecast and accuracy topics → InfluxDB, committing after a write.

poll a batch → decode (undecodable → dead letters) → write with back-off until it succeeds →
commit. A crash between write and commit re-delivers the batch, which overwrites the same
points (see influx_points), so the totals stay exact.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from influxdb_client import Point
from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from connectors.dead_letters import dead_letter
from connectors.influx_points import (
    aggregate_point,
    anomaly_point,
    forecast_accuracy_point,
    forecast_point,
    live_aggregate_point,
    optimization_event_point,
    recommendation_point,
    unit_cost_point,
    utilization_point,
)
from connectors.influx_writers import PointWriter, RejectedPointsError, RetryableWriteError, writer_for
from connectors.kafka_io import consumer, producer
from connectors.process_metrics import SINK_DEAD_LETTERS, SINK_POINTS, SINK_RECORDS, SINK_RETRIES
from schemas import SchemaName, codec
from spendstream.config import Config
from spendstream.logs import record_context

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 8.0  # below max.poll.interval, so a long outage does not cost the group membership


@dataclass
class SinkStats:
    records: int = 0
    points: int = 0
    dead_letters: int = 0
    retries: int = 0


class InfluxSink:
    """Consumes the job's output topics in consumer group ``kafka.sink_group``."""

    def __init__(self, config: Config, writer: PointWriter | None = None) -> None:
        self.config = config
        self.writer = writer or writer_for(config.influx)
        self.source: KafkaConsumer = consumer(config, config.kafka.sink_group)
        self.decoders = {
            config.kafka.topic("aggregate"): (SchemaName.COST_AGGREGATE, aggregate_point),
            config.kafka.topic("unit_cost"): (SchemaName.UNIT_COST, unit_cost_point),
            config.kafka.topic("live_aggregate"): (SchemaName.COST_AGGREGATE, live_aggregate_point),
            config.kafka.topic("utilization"): (SchemaName.RESOURCE_UTILIZATION, utilization_point),
            config.kafka.topic("anomaly"): (SchemaName.ANOMALY, anomaly_point),
            config.kafka.topic("forecast"): (SchemaName.FORECAST, forecast_point),
            config.kafka.topic("forecast_accuracy"): (SchemaName.FORECAST_ACCURACY, forecast_accuracy_point),
            config.kafka.topic("recommendation"): (SchemaName.RECOMMENDATION, recommendation_point),
            config.kafka.topic("optimization_event"): (SchemaName.OPTIMIZATION_EVENT, optimization_event_point),
        }
        self.live_topic = config.kafka.topic("live_aggregate")
        self.source.subscribe(list(self.decoders))
        self.dead_letters: KafkaProducer = producer(config)
        self.stats = SinkStats()

    def run(self, until_idle_s: float | None = None, max_records: int | None = None) -> SinkStats:
        """Process batches until stopped, idle for ``until_idle_s`` or ``max_records`` seen."""
        idle_since = time.monotonic()
        try:
            while max_records is None or self.stats.records < max_records:
                batches = self.source.poll(timeout_ms=500, max_records=self.config.influx.batch_size)
                records = [record for batch in batches.values() for record in batch]
                if records:
                    self.process(records)
                if records or not self.source.assignment():  # idle time counts from the group join on
                    idle_since = time.monotonic()
                elif until_idle_s is not None and time.monotonic() - idle_since >= until_idle_s:
                    break
        finally:
            self.close()
        return self.stats

    def process(self, records: list[ConsumerRecord]) -> None:
        pairs = []
        for record in records:
            if record.value is None and record.topic == self.live_topic:  # a changelog tombstone: no point
                continue
            try:
                schema, to_point = self.decoders[record.topic]
                pairs.append((record, to_point(codec().decode(record.value, schema))))
                SINK_RECORDS.labels(record.topic).inc()
            except (ValueError, KeyError, TypeError) as error:
                self._dead_letter(record, f"undecodable record: {error}")
        self._write_until_done(pairs)
        self.dead_letters.flush()
        self.source.commit()
        self.stats.records += len(records)

    def _write_until_done(self, pairs: list[tuple[ConsumerRecord, Point]]) -> None:
        """Back off and retry while InfluxDB is unavailable; the batch's offsets wait meanwhile."""
        backoff = 0.5
        while pairs:
            try:
                self._write_batch(pairs)
                return
            except RetryableWriteError as error:
                self.stats.retries += 1
                SINK_RETRIES.inc()
                first = pairs[0][0]
                log.warning(
                    "%s; retrying %d records in %.1fs (offsets not committed)",
                    error, len(pairs), backoff, extra=record_context(first),
                )  # fmt: skip
                self._wait_keeping_membership(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _wait_keeping_membership(self, seconds: float) -> None:
        """Sleep while still polling (with partitions paused) so the group does not evict us."""
        assigned = list(self.source.assignment())
        self.source.pause(*assigned)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.source.poll(timeout_ms=200)
        self.source.resume(*assigned)

    def _write_batch(self, pairs: list[tuple[ConsumerRecord, Point]]) -> None:
        try:
            self.writer.write([point for _, point in pairs])
            self.stats.points += len(pairs)
            SINK_POINTS.inc(len(pairs))
        except RejectedPointsError:
            for record, point in pairs:  # isolate the refused points; the rest are written
                try:
                    self.writer.write([point])
                    self.stats.points += 1
                    SINK_POINTS.inc()
                except RejectedPointsError as error:
                    self._dead_letter(record, str(error))

    def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        self.stats.dead_letters += 1
        SINK_DEAD_LETTERS.inc()
        log.warning("to the dead-letter topic: %s", reason, extra=record_context(record))
        letter = dead_letter("sink", record.topic, reason, record.value, record.partition, record.offset)
        self.dead_letters.send(self.config.kafka.topic("dead_letter"), value=letter)

    def close(self) -> None:
        self.source.close(autocommit=False)
        self.dead_letters.close()
        self.writer.close()
