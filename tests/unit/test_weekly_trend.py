"""The weekly trend candidate: a line and a week read from the last eight weeks, steps read as steps."""

import math
import random
from datetime import date, timedelta

import pytest

from pipelines.weekly_trend import MIN_DAYS, fit_weekly_trend

START = date(2026, 1, 5)  # a Monday
WEEK = (1.0, 1.0, 1.1, 1.0, 0.9, 0.6, 0.5)


def days(costs: list[float]) -> list[tuple[date, float]]:
    return [(START + timedelta(days=n), cost) for n, cost in enumerate(costs)]


def week(n: int) -> float:
    return WEEK[(START + timedelta(days=n)).weekday()]


@pytest.mark.parametrize("seed", range(4))
def test_a_steady_trend_and_its_week_are_read_from_eight_weeks(seed):
    rng = random.Random(seed)
    costs = [100 * math.exp(0.004 * n) * week(n) * math.exp(rng.gauss(0, 0.02)) for n in range(56)]
    trend = fit_weekly_trend(days(costs), START + timedelta(days=55))
    assert abs(trend.slope - 0.004) < 0.001
    for n in range(56, 86):  # the next thirty days, noise-free
        expected = 100 * math.exp(0.004 * n) * week(n)
        assert abs(trend.predict(n - 55, (START + timedelta(days=n)).weekday()) / expected - 1) < 0.04


@pytest.mark.parametrize("seed", range(4))
def test_a_step_is_read_as_a_new_level_not_as_a_trend(seed):
    """Flat, then ×1.5 from day 30: a line through the step would climb ~1%/day; the fit stays flat at the new level."""
    rng = random.Random(seed)
    costs = [100 * (1.5 if n >= 30 else 1.0) * week(n) * math.exp(rng.gauss(0, 0.03)) for n in range(56)]
    trend = fit_weekly_trend(days(costs), START + timedelta(days=55))
    assert abs(trend.slope) < 0.001
    assert abs(trend.predict(1, (START + timedelta(days=56)).weekday()) / (150 * week(56)) - 1) < 0.04


def test_a_trend_the_days_cannot_tell_from_noise_is_shrunk_toward_flat():
    """Flat with 15% noise: the raw least-squares slope wanders; shrunk by its own error, it stays near zero."""
    slopes = []
    for seed in range(20):
        rng = random.Random(seed)
        costs = [50 * week(n) * math.exp(rng.gauss(0, 0.15)) for n in range(42)]
        slopes.append(fit_weekly_trend(days(costs), START + timedelta(days=41)).slope)
    assert sum(abs(s) for s in slopes) / len(slopes) < 0.0008  # the raw least-squares slopes average 0.0013 here


def test_too_few_days_or_an_unseen_weekday_fit_nothing():
    costs = [100.0 * week(n) for n in range(MIN_DAYS - 1)]
    assert fit_weekly_trend(days(costs), START + timedelta(days=MIN_DAYS - 2)) is None
    no_sundays = [(day, cost) for day, cost in days([100.0] * 42) if day.weekday() != 6]
    assert fit_weekly_trend(no_sundays, START + timedelta(days=41)) is None


def next_week_errors(week: tuple[float, ...], noise: float, seed: int) -> list[float]:
    """Relative errors of the next seven days' forecasts (Monday first) after twelve flat, noisy weeks."""
    rng = random.Random(seed)
    costs = [100 * week[n % 7] * math.exp(rng.gauss(0, noise)) for n in range(84)]  # START is a Monday
    trend = fit_weekly_trend(days(costs), START + timedelta(days=83))
    return [trend.predict(h, (h - 1) % 7) / (100 * week[(h - 1) % 7]) - 1 for h in range(1, 8)]


def test_working_days_that_cost_alike_are_read_as_one_level_not_five_noisy_ones():
    """Monday-Friday alike, 15% noise: each weekday alone is read from 12 days (≈4.3% error); pooled, from ~60."""
    workweek = (1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.6)
    errors = [next_week_errors(workweek, 0.15, seed) for seed in range(20)]
    spreads = sorted(math.sqrt(sum(e * e for e in week) / 7) for week in errors)
    assert spreads[len(spreads) // 2] < 0.04  # 0.053 with each weekday read alone


def test_a_weekday_that_really_costs_more_keeps_its_own_level():
    """Mondays ×1.3: pooling toward the working week's mean would forecast them ~18% low."""
    mondays = [next_week_errors((1.3, 1.0, 1.0, 1.0, 1.0, 0.6, 0.6), 0.05, seed)[0] for seed in range(20)]
    assert abs(sum(mondays) / len(mondays)) < 0.01
    assert max(abs(m) for m in mondays) < 0.05
