"""Live accuracy: every forecast is scored once, when its day arrives, against what was issued."""

import math
import random
from datetime import date, timedelta

from pipelines.evaluation import live_accuracy
from pipelines.forecast import HORIZON_DAYS, DailyCostForecaster
from pipelines.spend_monitor import ForecastAccuracy

START = date(2026, 3, 2)


def test_each_forecast_is_scored_once_with_the_interval_and_naive_forecast_it_was_issued_beside():
    rng = random.Random(5)
    forecaster, issued, scored, actual = DailyCostForecaster(), {}, [], {}
    for n in range(90):
        day = START + timedelta(days=n)
        actual[day] = 0.0 if n == 50 else 100 * (0.6 if day.weekday() >= 5 else 1.0) * math.exp(rng.gauss(0, 0.1))
        scored += forecaster.learn_one(day, actual[day])
        issued.update({(f.made_at, f.day): f for f in forecaster.forecast()})
    keys = [(s.made_at, s.day) for s in scored]
    assert len(keys) == len(set(keys)) == sum(1 for _, day in issued if day in actual)
    for score in scored:
        forecast = issued[(score.made_at, score.day)]
        assert (score.predicted, score.lower, score.upper) == (forecast.predicted, forecast.lower, forecast.upper)
        assert score.actual == actual[score.day] and 1 <= score.horizon <= HORIZON_DAYS
        last_week = score.made_at - timedelta(days=(score.made_at - score.day).days % 7)
        assert score.naive == actual.get(last_week)  # None before a week of history
        assert score.covered == (forecast.lower <= actual[score.day] <= forecast.upper)
    assert all(s.ape is None for s in scored if s.actual == 0)  # a day without cost has no percentage error


def test_the_summary_per_horizon_bucket_is_what_the_scores_say():
    forecaster, records = DailyCostForecaster(), []
    for n in range(80):
        day = START + timedelta(days=n)
        scores = forecaster.learn_one(day, 100.0 + n)
        records += [ForecastAccuracy("a", "*", s).record() for s in scores]
        forecaster.forecast()
    summary = live_accuracy(records)
    week = [r for r in records if r["horizon_days"] <= 7]
    assert summary["1-7"]["scored"] == len(week)
    naive = [r for r in week if r["naive_ape"] is not None]  # the first week has no naive forecast of every day
    assert 0 < len(naive) < len(week)
    assert summary["1-7"]["mape"] == round(sum(r["ape"] for r in week) / len(week), 4)
    assert summary["1-7"]["seasonal_naive_mape"] == round(sum(r["naive_ape"] for r in naive) / len(naive), 4)
    assert summary["1-7"]["interval_coverage"] == round(sum(r["covered"] for r in week) / len(week), 4)
    assert sum(bucket["scored"] for bucket in summary.values()) == len(records)
