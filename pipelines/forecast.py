"""Rolling 30-day forecasts of a daily cost series, with intervals calibrated on its own errors.

A river-style estimator (``learn_one`` / ``forecast``): a damped-trend level of deseasonalized
days, day-of-week factors (river EWMean), and month-start factors for days 1-3. Every forecast made is kept
until its day arrives; the relative errors seen per horizon bucket feed rolling quantiles
(river RollingQuantile), so the 80% interval widens or narrows with the series' real accuracy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from river import stats

HORIZON_DAYS = 30
BUCKETS = ((1, 7), (8, 14), (15, HORIZON_DAYS))  # horizons whose errors calibrate together
# An 80% interval: the 7th and 93rd percentiles of past relative errors, because the errors of
# consecutive days are correlated and the plain 10th/90th cover only ~75% (bench: BENCHMARKS.md).
LOWER_Q, UPPER_Q = 0.07, 0.93
LEVEL_ALPHA = 0.15
WARMUP_DAYS = 14  # before this, seasonal factors are still settling: nothing is judged unusual
ERROR_WINDOW = 365  # errors per horizon bucket the interval is calibrated on


@dataclass(frozen=True)
class DayForecast:
    """One predicted day of one forecast."""

    made_at: date  # the last day of actuals the forecast knew
    day: date
    predicted: float
    lower: float
    upper: float


def _bucket(horizon: int) -> int:
    return next(i for i, (low, high) in enumerate(BUCKETS) if low <= horizon <= high)


class DailyCostForecaster:
    """Learn one day at a time (in order), forecast the next 30 days.

    A level of deseasonalized days, day-of-week factors (river EWMean) and month-start factors
    for days 1-3; unusual days move it little unless they last. A trend term was measured and
    left out: on daily cost it followed anomalies more than growth (BENCHMARKS.md).
    """

    def __init__(
        self, level_alpha: float = LEVEL_ALPHA, season_alpha: float = 0.15, window: int = ERROR_WINDOW
    ) -> None:
        self.alpha = level_alpha
        self.level: float | None = None
        self.weekday = {d: stats.EWMean(season_alpha) for d in range(7)}
        self.month_start: dict[int, stats.EWMean] = {}
        self.errors = [
            (stats.RollingQuantile(LOWER_Q, window), stats.RollingQuantile(UPPER_Q, window)) for _ in BUCKETS
        ]
        self.pending: dict[date, list[DayForecast]] = defaultdict(list)  # predicted day → forecasts of it
        self.days = 0
        self.last_day: date | None = None
        self.one_step_error = stats.EWMean(0.1)  # typical relative error of a day against expectation
        self.unusual_days = 0

    def _robust(self, cost: float, expected: float) -> float:
        """An unusual day (an anomaly) moves the model by at most 3 typical errors, unless it lasts."""
        typical = max(self.one_step_error.get() or 0.05, 0.01)
        relative = cost / expected - 1 if expected > 0 else 0.0
        self.one_step_error.update(min(abs(relative), 1.0))
        if abs(relative) <= 3 * typical or self.unusual_days >= 3 or self.days < WARMUP_DAYS:
            self.unusual_days = 0
            return cost
        self.unusual_days += 1
        return expected * (1 + (3 * typical if relative > 0 else -3 * typical))

    def _month_factor(self, day: date) -> float:
        return self.month_start[day.day].get() if day.day <= 3 and day.day in self.month_start else 1.0

    def _season(self, day: date) -> float:
        return (self.weekday[day.weekday()].get() or 1.0) * self._month_factor(day)

    def learn_one(self, day: date, cost: float) -> None:
        """Learn a day's actual cost; scores the forecasts that predicted it first."""
        for made in self.pending.pop(day, []):
            if made.predicted > 0:
                lower, upper = self.errors[_bucket((day - made.made_at).days)]
                relative = cost / made.predicted - 1
                lower.update(relative)
                upper.update(relative)
        for stale in [d for d in self.pending if d < day]:  # days the series skipped
            del self.pending[stale]
        if self.level is None:
            self.level = cost
        else:
            expected_level = self.level
            usual = expected_level * (self.weekday[day.weekday()].get() or 1.0)
            if day.day <= 3 and usual > 0:
                self.month_start.setdefault(day.day, stats.EWMean(0.5)).update(max(1.0, cost / usual))
            cost = self._robust(cost, expected_level * self._season(day))
            self.level = self.alpha * cost / max(self._season(day), 1e-9) + (1 - self.alpha) * expected_level
            if self.level > 0:
                self.weekday[day.weekday()].update(cost / self.level / self._month_factor(day))
        self.days += 1
        self.last_day = day

    def forecast(self, horizon: int = HORIZON_DAYS) -> list[DayForecast]:
        """The next ``horizon`` days after the last learned one; remembered to calibrate intervals."""
        if self.last_day is None:
            return []
        out = []
        level = self.level or 0.0
        for h in range(1, horizon + 1):
            day = self.last_day + timedelta(days=h)
            predicted = max(level * self._season(day), 0.0)
            lower_q, upper_q = self.errors[_bucket(h)]
            if lower_q.get() is None or self.days < WARMUP_DAYS:
                low, high = -0.25, 0.25  # until the series has its own error record
            else:
                low, high = min(lower_q.get(), 0.0), max(upper_q.get(), 0.0)
            out.append(
                DayForecast(self.last_day, day, predicted, max(predicted * (1 + low), 0.0), predicted * (1 + high))
            )
        for item in out:
            self.pending[item.day].append(item)
        return out
