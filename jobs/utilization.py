"""Utilization joined to cost, per resource and hour: "this instance cost $X at Y% CPU".

Part of the cost aggregation job: metric events are decoded (Python: Avro), averaged per resource,
metric and hour in a native window aggregate, and window-joined with the same hour's usage cost of
that resource. Undecodable or late metric events become dead letters like cost events do.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pyflink.common import Row
from pyflink.table import DataTypes, Table, TableEnvironment
from pyflink.table.udf import udf

from jobs.sql import LATE, dead_letters_sql
from jobs.udfs import KEY_VALUE_ROW, epoch_ms
from pipelines.aggregates import plain_decimal
from schemas import SchemaName, codec

METRIC_ROW = DataTypes.ROW(
    [
        DataTypes.FIELD("error", DataTypes.STRING()),
        DataTypes.FIELD("resource_id", DataTypes.STRING()),
        DataTypes.FIELD("metric", DataTypes.STRING()),
        DataTypes.FIELD("value", DataTypes.DOUBLE()),
    ]
)


@udf(result_type=METRIC_ROW)
def decode_metric_event(payload: bytes) -> Row:
    try:
        event = codec().decode(payload, SchemaName.METRIC_EVENT)
    except Exception as error:  # a malformed payload is a dead letter, never a job failure
        return Row(f"undecodable metric event: {error}", None, None, None)
    return Row(None, event["resource_id"], event["metric"], event["value"])


@udf(result_type=KEY_VALUE_ROW)
def encode_utilization(
    window_start: datetime,
    window_end: datetime,
    resource_id: str,
    account_id: str,
    service: str,
    region: str,
    metric: str,
    cost: str,
    avg_value: float,
    max_value: float,
    samples: int,
) -> Row:
    start_ms = epoch_ms(window_start)
    key = f"{resource_id}|{metric}|{account_id}|{service}|{region}|{start_ms}"
    record = {
        "utilization_id": hashlib.sha256(key.encode()).hexdigest()[:32],
        "window_start_ms": start_ms,
        "window_end_ms": epoch_ms(window_end),
        "resource_id": resource_id,
        "account_id": account_id,
        "service": service,
        "region": region,
        "metric": metric,
        "cost": plain_decimal(cost),
        "avg_value": avg_value,
        "max_value": max_value,
        "samples": samples,
    }
    return Row(resource_id.encode(), codec().encode(SchemaName.RESOURCE_UTILIZATION, record))


def build_utilization(t_env: TableEnvironment, metrics_topic: str) -> tuple[Table, Table]:
    """Over source ``metric_events`` and the cost job's ``costs`` view: (utilization, dead letters).

    Registers view ``resource_utilization_hourly`` (each resource's metrics per hour, with its cost).
    """
    t_env.create_temporary_function("decode_metric_event", decode_metric_event)
    t_env.create_temporary_function("encode_utilization", encode_utilization)
    views = {
        "metrics_decoded": f"SELECT event_time, kafka_partition, kafka_offset, payload, "
        f"decode_metric_event(payload) AS m, {LATE} FROM metric_events",
        "metric_samples": "SELECT event_time, m.resource_id AS resource_id, m.metric AS metric, "
        "m.`value` AS metric_value FROM metrics_decoded WHERE m.error IS NULL AND late IS NOT TRUE",
        "resource_metric_hourly": "SELECT window_start, window_end, resource_id, metric, AVG(metric_value) AS "
        "avg_value, MAX(metric_value) AS max_value, SUM(metric_value) AS total_value, COUNT(*) AS samples "
        "FROM TABLE(TUMBLE(TABLE metric_samples, DESCRIPTOR(event_time), INTERVAL '1' HOUR)) "
        "GROUP BY window_start, window_end, resource_id, metric",
        "resource_usage_costs": "SELECT * FROM costs WHERE resource_id <> '' AND charge_type = 'usage'",
        "resource_cost_hourly": "SELECT window_start, window_end, resource_id, account_id, service, region, "
        "SUM(unblended_cost) AS cost "
        "FROM TABLE(TUMBLE(TABLE resource_usage_costs, DESCRIPTOR(event_time), INTERVAL '1' HOUR)) "
        "GROUP BY window_start, window_end, resource_id, account_id, service, region",
        # each hour's utilization of a resource beside what that resource cost (the optimizer reads it too)
        "resource_utilization_hourly": "SELECT c.window_start, c.window_end, c.resource_id, c.account_id, c.service, "
        "c.region, u.metric, c.cost, u.avg_value, u.max_value, u.total_value, u.samples "
        "FROM resource_cost_hourly c JOIN resource_metric_hourly u ON c.resource_id = u.resource_id "
        "AND c.window_start = u.window_start AND c.window_end = u.window_end",
    }
    for name, query in views.items():
        t_env.create_temporary_view(name, t_env.sql_query(query))
    utilization = t_env.sql_query(
        "SELECT r.k, r.v FROM (SELECT encode_utilization(window_start, window_end, resource_id, account_id, "
        "  service, region, metric, CAST(cost AS STRING), avg_value, max_value, samples) AS r "
        "FROM resource_utilization_hourly)"
    )
    return utilization, t_env.sql_query(dead_letters_sql("metrics_decoded", "m.error", metrics_topic, "metric"))
