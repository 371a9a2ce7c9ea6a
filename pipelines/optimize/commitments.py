"""Savings Plans and Reserved Instances: how much to commit, chosen exactly over the demand to come.

AWS's purchase recommendations size a commitment on the last 7, 30 or 60 days as if they will
repeat. Here the eligible on-demand demand of the lookback (instance-hours per type and region,
hour by hour) is projected over the coming months by each type's own trend (a Theil–Sen line
through its daily instance-hours, robust to a few odd days) on the pattern of its last week, and
the commitment is the exact optimum over that projection: a mixed-integer program on HiGHS
(``scipy.optimize.milp``) with RI counts as integers and Savings Plan $/h as reals, in the order
AWS applies them (RIs, then EC2 Instance SPs, then Compute SPs, highest discount first). With no
trend the projection is the lookback repeated, which is exactly the look-back-only advice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.stats import theilslopes

from pipelines.anomaly import HOUR_MS
from pipelines.optimize.catalog import Catalog, family_of
from pipelines.optimize.usage import ResourceHistory

HOURS_PER_DAY, DAYS_PER_WEEK = 24, 7
KINDS = ("reserved_instance", "ec2_instance_savings_plan", "compute_savings_plan")
MAX_COLUMNS, GRIDS = 400, (100, 50, 25, 12)  # distinct hours the program takes (distinct_hours)


@dataclass(frozen=True)
class Demand:
    """Eligible on-demand instance-hours per pool (type, region) and hour, with each pool's prices.

    ``discounts[kind][i]`` is the fraction off on-demand a commitment of that kind gives pool i;
    ``groups[i]`` is its EC2 Instance Savings Plan scope (family, region).
    """

    pools: list[tuple[str, str]]  # (instance type, region)
    groups: list[tuple[str, str]]  # (family, region) of each pool
    rates: np.ndarray  # on-demand $/instance-hour per pool
    hours: np.ndarray  # pools × hours, instance-hours
    discounts: dict[str, np.ndarray]

    def scaled(self, hours: np.ndarray) -> Demand:
        return replace(self, hours=hours)

    @property
    def on_demand_cost(self) -> float:
        return float(self.rates @ self.hours.sum(axis=1))


@dataclass(frozen=True)
class Plan:
    """What to buy: RIs per pool (count), EC2 Instance SP $/h per group, Compute SP $/h."""

    reserved: np.ndarray  # per pool
    instance_sp: dict[tuple[str, str], float]
    compute_sp: float


@dataclass(frozen=True)
class Outcome:
    """A plan applied to demand, as AWS would: the cost and how well each commitment is used."""

    cost: float
    on_demand_cost: float
    used: dict[str, float]  # kind → commitment $ used
    committed: dict[str, float]  # kind → commitment $ paid
    covered: float  # on-demand $ covered by any commitment

    @property
    def savings(self) -> float:
        return self.on_demand_cost - self.cost

    @property
    def coverage(self) -> float:
        return self.covered / self.on_demand_cost if self.on_demand_cost else 0.0

    def utilization(self, kind: str | None = None) -> float:
        kinds = [kind] if kind else list(self.committed)
        paid = sum(self.committed[k] for k in kinds)
        return sum(self.used[k] for k in kinds) / paid if paid else 1.0


def project(demand: Demand, days_ahead: int, slope_quantile: str = "median") -> Demand:
    """Each pool's last week, repeated over ``days_ahead`` days and moved along its own trend line.

    ``slope_quantile`` low / high take the 80% confidence bounds of the Theil–Sen slope (the
    savings range), ``stress`` the low bound of a significant trend only (see trend_slope), and
    ``none`` keeps the level flat (the look-back-only projection).
    """
    days = demand.hours.shape[1] // HOURS_PER_DAY
    daily = demand.hours[:, : days * HOURS_PER_DAY].reshape(len(demand.pools), days, HOURS_PER_DAY)
    week = daily[:, -DAYS_PER_WEEK:, :]
    future = np.empty((len(demand.pools), days_ahead * HOURS_PER_DAY))
    for i, pool_days in enumerate(daily.sum(axis=2)):
        slope = trend_slope(pool_days, slope_quantile)
        level_now = max(float(week[i].sum()) / week.shape[1], 1e-12)
        for day in range(days_ahead):
            # the last week's midpoint is 3.5 days before the end of the lookback
            factor = max(0.0, 1 + slope * (day + 0.5 + week.shape[1] / 2) / level_now)
            future[i, day * HOURS_PER_DAY : (day + 1) * HOURS_PER_DAY] = week[i, day % week.shape[1]] * factor
    return demand.scaled(future)


def trend_slope(daily: np.ndarray, which: str) -> float:
    """Instance-hours per day per day: Theil–Sen's slope or a bound of its 80% interval.

    ``median`` counts only when the trend is significant (its 95% interval excludes zero): a
    steady pool's noise would otherwise tilt the projection, and the commitment would do worse
    than look-back-only. ``stress`` is the 80% bound toward less demand of a significant trend
    (flat otherwise): the pessimistic projection commitments must still be well used on.
    """
    if which == "none" or len(daily) < DAYS_PER_WEEK or not daily.any():
        return 0.0
    days = np.arange(len(daily))
    slope, _, low, high = theilslopes(daily, days, alpha=0.8)
    _, _, sure_low, sure_high = theilslopes(daily, days, alpha=0.95)
    significant = not sure_low <= 0 <= sure_high
    if which in ("median", "stress") and not significant:
        return 0.0
    return {"median": slope, "stress": low, "low": low, "high": high}[which]


@dataclass(frozen=True)
class Sizing:
    """A commitment plan for the coming days and the projections it was judged on."""

    expected: Demand  # the trend projection the plan is optimal on
    low: Demand  # 80% bounds of the trend: the savings range
    high: Demand
    plan: Plan


def size_commitments(lookback: Demand, days_ahead: int, min_utilization: float, trend: bool = True) -> Sizing:
    """The cheapest plan for the projected demand that stays well used if a trend is weaker than estimated.

    ``trend`` False sizes on the lookback repeated: the look-back-only advice AWS gives.
    """
    if not trend:
        flat = project(lookback, days_ahead, "none")
        return Sizing(flat, flat, flat, optimal_plan(flat, min_utilization=min_utilization))
    expected = project(lookback, days_ahead)
    stress = project(lookback, days_ahead, "stress")
    plan = optimal_plan(expected, min_utilization=min_utilization, stress=(stress,))
    return Sizing(expected, project(lookback, days_ahead, "low"), project(lookback, days_ahead, "high"), plan)


def optimal_plan(
    demand: Demand,
    kinds: tuple[str, ...] = KINDS,
    min_utilization: float = 0.95,
    max_columns: int | None = MAX_COLUMNS,
    stress: tuple[Demand, ...] = (),
) -> Plan:
    """The cheapest plan over ``demand`` whose commitments are at least ``min_utilization`` used.

    Exact: HiGHS branch and bound on the RI counts. Without the utilization floor the optimum
    happily buys a commitment used only a little more than (1 − discount) of the hours. The
    program may credit coverage to a different plan than AWS's order would (a Compute SP where the
    EC2 Instance SP applies first), so the floor is checked on the plan as AWS applies it and
    raised by the shortfall until it holds, on ``demand`` and on each ``stress`` demand (a
    pessimistic projection the commitments must also be well used on). ``max_columns`` None:
    every distinct hour, exactly (slow on months of projected hours; see distinct_hours).
    """
    floor = min_utilization
    for _ in range(MAX_FLOOR_RAISES):
        plan = _solve(demand, kinds, floor, max_columns)
        shortfall = min_utilization - min(apply_plan(d, plan).utilization() for d in (demand, *stress))
        if shortfall <= 1e-9 or floor >= 1:
            return plan
        floor = min(1.0, floor + shortfall)
    return plan


MAX_FLOOR_RAISES = 6


def _solve(demand: Demand, kinds: tuple[str, ...], min_utilization: float, max_columns: int | None) -> Plan:
    hours, weights = distinct_hours(demand.hours, max_columns)
    demand = demand.scaled(hours)
    pools, hours = demand.hours.shape
    groups = sorted(set(demand.groups))
    group_of = np.array([groups.index(g) for g in demand.groups])
    n_groups = len(groups)
    layout = Layout(pools, n_groups, hours)
    cost = np.zeros(layout.size)
    cost[layout.reserved] = weights.sum() * demand.rates * (1 - demand.discounts["reserved_instance"])
    cost[layout.instance_sp] = weights.sum()
    cost[layout.compute_sp] = weights.sum()
    cost[layout.uncovered] = np.repeat(demand.rates, hours) * np.tile(weights, pools)
    cost[layout.by_instance_sp] = -np.tile(weights, n_groups)
    cost[layout.by_compute_sp] = -np.tile(weights, n_groups)
    constraints = coverage_constraints(demand, layout, group_of)
    constraints.append(utilization_constraint(demand, weights, layout, group_of, cost, min_utilization))
    upper = np.full(layout.size, np.inf)
    upper[layout.uncovered] = demand.hours.ravel()
    for kind, block in (
        ("reserved_instance", layout.reserved),
        ("ec2_instance_savings_plan", layout.instance_sp),
        ("compute_savings_plan", layout.compute_sp),
    ):
        if kind not in kinds:
            upper[block] = 0
    integrality = np.zeros(layout.size)
    integrality[layout.reserved] = 1
    result = milp(cost, constraints=constraints, bounds=Bounds(0, upper), integrality=integrality)
    if result.x is None:
        raise RuntimeError(f"commitment optimization failed: {result.message}")
    x = result.x
    instance_sp = {groups[g]: float(x[layout.instance_sp][g]) for g in range(n_groups)}
    return Plan(np.round(x[layout.reserved]), instance_sp, float(x[layout.compute_sp][0]))


def distinct_hours(hours: np.ndarray, max_columns: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct hours of demand, one column each, and how often each occurs.

    Hours are interchangeable in the program (commitments are the same every hour), so equal hours
    are one column weighted by their count: exact. Projected hours are rarely equal (the trend
    moves every day), so when more than ``max_columns`` remain, each pool's instance-hours are
    rounded to the finest grid of ``GRIDS`` steps of its peak that leaves at most that many:
    2,160 projected hours become a few hundred, and HiGHS solves in about a second instead of half
    a minute. The saving stays within 0.2% of the exact optimum on bench demand and within 1% on
    a fleet of a few instances, where a rounded hour can tip an RI count (tests/unit/
    test_commitments.py). The plan is checked against the exact hours (the utilization floor).
    """
    peak = hours.max(axis=1, keepdims=True)
    for levels in (None, *GRIDS):
        grid = hours if levels is None else np.round(hours / np.where(peak > 0, peak / levels, 1.0))
        distinct, index, counts = np.unique(grid.T, axis=0, return_index=True, return_counts=True)
        if max_columns is None or len(distinct) <= max_columns or levels == GRIDS[-1]:
            break
    if levels is None:
        return hours[:, index], counts.astype(float)
    return distinct.T * np.where(peak > 0, peak / levels, 1.0), counts.astype(float)


