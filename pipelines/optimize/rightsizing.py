"""Idle and rightsizing findings for one instance, from its cost and utilization over the lookback.

Like AWS Compute Optimizer: a CPU percentile (default P99.5 of hourly maxima) plus headroom (20%)
must fit the smaller size of the same family (so the same architecture). Unlike it, the largest
peak seen must fit too (a bursty workload is never downsized because a percentile hid its
bursts), measured memory must fit as well, a memory-optimized family whose memory is not measured
is left alone, and every finding (also "no change") says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from pipelines.optimize.catalog import HOURS_PER_MONTH, Catalog, InstanceType
from pipelines.optimize.settings import RightsizingSettings
from pipelines.optimize.usage import DAY_MS, ResourceHistory

MEMORY_BOUND_PERCENT = 80.0  # memory used at the percentile above this: memory-bound, never downsized
MEMORY_FAMILIES = ("r",)  # memory-optimized: without a memory metric nobody knows it fits a smaller size


@dataclass(frozen=True)
class Finding:
    """What the engine concluded about one instance; ``kind`` idle / rightsize are recommendations."""

    kind: str  # idle, rightsize, optimized, bursty, memory_bound, insufficient_data, unknown_type
    history: ResourceHistory
    reason: str
    current_monthly_cost: Decimal = Decimal(0)
    projected_monthly_cost: Decimal = Decimal(0)
    savings_range: tuple[Decimal, Decimal] = (Decimal(0), Decimal(0))  # P10, P90 monthly
    recommended_type: str = ""
    risk_level: str = "low"
    evidence: dict = field(default_factory=dict)

    @property
    def potential_savings(self) -> Decimal:
        return self.current_monthly_cost - self.projected_monthly_cost

    @property
    def actionable(self) -> bool:
        return self.kind in ("idle", "rightsize")


def examine(history: ResourceHistory, as_of_ms: int, catalog: Catalog, settings: RightsizingSettings) -> Finding:
    """The finding for one instance over the ``lookback_days`` before ``as_of_ms``."""
    start_ms = as_of_ms - settings.lookback_days * DAY_MS
    recent = history.window(start_ms, as_of_ms)
    current = catalog.get(history.instance_type)
    measured = ~np.isnan(recent.cpu_max)
    days = len({int(h) // DAY_MS for h in recent.hours_ms[measured]})
    evidence = utilization_evidence(recent, settings, days, catalog.snapshot_date)
    monthly, daily = run_rate(recent, start_ms, as_of_ms)
    base = {"history": history, "current_monthly_cost": monthly, "projected_monthly_cost": monthly}
    if current is None:
        reason = f"{history.instance_type} is not in the catalog"
        return Finding("unknown_type", reason=reason, evidence=evidence, **base)
    if days < settings.min_days:
        reason = f"{days} days of CPU data in the last {settings.lookback_days}; {settings.min_days} needed"
        return Finding("insufficient_data", reason=reason, evidence=evidence, **base)
    cpu = recent.cpu_max[measured]
    cpu_at = float(np.percentile(cpu, settings.cpu_percentile))
    if cpu_at <= settings.idle_cpu_percent and quiet_network(recent, settings):
        return idle_finding(base, daily, evidence, cpu_at, settings)
    return resize_finding(current, catalog, recent, base, daily, evidence, settings)


def idle_finding(base: dict, daily: list[Decimal], evidence: dict, cpu_at: float, s: RightsizingSettings) -> Finding:
    measured_network = evidence["network_bytes_per_day"] is not None
    reason = f"P{s.cpu_percentile:g} CPU {cpu_at:.1f}% ≤ {s.idle_cpu_percent:g}%" + (
        f" and {evidence['network_bytes_per_day'] / 1e6:.2f} MB/day of network" if measured_network else ""
    )
    return Finding(
        "idle",
        reason=reason + ": stop it",
        savings_range=saving_range(daily, Decimal(1)),
        risk_level="low" if measured_network else "medium",
        evidence=evidence,
        **{**base, "projected_monthly_cost": Decimal(0)},
    )


def resize_finding(
    current: InstanceType,
    catalog: Catalog,
    recent: ResourceHistory,
    base: dict,
    daily: list[Decimal],
    evidence: dict,
    s: RightsizingSettings,
) -> Finding:
    cpu = recent.cpu_max[~np.isnan(recent.cpu_max)]
    memory = recent.memory_max[~np.isnan(recent.memory_max)]
    cpu_at, cpu_peak = float(np.percentile(cpu, s.cpu_percentile)), float(cpu.max())
    memory_at = float(np.percentile(memory, s.cpu_percentile)) if memory.size else None
    if memory_at is not None and memory_at >= MEMORY_BOUND_PERCENT:
        reason = f"memory-bound: memory P{s.cpu_percentile:g} {memory_at:.0f}%; not downsized"
        return Finding("memory_bound", reason=reason, evidence=evidence, **base)
    if memory_at is None and current.family.startswith(MEMORY_FAMILIES):
        reason = "memory-optimized family and no memory metric (mem_used_percent): not downsized"
        return Finding("memory_bound", reason=reason, evidence=evidence, **base)
    smaller = [t for t in catalog.smaller_sizes(current.name) if memory.size or t.memory_gib >= current.memory_gib / 2]
    fits_percentile = [t for t in smaller if fits(t, current, cpu_at, memory_at, s)]
    if not fits_percentile:
        reason = f"P{s.cpu_percentile:g} CPU {cpu_at:.0f}% + {s.cpu_headroom:.0%} headroom needs this size"
        return Finding("optimized", reason=reason, evidence=evidence, **base)
    candidates = [t for t in fits_percentile if peak_fits(t, current, cpu_peak, memory)]
    if not candidates:
        reason = f"bursty: peaks of {cpu_peak:.0f}% CPU would saturate {fits_percentile[-1].name}; not downsized"
        return Finding("bursty", reason=reason, evidence=evidence, **base)
    target = min(candidates, key=lambda t: (price_ratio(t, current, recent.region), t.vcpu))
    ratio = price_ratio(target, current, recent.region)
    monthly = base["current_monthly_cost"]
    projected = (monthly * ratio).quantize(Decimal("0.01"))
    load = cpu_at * cpu_scale(target, current)
    reason = (
        f"P{s.cpu_percentile:g} CPU {cpu_at:.1f}% of {current.name} would be {load:.0f}% of {target.name} "
        f"(peak {cpu_peak * cpu_scale(target, current):.0f}%)"
    ) + ("" if memory.size else "; memory not measured, so at most half the memory is given up")
    risk = "low" if load * (1 + s.cpu_headroom) <= 60 and memory.size else "medium"
    return Finding(
        "rightsize",
        reason=reason,
        recommended_type=target.name,
        savings_range=saving_range(daily, 1 - ratio),
        risk_level=risk,
        evidence=evidence,
        **{**base, "projected_monthly_cost": min(projected, monthly)},
    )


def fits(
    candidate: InstanceType, current: InstanceType, cpu_at: float, memory_at: float | None, s: RightsizingSettings
) -> bool:
    """The percentile plus headroom, scaled to the candidate's capacity (and memory), stays within 100%."""
    if cpu_at * cpu_scale(candidate, current) * (1 + s.cpu_headroom) > 100:
        return False
    return memory_at is None or memory_at * current.memory_gib / candidate.memory_gib * (1 + s.cpu_headroom) <= 100


