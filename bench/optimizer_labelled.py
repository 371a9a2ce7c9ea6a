"""A labelled fleet for the optimization engine: instances whose right advice is known, and compute demand.

Each seed draws a fleet of five kinds of instance (the label is the advice a careful engineer
would give): ``oversized`` (peaks well under half the size → rightsize), ``idle`` (≈ no CPU or
traffic → stop), ``bursty`` (quiet, with rare full-CPU bursts → keep), ``memory_bound`` (low CPU,
memory nearly full → keep) and ``right_sized`` (busy → keep), in varied families, sizes, noise,
daily cycles and with or without a memory metric. And per seed an eligible compute demand
(instance counts per type and hour) that is steady, growing or shrinking, for commitments.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from pipelines.cost_event import ChargeType, CostEvent, PricingTerm
from pipelines.metrics import MetricEvent
from pipelines.optimize.catalog import Catalog
from pipelines.optimize.usage import ResourceUsage

HOUR_MS = 3_600_000
START_MS = 1_767_225_600_000  # 2026-01-01
KINDS = ("oversized", "idle", "bursty", "memory_bound", "right_sized")
TYPES = ("m5.2xlarge", "m6i.xlarge", "m7g.2xlarge", "c5.2xlarge", "c6i.4xlarge", "c7g.xlarge", "r5.xlarge", "t3.large")


@dataclass(frozen=True)
class LabelledInstance:
    resource_id: str
    instance_type: str
    label: str  # the kind above


def fleet(seed: int, catalog: Catalog, days: int = 30, instances: int = 25) -> tuple[ResourceUsage, list]:
    """A fleet's cost events and metric samples, fed into resource-hours, and its labels."""
    rng = random.Random(seed)
    usage, labels = ResourceUsage(), []
    for index in range(instances):
        label = rng.choice(KINDS)
        instance_type = rng.choice(TYPES)
        if label == "memory_bound" and not instance_type.startswith("r") and rng.random() < 0.5:
            instance_type = "r5.xlarge"
        resource = f"i-{seed:03d}{index:04d}"
        labels.append(LabelledInstance(resource, instance_type, label))
        rate = catalog.rate(instance_type, "us-east-1")
        measured_memory = label == "memory_bound" or rng.random() < 0.6
        cpu = cpu_profile(rng, label, days * 24)
        for hour in range(days * 24):
            start = START_MS + hour * HOUR_MS
            usage.add_cost(cost_event(resource, instance_type, rate, start))
            usage.add_sample(sample(resource, "CPUUtilization", start, cpu[hour]))
            traffic = rng.uniform(0, 2e3) if label == "idle" else rng.uniform(1e7, 1e9)
            usage.add_sample(sample(resource, "NetworkIn", start, traffic))
            if measured_memory:
                memory = rng.uniform(85, 95) if label == "memory_bound" else rng.uniform(20, 40)
                usage.add_sample(sample(resource, "mem_used_percent", start, memory))
    return usage, labels


def cpu_profile(rng: random.Random, label: str, hours: int) -> np.ndarray:
    """Hourly CPU maxima (%) for one instance of a kind."""
    hour = np.arange(hours)
    cycle = np.sin(2 * np.pi * (hour % 24) / 24) if rng.random() < 0.7 else np.zeros(hours)
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(0.5, 3), hours)
    if label == "idle":
        return np.clip(rng.uniform(0.2, 1.5) + 0.3 * np.abs(noise), 0, 3)
    if label == "oversized":
        level = rng.uniform(6, 16)
        return np.clip(level + level * 0.4 * cycle + noise, 0.5, 100)
    if label == "bursty":
        base = np.clip(rng.uniform(3, 9) + noise, 0.5, 100)
        every = rng.randrange(60, 140)
        base[rng.randrange(every) :: every] = rng.uniform(85, 100)
        return base
    if label == "memory_bound":
        return np.clip(rng.uniform(5, 15) + noise, 0.5, 100)
    level = rng.uniform(50, 75)
    return np.clip(level + 10 * cycle + noise, 1, 100)


def cost_event(resource: str, instance_type: str, rate: Decimal, start: int) -> CostEvent:
    text = str(rate)
    return CostEvent(
        event_id=f"{resource}{start}", source_format="cur2", line_item_id=f"{resource}{start}",
        billing_period="2026-01", usage_start_ms=start, usage_end_ms=start + HOUR_MS, payer_account_id="p",
        usage_account_id="111111111111", service="AmazonEC2", region="us-east-1", resource_id=resource,
        line_item_type="Usage", charge_type=ChargeType.USAGE, usage_type=f"BoxUsage:{instance_type}",
        unblended_cost=text, net_cost=text, currency="USD", usage_amount="1", list_cost=text,
        instance_type=instance_type, pricing_term=PricingTerm.ON_DEMAND.value, public_on_demand_rate=text,
    )  # fmt: skip


def sample(resource: str, metric: str, ts: int, value: float) -> MetricEvent:
    return MetricEvent(f"{resource}{metric}{ts}", "bench", resource, "AWS/EC2", metric, "", ts, float(value))


@dataclass(frozen=True)
class ComputeDemand:
    trend: str  # steady, growing, shrinking
    weekly_growth: float
    hours: np.ndarray  # pools × hours, instance counts


def compute_demand(seed: int, pools: int, days: int) -> ComputeDemand:
    """Instance counts per pool and hour: a base fleet, a daily cycle, noise and a trend of −3…+4%/week."""
    rng = np.random.default_rng(seed)
    trend = ("steady", "growing", "shrinking")[seed % 3]
    growth = {"steady": 0.0, "growing": rng.uniform(0.01, 0.04), "shrinking": -rng.uniform(0.01, 0.03)}[trend]
    hour = np.arange(days * 24)
    weeks = hour / (24 * 7)
    rows = []
    for _ in range(pools):
        base = rng.uniform(3, 20)
        cycle = 1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * (hour % 24) / 24)
        level = base * np.maximum(0.05, 1 + growth * weeks) * cycle
        rows.append(np.maximum(0, np.round(level + rng.normal(0, rng.uniform(0.3, 1.5), hour.size))))
    return ComputeDemand(trend, growth, np.array(rows))
