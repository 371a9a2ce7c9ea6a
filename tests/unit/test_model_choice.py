"""Model choice per series: each series ends up forecast by what forecasts it best."""

import math
import random
from datetime import date, timedelta

import pytest

from pipelines.anomaly import restored_ewmean
from pipelines.forecast import BUCKETS, DailyCostForecaster
from pipelines.model_choice import CANDIDATES, ERROR_FADING, MIN_SCORED, ModelChoice

START = date(2026, 1, 5)  # a Monday


def forecast_errors(costs: list[float], scored_from: int) -> tuple[DailyCostForecaster, list[float]]:
    """Learn ``costs`` day by day; the absolute percentage errors of every forecast of a day ≥ ``scored_from``."""
    forecaster, errors = DailyCostForecaster(), []
    actual = {START + timedelta(days=n): cost for n, cost in enumerate(costs)}
    for day, cost in actual.items():
        forecaster.learn_one(day, cost)
        for point in forecaster.forecast():
            if point.day in actual and (point.day - START).days >= scored_from:
                errors.append(abs(point.predicted - actual[point.day]) / actual[point.day])
    return forecaster, errors


def test_a_series_whose_week_changed_shape_falls_back_to_last_week():
    """Weekends triple on day 70 and stay so: the series' forecasts move to seasonal naive.

    The model's weekday factors take months to follow; last week's actuals know at once.
    """
    costs = [
        100.0 * ((0.5 if n < 70 else 1.5) if (START + timedelta(days=n)).weekday() >= 5 else 1.0) for n in range(180)
    ]
    forecaster, errors = forecast_errors(costs, scored_from=120)
    naive = CANDIDATES.index("seasonal_naive")
    assert all(forecaster.choice.weights(b)[naive] > 0.9 for b in range(len(BUCKETS)))
    assert sum(errors) / len(errors) < 0.02  # the model alone is still ~25% off on weekends here


def test_a_steady_noisy_series_is_not_handed_to_last_week():
    """Noise of 10% a day: last week's actual carries its noise into the forecast, the model averages it out."""
    rng = random.Random(7)
    costs = [
        100 * (0.7 if (START + timedelta(days=n)).weekday() >= 5 else 1.0) * math.exp(rng.gauss(0, 0.1))
        for n in range(150)
    ]
    forecaster, _ = forecast_errors(costs, scored_from=0)
    naive = CANDIDATES.index("seasonal_naive")
    for bucket in range(len(BUCKETS)):
        weights = forecaster.choice.weights(bucket)
        assert weights[naive] == min(weights) and weights[naive] < 0.25, weights


def test_young_steadily_growing_series_hand_their_long_horizons_to_the_weekly_trend():
    """+0.6%/day from day one: the model's growth needs ~50 days to learn it, a line through the weeks has it now.

    By day 70 the 15-30-day forecasts of nearly every such series are the weekly trend's, which
    has been the nearer of the two (noise can make the model the nearer on a few).
    """
    model, trend = CANDIDATES.index("model"), CANDIDATES.index("weekly_trend")
    handed, errors = 0, {model: [], trend: []}
    for seed in range(12):
        rng = random.Random(seed)
        weekend = [0.7 if (START + timedelta(days=n)).weekday() >= 5 else 1.0 for n in range(70)]
        costs = [(100 + 0.6 * n) * weekend[n] * math.exp(rng.gauss(0, 0.03)) for n in range(70)]
        forecaster, _ = forecast_errors(costs, scored_from=0)
        handed += forecaster.choice.weights(2)[trend] > 0.6
        for candidate in errors:
            errors[candidate].append(forecaster.choice.errors[candidate][2].get())
    assert handed >= 10
    assert sum(errors[trend]) < 0.7 * sum(errors[model])


@pytest.mark.parametrize(("noise", "growth"), [(0.1, 0.0), (0.02, 0.005)])
def test_a_series_in_its_first_three_weeks_is_forecast_better_than_by_last_week(noise, growth):
    """Flat with 10% daily noise, or growing 0.5% a day with 2%: each weekday as last seen carries its noise.

    Forecasts made on days 13-21, against the naive forecasts of the same days: 0.99 × their error
    before the young week (it was the naive forecast); now 0.85 and 0.75.
    """
    ours, naive = 0.0, 0.0
    for seed in range(20):
        rng = random.Random(seed)
        week = [0.6 if (START + timedelta(days=n)).weekday() >= 5 else 1.0 for n in range(60)]
        actual = {
            START + timedelta(days=n): 100 * (1 + growth * n) * week[n] * math.exp(rng.gauss(0, noise))
            for n in range(60)
        }
        forecaster = DailyCostForecaster()
        for n, (day, cost) in enumerate(list(actual.items())[:21]):
            forecaster.learn_one(day, cost)
            for point in forecaster.forecast() if n >= 12 else ():
                last_seen = actual[day - timedelta(days=(day.weekday() - point.day.weekday()) % 7)]
                ours += abs(point.predicted / actual[point.day] - 1)
                naive += abs(last_seen / actual[point.day] - 1)
    assert ours < 0.9 * naive


def test_the_weekly_trend_alone_forecasts_until_every_candidate_has_a_record():
    choice = ModelChoice(len(BUCKETS), 30)
    trend = CANDIDATES.index("weekly_trend")
    assert choice.weights(0) == tuple(float(c == trend) for c in range(len(CANDIDATES)))
    costs = [100.0 + n for n in range(21 + 3)]
    forecaster, _ = forecast_errors(costs, scored_from=0)
    scored = forecaster.choice.scored
    assert min(s[0] for s in scored) > 0 and all(s[2] < MIN_SCORED for s in scored)
    assert forecaster.choice.weights(2)[trend] == 1.0


def recorded(errors: dict[str, float]) -> ModelChoice:
    """A model choice whose candidates all have a full record in bucket 0, with these recent errors."""
    choice = ModelChoice(len(BUCKETS), 30)
    for name, error in errors.items():
        c = CANDIDATES.index(name)
        choice.errors[c][0] = restored_ewmean(ERROR_FADING, error)
        choice.scored[c][0] = MIN_SCORED
    return choice


def test_a_challenger_about_as_good_as_the_weekly_trend_does_not_take_the_series_over():
    """10% better over a month of scores is noise, not evidence: the incumbent keeps nearly all the weight."""
    choice = recorded({"model": 0.045, "seasonal_naive": 0.08, "damped_trend": 0.06, "weekly_trend": 0.05})
    assert choice.weights(0)[CANDIDATES.index("weekly_trend")] > 0.85


def test_a_challenger_with_a_fraction_of_the_weekly_trends_error_takes_the_series_over():
    choice = recorded({"model": 0.05, "seasonal_naive": 0.01, "damped_trend": 0.06, "weekly_trend": 0.05})
    assert choice.weights(0)[CANDIDATES.index("seasonal_naive")] > 0.95


def test_a_series_whose_spend_stopped_keeps_only_its_last_month_of_bases():
    """Zero-cost days score nothing, but the forecasts they end must still be forgotten (state stays small)."""
    forecaster, _ = forecast_errors([100.0] * 40 + [0.0] * 60, scored_from=10**6)
    assert len(forecaster.choice.bases) <= 31
