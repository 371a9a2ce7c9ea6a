"""The on-demand / reserved / spot mix of one workload: the cheapest that still performs and stays up.

A workload's hourly demand ``d_h`` (instances needed) is served by ``R`` reserved instances (paid
every hour), then a share ``s`` of what is above them on spot, the rest on demand. Spot instances
are interrupted at their family's Spot Instance Advisor bucket (its midpoint, per instance-month),
independently, and an interrupted one is replaced after ``recovery_minutes``; the capacity lost
meanwhile is drawn by Monte Carlo with the same random numbers for every mix (common random
numbers: the search compares like with like, and the result is reproducible). Performance is the
mean share of the needed capacity available; availability the share of hours in which at least
``min_performance`` of it is. ``scipy.optimize.differential_evolution`` finds the cheapest
(R, s) with performance ≥ 0.95 and availability ≥ 0.999 (the design's ResourceOptimizer);
``exhaustive_mix`` searches a grid, for the tests to check it against.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from scipy.optimize import NonlinearConstraint, differential_evolution

from pipelines.optimize.catalog import HOURS_PER_MONTH, Catalog, family_of
from pipelines.optimize.settings import MixSettings
from pipelines.optimize.usage import HOUR_MS, ResourceHistory

# the Spot Instance Advisor's monthly interruption-frequency buckets, at their midpoints
BUCKET_RATE = {"<5%": 0.025, "5-10%": 0.075, "10-15%": 0.125, "15-20%": 0.175, ">20%": 0.25}
MAX_INTERRUPTIONS = 8  # per hour and workload: beyond this the Poisson tail is below 1e-12 here


@dataclass(frozen=True)
class Prices:
    """$/instance-hour of each way to run the workload's instance type."""

    on_demand: float
    reserved: float  # effective hourly cost of an RI, paid whether used or not
    spot: float
    interruption_bucket: str


@dataclass(frozen=True)
class Mix:
    reserved: int  # RIs
    spot_share: float  # of the demand above the RIs
    cost: float  # over the demand's hours
    performance: float
    availability: float


class MixModel:
    """Cost, performance and availability of any mix for one workload's demand."""

    def __init__(self, demand: np.ndarray, prices: Prices, settings: MixSettings, seed: int = 0) -> None:
        self.demand, self.prices, self.settings = demand.astype(float), prices, settings
        self.peak = int(np.ceil(self.demand.max())) if self.demand.size else 0
        self.per_hour = BUCKET_RATE[prices.interruption_bucket] / HOURS_PER_MONTH
        self.draws = np.random.default_rng(seed).random((settings.simulations, self.demand.size))

    def split(self, reserved: int, spot_share: float) -> tuple[np.ndarray, np.ndarray]:
        """Instance-hours on spot and on demand, per hour."""
        above = np.maximum(self.demand - reserved, 0.0)
        return above * spot_share, above * (1 - spot_share)

    def cost(self, reserved: int, spot_share: float) -> float:
        spot, on_demand = self.split(reserved, spot_share)
        hours = self.demand.size
        p = self.prices
        return reserved * p.reserved * hours + float(spot.sum()) * p.spot + float(on_demand.sum()) * p.on_demand

    def service(self, reserved: int, spot_share: float) -> tuple[float, float]:
        """(performance, availability) under simulated interruptions."""
        spot, _ = self.split(reserved, spot_share)
        interrupted = poisson_counts(self.draws, spot * self.per_hour)
        lost = interrupted * self.settings.recovery_minutes / 60
        needed = np.where(self.demand > 0, self.demand, 1.0)
        share = np.where(self.demand > 0, np.clip(1 - lost / needed, 0, 1), 1.0)
        return float(share.mean()), float((share >= self.settings.min_performance).mean())

    def mix(self, reserved: int, spot_share: float) -> Mix:
        return Mix(reserved, spot_share, self.cost(reserved, spot_share), *self.service(reserved, spot_share))

    def feasible(self, mix: Mix) -> bool:
        s = self.settings
        return mix.performance >= s.min_performance and mix.availability >= s.min_availability