@dataclass(frozen=True)
class Layout:
    """Where each block of variables sits in the MILP's vector."""

    pools: int
    groups: int
    hours: int

    def _block(self, start: int, length: int) -> slice:
        return slice(start, start + length)

    @property
    def reserved(self) -> slice:
        return self._block(0, self.pools)

    @property
    def instance_sp(self) -> slice:
        return self._block(self.pools, self.groups)

    @property
    def compute_sp(self) -> slice:
        return self._block(self.pools + self.groups, 1)

    @property
    def uncovered(self) -> slice:  # instance-hours per pool and hour left after RIs
        return self._block(self.pools + self.groups + 1, self.pools * self.hours)

    @property
    def by_instance_sp(self) -> slice:  # on-demand $ per group and hour an EC2 Instance SP covers
        return self._block(self.uncovered.stop, self.groups * self.hours)

    @property
    def by_compute_sp(self) -> slice:  # on-demand $ per group and hour the Compute SP covers
        return self._block(self.by_instance_sp.stop, self.groups * self.hours)

    @property
    def size(self) -> int:
        return self.by_compute_sp.stop


def coverage_constraints(demand: Demand, layout: Layout, group_of: np.ndarray) -> list[LinearConstraint]:
    pools, groups, hours = layout.pools, layout.groups, layout.hours
    hour_index = np.arange(hours)
    rows, cols, vals = [], [], []

    def add(row: np.ndarray, col: np.ndarray, val) -> None:
        rows.append(row)
        cols.append(col)
        vals.append(np.broadcast_to(val, row.shape).astype(float))

    # 1. uncovered + RI count ≥ demand, per pool and hour
    for p in range(pools):
        row = p * hours + hour_index
        add(row, layout.uncovered.start + p * hours + hour_index, 1.0)
        add(row, np.full(hours, layout.reserved.start + p), 1.0)
    first = sparse.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), (pools * hours, layout.size)
    )
    rows, cols, vals = [], [], []
    # 2. SP-covered $ ≤ uncovered on-demand $, per group and hour
    for g in range(groups):
        row = g * hours + hour_index
        add(row, layout.by_instance_sp.start + g * hours + hour_index, 1.0)
        add(row, layout.by_compute_sp.start + g * hours + hour_index, 1.0)
        for p in np.flatnonzero(group_of == g):
            add(row, layout.uncovered.start + p * hours + hour_index, -demand.rates[p])
    # 3. an EC2 Instance SP's $ used per hour ≤ its commitment (the group's pools share one discount)
    instance_discount = group_discounts(demand, group_of, groups, "ec2_instance_savings_plan")
    compute_discount = group_discounts(demand, group_of, groups, "compute_savings_plan")
    for g in range(groups):
        row = groups * hours + g * hours + hour_index
        add(row, layout.by_instance_sp.start + g * hours + hour_index, 1 - instance_discount[g])
        add(row, np.full(hours, layout.instance_sp.start + g), -1.0)
    # 4. the Compute SP's $ used per hour ≤ its commitment
    compute_row = 2 * groups * hours + hour_index
    for g in range(groups):
        add(compute_row, layout.by_compute_sp.start + g * hours + hour_index, 1 - compute_discount[g])
    add(compute_row, np.full(hours, layout.compute_sp.start), -1.0)
    second = sparse.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), ((2 * groups + 1) * hours, layout.size)
    )
    return [
        LinearConstraint(first, lb=demand.hours.ravel(), ub=np.inf),
        LinearConstraint(second, lb=-np.inf, ub=0),
    ]