def peak_fits(candidate: InstanceType, current: InstanceType, cpu_peak: float, memory: np.ndarray) -> bool:
    """The largest hour seen fits without headroom: what a percentile drops must not saturate the new size."""
    if cpu_peak * cpu_scale(candidate, current) > 100:
        return False
    return not memory.size or float(memory.max()) * current.memory_gib / candidate.memory_gib <= 100


def cpu_scale(candidate: InstanceType, current: InstanceType) -> float:
    """How much busier the same work makes the candidate than the current type.

    Within a family AWS prices in proportion to vCPU, and for burstable types (t3, t4g) in
    proportion to the baseline a size sustains (a t3.medium has a t3.large's 2 vCPU but 2/3 of its
    baseline): the price ratio measures capacity for both, and is conservative for burstables.
    """
    return float(1 / price_ratio(candidate, current, "us-east-1"))


def price_ratio(target: InstanceType, current: InstanceType, region: str) -> Decimal:
    """Target ÷ current on-demand price, in the instance's region when the catalog prices it there.

    The ratio is applied to the bill's own cost of the current type, so a private rate carries over.
    """
    regions = [region] if region in target.on_demand and region in current.on_demand else sorted(target.on_demand)
    common = next(r for r in regions if r in current.on_demand)
    return target.on_demand[common] / current.on_demand[common]


def run_rate(recent: ResourceHistory, start_ms: int, end_ms: int) -> tuple[Decimal, list[Decimal]]:
    """Monthly cost (730 h) at the lookback's average hourly cost, and the monthly rate of each day."""
    hours = max(1, (end_ms - start_ms) // (DAY_MS // 24))
    total = sum(recent.cost, Decimal(0))
    by_day: dict[int, Decimal] = {}
    for hour_ms, cost in zip(recent.hours_ms, recent.cost, strict=True):
        by_day[int(hour_ms) // DAY_MS] = by_day.get(int(hour_ms) // DAY_MS, Decimal(0)) + cost
    first_day, last_day = start_ms // DAY_MS, (end_ms - 1) // DAY_MS
    daily = [by_day.get(day, Decimal(0)) * HOURS_PER_MONTH / 24 for day in range(first_day, last_day + 1)]
    return (total * HOURS_PER_MONTH / hours).quantize(Decimal("0.01")), daily


def saving_range(daily: list[Decimal], fraction: Decimal) -> tuple[Decimal, Decimal]:
    """P10 and P90 of the monthly saving, from the spread of the lookback's daily run rates."""
    values = sorted(daily) or [Decimal(0)]
    low, high = (values[round(q * (len(values) - 1))] for q in (0.1, 0.9))
    return (low * fraction).quantize(Decimal("0.01")), (high * fraction).quantize(Decimal("0.01"))


def quiet_network(recent: ResourceHistory, s: RightsizingSettings) -> bool:
    network = recent.network_bytes[~np.isnan(recent.network_bytes)]
    return not network.size or float(network.sum()) / max(1, network.size / 24) <= s.idle_network_bytes_per_day


def utilization_evidence(recent: ResourceHistory, s: RightsizingSettings, days: int, catalog_date: str) -> dict:
    cpu = recent.cpu_max[~np.isnan(recent.cpu_max)]
    memory = recent.memory_max[~np.isnan(recent.memory_max)]
    network = recent.network_bytes[~np.isnan(recent.network_bytes)]
    quantiles = {f"cpu_p{q}": round(float(np.percentile(cpu, q)), 2) if cpu.size else None for q in (50, 95, 99)}
    return {
        "lookback_days": s.lookback_days,
        "days_with_data": days,
        "data_points": int(cpu.size),
        "percentile": s.cpu_percentile,
        "headroom": s.cpu_headroom,
        **quantiles,
        "cpu_max": round(float(cpu.max()), 2) if cpu.size else None,
        "memory_max": round(float(memory.max()), 2) if memory.size else None,
        "network_bytes_per_day": round(float(network.sum()) / max(1, network.size / 24)) if network.size else None,
        "catalog_date": catalog_date,
    }