def poisson_counts(uniforms: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Poisson draws by inverse transform of fixed uniforms (each hour's rate broadcast over simulations)."""
    term = np.exp(-rates) * np.ones_like(uniforms)
    cumulative, counts = term.copy(), np.zeros_like(uniforms)
    for k in range(1, MAX_INTERRUPTIONS + 1):
        counts += uniforms > cumulative
        term = term * rates / k
        cumulative = cumulative + term
    return counts


def optimal_mix(model: MixModel, seed: int = 0) -> Mix:
    """The cheapest feasible (R, s) by differential evolution; all on demand when nothing else is feasible."""
    if model.peak == 0:
        return model.mix(0, 0.0)

    def unpack(x: np.ndarray) -> tuple[int, float]:
        return int(round(x[0])), float(x[1])

    constraint = NonlinearConstraint(
        lambda x: model.service(*unpack(x)),
        [model.settings.min_performance, model.settings.min_availability],
        [1.0, 1.0],
    )
    result = differential_evolution(
        lambda x: model.cost(*unpack(x)),
        bounds=[(0, model.peak), (0.0, 1.0)],
        constraints=constraint,
        integrality=[True, False],
        seed=seed,
        polish=False,
        tol=1e-8,
        maxiter=200,
    )
    best = model.mix(*unpack(result.x))
    fallback = model.mix(0, 0.0)
    return best if model.feasible(best) and best.cost <= fallback.cost else fallback


@dataclass(frozen=True)
class Workload:
    """The instances of one account, service, family, region and workload tag, as one demand."""

    key: tuple[str, str, str, str]  # service, family, region, workload
    reference_type: str  # demand is counted in instances of this type (the one it uses most)
    demand: np.ndarray  # instances of the reference type needed, per hour of the lookback
    prices: Prices
    cost: Decimal  # what the lookback's hours cost as billed
    instances: int


def workloads(
    histories: list[ResourceHistory], catalog: Catalog, start_ms: int, end_ms: int, term_years: int, payment: str
) -> list[tuple[Workload, list[ResourceHistory]]]:
    """Each tagged workload over [start_ms, end_ms), with its histories; sizes converted by on-demand price."""
    groups: dict[tuple, list[ResourceHistory]] = defaultdict(list)
    for history in histories:
        if history.workload and catalog.rate(history.instance_type, history.region) is not None:
            key = (history.service, family_of(history.instance_type), history.region, history.workload)
            groups[key].append(history)
    found = []
    for key, members in sorted(groups.items()):
        windows = [m.window(start_ms, end_ms) for m in members]
        used = defaultdict(float)
        for w in windows:
            used[w.instance_type] += float(sum(w.instance_hours, Decimal(0)))
        reference = max(sorted(used), key=used.get)
        rate = catalog.rate(reference, key[2])
        demand = np.zeros((end_ms - start_ms) // HOUR_MS)
        for w in windows:
            ratio = float(catalog.rate(w.instance_type, key[2]) / rate)
            for hour_ms, amount in zip(w.hours_ms, w.instance_hours, strict=True):
                demand[(int(hour_ms) - start_ms) // HOUR_MS] += float(amount) * ratio
        spot = catalog.spot[key[1]]
        prices = Prices(
            on_demand=float(rate),
            reserved=float(rate * (1 - catalog.discount(key[1], "reserved_instance", term_years, payment))),
            spot=float(rate * (1 - spot.discount)),
            interruption_bucket=spot.interruption_bucket,
        )
        cost = sum((c for w in windows for c in w.cost), Decimal(0))
        found.append((Workload(key, reference, demand, prices, cost, len({m.resource_id for m in members})), members))
    return found


def exhaustive_mix(model: MixModel, steps: int = 100) -> Mix:
    """The cheapest feasible mix on the grid: every RI count, spot share in 1/``steps``."""
    candidates = (model.mix(r, s / steps) for r in range(model.peak + 1) for s in range(steps + 1))
    return min((m for m in candidates if model.feasible(m)), key=lambda m: m.cost)