def utilization_constraint(
    demand: Demand, weights: np.ndarray, layout: Layout, group_of: np.ndarray, cost: np.ndarray, floor: float
) -> LinearConstraint:
    """Commitment $ used ≥ floor × commitment $ paid, over the whole horizon (one row)."""
    groups, hours = len(set(group_of.tolist())), layout.hours
    ri_rate = demand.rates * (1 - demand.discounts["reserved_instance"])
    row = np.zeros(layout.size)
    row[layout.uncovered] = -np.repeat(ri_rate, hours) * np.tile(weights, layout.pools)  # RI used: demand − uncovered
    sp_blocks = {"ec2_instance_savings_plan": layout.by_instance_sp, "compute_savings_plan": layout.by_compute_sp}
    for kind, block in sp_blocks.items():
        row[block] = np.repeat(1 - group_discounts(demand, group_of, groups, kind), hours) * np.tile(weights, groups)
    paid = np.zeros(layout.size)
    for block in (layout.reserved, layout.instance_sp, layout.compute_sp):
        paid[block] = cost[block]
    constant = float(ri_rate @ (demand.hours * weights).sum(axis=1))
    return LinearConstraint((row - floor * paid)[None, :], lb=-constant, ub=np.inf)


def group_discounts(demand: Demand, group_of: np.ndarray, groups: int, kind: str) -> np.ndarray:
    """One discount per group (the catalog's is per family, so every pool of a group has the same)."""
    return np.array([demand.discounts[kind][np.flatnonzero(group_of == g)[0]] for g in range(groups)])


