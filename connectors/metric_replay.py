"""Replay ``timestamp,value`` metric files into the metrics topic.

NAB's AWS CloudWatch series and CloudWatch CSV exports look like this; samples are keyed by
resource, with the sample time as record timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from connectors.cur_files import ExportError, SourceRow, read_rows
from connectors.dead_letters import dead_letter
from connectors.kafka_io import ensure_topics, producer
from pipelines.cost_event import RejectedRow
from pipelines.metrics import MetricSeries, normalize_metric_row
from pipelines.ordering import TimedRecord, sort_by_event_time
from schemas import SchemaName, codec
from spendstream.config import Config


@dataclass
class MetricReplaySummary:
    rows_read: int = 0
    produced: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    end_offsets: dict[int, int] = field(default_factory=dict)


def check_metric_header(path: Path):
    def check(header: list[str]) -> None:
        if not {"timestamp", "value"} <= set(header):
            raise ExportError(f"{path}: expected a timestamp,value metric CSV; found columns {', '.join(header[:5])}")

    return check


def replay_metrics(path: Path, series: MetricSeries, config: Config) -> MetricReplaySummary:
    """Produce every valid sample in time order; invalid rows go to the dead-letter topic."""
    ensure_topics(config)
    summary = MetricReplaySummary()
    out = producer(config)
    avro = codec()

    def reject(row: SourceRow, reason: str) -> None:
        summary.rejected += 1
        summary.reasons[reason.split(":")[0]] = summary.reasons.get(reason.split(":")[0], 0) + 1
        letter = dead_letter("metric-replay", f"{row.file}:{row.line}", reason, row.raw)
        out.send(config.kafka.topic("dead_letter"), value=letter)

    def samples():
        for row in read_rows(path, check_metric_header(path)):
            summary.rows_read += 1
            try:
                event = normalize_metric_row(row.values, series)
            except RejectedRow as error:
                reject(row, str(error))
                continue
            value = avro.encode(SchemaName.METRIC_EVENT, event.to_record())
            yield TimedRecord(event.timestamp_ms, event.resource_id.encode(), value)

    def delivered(metadata) -> None:
        offsets = summary.end_offsets
        offsets[metadata.partition] = max(offsets.get(metadata.partition, 0), metadata.offset + 1)

    topic = config.kafka.topic("metrics")
    for record in sort_by_event_time(samples()):
        out.send(topic, key=record.key, value=record.value, timestamp_ms=record.ts_ms).add_callback(delivered)
        summary.produced += 1
    out.flush()
    for partition in out.partitions_for(topic) or ():
        summary.end_offsets.setdefault(partition, 0)
    out.close()
    return summary
