"""Rolling 30-day forecasts of a daily cost series, with intervals calibrated on its own errors.

A river-style estimator (``learn_one`` / ``forecast``): a level (river EWMean of deseasonalized
days), day-of-week factors, and month-start factors for days 1-3. Every forecast made is kept
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
LOWER_Q, UPPER_Q = 0.1, 0.9  # an 80% prediction interval


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
    """Learn one day at a time (in order), forecast the next 30 days."""

    def __init__(self, level_alpha: float = 0.25, season_alpha: float = 0.15, window: int = 120) -> None:
        self.level = stats.EWMean(level_alpha)
        self.weekday = {d: stats.EWMean(season_alpha) for d in range(7)}
        self.month_start: dict[int, stats.EWMean] = {}
        self.errors = [
            (stats.RollingQuantile(LOWER_Q, window), stats.RollingQuantile(UPPER_Q, window)) for _ in BUCKETS
        ]
        self.pending: dict[date, list[DayForecast]] = defaultdict(list)  # predicted day → forecasts of it
        self.days = 0
        self.last_day: date | None = None

    def _season(self, day: date) -> float:
        factor = self.weekday[day.weekday()].get() or 1.0
        if day.day <= 3 and day.day in self.month_start:
            factor *= self.month_start[day.day].get()
        return factor

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
        season = self._season(day)
        if self.days == 0:
            self.level.update(cost)
        else:
            usual = (self.level.get() or 0.0) * season
            if day.day <= 3 and usual > 0:
                self.month_start.setdefault(day.day, stats.EWMean(0.5)).update(max(1.0, cost / usual))
            level = self.level.get() or cost or 1.0
            if level > 0:
                self.weekday[day.weekday()].update(cost / level / (self._season_month(day)))
            self.level.update(cost / max(self._season(day), 1e-9))
        self.days += 1
        self.last_day = day

    def _season_month(self, day: date) -> float:
        if day.day <= 3 and day.day in self.month_start:
            return self.month_start[day.day].get()
        return 1.0

    def forecast(self, horizon: int = HORIZON_DAYS) -> list[DayForecast]:
        """The next ``horizon`` days after the last learned one; remembered to calibrate intervals."""
        if self.last_day is None:
            return []
        out = []
        level = self.level.get() or 0.0
        for h in range(1, horizon + 1):
            day = self.last_day + timedelta(days=h)
            predicted = max(level * self._season(day), 0.0)
            lower_q, upper_q = self.errors[_bucket(h)]
            if lower_q.get() is None or self.days < 14:
                low, high = -0.25, 0.25  # until the series has its own error record
            else:
                low, high = min(lower_q.get(), 0.0), max(upper_q.get(), 0.0)
            out.append(
                DayForecast(self.last_day, day, predicted, max(predicted * (1 + low), 0.0), predicted * (1 + high))
            )
        for item in out:
            self.pending[item.day].append(item)
        return out