def apply_plan(demand: Demand, plan: Plan) -> Outcome:
    """Apply commitments hour by hour in AWS's order: RIs, EC2 Instance SPs, Compute SP (highest discount first)."""
    hours = demand.hours.shape[1]
    reserved_hours = np.minimum(demand.hours, plan.reserved[:, None])
    remaining = (demand.hours - reserved_hours) * demand.rates[:, None]  # on-demand $ per pool and hour
    ri_paid = float((plan.reserved * demand.rates * (1 - demand.discounts["reserved_instance"])).sum()) * hours
    ri_used = float((reserved_hours * (demand.rates * (1 - demand.discounts["reserved_instance"]))[:, None]).sum())
    covered = float((reserved_hours * demand.rates[:, None]).sum())
    used = {"reserved_instance": ri_used, "ec2_instance_savings_plan": 0.0, "compute_savings_plan": 0.0}
    for group, commitment in plan.instance_sp.items():
        members = [i for i, g in enumerate(demand.groups) if g == group]
        if not members or commitment <= 0:
            continue
        rate = 1 - demand.discounts["ec2_instance_savings_plan"][members[0]]
        spend = remaining[members].sum(axis=0)
        take = np.minimum(spend, commitment / rate)
        share = np.divide(take, spend, out=np.zeros(hours), where=spend > 0)
        remaining[members] *= 1 - share
        used["ec2_instance_savings_plan"] += float(take.sum()) * rate
        covered += float(take.sum())
    capacity = np.full(hours, plan.compute_sp)
    for pool in np.argsort(-demand.discounts["compute_savings_plan"], kind="stable"):
        rate = 1 - demand.discounts["compute_savings_plan"][pool]
        take = np.minimum(remaining[pool], capacity / rate)
        capacity -= take * rate
        remaining[pool] -= take
        used["compute_savings_plan"] += float(take.sum()) * rate
        covered += float(take.sum())
    committed = {
        "reserved_instance": ri_paid,
        "ec2_instance_savings_plan": sum(plan.instance_sp.values()) * hours,
        "compute_savings_plan": plan.compute_sp * hours,
    }
    cost = sum(committed.values()) + float(remaining.sum())
    return Outcome(cost, demand.on_demand_cost, used, committed, covered)


