"""Replay metric files into the metrics topic.

Either one series per file (``timestamp,value``: NAB's AWS CloudWatch series, CloudWatch console
exports) with its resource and metric given, or many (``timestamp,resource_id,metric,value``:
GetMetricData results flattened). Samples are keyed by resource, with the sample time as record
timestamp.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from connectors.cur_files import ExportError, read_rows
from connectors.kafka_io import ensure_topics
from connectors.publisher import Publisher
from pipelines.cost_event import RejectedRow
from pipelines.metrics import MetricSeries, normalize_metric_row, series_of
from pipelines.ordering import TimedRecord, sort_by_event_time
from schemas import SchemaName, codec
from spendstream.config import Config


@dataclass
class MetricReplaySummary:
    rows_read: int = 0
    produced: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    first_rejected_at: dict[str, str] = field(default_factory=dict)
    start_offsets: dict[int, int] = field(default_factory=dict)
    end_offsets: dict[int, int] = field(default_factory=dict)


def check_metric_header(path: Path, series: MetricSeries | None):
    needed = {"timestamp", "value"} if series else {"timestamp", "resource_id", "metric", "value"}

    def check(header: list[str]) -> None:
        if not needed <= set(header):
            expected = "timestamp,value (with --resource-id and --metric) or timestamp,resource_id,metric,value"
            raise ExportError(f"{path}: expected a metric CSV with {expected}; found columns {', '.join(header[:5])}")

    return check


def replay_metrics(path: Path, series: MetricSeries | None, config: Config) -> MetricReplaySummary:
    """Produce every valid sample in time order; invalid rows go to the dead-letter topic."""
    ensure_topics(config)
    summary = MetricReplaySummary()
    publisher = Publisher(config, "metric-replay", config.kafka.topic("metrics"), summary)

    def samples():
        for row in read_rows(path, check_metric_header(path, series)):
            summary.rows_read += 1
            try:
                event = normalize_metric_row(row.values, series_of(row.values, series))
            except RejectedRow as error:
                publisher.reject(row, str(error))
                continue
            value = codec().encode(SchemaName.METRIC_EVENT, event.to_record())
            yield TimedRecord(event.timestamp_ms, event.resource_id.encode(), value)

    for record in sort_by_event_time(samples()):
        publisher.send(record)
    publisher.close()
    return summary
