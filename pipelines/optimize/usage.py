"""Resource-hours: what each instance cost in each hour, how it was priced, and how busy it was.

The one record every recommendation is computed from. ``recommend`` builds it from an export and
metric files; the job from its hourly cost-by-resource aggregate and utilization join. Only EC2
instance usage the catalog can describe takes part (other line items have no size to change).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

import numpy as np

from pipelines.anomaly import HOUR_MS
from pipelines.cost_event import ChargeType, CostEvent, PricingTerm
from pipelines.metrics import MetricEvent

EC2_SERVICES = {"AmazonEC2", "Amazon Elastic Compute Cloud", "EC2"}
CPU, NETWORK_IN, NETWORK_OUT, MEMORY = "CPUUtilization", "NetworkIn", "NetworkOut", "mem_used_percent"
DAY_MS = 24 * HOUR_MS


class InstanceIdentity(NamedTuple):
    """What one history is of: a resize shows up as a new identity of the same resource."""

    account_id: str
    resource_id: str
    service: str
    region: str
    instance_type: str
    workload: str = ""  # the value of its workload tag: instances that may share a spot/reserved mix


@dataclass(slots=True)
class HourCost:
    """One resource's instance usage in one hour (several line items add up)."""

    cost: Decimal = Decimal(0)  # what it really cost: amortized where a commitment covered it
    instance_hours: Decimal = Decimal(0)
    on_demand_hours: Decimal = Decimal(0)  # of which billed on demand: what a commitment could cover


@dataclass(slots=True)
class HourMetrics:
    """Utilization samples of one resource in one hour: maxima for percentiles, sums for traffic."""

    cpu_max: float = float("nan")
    network_bytes: float = 0.0
    network_samples: int = 0
    memory_max: float = float("nan")


@dataclass
class ResourceHistory:
    """Everything known about one instance, as arrays over its hours (sorted)."""

    resource_id: str
    account_id: str
    service: str
    region: str
    instance_type: str
    hours_ms: np.ndarray
    cost: list[Decimal]
    instance_hours: list[Decimal]
    on_demand_hours: list[Decimal]  # instance-hours billed on demand, per hour (partly covered hours count part)
    cpu_max: np.ndarray  # NaN where no sample
    network_bytes: np.ndarray  # NaN where no sample
    memory_max: np.ndarray
    billed_rate: Decimal | None  # $/instance-hour at public on-demand prices, as the bill shows it
    workload: str = ""

    def running_at(self, as_of_ms: int) -> bool:
        """Costing in the day before ``as_of_ms``: a stopped or resized-away instance needs no advice."""
        return len(self.hours_ms) > 0 and as_of_ms - DAY_MS <= self.hours_ms[-1] < as_of_ms

    def window(self, start_ms: int, end_ms: int) -> ResourceHistory:
        """The hours in [start_ms, end_ms)."""
        keep = (self.hours_ms >= start_ms) & (self.hours_ms < end_ms)
        index = np.flatnonzero(keep)
        pick = [int(i) for i in index]
        return ResourceHistory(
            self.resource_id,
            self.account_id,
            self.service,
            self.region,
            self.instance_type,
            self.hours_ms[index],
            [self.cost[i] for i in pick],
            [self.instance_hours[i] for i in pick],
            [self.on_demand_hours[i] for i in pick],
            self.cpu_max[index],
            self.network_bytes[index],
            self.memory_max[index],
            self.billed_rate,
            self.workload,
        )


