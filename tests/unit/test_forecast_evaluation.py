"""The forecast evaluation: coverage counted on every horizon, bills that vary, an anchor scored alike."""

import math
import random
from datetime import date, datetime, timedelta

from bench.forecast_anchors import autoets_forecasts
from bench.labelled_cur import varied_series
from pipelines.evaluation import forecast_metrics
from pipelines.forecast import HORIZON_DAYS

START = date(2026, 6, 1)


def forecast(made_at: date, day: date, predicted: float, lower: float, upper: float) -> dict:
    return {
        "account_id": "111111111111",
        "service": "*",
        "made_at": made_at.isoformat(),
        "date": day.isoformat(),
        "predicted_cost": predicted,
        "lower": lower,
        "upper": upper,
    }


def test_interval_coverage_is_counted_on_all_horizons_and_on_shift_free_ones_apart():
    actuals = {("111111111111", START + timedelta(days=n)): 100.0 for n in range(60)}
    made = [START + timedelta(days=14), START + timedelta(days=40)]
    forecasts = [
        forecast(made[0], made[0] + timedelta(days=1), 100, 90, 110),  # covered, shift-free
        forecast(made[0], made[0] + timedelta(days=2), 100, 101, 110),  # missed, shift-free
        forecast(made[1], made[1] + timedelta(days=1), 100, 90, 110),  # covered, near the shift
        forecast(made[1], made[1] + timedelta(days=2), 100, 90, 110),  # covered, near the shift
    ]
    shifts = {"111111111111": [datetime(2026, 7, 20)]}
    metrics = forecast_metrics(forecasts, actuals, shifts)
    assert metrics["interval_coverage"] == 0.75 and metrics["days_scored"] == 4
    assert metrics["no_shift_interval_coverage"] == 0.5 and metrics["no_shift_days_scored"] == 2


def test_days_after_a_shift_the_forecast_could_not_have_seen_are_reported_apart():
    """Only a day on or after a shift that began after the forecast was made counts as unseen."""
    shift = START + timedelta(days=30)
    actuals = {("111111111111", START + timedelta(days=n)): 100.0 if n < 30 else 200.0 for n in range(60)}
    before, after = START + timedelta(days=25), START + timedelta(days=35)
    forecasts = [
        forecast(before, before + timedelta(days=2), 100, 90, 110),  # before the shift: seen in time
        forecast(before, before + timedelta(days=6), 100, 90, 110),  # after it: unseen, the model 50% off
        forecast(after, after + timedelta(days=1), 200, 190, 210),  # made after it: seen
    ]
    metrics = forecast_metrics(forecasts, actuals, {"111111111111": [datetime.combine(shift, datetime.min.time())]})
    assert metrics["unseen_shift_days_scored"] == 1 and metrics["unseen_shift_mape"] == 0.5
    assert metrics["unseen_shift_seasonal_naive_mape"] == 0.5  # last week's 100 is as wrong


def test_varied_bills_span_the_character_of_real_bills():
    bills = [varied_series(random.Random(seed)) for seed in range(40)]
    series = [s for bill in bills for s in bill]
    assert {len({s.account for s in bill}) for bill in bills} == {2, 3, 4}
    assert min(s.base for s in series) < 0.5 and max(s.base for s in series) > 100
    assert min(s.noise for s in series) < 0.05 and max(s.noise for s in series) > 0.18
    assert min(s.weekend for s in series) < 0.6 and max(s.weekend for s in series) > 0.9
    assert min(s.trend_per_day for s in series) < -0.001 and max(s.trend_per_day for s in series) > 0.003
    assert any(s.diurnal == 0 for s in series) and any(s.diurnal > 0.4 for s in series)
    assert {s.resources for s in series} == {1, 2, 3, 4, 5}
    assert any(s.weekly_burst for s in series) and any(s.month_start_run for s in series)
    per_account = [sum(s.account == a for s in bill) for bill in bills for a in {s.account for s in bill}]
    assert min(per_account) == 3 and max(per_account) == 10


def test_the_anchor_forecasts_from_the_models_cutoffs_and_learns_a_weekly_pattern():
    actuals = {
        ("111111111111", START + timedelta(days=n)): 100 * (0.6 if (START + timedelta(days=n)).weekday() >= 5 else 1)
        + 2 * math.sin(n)
        for n in range(90)
    }
    cutoffs = [START + timedelta(days=d) for d in (20, 50)]
    model = [forecast(made, made + timedelta(days=1), 0, 0, 0) for made in cutoffs]
    anchor = autoets_forecasts(model, actuals)
    assert len(anchor) == 2 * HORIZON_DAYS
    assert {a["made_at"] for a in anchor} == {c.isoformat() for c in cutoffs}
    assert all(a["lower"] <= a["predicted_cost"] <= a["upper"] for a in anchor)
    scored = [a for a in anchor if ("111111111111", date.fromisoformat(a["date"])) in actuals]
    errors = [abs(a["predicted_cost"] / actuals[("111111111111", date.fromisoformat(a["date"]))] - 1) for a in scored]
    assert sum(errors) / len(errors) < 0.05  # weekends at 60% of weekdays are forecast, not averaged away
