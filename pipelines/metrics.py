"""Utilization samples (CPU, network, ...) as metric events, from files or custom JSON."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

from pipelines.cost_event import RejectedRow, timestamp_ms


@dataclass(frozen=True, slots=True)
class MetricEvent:
    """One sample; see schemas/metric_event.avsc."""

    metric_id: str
    source: str
    resource_id: str
    namespace: str
    metric: str
    unit: str
    timestamp_ms: int
    value: float
    account_id: str = ""
    region: str = ""
    dimensions: dict[str, str] = field(default_factory=dict)

    def to_record(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """What a ``timestamp,value`` file does not say: which resource and metric it measures."""

    resource_id: str
    metric: str
    namespace: str = "AWS/EC2"
    unit: str = "Percent"
    account_id: str = ""
    region: str = ""


def metric_id(resource_id: str, namespace: str, metric: str, ts_ms: int) -> str:
    return hashlib.sha256(f"{resource_id}|{namespace}|{metric}|{ts_ms}".encode()).hexdigest()[:32]


def sample_value(text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise RejectedRow(f"value is not a number: {str(text)[:40]!r}") from None
    if not math.isfinite(value):
        raise RejectedRow(f"value is not finite: {text!r}")
    return value


UNITS = {"CPUUtilization": "Percent", "mem_used_percent": "Percent", "NetworkIn": "Bytes", "NetworkOut": "Bytes"}


def series_of(row: Mapping[str, str], given: MetricSeries | None) -> MetricSeries:
    """The series a row belongs to: its own columns win over the one given for the file.

    A ``timestamp,resource_id,metric,value`` file (CloudWatch GetMetricData results flattened)
    holds many series; a ``timestamp,value`` file one, named on the command line.
    """
    resource, metric = (row.get("resource_id") or "").strip(), (row.get("metric") or "").strip()
    if resource and metric:
        base = given or MetricSeries(resource, metric)
        return replace(base, resource_id=resource, metric=metric, unit=UNITS.get(metric, base.unit))
    if given is None:
        raise RejectedRow("resource_id or metric is missing")
    return given


def normalize_metric_row(row: Mapping[str, str], series: MetricSeries, source: str = "csv") -> MetricEvent:
    """A ``timestamp,value`` row (NAB and CloudWatch CSV exports) of the given series."""
    if not (row.get("timestamp") or "").strip():
        raise RejectedRow("timestamp is missing")
    ts_ms = timestamp_ms(row["timestamp"], "timestamp")
    return MetricEvent(
        metric_id=metric_id(series.resource_id, series.namespace, series.metric, ts_ms),
        source=source,
        resource_id=series.resource_id,
        namespace=series.namespace,
        metric=series.metric,
        unit=series.unit,
        timestamp_ms=ts_ms,
        value=sample_value(row.get("value", "")),
        account_id=series.account_id,
        region=series.region,
    )
