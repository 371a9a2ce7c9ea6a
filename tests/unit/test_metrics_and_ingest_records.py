import pytest

from pipelines.cost_event import RejectedRow
from pipelines.ingest_records import cost_record, metric_record
from pipelines.metrics import MetricSeries, normalize_metric_row
from schemas import SchemaName, codec

SERIES = MetricSeries("i-0abc", "CPUUtilization", account_id="111111111111", region="us-east-1")


def test_nab_row_becomes_a_metric_event():
    event = normalize_metric_row({"timestamp": "2014-02-14 14:27:00", "value": "51.846000000000004"}, SERIES)
    assert (event.resource_id, event.metric, event.namespace, event.unit) == (
        "i-0abc",
        "CPUUtilization",
        "AWS/EC2",
        "Percent",
    )
    assert event.timestamp_ms == 1392388020000
    assert event.value == 51.846000000000004
    again = normalize_metric_row({"timestamp": "2014-02-14T14:27:00Z", "value": "1"}, SERIES)
    assert again.metric_id == event.metric_id  # same resource, metric and instant: same id


@pytest.mark.parametrize(
    "row, reason",
    [
        ({"timestamp": "", "value": "1"}, "timestamp is missing"),
        ({"timestamp": "later", "value": "1"}, "timestamp is not an ISO-8601"),
        ({"timestamp": "2014-02-14 14:27:00", "value": "high"}, "value is not a number"),
        ({"timestamp": "2014-02-14 14:27:00", "value": "nan"}, "value is not finite"),
    ],
)
def test_bad_metric_rows_are_rejected(row, reason):
    with pytest.raises(RejectedRow, match=reason):
        normalize_metric_row(row, SERIES)


COST = {
    "usage_account_id": "111111111111",
    "line_item_id": "job-42",
    "usage_start_ms": 1790776800000,
    "usage_end_ms": 1790780400000,
    "service": "Snowflake",
    "unblended_cost": "12.5000000001",
}


def test_custom_cost_event_fills_defaults_and_a_deterministic_id():
    key, value, ts = cost_record(dict(COST))
    event = codec().decode(value, SchemaName.COST_EVENT)
    assert (key, ts) == (b"111111111111", 1790776800000)
    assert (event["unblended_cost"], event["net_cost"], event["charge_type"]) == (
        "12.5000000001",
        "12.5000000001",
        "usage",
    )
    assert event["source_format"] == "ingest"
    assert event["event_id"] == codec().decode(cost_record(dict(COST))[1], SchemaName.COST_EVENT)["event_id"]


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"unblended_cost": 12.5}, "must be a decimal string"),
        ({"unblended_cost": "12,5"}, "not a decimal number"),
        ({"charge_type": "gift"}, "charge_type must be one of"),
        ({"colour": "red"}, "unknown field"),
        ({"usage_start_ms": "today"}, "does not fit schema"),
    ],
)
def test_invalid_custom_cost_events_are_refused_with_reasons(change, reason):
    with pytest.raises(RejectedRow, match=reason):
        cost_record({**COST, **change})


def test_custom_cost_event_without_required_fields_names_them():
    with pytest.raises(RejectedRow, match="missing field.*service"):
        cost_record({k: v for k, v in COST.items() if k != "service"})


def test_custom_metric_event():
    key, value, ts = metric_record({"resource_id": "i-1", "metric": "CPUUtilization", "timestamp_ms": 5, "value": 7})
    event = codec().decode(value, SchemaName.METRIC_EVENT)
    assert (key, ts, event["value"], event["namespace"]) == (b"i-1", 5, 7.0, "custom")
    with pytest.raises(RejectedRow, match="not finite"):
        metric_record({"resource_id": "i-1", "metric": "m", "timestamp_ms": 5, "value": float("inf")})
