"""A weekly pattern on a straight trend through a series' usual days: the model choice's incumbent.

Why a second trend reader: Holt's growth (pipelines/forecast.py) is a ~50-day average of the
level's daily changes, robust to steps but slow, so for weeks it under-forecasts a series that
grows steadily. A least-squares line through the usual days of the last twelve weeks (those
before an adopted level shift scaled to it) reads the same trend at once. A line fitted across a step would
read the step as a trend, so the fit also tries a single level step at every day with a week on
either side, and keeps the best one when the Bayesian information criterion says it explains the
days better than no step (a one-break structural-change regression). The slope is shrunk by its
own standard error (× slope² ÷ (slope² + se²)), so a trend the days cannot tell from noise is not
extrapolated thirty days. The weekday levels are pooled within the working week and the weekend
(empirical Bayes), so five working days that cost alike are read from all their days together.
A series too young for the fit (under three weeks) gets its young week instead (``fit_young_week``).

Fitted on log costs: weekday factors multiply, and forecasts are judged by relative errors.
Measured on the varied bills (BENCHMARKS.md): it forecasts the account totals better than the
model, the damped trend, seasonal naive or any even mix of them, so the model choice makes it the
incumbent (pipelines/model_choice.py). Twelve weeks rather than eight: 0.600 → 0.592 × naive
(shift-free, mean of 20 bills); more is the same on those 90-120-day bills.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

WINDOW_DAYS = 84  # the fit reads the days of the last twelve weeks
MIN_DAYS = 21  # usual days needed for a fit
MIN_PER_WEEKDAY = 2  # each weekday's level needs at least two days of its own
MIN_YOUNG_DAYS = 10  # a young series' week is read once it has this many usual days (and every weekday)
# A young week keeps its trend only this many standard errors from zero. With 3 or 4, flat series'
# worst forecasts were 2.2 or 1.7 × naive's error; with 5, 1.2.
YOUNG_SLOPE_ERRORS = 5
MIN_SEGMENT = 7  # a step leaves at least a week on either side
# A fit with a step counts as 20 parameters, the line's 8 and 12 for the step: its height, its day
# and the search over up to 70 days, which finds a "step" in any noise. With 12 in all, steps read
# in noise cost 0.599 vs 0.592 × naive on the varied bills; 16-30 measured alike.
STEP_PARAMETERS = 20
WEEKDAY_GROUPS = ([0, 1, 2, 3, 4], [5, 6])  # the weekday levels are pooled within a working week and a weekend


@dataclass(frozen=True)
class WeeklyTrend:
    """Each weekday's log cost on the fit's last day, and the trend in log cost per day."""

    log_levels: tuple[float, ...]  # 7, Monday first
    slope: float

    def predict(self, horizon: int, weekday: int) -> float:
        """The cost ``horizon`` days after the fit's last day, on ``weekday`` (before any month-start factor)."""
        return math.exp(self.log_levels[weekday] + self.slope * horizon)


def fit_weekly_trend(days: Sequence[tuple[date, float]], until: date) -> WeeklyTrend | None:
    """The weekly trend of ``days`` (day, positive cost) as of ``until``; None where too few days say it."""
    if len(days) < MIN_DAYS:
        return None
    weekdays, costs, counts = _by_weekday(days)
    if counts.min() < MIN_PER_WEEKDAY:
        return None
    offsets = np.array([(day - until).days for day, _ in days], dtype=float)
    design = np.column_stack([_weekday_columns(weekdays), offsets])
    coef, residuals = _least_squares(design, costs)
    rss = float(residuals @ residuals)
    start, step_rss = _best_step(design, residuals, rss)
    if start is None or _bic(step_rss, len(days), STEP_PARAMETERS) >= _bic(rss, len(days), 8):
        levels = _pooled_levels(coef[:7], counts, _residual_variance(residuals, design))
        return WeeklyTrend(levels, _shrunk_slope(coef, design, residuals, None))
    stepped = np.column_stack([design, np.arange(len(days)) >= start])
    coef, residuals = _least_squares(stepped, costs)
    levels = _pooled_levels(coef[:7] + coef[8], counts, _residual_variance(residuals, stepped))
    return WeeklyTrend(levels, _shrunk_slope(coef, stepped, residuals, start))


