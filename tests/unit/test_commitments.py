"""Commitment sizing: the MILP against brute force, AWS's application order, and the trend."""

import itertools

import numpy as np
import pytest

from pipelines.optimize.commitments import Demand, Plan, apply_plan, optimal_plan, project

RATES = np.array([0.096, 0.192, 0.085])
GROUPS = [("m5", "us-east-1"), ("m5", "us-east-1"), ("c5", "us-east-1")]
DISCOUNTS = {
    "reserved_instance": np.array([0.37, 0.37, 0.37]),
    "ec2_instance_savings_plan": np.array([0.36, 0.36, 0.36]),
    "compute_savings_plan": np.array([0.27, 0.27, 0.30]),
}


def demand(hours: np.ndarray) -> Demand:
    pools = [("m5.large", "us-east-1"), ("m5.xlarge", "us-east-1"), ("c5.large", "us-east-1")][: len(hours)]
    n = len(hours)
    return Demand(pools, GROUPS[:n], RATES[:n], hours.astype(float), {k: v[:n] for k, v in DISCOUNTS.items()})


def random_hours(seed: int, pools: int = 3, hours: int = 12) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, (pools, hours)).astype(float)


def cost(d: Demand, reserved, instance_sp: dict | None = None, compute_sp: float = 0.0) -> float:
    return apply_plan(d, Plan(np.array(reserved, dtype=float), instance_sp or {}, compute_sp)).cost


def compute_sp_breakpoints(d: Demand, reserved) -> list[float]:
    """Where the cost of a Compute SP bends, given the RIs: every hour's greedy cumulative coverage."""
    remaining = (d.hours - np.minimum(d.hours, np.array(reserved)[:, None])) * d.rates[:, None]
    order = np.argsort(-d.discounts["compute_savings_plan"], kind="stable")
    steps = remaining[order] * (1 - d.discounts["compute_savings_plan"][order])[:, None]
    return [0.0, *np.cumsum(steps, axis=0).ravel().tolist()]


@pytest.mark.parametrize("seed", range(5))
def test_ris_and_a_compute_savings_plan_match_brute_force(seed):
    d = demand(random_hours(seed))
    plan = optimal_plan(d, ("reserved_instance", "compute_savings_plan"), min_utilization=0)
    best = min(
        cost(d, reserved, compute_sp=c)
        for reserved in itertools.product(range(4), repeat=3)
        for c in compute_sp_breakpoints(d, reserved)
    )
    assert apply_plan(d, plan).cost == pytest.approx(best, rel=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_ec2_instance_savings_plans_match_brute_force(seed):
    d = demand(random_hours(seed, pools=2))
    plan = optimal_plan(d, ("ec2_instance_savings_plan",), min_utilization=0)
    spend = (d.hours * d.rates[:, None]).sum(axis=0) * (1 - 0.36)
    best = min(cost(d, [0, 0], {GROUPS[0]: e}) for e in [0.0, *spend.tolist()])
    assert apply_plan(d, plan).cost == pytest.approx(best, rel=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_no_plan_beats_the_optimum_with_all_three_kinds(seed):
    d = demand(random_hours(seed, hours=24))
    optimum = apply_plan(d, optimal_plan(d, min_utilization=0)).cost
    rng = np.random.default_rng(100 + seed)
    for _ in range(300):
        reserved = rng.integers(0, 4, 3)
        instance_sp = {GROUPS[0]: rng.uniform(0, 0.4), GROUPS[2]: rng.uniform(0, 0.2)}
        assert cost(d, reserved, instance_sp, rng.uniform(0, 0.4)) >= optimum - 1e-9


def test_ris_apply_before_savings_plans_and_the_compute_plan_takes_the_highest_discount_first():
    d = demand(np.array([[2.0] * 4, [0.0] * 4, [1.0] * 4]))
    outcome = apply_plan(d, Plan(np.array([1.0, 0, 0]), {}, compute_sp=0.085 * 0.7))
    assert outcome.used["reserved_instance"] == pytest.approx(outcome.committed["reserved_instance"])
    # the Compute SP covers the c5 hour (30% off) before the second m5 hour (27% off)
    assert outcome.cost == pytest.approx(4 * (0.096 * 0.63 + 0.085 * 0.7 + 0.096))


def test_savings_are_never_negative_and_utilization_meets_its_floor():
    for seed in range(5):
        d = demand(random_hours(seed, hours=48))
        outcome = apply_plan(d, optimal_plan(d))
        assert outcome.savings >= -1e-9
        assert outcome.utilization() >= 0.95 - 1e-6


def test_the_projection_follows_a_trend_and_a_flat_one_repeats_the_lookback():
    days = 28
    growing = np.repeat(np.linspace(4, 10, days), 24)[None, :]
    d = demand(growing)
    assert project(d, 30).hours.mean() > project(d, 30, "none").hours.mean() * 1.2
    shrinking = demand(growing[:, ::-1].copy())
    assert project(shrinking, 30).hours.mean() < project(shrinking, 30, "none").hours.mean() * 0.8
    flat = demand(np.full((1, days * 24), 3.0))
    assert np.allclose(project(flat, 30).hours, 3.0)
    # a shrinking workload gets a smaller commitment than the look-back-only advice would buy
    trend_aware = optimal_plan(project(shrinking, 90)).reserved.sum()
    look_back_only = optimal_plan(project(shrinking, 90, "none")).reserved.sum()
    assert trend_aware < look_back_only


def test_equal_hours_merge_exactly_and_a_long_projection_solves_near_the_exact_optimum():
    repeated = demand(np.tile(random_hours(7, hours=6), 40))  # 240 hours, 6 distinct: merged, still exact
    assert apply_plan(repeated, optimal_plan(repeated)).cost == pytest.approx(
        apply_plan(repeated, optimal_plan(repeated, max_columns=None)).cost, rel=1e-9
    )
    rng = np.random.default_rng(3)
    base = 4 + 3 * np.sin(np.arange(168) * 2 * np.pi / 24)[None, :] + rng.uniform(0, 2, (3, 168))
    trending = project(demand(np.tile(base, 2) * np.linspace(1, 1.3, 336)), 10)  # 240 distinct hours
    rounded, exact = optimal_plan(trending, max_columns=60), optimal_plan(trending, max_columns=None)
    assert apply_plan(trending, rounded).savings >= 0.99 * apply_plan(trending, exact).savings
    assert apply_plan(trending, rounded).utilization() >= 0.95
