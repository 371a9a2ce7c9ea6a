"""The on-demand / reserved / spot mix: differential evolution against an exhaustive grid, and its constraints."""

import numpy as np
import pytest

from pipelines.optimize.instance_mix import MixModel, Prices, exhaustive_mix, optimal_mix, poisson_counts
from pipelines.optimize.settings import MixSettings

PRICES = {"on_demand": 0.096, "reserved": 0.0605, "spot": 0.0384}  # m5.large: 1-year RI no upfront, 60% off spot


def small_workload(seed: int) -> np.ndarray:
    """Two weeks of a small diurnal workload: 1–4 instances."""
    rng = np.random.default_rng(seed)
    hours = np.arange(14 * 24)
    return np.round(2 + np.sin(hours * 2 * np.pi / 24) + rng.uniform(0, 1, hours.size))


def model(seed: int, bucket: str, **settings) -> MixModel:
    return MixModel(small_workload(seed), Prices(**PRICES, interruption_bucket=bucket), MixSettings(**settings))


@pytest.mark.parametrize("seed", range(3))
def test_when_spot_is_safe_enough_the_whole_workload_above_nothing_runs_on_spot(seed):
    m = model(seed, "<5%")
    found, grid = optimal_mix(m), exhaustive_mix(m, steps=20)
    assert (grid.reserved, grid.spot_share) == (0, 1.0)
    assert found.cost == pytest.approx(grid.cost, rel=1e-6) and m.feasible(found)


@pytest.mark.parametrize(("seed", "bucket", "minutes"), [(0, ">20%", 60), (1, "15-20%", 45), (2, ">20%", 30)])
def test_under_a_strict_availability_target_evolution_finds_the_grids_optimum(seed, bucket, minutes):
    m = model(seed, bucket, recovery_minutes=minutes, min_availability=0.9999)
    assert not m.feasible(m.mix(0, 1.0)), "all spot must break the target for this case to test anything"
    found, grid = optimal_mix(m), exhaustive_mix(m, steps=50)
    assert m.feasible(found) and found.availability >= 0.9999 and found.performance >= 0.95
    assert found.cost <= grid.cost * (1 + 1e-3)  # no worse than the best point of a 1/50 grid
    assert found.cost >= grid.cost * (1 - 0.02)  # and only better by what the grid's step leaves out
    assert found.reserved == grid.reserved and 0 < found.spot_share < 1
    assert found.cost < m.mix(0, 0.0).cost  # cheaper than all on demand


def test_interruption_draws_are_poisson_with_the_given_rate():
    uniforms = np.random.default_rng(0).random((200_000, 1))
    counts = poisson_counts(uniforms, np.array([0.3]))
    assert counts.mean() == pytest.approx(0.3, rel=0.02) and counts.var() == pytest.approx(0.3, rel=0.03)