def eligible_demand(
    histories: list[ResourceHistory], catalog: Catalog, start_ms: int, end_ms: int, term_years: int, payment: str
) -> Demand | None:
    """On-demand instance-hours per (type, region) and hour of [start_ms, end_ms): what a commitment could cover.

    Usage already under a commitment or on spot is not eligible; neither is a type the catalog
    cannot price (no discount is known for it). The bill's own on-demand rate wins over the catalog's.
    """
    hours = (end_ms - start_ms) // HOUR_MS
    pools: dict[tuple[str, str], np.ndarray] = {}
    rates: dict[tuple[str, str], float] = {}
    for history in histories:
        known = catalog.get(history.instance_type)
        if known is None:
            continue
        pool = (history.instance_type, history.region)
        counts = pools.setdefault(pool, np.zeros(hours))
        for hour_ms, amount in zip(history.hours_ms, history.on_demand_hours, strict=True):
            if start_ms <= hour_ms < end_ms:
                counts[(int(hour_ms) - start_ms) // HOUR_MS] += float(amount)
        rate = history.billed_rate or catalog.rate(history.instance_type, history.region)
        if rate is not None:
            rates.setdefault(pool, float(rate))
    chosen = sorted(pool for pool, counts in pools.items() if counts.any() and pool in rates)
    if not chosen:
        return None
    return demand_of(
        catalog, chosen, [rates[p] for p in chosen], np.array([pools[p] for p in chosen]), term_years, payment
    )


def demand_of(
    catalog: Catalog, pools: list[tuple[str, str]], rates: list[float], hours: np.ndarray, term_years: int, payment: str
) -> Demand:
    """Demand for these (type, region) pools, with the catalog's discount of every kind for each."""
    families = [family_of(t) for t, _ in pools]
    return Demand(
        pools=pools,
        groups=[(f, region) for f, (_, region) in zip(families, pools, strict=True)],
        rates=np.array(rates),
        hours=hours,
        discounts={
            kind: np.array([float(catalog.discount(f, kind, term_years, payment)) for f in families]) for kind in KINDS
        },
    )