@dataclass
class ResourceUsage:
    """Accumulates cost events and metric samples; then yields one history per instance."""

    costs: dict[InstanceIdentity, dict[int, HourCost]] = field(default_factory=lambda: defaultdict(dict))
    samples: dict[str, dict[int, HourMetrics]] = field(default_factory=lambda: defaultdict(dict))
    rates: dict[InstanceIdentity, Decimal] = field(default_factory=dict)
    workload_tags: tuple[str, ...] = ()  # tag keys naming a workload, the first present wins

    def add_cost(self, event: CostEvent) -> None:
        if not is_instance_usage(event):
            return
        amount = Decimal(event.usage_amount or 0)
        on_demand = event.pricing_term == PricingTerm.ON_DEMAND.value
        identity = (event.usage_account_id, event.resource_id, event.service, event.region, event.instance_type)
        workload = next((event.tags[key] for key in self.workload_tags if event.tags.get(key)), "")
        self.add_hour(
            InstanceIdentity(*identity, workload),
            event.usage_start_ms - event.usage_start_ms % HOUR_MS,
            HourCost(Decimal(event.amortized_cost or event.net_cost), amount, amount if on_demand else Decimal(0)),
            Decimal(event.public_on_demand_rate) if event.public_on_demand_rate else None,
        )

    def add_hour(self, identity: InstanceIdentity, hour_ms: int, cost: HourCost, rate: Decimal | None) -> None:
        """Instance usage of one hour (a line item, or the job's hourly aggregate of them)."""
        hour = self.costs[identity].setdefault(hour_ms, HourCost())
        hour.cost += cost.cost
        hour.instance_hours += cost.instance_hours
        hour.on_demand_hours += cost.on_demand_hours
        if rate is not None:
            self.rates[identity] = max(rate, self.rates.get(identity, rate))

    def add_sample(self, sample: MetricEvent) -> None:
        hour_ms = sample.timestamp_ms - sample.timestamp_ms % HOUR_MS
        self.add_metric_hour(sample.resource_id, hour_ms, sample.metric, sample.value, sample.value, 1)

    def add_metric_hour(self, resource_id: str, hour_ms: int, metric: str, peak: float, total: float, count: int):
        """Samples of one metric in one hour, summarized: their maximum, sum and count."""
        hour = self.samples[resource_id].setdefault(hour_ms, HourMetrics())
        if metric == CPU:
            hour.cpu_max = peak if np.isnan(hour.cpu_max) else max(hour.cpu_max, peak)
        elif metric in (NETWORK_IN, NETWORK_OUT):
            hour.network_bytes += total
            hour.network_samples += count
        elif metric == MEMORY:
            hour.memory_max = peak if np.isnan(hour.memory_max) else max(hour.memory_max, peak)

    def forget_before(self, start_ms: int) -> None:
        """Drop hours before ``start_ms``: the job keeps only the lookback in its state."""
        for hours in (*self.costs.values(), *self.samples.values()):
            for hour_ms in [h for h in hours if h < start_ms]:
                del hours[hour_ms]
        for identity in [i for i, hours in self.costs.items() if not hours]:
            del self.costs[identity]
            self.rates.pop(identity, None)
        for resource in [r for r, hours in self.samples.items() if not hours]:
            del self.samples[resource]

    def histories(self) -> list[ResourceHistory]:
        """One per (account, resource, type): a resize shows up as a new history of the same resource."""
        return [self._history(identity) for identity in sorted(self.costs)]

    def _history(self, identity: InstanceIdentity) -> ResourceHistory:
        account, resource, service, region, instance_type, workload = identity
        hours = self.costs[identity]
        order = sorted(hours)
        metrics = self.samples.get(resource, {})
        rows = [metrics.get(h) for h in order]
        return ResourceHistory(
            resource_id=resource,
            account_id=account,
            service=service,
            region=region,
            instance_type=instance_type,
            hours_ms=np.array(order, dtype=np.int64),
            cost=[hours[h].cost for h in order],
            instance_hours=[hours[h].instance_hours for h in order],
            on_demand_hours=[hours[h].on_demand_hours for h in order],
            cpu_max=np.array([m.cpu_max if m else np.nan for m in rows]),
            network_bytes=np.array([m.network_bytes if m and m.network_samples else np.nan for m in rows]),
            memory_max=np.array([m.memory_max if m else np.nan for m in rows]),
            billed_rate=self.rates.get(identity),
            workload=workload,
        )


def is_instance_usage(event: CostEvent) -> bool:
    """EC2 instance hours with a resource id: the usage rightsizing and commitments are about."""
    return (
        event.charge_type is ChargeType.USAGE
        and bool(event.instance_type)
        and bool(event.resource_id)
        and event.service in EC2_SERVICES
    )
