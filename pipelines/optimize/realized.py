"""Savings realized: a recommended change that shows up in the bill, with what it saved.

When a recommendation is no longer given, the bill says why: the instance stopped costing (the
idle instance was stopped), it runs as another type (it was resized), its pool now runs under a
commitment (the RI or Savings Plan was bought), or nothing changed and the advice was simply
superseded. All but the last are optimization events: the monthly cost before against the
monthly rate of the last day, and the saving the recommendation predicted.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from pipelines.optimize.catalog import HOURS_PER_MONTH, Catalog, family_of
from pipelines.optimize.recommendation import CENT
from pipelines.optimize.usage import DAY_MS, ResourceHistory
from pipelines.spend_monitor import stable_id


def realized_change(record: dict, histories: list[ResourceHistory], as_of_ms: int, catalog: Catalog) -> dict | None:
    """The optimization event of a closed ``record``, or None if the bill shows nothing changed."""
    resource = record["resource_id"]
    if resource is None:
        return commitment_bought(record, histories, as_of_ms, catalog)
    running = [h for h in histories if h.resource_id == resource and h.running_at(as_of_ms)]
    if any(h.instance_type == record["current_type"] for h in running):
        return None  # still running as it was: the advice was superseded, not acted on
    if running:
        now = max(running, key=lambda h: h.hours_ms[-1])
        last_day = now.window(as_of_ms - DAY_MS, as_of_ms)
        after = (sum(last_day.cost, Decimal(0)) * HOURS_PER_MONTH / 24).quantize(CENT)
        cpu = last_day.cpu_max[~np.isnan(last_day.cpu_max)]
        change, impact = f"resized to {now.instance_type}", float(np.percentile(cpu, 99)) if cpu.size else None
    else:
        change, after, impact = "stopped", Decimal(0), None
    return event(record, change, Decimal(record["current_monthly_cost"]), after, as_of_ms, impact)


def commitment_bought(record: dict, histories: list[ResourceHistory], as_of_ms: int, catalog: Catalog) -> dict | None:
    """A closed commitment advice whose scope now runs partly under a commitment (an RI or a Savings Plan).

    Before is the scope's last day at on-demand prices, after what that day really cost (the
    commitment's amortized share included), both as monthly rates.
    """
    day = [h.window(as_of_ms - DAY_MS, as_of_ms) for h in histories if in_scope(record, h)]
    covered = sum((sum(d.instance_hours, Decimal(0)) - sum(d.on_demand_hours, Decimal(0)) for d in day), Decimal(0))
    if covered <= 0:
        return None
    monthly = Decimal(HOURS_PER_MONTH) / 24
    rates = [d.billed_rate or catalog.rate(d.instance_type, d.region) or Decimal(0) for d in day]
    list_price = sum((sum(d.instance_hours, Decimal(0)) * rate for d, rate in zip(day, rates, strict=True)), Decimal(0))
    actual = sum((sum(d.cost, Decimal(0)) for d in day), Decimal(0))
    change = f"commitment in use: {covered:.1f} instance-hours a day covered"
    return event(record, change, (list_price * monthly).quantize(CENT), (actual * monthly).quantize(CENT), as_of_ms)


def in_scope(record: dict, history: ResourceHistory) -> bool:
    """Whether a commitment recommendation's scope (3 × m5.large in a region, a family, any compute) has it."""
    kind, label, region = record["type"], record["current_type"], record["region"]
    if kind == "compute_savings_plan":
        return True
    if history.region != region:
        return False
    if kind == "ec2_instance_savings_plan":
        return f"{family_of(history.instance_type)} family" == label
    return label.endswith(f"× {history.instance_type}")


def event(
    record: dict, change: str, before: Decimal, after: Decimal, as_of_ms: int, impact: float | None = None
) -> dict:
    """The OptimizationEvent record (schemas/optimization_event.avsc)."""
    subject = record["resource_id"] or record["current_type"]
    return {
        "event_id": stable_id("optimization", record["recommendation_id"]),
        "recommendation_id": record["recommendation_id"],
        "account_id": record["account_id"],
        "resource_id": record["resource_id"],
        "type": record["type"],
        "change": change,
        "detected_at_ms": as_of_ms,
        "cost_before": str(before),
        "cost_after": str(after),
        "savings_achieved": str(before - after),
        "predicted_savings": record["potential_savings"],
        "performance_impact": impact,
        "description": f"{subject}: {change}; ${before - after}/month saved, ${record['potential_savings']} predicted",
    }
