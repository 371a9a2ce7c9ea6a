"""Recommendations in the cost aggregation job: the optimization engine once per account and event-time day.

Native SQL builds the engine's inputs from what the job already has: each EC2 instance's hourly
usage (cost, instance-hours, the on-demand share, the bill's on-demand rate) and each resource's
hourly utilization from the utilization join. Python sees only those hourly rows, in one keyed
process function per account whose state is the account's optimizer
(pipelines/optimize/account_optimizer.py) as its Avro state record. An event-time timer at each
day's end learns the day's hours and refreshes the advice: live recommendations go to the
recommendation topic (refreshed daily, closed once when no longer advised), advice the bill shows
was acted on becomes an optimization event, and a new recommendation that saves at least
``optimizer.alert_monthly_savings`` a month is also an alert.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor
from pyflink.table import StreamTableEnvironment, Table

from jobs.analytics import EPOCH_MS, OUTPUT, loaded_state, stored_state
from jobs.sql import literal
from pipelines.cost_event import PricingTerm
from pipelines.enrichment import AccountDirectory
from pipelines.optimize.account_optimizer import AccountOptimizer
from pipelines.optimize.catalog import Catalog
from pipelines.optimize.recommendation import Recommendation
from pipelines.optimize.settings import OptimizerSettings
from pipelines.optimize.usage import DAY_MS, EC2_SERVICES, HourCost, InstanceIdentity
from pipelines.spend_monitor import stable_id
from schemas import SchemaName, codec
from spendstream.config import OptimizerConfig

EC2_IN = f"service IN ({', '.join(literal(s) for s in sorted(EC2_SERVICES))})"
HOURS_SQL = f"""
SELECT 'instance' AS part, account_id, {EPOCH_MS} AS hour_ms, resource_id, service, region, instance_type, workload,
  CAST(SUM(COALESCE(amortized_cost, net_cost)) AS STRING) AS cost,
  CAST(SUM(COALESCE(usage_amount, 0)) AS STRING) AS instance_hours,
  CAST(SUM(CASE WHEN pricing_term = '{PricingTerm.ON_DEMAND.value}' THEN COALESCE(usage_amount, 0) ELSE 0 END)
    AS STRING) AS on_demand_hours,
  CAST(MAX(public_on_demand_rate) AS STRING) AS rate,
  CAST(NULL AS STRING) AS metric, CAST(NULL AS DOUBLE) AS peak, CAST(NULL AS DOUBLE) AS total,
  CAST(NULL AS BIGINT) AS samples
FROM TABLE(TUMBLE(TABLE costs, DESCRIPTOR(event_time), INTERVAL '1' HOUR))
WHERE charge_type = 'usage' AND instance_type <> '' AND resource_id <> '' AND {EC2_IN}
GROUP BY window_start, window_end, account_id, resource_id, service, region, instance_type, workload
UNION ALL
SELECT 'metric', account_id, {EPOCH_MS}, resource_id, service, region, '', '', CAST(NULL AS STRING),
  CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS STRING), metric, max_value, total_value, samples
