"""Savings realized: a recommended change that shows up in the bill, with what it saved.

When a recommendation is no longer given, the bill says why: the instance stopped costing (the
idle instance was stopped), or it runs as another type (it was resized), or nothing changed and
the advice was simply superseded. The first two are optimization events: the monthly cost when
the advice was given against the monthly rate of the last day, and the saving that predicted.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from pipelines.optimize.catalog import HOURS_PER_MONTH
from pipelines.optimize.usage import DAY_MS, ResourceHistory
from pipelines.spend_monitor import stable_id

CENT = Decimal("0.01")


def realized_change(record: dict, histories: list[ResourceHistory], as_of_ms: int) -> dict | None:
    """The optimization event of a closed rightsize or idle ``record``, or None if nothing changed."""
    resource = record["resource_id"]
    if resource is None or record["type"] not in ("idle", "rightsize"):
        return None
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
    before = Decimal(record["current_monthly_cost"])
    return {
        "event_id": stable_id("optimization", record["recommendation_id"]),
        "recommendation_id": record["recommendation_id"],
        "account_id": record["account_id"],
        "resource_id": resource,
        "type": record["type"],
        "change": change,
        "detected_at_ms": as_of_ms,
        "cost_before": str(before),
        "cost_after": str(after),
        "savings_achieved": str(before - after),
        "predicted_savings": record["potential_savings"],
        "performance_impact": impact,
        "description": f"{resource} ({record['current_type']}) {change}: ${before - after}/month saved, "
        f"${record['potential_savings']} predicted",
    }
