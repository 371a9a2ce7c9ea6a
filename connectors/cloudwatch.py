"""CloudWatch poller: utilization metrics (GetMetricData) → metrics topic, period by period.

Each query (namespace, metric, dimension, statistic) has a checkpoint: the end of the last period
whose datapoints were all acknowledged by the broker, kept in ``<state>/cloudwatch-checkpoint.json``.
A poll covers whole periods from there up to ``now - lag`` (CloudWatch data lands late), so a
restart resumes where the last successful poll ended and skips nothing. Only a crash between the
broker's acknowledgement and the checkpoint write repeats a period; metric ids are deterministic,
so consumers dedupe those.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from connectors.kafka_io import ensure_topics, producer
from pipelines.metrics import MetricEvent, metric_id
from schemas import SchemaName, codec
from spendstream.config import CloudWatchQuery, Config

MAX_QUERIES_PER_CALL = 500


@dataclass
class PollResult:
    periods: int = 0
    resources: int = 0
    produced: int = 0


def query_key(query: CloudWatchQuery) -> str:
    return f"{query.namespace}|{query.metric}|{query.dimension}|{query.stat}"


class CloudWatchPoller:
    def __init__(self, config: Config, client: Any | None = None) -> None:
        self.config, self.settings = config, config.cloudwatch
        self.client = client or boto3.client(
            "cloudwatch", region_name=self.settings.region, endpoint_url=self.settings.endpoint_url or None
        )
        self.checkpoint_file = config.state_dir / "cloudwatch-checkpoint.json"
        ensure_topics(config)

    def checkpoints(self) -> dict[str, int]:
        return json.loads(self.checkpoint_file.read_text()) if self.checkpoint_file.exists() else {}

    def poll_once(self, now: float | None = None) -> PollResult:
        """Fetch every whole period not yet polled; returns what was produced."""
        period = self.settings.period_s
        end = int((now or time.time()) - self.settings.lag_s) // period * period
        checkpoints, result = self.checkpoints(), PollResult()
        out = producer(self.config)
        try:
            for query in self.settings.queries:
                start = checkpoints.get(query_key(query), end - self.settings.lookback_s)
                if start >= end:
                    continue
                resources = self._resources(query)
                events = list(self._events(query, resources, start, end))
                for event in events:
                    out.send(
                        self.config.kafka.topic("metrics"),
                        key=event.resource_id.encode(),
                        value=codec().encode(SchemaName.METRIC_EVENT, event.to_record()),
                        timestamp_ms=event.timestamp_ms,
                    )
                out.flush()
                checkpoints[query_key(query)] = end
                self._save(checkpoints)
                result.periods += (end - start) // period
                result.resources += len(resources)
                result.produced += len(events)
        finally:
            out.close()
        return result

    def run(self) -> None:
        """Poll once per period, forever."""
        while True:
            self.poll_once()
            time.sleep(self.settings.period_s)

    def _resources(self, query: CloudWatchQuery) -> list[str]:
        """Every value of the query's dimension that reports this metric (ListMetrics, paginated)."""
        values: set[str] = set()
        pages = self.client.get_paginator("list_metrics").paginate(
            Namespace=query.namespace, MetricName=query.metric, Dimensions=[{"Name": query.dimension}]
        )
        for page in pages:
            for metric in page["Metrics"]:
                values.update(d["Value"] for d in metric["Dimensions"] if d["Name"] == query.dimension)
        return sorted(values)

    def _events(self, query: CloudWatchQuery, resources: list[str], start: int, end: int):
        for first in range(0, len(resources), MAX_QUERIES_PER_CALL):
            batch = resources[first : first + MAX_QUERIES_PER_CALL]
            requests = [
                {
                    "Id": f"q{i}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": query.namespace,
                            "MetricName": query.metric,
                            "Dimensions": [{"Name": query.dimension, "Value": resource}],
                        },
                        "Period": self.settings.period_s,
                        "Stat": query.stat,
                    },
                    "ReturnData": True,
                }
                for i, resource in enumerate(batch)
            ]
            pages = self.client.get_paginator("get_metric_data").paginate(
                MetricDataQueries=requests,
                StartTime=datetime.fromtimestamp(start, UTC),
                EndTime=datetime.fromtimestamp(end, UTC),
                ScanBy="TimestampAscending",
            )
            for page in pages:
                for series in page["MetricDataResults"]:
                    resource = batch[int(series["Id"][1:])]
                    for moment, value in zip(series["Timestamps"], series["Values"], strict=True):
                        yield self._event(query, resource, int(moment.timestamp() * 1000), value)

    def _event(self, query: CloudWatchQuery, resource: str, ts_ms: int, value: float) -> MetricEvent:
        return MetricEvent(
            metric_id=metric_id(resource, query.namespace, query.metric, ts_ms),
            source="cloudwatch",
            resource_id=resource,
            namespace=query.namespace,
            metric=query.metric,
            unit=query.unit,
            timestamp_ms=ts_ms,
            value=float(value),
            account_id=self.settings.account_id,
            region=self.settings.region,
            dimensions={query.dimension: resource, "stat": query.stat},
        )

    def _save(self, checkpoints: dict[str, int]) -> None:
        """Write the checkpoint atomically (a crash leaves the old or the new file, never half)."""
        self.checkpoint_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(f"{self.checkpoint_file}.tmp")
        temporary.write_text(json.dumps(checkpoints, indent=2))
        os.replace(temporary, self.checkpoint_file)