def fit_young_week(days: Sequence[tuple[date, float]], until: date) -> WeeklyTrend | None:
    """A young series' week: each weekday's latest day, pooled, on a trend only where the days leave no doubt.

    Why: before three weeks are in, the candidates forecast each weekday as last seen, which
    carries that one day's noise into every forecast; pooled with the other working days (by the
    noise of all the days so far) it carries a fifth of it. The latest day of each weekday, not the
    mean of its days, so a growing series is not read a week late (the mean: 1.18 × naive's error
    at +0.5%/day). A slope through two noisy weeks, extrapolated thirty days, is mostly noise: kept
    only beyond ``YOUNG_SLOPE_ERRORS`` standard errors (kept at any size: 1.13 × naive's error on
    flat series). None until every weekday has a day.
    """
    if len(days) < MIN_YOUNG_DAYS:
        return None
    weekdays, costs, counts = _by_weekday(days)
    if counts.min() < 1:
        return None
    offsets = np.array([(day - until).days for day, _ in days], dtype=float)
    design = np.column_stack([_weekday_columns(weekdays), offsets])
    coef, residuals = _least_squares(design, costs)
    slope = float(coef[7])
    if slope**2 <= YOUNG_SLOPE_ERRORS**2 * _slope_variance(design, residuals, None):
        slope = 0.0
    latest = np.zeros(7)
    for weekday, cost, offset in zip(weekdays, costs, offsets, strict=True):  # oldest first: the latest stays
        latest[weekday] = cost - slope * offset
    return WeeklyTrend(_pooled_levels(latest, np.ones(7), _residual_variance(residuals, design)), slope)


def _by_weekday(days: Sequence[tuple[date, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(each day's weekday, its log cost, how many days each weekday has)."""
    weekdays = np.array([day.weekday() for day, _ in days])
    return weekdays, np.log([cost for _, cost in days]), np.bincount(weekdays, minlength=7)


def _weekday_columns(weekdays: np.ndarray) -> np.ndarray:
    """One indicator column per weekday, Monday first."""
    columns = np.zeros((len(weekdays), 7))
    columns[np.arange(len(weekdays)), weekdays] = 1.0
    return columns


def _pooled_levels(levels: np.ndarray, counts: np.ndarray, noise: float) -> tuple[float, ...]:
    """Each weekday's log level pulled toward its group's (Monday-Friday, Saturday-Sunday) by empirical Bayes.

    Why: a level read from eight or twelve days carries their noise, and on most bills the days
    of a working week really cost alike. Each level keeps spread² ÷ (spread² + its own sampling
    variance) of its distance from the group's count-weighted mean, where spread² is how far the
    group's levels lie apart beyond what their noise explains. Weekdays that really differ keep
    their difference; weekdays that differ only by noise are read as one.
    """
    own = noise / counts  # each level's sampling variance: ``noise`` is one day's
    pooled = levels.astype(float)
    for group in WEEKDAY_GROUPS:
        mean = float(np.average(levels[group], weights=counts[group]))
        spread = max(float(np.mean((levels[group] - mean) ** 2)) - float(np.mean(own[group])), 0.0)
        keep = spread / (spread + own[group]) if spread > 0 else 0.0
        pooled[group] = mean + keep * (levels[group] - mean)
    return tuple(float(v) for v in pooled)


def _best_step(design: np.ndarray, residuals: np.ndarray, rss: float) -> tuple[int | None, float]:
    """The step day that explains most of the residuals, and the residual sum of squares with it.

    Every candidate at once (Frisch-Waugh-Lovell): a step column's part that the weekdays and the
    line do not already explain lowers the sum of squares by (its dot product with the residuals)²
    ÷ its own sum of squares.
    """
    n = len(residuals)
    starts = np.arange(MIN_SEGMENT, n - MIN_SEGMENT + 1)
    if not len(starts):
        return None, rss
    steps = (np.arange(n)[:, None] >= starts[None, :]).astype(float)
    unexplained = steps - design @ np.linalg.lstsq(design, steps, rcond=None)[0]
    gains = (unexplained.T @ residuals) ** 2 / np.maximum((unexplained**2).sum(axis=0), 1e-12)
    best = int(np.argmax(gains))
    return int(starts[best]), rss - float(gains[best])


def _least_squares(design: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients, residuals)."""
    coef = np.linalg.lstsq(design, costs, rcond=None)[0]
    return coef, costs - design @ coef


def _bic(rss: float, n: int, parameters: int) -> float:
    return n * math.log(max(rss / n, 1e-12)) + parameters * math.log(n)


def _shrunk_slope(coef: np.ndarray, design: np.ndarray, residuals: np.ndarray, start: int | None) -> float:
    """The slope times slope² ÷ (slope² + its variance): near zero when the days cannot tell it from noise."""
    slope, variance = float(coef[7]), _slope_variance(design, residuals, start)
    if math.isinf(variance) or slope == 0.0:
        return 0.0
    return slope * slope**2 / (slope**2 + variance)


def _slope_variance(design: np.ndarray, residuals: np.ndarray, start: int | None) -> float:
    """The fitted slope's sampling variance (infinite where the days since ``start`` span no time)."""
    offsets = design[start or 0 :, 7]
    spread = float(((offsets - offsets.mean()) ** 2).sum())
    return _residual_variance(residuals, design) / spread if spread > 0 else math.inf


def _residual_variance(residuals: np.ndarray, design: np.ndarray) -> float:
    """One day's noise (log cost): the residuals' variance, counting the fit's parameters."""
    return float(residuals @ residuals) / max(len(residuals) - design.shape[1], 1)