FROM resource_utilization_hourly
WHERE {EC2_IN}
"""
ROW_FIELDS = (
    "part",
    "hour_ms",
    "resource_id",
    "service",
    "region",
    "instance_type",
    "workload",
    "cost",
    "instance_hours",
    "on_demand_hours",
    "rate",
    "metric",
    "peak",
    "total",
    "samples",
)


class DailyRecommendations(KeyedProcessFunction):
    """Keyed by account: a day's instance and utilization hours → the day's recommendations.

    The day's rows wait in list state (appending costs nothing per row, unlike rewriting one
    value); the timer at the day's end, which fires once every hour of the day has closed, hands
    them to the account's optimizer in hour order and refreshes its advice as of the day's end.
    """

    def __init__(
        self, directory: AccountDirectory, catalog: Catalog, settings: OptimizerSettings, alert_savings: Decimal
    ) -> None:
        self.directory, self.catalog, self.settings, self.alert_savings = directory, catalog, settings, alert_savings

    def open(self, runtime_context: RuntimeContext) -> None:
        self.model = runtime_context.get_state(ValueStateDescriptor("optimizer-model", Types.STRING()))
        self.pending = runtime_context.get_list_state(ListStateDescriptor("optimizer-hours", Types.STRING()))
        metrics = runtime_context.get_metrics_group().add_group("spendstream")
        roles = ("recommendation", "optimization_event", "alert")
        self.emitted = {role: metrics.counter(f"{role}_records") for role in roles}

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context):
        self.pending.add(json.dumps([getattr(row, name) for name in ROW_FIELDS], separators=(",", ":")))
        ctx.timer_service().register_event_time_timer(row.hour_ms - row.hour_ms % DAY_MS + DAY_MS - 1)
        return iter(())

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        rows = [json.loads(text) for text in self.pending.get() or ()]
        due = sorted(
            (row for row in rows if row[1] <= timestamp),
            key=hour_order,
        )
        later = [json.dumps(row, separators=(",", ":")) for row in rows if row[1] > timestamp]
        self.pending.update(later)
        saved = self.model.value()
        optimizer = (
            AccountOptimizer(ctx.get_current_key())
            if saved is None
            else AccountOptimizer.from_state(loaded_state(saved, SchemaName.ACCOUNT_OPTIMIZER_STATE))
        )
        for row in due:
            learn(optimizer, row)
        for out in self.refresh(optimizer, timestamp + 1):
            self.emitted[out[0]].inc()
            yield out
        self.model.update(stored_state(SchemaName.ACCOUNT_OPTIMIZER_STATE, optimizer.state()))

    def refresh(self, optimizer: AccountOptimizer, as_of_ms: int) -> Iterator[Row]:
        refresh = optimizer.refresh(as_of_ms, self.catalog, self.settings)
        for record in refresh.records:
            payload = codec().encode(SchemaName.RECOMMENDATION, record)
            yield Row("recommendation", record["recommendation_id"].encode(), payload)
        for event in refresh.realized:
            payload = codec().encode(SchemaName.OPTIMIZATION_EVENT, event)
            yield Row("optimization_event", event["event_id"].encode(), payload)
        for item in refresh.opened:
            if item.potential_savings >= self.alert_savings:
                alert = recommendation_alert(item, as_of_ms, self.directory.account_name(item.account_id))
                yield Row("alert", alert["alert_id"].encode(), codec().encode(SchemaName.ALERT, alert))


def hour_order(row: list) -> tuple:
    """Hour, then instances before metrics, then resource, type, workload and metric: the same order on every run."""
    return row[1], row[0], row[2], row[5], row[6], row[11] or ""


def learn(optimizer: AccountOptimizer, row: list) -> None:
    part, hour_ms, resource, service, region, kind, workload, cost, hours, on_demand, rate, metric, peak, total, n = row
    if part == "metric":
        optimizer.usage.add_metric_hour(resource, hour_ms, metric, peak, total, n)
        return
    identity = InstanceIdentity(optimizer.account_id, resource, service, region, kind, workload)
    usage = HourCost(Decimal(cost), Decimal(hours), Decimal(on_demand))
    optimizer.usage.add_hour(identity, hour_ms, usage, Decimal(rate) if rate is not None else None)


def recommendation_alert(item: Recommendation, as_of_ms: int, account_name: str) -> dict:
    """A new recommendation worth announcing, on the alert topic (kind ``recommendation``)."""
    subject = item.resource_id or item.current_type
    return {
        "alert_id": stable_id("recommendation", item.recommendation_id, as_of_ms),
        "kind": "recommendation",
        "severity": "info",
        "account_id": item.account_id,
        "account_name": account_name,
        "service": "AmazonEC2",
        "window_start_ms": as_of_ms - DAY_MS,
        "window_end_ms": as_of_ms,
        "title": f"{account_name}: save ${item.potential_savings}/month ({item.type.replace('_', ' ')} {subject})",
        "message": f"{item.description}. Steps: {' '.join(item.execution_plan)}",
        "details": {
            "recommendation_id": item.recommendation_id,
            "type": item.type,
            "resource_id": item.resource_id or "",
            "recommended_type": item.recommended_type,
            "current_monthly_cost": str(item.current_monthly_cost),
            "potential_savings": str(item.potential_savings),
            "risk_level": item.risk_level,
        },
    }


def workload_sql(tag_keys: tuple[str, ...], tags: str) -> str:
    """The workload of an event, natively: the first of ``tag_keys`` its tags map has ('' untagged)."""
    lookups = ", ".join(f"NULLIF({tags}[{literal(key)}], '')" for key in tag_keys)
    return f"COALESCE({lookups}, '')" if tag_keys else "''"


def build_optimizer(t_env: StreamTableEnvironment, directory: AccountDirectory, config: OptimizerConfig) -> Table:
    """Recommendation and alert rows (role, k, v) from the ``costs`` and ``resource_utilization_hourly`` views."""
    hours = t_env.to_data_stream(t_env.sql_query(HOURS_SQL))
    daily = DailyRecommendations(
        directory, config.load_catalog(), config.settings(), Decimal(str(config.alert_monthly_savings))
    )
    recommendations = (
        hours.key_by(lambda row: row.account_id, key_type=Types.STRING())
        .process(daily, output_type=OUTPUT)
        .uid("daily-recommendations")
        .name("recommendations (optimization engine, keyed by account)")
    )
    return t_env.from_data_stream(recommendations)
