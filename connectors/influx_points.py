"""Cost aggregates and resource utilization as InfluxDB points.

A point's identity is measurement + tag set + timestamp, and every aggregate key dimension is a
tag with the window start as timestamp: a re-delivered aggregate overwrites its own point
instead of adding to it. ``usd`` is the float users chart; ``usd_micros`` is the exact integer
(micro-dollars) that sums to the cent in InfluxQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from influxdb_client import Point, WritePrecision

MEASUREMENTS = {"account_service": "cost", "cost_center": "cost_by_cost_center"}
LIVE_MEASUREMENT = "cost_live"
TAGS = {
    "account_service": (
        ("account", "account_id"),
        ("account_name", "account_name"),
        ("service", "service"),
        ("region", "region"),
        ("charge_type", "charge_type"),
        ("cost_center", "cost_center"),
        ("project", "project"),
        ("environment", "environment"),
        ("team", "team"),
        ("currency", "currency"),
    ),
    "cost_center": (("cost_center", "cost_center"), ("charge_type", "charge_type"), ("currency", "currency")),
}
MICRO = Decimal("0.000001")


def micros(amount: str) -> int:
    """Exact decimal string → integer micro-units (half-even rounding below a micro-dollar)."""
    return int((Decimal(amount) / MICRO).quantize(Decimal(1), ROUND_HALF_EVEN))


def aggregate_point(aggregate: dict, measurement: str | None = None) -> Point:
    """An Avro CostAggregate record → its point; unknown scopes raise ValueError."""
    scope = aggregate["scope"]
    if scope not in MEASUREMENTS:
        raise ValueError(f"aggregate scope {scope!r} has no InfluxDB measurement")
    point = Point(measurement or MEASUREMENTS[scope])
    for tag, column in TAGS[scope]:
        point.tag(tag, aggregate[column] or "none")
    return (
        point.field("usd", float(Decimal(aggregate["unblended_cost"])))
        .field("usd_micros", micros(aggregate["unblended_cost"]))
        .field("net_usd", float(Decimal(aggregate["net_cost"])))
        .field("line_items", int(aggregate["line_items"]))
        .time(aggregate["window_start_ms"], WritePrecision.MS)
    )


def unit_cost_point(cost: dict) -> Point:
    """A UnitCost record → ``cost_by_customer`` or ``cost_by_feature``, tagged with its unit.

    Every unit of an account-hour is one point, the untagged cost allocated among them, so an
    account's units add up to its ``cost`` total (``usd_micros``: to the micro-dollar per unit).
    """
    dimension = cost["dimension"]
    return (
        Point(f"cost_by_{dimension}")
        .tag("account", cost["account_id"])
        .tag(dimension, cost["unit"] or "none")
        .tag("currency", cost["currency"])
        .field("usd", float(Decimal(cost["total_cost"])))
        .field("usd_micros", micros(cost["total_cost"]))
        .field("direct_micros", micros(cost["direct_cost"]))
        .field("allocated_micros", micros(cost["allocated_cost"]))
        .field("allocation_rule", cost["allocation_rule"])
        .time(cost["window_start_ms"], WritePrecision.MS)
    )


def live_aggregate_point(aggregate: dict) -> Point:
    """A running total of the current hour → measurement ``cost_live``; each update overwrites the last.

    Kept apart from ``cost`` so a late-arriving update can never overwrite an hour's final total.
    """
    return aggregate_point(aggregate, LIVE_MEASUREMENT)


def utilization_point(utilization: dict) -> Point:
    """A ResourceUtilization record → measurement ``utilization``: cost and load of one resource-hour."""
    return (
        Point("utilization")
        .tag("resource_id", utilization["resource_id"] or "none")
        .tag("account", utilization["account_id"] or "none")
        .tag("service", utilization["service"] or "none")
        .tag("region", utilization["region"] or "none")
        .tag("metric", utilization["metric"] or "none")
        .field("cost_usd", float(Decimal(utilization["cost"])))
        .field("cost_usd_micros", micros(utilization["cost"]))
        .field("avg", float(utilization["avg_value"]))
        .field("max", float(utilization["max_value"]))
        .field("samples", int(utilization["samples"]))
        .time(utilization["window_start_ms"], WritePrecision.MS)
    )


def anomaly_point(anomaly: dict) -> Point:
    """An Anomaly record → measurement ``anomaly`` at its window start; one point per episode message."""
    return (
        Point("anomaly")
        .tag("account", anomaly["account_id"] or "none")
        .tag("account_name", anomaly["account_name"] or "none")
        .tag("service", anomaly["service"] or "none")
        .tag("status", anomaly["status"])
        .tag("severity", anomaly["severity"])
        .field("actual_usd", float(Decimal(anomaly["actual_cost"])))
        .field("expected_usd", float(Decimal(anomaly["expected_cost"])))
        .field("score", float(anomaly["score"]))
        .field("episode_id", anomaly["episode_id"])
        .field("reasons", "; ".join(anomaly["reasons"]))
        .time(anomaly["window_start_ms"], WritePrecision.MS)
    )


def forecast_point(forecast: dict) -> Point:
    """A Forecast record → measurement ``forecast`` at the predicted day; a newer forecast overwrites it."""
    made_at, day = forecast["made_at"], forecast["date"]
    horizon = (date.fromisoformat(day) - date.fromisoformat(made_at)).days
    moment = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return (
        Point("forecast")
        .tag("account", forecast["account_id"] or "none")
        .tag("service", forecast["service"] or "none")
        .field("predicted_usd", float(Decimal(forecast["predicted_cost"])))
        .field("lower_usd", float(Decimal(forecast["lower"])))
        .field("upper_usd", float(Decimal(forecast["upper"])))
        .field("made_at", made_at)
        .field("horizon_days", horizon)
        .time(int(moment.timestamp() * 1000), WritePrecision.MS)
    )


def forecast_accuracy_point(scored: dict) -> Point:
    """A ForecastAccuracy record → measurement ``forecast_accuracy`` at the scored day, one per horizon.

    ``covered`` is 0/1, so ``MEAN(covered)`` is the interval's coverage; ``ape`` and ``naive_ape``
    are absent on a day without cost, so means skip it rather than count it as perfect.
    """
    moment = datetime.fromisoformat(scored["date"]).replace(tzinfo=UTC)
    point = (
        Point("forecast_accuracy")
        .tag("account", scored["account_id"] or "none")
        .tag("service", scored["service"] or "none")
        .tag("horizon", str(scored["horizon_days"]))
        .field("predicted_usd", float(Decimal(scored["predicted_cost"])))
        .field("actual_usd", float(Decimal(scored["actual_cost"])))
        .field("covered", int(scored["covered"]))
        .time(int(moment.timestamp() * 1000), WritePrecision.MS)
    )
    for name in ("ape", "naive_ape"):
        if scored[name] is not None:
            point.field(name, scored[name])
    return point


def recommendation_point(recommendation: dict) -> Point:
    """A Recommendation record → measurement ``recommendation`` at the day it was computed for.

    One point per recommendation and day (its id is a tag), so ``SUM(savings_usd)`` of a day's
    open points is what the account could save a month as that day saw it, and a closed point
    marks the day the advice was withdrawn.
    """
    return (
        Point("recommendation")
        .tag("account", recommendation["account_id"])
        .tag("type", recommendation["type"])
        .tag("status", recommendation["status"])
        .tag("risk_level", recommendation["risk_level"])
        .tag("recommendation_id", recommendation["recommendation_id"])
        .field("savings_usd", float(Decimal(recommendation["potential_savings"])))
        .field("savings_micros", micros(recommendation["potential_savings"]))
        .field("savings_p10_usd", float(Decimal(recommendation["savings_p10"])))
        .field("savings_p90_usd", float(Decimal(recommendation["savings_p90"])))
        .field("current_monthly_usd", float(Decimal(recommendation["current_monthly_cost"])))
        .field("projected_monthly_usd", float(Decimal(recommendation["projected_monthly_cost"])))
        .field("resource_id", recommendation["resource_id"] or "")
        .field("current_type", recommendation["current_type"])
        .field("recommended_type", recommendation["recommended_type"])
        .field("description", recommendation["description"])
        .time(recommendation["as_of_ms"], WritePrecision.MS)
    )


def optimization_event_point(event: dict) -> Point:
    """An OptimizationEvent → measurement ``optimization_event`` at the day the change was seen.

    ``achieved_usd`` beside ``predicted_usd`` is the realized-against-predicted panel.
    """
    point = (
        Point("optimization_event")
        .tag("account", event["account_id"])
        .tag("type", event["type"])
        .tag("event_id", event["event_id"])
        .field("achieved_usd", float(Decimal(event["savings_achieved"])))
        .field("achieved_micros", micros(event["savings_achieved"]))
        .field("predicted_usd", float(Decimal(event["predicted_savings"])))
        .field("cost_before_usd", float(Decimal(event["cost_before"])))
        .field("cost_after_usd", float(Decimal(event["cost_after"])))
        .field("resource_id", event["resource_id"] or "")
        .field("change", event["change"])
        .time(event["detected_at_ms"], WritePrecision.MS)
    )
    if event["performance_impact"] is not None:
        point.field("cpu_p99_after", event["performance_impact"])
    return point
