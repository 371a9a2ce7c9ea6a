"""One account's optimizer in the running job: its instances' hours over the lookback, refreshed daily.

The job learns each finished hour of instance usage and utilization (its hourly aggregates, not
events), and at the end of every event-time day calls ``refresh``: the same ``advise`` that
``spendstream recommend`` runs, on the same resource-hours, so both give the same advice for the
same bill. What the job sends is the change of state: every live recommendation (refreshed, with
the day's numbers), once each one no longer advised, as closed, and for those the bill shows were
acted on, an optimization event (pipelines/optimize/realized.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from pipelines.optimize.catalog import Catalog
from pipelines.optimize.engine import advise
from pipelines.optimize.realized import realized_change
from pipelines.optimize.recommendation import Recommendation
from pipelines.optimize.settings import OptimizerSettings
from pipelines.optimize.usage import DAY_MS, HourCost, HourMetrics, InstanceIdentity, ResourceUsage


@dataclass(frozen=True)
class Refresh:
    records: list[dict]  # Recommendation records: the live ones (status open), then the ones closed
    opened: list[Recommendation]  # live now, not open before: what an alert announces
    realized: list[dict]  # OptimizationEvent records: closed advice whose change shows in the bill


@dataclass
class AccountOptimizer:
    account_id: str
    usage: ResourceUsage = field(default_factory=ResourceUsage)
    open: dict[str, dict] = field(default_factory=dict)  # recommendation id → the last record sent

    def refresh(self, as_of_ms: int, catalog: Catalog, settings: OptimizerSettings) -> Refresh:
        """Advice as of ``as_of_ms`` (a day's end) from the hours before it; forgets what no advice looks at."""
        self.usage.forget_before(as_of_ms - settings.history_days * DAY_MS)
        histories = self.usage.histories()
        advice = advise(self.account_id, histories, as_of_ms, catalog, settings)
        live = [item.record(as_of_ms) for item in advice.live]
        ids = {record["recommendation_id"] for record in live}
        gone = sorted(set(self.open) - ids)
        closed = [{**self.open[i], "status": "closed", "as_of_ms": as_of_ms} for i in gone]
        opened = [item for item in advice.live if item.recommendation_id not in self.open]
        realized = [event for i in gone if (event := realized_change(self.open[i], histories, as_of_ms, catalog))]
        self.open = {record["recommendation_id"]: record for record in live}
        return Refresh(live + closed, opened, realized)

    def state(self) -> dict:
        """As schemas/account_optimizer_state.avsc: plain numbers and names, never code."""
        return {
            "account_id": self.account_id,
            "instances": [
                {
                    "resource_id": identity.resource_id,
                    "service": identity.service,
                    "region": identity.region,
                    "instance_type": identity.instance_type,
                    "workload": identity.workload,
                    "billed_rate": str(self.usage.rates[identity]) if identity in self.usage.rates else None,
                    "hours": [
                        {
                            "hour_ms": hour_ms,
                            "cost": str(hour.cost),
                            "instance_hours": str(hour.instance_hours),
                            "on_demand_hours": str(hour.on_demand_hours),
                        }
                        for hour_ms, hour in sorted(hours.items())
                    ],
                }
                for identity, hours in sorted(self.usage.costs.items())
            ],
            "samples": [
                {"resource_id": resource, "hours": [sample_hour(h, m) for h, m in sorted(hours.items())]}
                for resource, hours in sorted(self.usage.samples.items())
            ],
            "open": [json.dumps(record, sort_keys=True) for _, record in sorted(self.open.items())],
        }

    @classmethod
    def from_state(cls, state: dict) -> AccountOptimizer:
        usage = ResourceUsage()
        for instance in state["instances"]:
            identity = InstanceIdentity(
                state["account_id"],
                instance["resource_id"],
                instance["service"],
                instance["region"],
                instance["instance_type"],
                instance["workload"],
            )
            for hour in instance["hours"]:
                cost = HourCost(
                    Decimal(hour["cost"]), Decimal(hour["instance_hours"]), Decimal(hour["on_demand_hours"])
                )
                usage.costs[identity][hour["hour_ms"]] = cost
            if instance["billed_rate"] is not None:
                usage.rates[identity] = Decimal(instance["billed_rate"])
        for resource in state["samples"]:
            for h in resource["hours"]:
                metrics = HourMetrics(h["cpu_max"], h["network_bytes"], h["network_samples"], h["memory_max"])
                usage.samples[resource["resource_id"]][h["hour_ms"]] = metrics
        records = [json.loads(text) for text in state["open"]]
        return cls(state["account_id"], usage, {record["recommendation_id"]: record for record in records})


def sample_hour(hour_ms: int, metrics: HourMetrics) -> dict:
    return {
        "hour_ms": hour_ms,
        "cpu_max": metrics.cpu_max,
        "network_bytes": metrics.network_bytes,
        "network_samples": metrics.network_samples,
        "memory_max": metrics.memory_max,
    }
