"""Rolling 30-day forecasts of a daily cost series, with intervals calibrated on its own errors.

A river-style estimator (``learn_one`` / ``forecast``): Holt's level and growth of deseasonalized
days, day-of-week factors (mean 1), and month-start factors for days 1-3 that recur two months
running. Unusual days (anomalies) are treated as missing unless they settle at a new level, which
is then adopted at once with the growth kept in proportion, and for a week after, the level's
moves correct the step's size instead of feeding growth; month starts are treated as missing
until their factor is known. A new level is recognised after three unusual days that agree, or after one
when the day's six-hour quarters show it held from yesterday evening through today: a spike
covers a few quarters and a leak's ramp spreads them apart, where a step moves them all alike.
For its first three weeks a series is forecast seasonal-naively (each weekday as last seen), as
its factors are not yet worth more. Every forecast made is kept until its day
arrives; the relative errors seen per horizon bucket make the 80% interval (split conformal: the
empirical quantiles of the series' own out-of-sample errors), and adaptive conformal inference
(Gibbs & Candès, 2021) moves the quantile level with every scored day, widening after misses and
narrowing after hits, so the coverage tracks 80% on this series as it changes, whatever its
errors' shape or correlation.
"""

from __future__ import annotations

import math
from array import array
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from river import stats

from pipelines.anomaly import restored_ewmean
from pipelines.model_choice import Basis, ModelChoice
from pipelines.packed import pack, unpack
from pipelines.weekly_trend import WINDOW_DAYS, WeeklyTrend, fit_weekly_trend, fit_young_week

HORIZON_DAYS = 30
BUCKETS = ((1, 7), (8, 14), (15, HORIZON_DAYS))  # horizons whose errors calibrate together
INTERVAL_MISS = 0.2  # an 80% interval
DEFAULT_INTERVAL = (-0.25, 0.25)  # relative, before any horizon bucket has errors of its own
ACI_STEP = 0.02  # how far one scored day moves the quantile level (adaptive conformal inference)
LEVEL_ALPHA = 0.2
GROWTH_BETA = 0.02  # slow: growth is read from weeks of level changes, not from a few days
SEASON_ALPHA = 0.05  # weekday factors average their first 20 weeks, then follow slowly
WARMUP_DAYS = 14  # before this, seasonal factors are still settling: nothing is judged unusual
NAIVE_DAYS = 21  # until then, the young week or each weekday as last seen (the model's factors are too young)
UNUSUAL_ERRORS = 3  # a day further than this many typical errors from its expectation is unusual
MONTH_RUN_ERRORS = 2  # a month-start run moves days 1-3 further than this many typical errors, both months
SHIFT_DAYS, SHIFT_AGREEMENT = 3, 0.15  # that many unusual days within 15% of each other: a new level
SETTLE_DAYS = 7  # after a level is adopted, level moves this many days correct its size, not the growth
# Errors per horizon bucket the interval is calibrated on: two to five months of them (the 16
# horizons of days 15-30 score 16 a day), so a level shift the series lived through keeps its long
# horizons wide for two months, not three weeks. With 365, coverage of all horizons on the varied
# bills was 0.742 (target 0.75-0.90): a third of their series shift unannounced.
ERROR_WINDOW = 1000
ONE_STEP_FADING = 0.1  # river fading factor of the typical one-day error
QUARTERS = 4  # a day's usage in four six-hour quarters: a step that held all day shows in each
SHARE_ALPHA = 0.1  # how fast a usual day's quarter shares follow
MIN_SHARE = 0.05  # a quarter with less of a usual day's cost than this cannot vouch for a step


@dataclass(frozen=True)
class DayForecast:
    """One predicted day of one forecast."""

    made_at: date  # the last day of actuals the forecast knew
    day: date
    predicted: float
    lower: float
    upper: float


@dataclass(frozen=True)
class ForecastScore:
    """How one earlier forecast of a day did, once the day's actual cost arrived."""

    made_at: date
    day: date
    predicted: float
    lower: float
    upper: float
    actual: float
    naive: float | None  # the seasonal-naive forecast from the same day (None if not known)

    @property
    def horizon(self) -> int:
        return (self.day - self.made_at).days

    @property
    def covered(self) -> bool:
        return self.lower <= self.actual <= self.upper

    @property
    def ape(self) -> float | None:
        """Absolute percentage error (None on a day without cost, where it is undefined)."""
        return abs(self.predicted - self.actual) / self.actual if self.actual > 0 else None

    @property
    def naive_ape(self) -> float | None:
        return abs(self.naive - self.actual) / self.actual if self.actual > 0 and self.naive is not None else None


def _bucket(horizon: int) -> int:
    return next(i for i, (low, high) in enumerate(BUCKETS) if low <= horizon <= high)


class RelativeErrors:
    """The last ``window`` relative errors of one horizon bucket, and the interval they make.

    The interval is the range between the ``miss / 2`` and ``1 - miss / 2`` empirical quantiles of
    the errors. ``miss`` starts at the target (0.2) and follows adaptive conformal inference: each
    error outside the interval its forecast was issued with widens the intervals issued next, each
    inside narrows them, so the long-run share of misses converges to the target. Judged against
    the interval as issued, not as it is when the day arrives: with correlated errors, today's
    interval has already widened for the misses that yesterday's forecasts are about to make.

    The errors are 32-bit floats: a thousand per bucket are most of a series' state, and seven
    significant digits are far finer than any interval drawn from them. The backtest keeps them
    the same way, so it and the job (which restores them from its state every day) agree exactly.
    """

    def __init__(self, window: int, values: tuple[float, ...] | bytes = (), miss: float = INTERVAL_MISS) -> None:
        self.window = window
        self.values = unpack(values, "f") if isinstance(values, bytes) else array("f", values)
        del self.values[:-window]
        self.miss = miss

    def update(self, relative: float, issued: tuple[float, float] | None) -> None:
        """Learn a scored error; ``issued`` is its forecast's interval, None if not this bucket's own yet."""
        if issued is not None:
            outside = not issued[0] <= relative <= issued[1]
            self.miss += ACI_STEP * (INTERVAL_MISS - outside)
        self.values.append(relative)
        if len(self.values) > self.window:
            del self.values[0]

    def bounds(self) -> tuple[float, float] | None:
        """The interval as relative errors around a prediction (it always contains it)."""
        if not self.values:
            return None
        ordered = sorted(self.values)
        tail = min(max(self.miss / 2, 0.0), 0.5)
        upper = min((1 - tail) * (len(ordered) + 1) / len(ordered), 1.0)  # split conformal's finite-sample level
        return min(_quantile(ordered, 1 - upper), 0.0), max(_quantile(ordered, upper), 0.0)

    def packed(self) -> bytes:
        """The errors as the state record keeps them: little-endian 32-bit floats, oldest first."""
        return pack(self.values, "f")


def _quantile(ordered: list[float], q: float) -> float:
    """The linear-interpolated ``q`` quantile of sorted values."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def _as_issued(own: tuple[tuple[float, float] | None, ...]) -> list[tuple[float, float]]:
    """The relative interval each bucket is issued with, from the buckets' own intervals.

    A bucket without one borrows the widest of the others (long horizons have no scored errors
    for their first weeks), or ±25% before any; borrowed intervals do not adapt it. A function of
    ``own`` alone, so a scored day knows the interval its forecast was issued with.
    """
    known = [bounds for bounds in own if bounds]
    borrowed = (min(low for low, _ in known), max(high for _, high in known)) if known else DEFAULT_INTERVAL
    return [bounds or borrowed for bounds in own]


def _interval(predicted: float, low: float, high: float) -> tuple[float, float]:
    return max(predicted * (1 + low), 0.0), predicted * (1 + high)


class DailyCostForecaster:
    """Learn one day at a time (in order), forecast the next 30 days.

    Measured on labelled bills (bench/detection_quality.py): growth, treating anomalies as
    missing days and adopting level shifts at once each cut the error; see BENCHMARKS.md.
    """

    def __init__(self, level_alpha: float = LEVEL_ALPHA, window: int = ERROR_WINDOW) -> None:
        self.alpha = level_alpha
        self.level: float | None = None
        self.growth = 0.0  # cost per day, added to the level each day ahead
        self.weekday: dict[int, float] = {}  # day of week → factor; mean 1 once all seven are seen
        self.weekday_seen: dict[int, int] = defaultdict(int)
        self.month_start: dict[int, list[float]] = {}  # day 1-3 → its last two ratios to a usual day
        self.unusual: list[float] = []  # deseasonalized costs of the current run of unusual days
        self.errors = [RelativeErrors(window) for _ in BUCKETS]
        self.pending: dict[date, list[tuple[date, float]]] = defaultdict(list)  # day → (made_at, predicted)
        self.issued: dict[date, tuple[tuple[float, float] | None, ...]] = {}  # made_at → each bucket's own interval
        self.days = 0
        self.last_seen: dict[int, float] = {}  # day of week → its latest actual cost
        self.last_day: date | None = None
        self.one_step_error = stats.EWMean(ONE_STEP_FADING)  # typical relative error of a day against expectation
        self.choice = ModelChoice(len(BUCKETS), HORIZON_DAYS)  # which forecaster this series trusts
        self.usual: list[tuple[int, float]] = []  # (ordinal, cost) of the last weeks' learned days, since any shift
        self.quarter_shares: list[float] = []  # each quarter's share of a usual day's cost, once one is learned
        self.last_quarter: float | None = None  # yesterday's last quarter against its expectation
        self.provisional: float | None = None  # a level adopted on one day: the scale back, for the next day
        self.adopted_on: int | None = None  # ordinal of the day the level was last adopted from a step

    def _month_factor(self, day: date) -> float:
        """A month-start run counts once it recurred alike in the last two months (``_month_start_factor``)."""
        return self._month_start_factor(day.day) if day.day <= 3 else 1.0

    def _month_start_factor(self, day_of_month: int) -> float:
        """A run both months share, at the ratio nearer 1; 1 where the two ratios are noise or a one-off.

        A run shows in both months on the same side of 1, each by more than ``MONTH_RUN_ERRORS``
        typical daily errors; a one-off moves one month only. Before, the smaller of the two ratios
        was taken: on the many days 1-3 that carry no run that is the lower of two noisy ratios, so
        those days (and what the level and the weekly trend learned from them) sat a noise's width
        low. Shift-free MAPE on the varied bills, means of seeds: 0.616 → 0.597 × naive (5001-5020),
        0.570 → 0.548 (1-20), 0.611 → 0.598 (21-60) (BENCHMARKS.md).
        """
        seen = self.month_start.get(day_of_month, [])
        if len(seen) != 2 or (seen[0] - 1) * (seen[1] - 1) <= 0:
            return 1.0
        nearer = min(seen, key=lambda ratio: abs(math.log(ratio)))
        return nearer if abs(nearer - 1) > MONTH_RUN_ERRORS * self._typical_error() else 1.0

    def _typical_error(self) -> float:
        """The series' typical relative error of a day against its expectation (5% before any is known)."""
        return max(self.one_step_error.get() or 0.05, 0.01)

    def _season(self, day: date) -> float:
        return self.weekday.get(day.weekday(), 1.0) * self._month_factor(day)

    def learn_one(self, day: date, cost: float, quarters: tuple[float, ...] | None = None) -> list[ForecastScore]:
        """Learn a day's actual cost; scores the forecasts that predicted it first, and returns how they did.

        ``quarters``: the day's cost in its four six-hour quarters (UTC), if known: a step that held
        in every quarter is adopted as the new level that day, not after three days.
        """
        scores = self._score(day, cost)
        if self.level is None:
            self.level = cost
        else:
            expected_level = self.level + self.growth
            if day.day <= 3 and expected_level > 0:
                seen = self.month_start.setdefault(day.day, [])
                ratio = cost / max(expected_level * self.weekday.get(day.weekday(), 1.0), 1e-9)
                seen[:] = [*seen, min(max(ratio, 0.2), 10.0)][-2:]
            self._learn_or_skip(day, cost, expected_level, quarters)
        self.last_seen[day.weekday()] = cost
        self.days += 1
        self.last_day = day
        return scores

    def _score(self, day: date, cost: float) -> list[ForecastScore]:
        scores = []
        for made_at, predicted in self.pending.pop(day, []):
            bucket = _bucket((day - made_at).days)
            own = self.issued.get(made_at) or (None,) * len(BUCKETS)
            low, high = _as_issued(own)[bucket]
            naive = self.choice.naive(made_at, day)
            scores.append(ForecastScore(made_at, day, predicted, *_interval(predicted, low, high), cost, naive))
            if predicted > 0:
                self.errors[bucket].update(cost / predicted - 1, own[bucket])
        self.choice.score(day, cost, _bucket)
        for stale in [d for d in self.pending if d < day]:  # days the series skipped
            del self.pending[stale]
        for made_at in [m for m in self.issued if (day - m).days >= HORIZON_DAYS]:  # all its days scored
            del self.issued[made_at]
        return scores

    def _learn_or_skip(
        self, day: date, cost: float, expected_level: float, quarters: tuple[float, ...] | None = None
    ) -> None:
        """A usual day is learned; an unusual one is skipped, unless it completes a level shift."""
        if day.day <= 3 and len(self.month_start.get(day.day, [])) < 2:
            self.level = expected_level  # a month start whose factor is not known yet: as if missing
            self.last_quarter = None
            return
        season = max(self._season(day), 1e-9)
        typical = self._typical_error()
        undo, self.provisional = self.provisional, None
        if undo is not None and abs(cost / (expected_level * undo * season) - 1) <= UNUSUAL_ERRORS * typical:
            self._adopt_level(day, expected_level * undo, expected_level)  # back the next day: it was no step
            expected_level = self.level
        relative = cost / (expected_level * season) - 1 if expected_level > 0 else 0.0
        self.one_step_error.update(min(abs(relative), 1.0))
        ratios = self._quarter_ratios(quarters, expected_level * season)
        held = self._held(ratios, UNUSUAL_ERRORS * typical)
        self.last_quarter = ratios[-1] if ratios else None
        if abs(relative) <= UNUSUAL_ERRORS * typical or self.days < WARMUP_DAYS:
            self.unusual = []
            self._learn(day, cost, expected_level)
            self._learn_shares(cost, quarters)
            return
        self.unusual.append(cost / season)
        recent = self.unusual[-SHIFT_DAYS:]
        if len(recent) == SHIFT_DAYS and max(recent) <= min(recent) * (1 + SHIFT_AGREEMENT):
            self._adopt_level(day, sum(recent) / SHIFT_DAYS, expected_level)
        elif held:
            self._adopt_level(day, cost / season, expected_level)
            self.provisional = expected_level / self.level if self.level > 0 else None
        else:
            self.level = expected_level  # as if the day were missing

    def _learn_shares(self, cost: float, quarters: tuple[float, ...] | None) -> None:
        if quarters is None or cost <= 0:
            return
        shares = [q / cost for q in quarters]
        if not self.quarter_shares:
            self.quarter_shares = shares
            return
        self.quarter_shares = [s + SHARE_ALPHA * (new - s) for s, new in zip(self.quarter_shares, shares, strict=True)]

    def _quarter_ratios(self, quarters: tuple[float, ...] | None, expected: float) -> list[float] | None:
        """Each quarter's cost against its usual share of the expected day (None where unknown)."""
        if quarters is None or len(self.quarter_shares) != QUARTERS or expected <= 0:
            return None
        if min(self.quarter_shares) < MIN_SHARE:
            return None
        return [q / (expected * s) for q, s in zip(quarters, self.quarter_shares, strict=True)]

    def _held(self, ratios: list[float] | None, unusual: float) -> bool:
        """From yesterday's last quarter through today's, spend moved alike, beyond the unusual: a step held 30 h.

        A spike covers a few quarters, a leak's ramp spreads them apart; a step moves them all
        alike. Not before the model forecasts: its young weekday factors misjudge whole days. A
        level adopted on this one day is provisional: if the next day is usual at the old level
        (a leak fixed, a job that ended), the old level comes back at once (``provisional``).
        """
        if ratios is None or self.last_quarter is None or self.days < NAIVE_DAYS:
            return False
        run = [self.last_quarter, *ratios]
        moved = all(r > 1 + unusual for r in run) or all(r < 1 - unusual for r in run)
        return moved and max(run) <= min(run) * (1 + SHIFT_AGREEMENT)

    def _adopt_level(self, day: date, level: float, expected_level: float) -> None:
        """A level shift is the new normal at once; the growth and the weekly trend carry on, scaled to it.

        A new workload moves the level, not the trend: restarting growth from zero under-forecast
        every growing series for the ~50 days growth takes to learn (shift-free MAPE on the varied
        bills 0.738 → 0.705 × naive, BENCHMARKS.md). Likewise the weekly trend keeps its days, each
        scaled by the shift, rather than waiting three weeks for enough days at the new level
        (0.592 → 0.579 × naive, mean of 20 bills); its step search still corrects a misjudged size.
        The size is judged on a few days, so the days after it still correct it: see ``_settle``.
        """
        if expected_level > 0:
            scale = level / expected_level
            self.growth *= scale
            self._rescale_usual(scale, before=day.toordinal())
        else:
            self.usual = []  # nothing to scale from: the weekly trend reads the new normal only
        if self.last_quarter is not None and level > 0:
            self.last_quarter *= expected_level / level
        self.level, self.unusual, self.adopted_on = level, [], day.toordinal()

    def _learn(self, day: date, cost: float, expected_level: float) -> None:
        since = day.toordinal() - WINDOW_DAYS
        self.usual = [(d, c) for d, c in self.usual if d > since] + ([(day.toordinal(), cost)] if cost > 0 else [])
        previous = self.level or 0.0
        self.level = self.alpha * cost / max(self._season(day), 1e-9) + (1 - self.alpha) * expected_level
        if self._settling(day):
            self._settle(self.level / expected_level if expected_level > 0 else 1.0)
        elif self.days >= WARMUP_DAYS:
            self.growth = GROWTH_BETA * (self.level - previous) + (1 - GROWTH_BETA) * self.growth
        if self.level <= 0:
            return
        weekday = day.weekday()
        self.weekday_seen[weekday] += 1
        weight = max(1 / self.weekday_seen[weekday], SEASON_ALPHA)
        factor = self.weekday.get(weekday, 1.0)
        # Against the level expected before this day: the updated level has already absorbed part
        # of the day's seasonality, which shrank every factor toward 1 (weekends over-forecast).
        ratio = cost / max(expected_level, 1e-9) / self._month_factor(day)
        self.weekday[weekday] = factor + weight * (ratio - factor)
        mean = math.fsum(self.weekday.values()) / 7  # exact: the same whatever order weekdays were met
        if len(self.weekday) == 7 and mean > 0:  # factors average 1, so the level is the typical day
            self.weekday = {d: f / mean for d, f in self.weekday.items()}
            self.level *= mean
            self.growth *= mean

    def _settling(self, day: date) -> bool:
        return self.adopted_on is not None and day.toordinal() < self.adopted_on + SETTLE_DAYS

    def _settle(self, correction: float) -> None:
        """In the days after a step, a level move corrects the step's size: the days before it are rescaled too.

        A step is adopted at the level of its first one to three days, often a little off. Read as
        growth, the correction became a trend that lasted weeks, and the weekly trend fitted a slope
        through the days before the step, scaled by the wrong size (a bill's account over-forecast
        by 8% at 14 days for six weeks). Shift-free MAPE on the varied bills, seeds 5001-5020:
        0.643 → 0.620 × naive, worst decile 0.796 → 0.737 (BENCHMARKS.md).
        """
        self._rescale_usual(correction, before=self.adopted_on)

    def _rescale_usual(self, factor: float, before: int) -> None:
        """Scale the usual days dated before ordinal ``before``: what the weekly trend reads, put at the new level."""
        self.usual = [(d, c * factor if d < before else c) for d, c in self.usual]

    def forecast(self, horizon: int = HORIZON_DAYS, parts: list[float] | None = None) -> list[DayForecast]:
        """The next ``horizon`` days after the last learned one; remembered to calibrate intervals.

        ``parts``: the sum of the forecasts of the series this one totals, horizon 1 first, which
        is then the forecast (``ModelChoice.predict``); its interval still comes from this series'
        own errors.
        """
        if self.last_day is None:
            return []
        out = []
        basis = self._basis()
        own = self._intervals()
        issued = _as_issued(own)
        days = [(self.last_day + timedelta(days=h), _bucket(h)) for h in range(1, horizon + 1)]
        for (day, bucket), predicted in zip(days, self.choice.predict(basis, days, parts), strict=True):
            out.append(DayForecast(self.last_day, day, predicted, *_interval(predicted, *issued[bucket])))
        for item in out:
            self.pending[item.day].append((item.made_at, item.predicted))
        self.issued[self.last_day] = own
        return out

    def _basis(self) -> Basis:
        """What every candidate forecaster forecasts from today."""
        return Basis(
            self.last_day,
            self.level or 0.0,
            self.growth,
            tuple(self.weekday.get(d, 1.0) for d in range(7)),
            tuple(self._month_start_factor(d) for d in (1, 2, 3)),
            tuple(self.last_seen.get(d) for d in range(7)),
            self.days < NAIVE_DAYS,
            self._weekly_trend(),
        )

    def _weekly_trend(self) -> WeeklyTrend | None:
        """The weekly trend of the usual days, each as if on an ordinary day of the month (factors as known today).

        A young series (the model still forecasts naively) gets its young week: each weekday's latest
        day, pooled, on a trend only where two weeks leave no doubt of it (``fit_young_week``).
        """
        days = [(date.fromordinal(d), cost) for d, cost in self.usual]
        days = [(day, cost / self._month_factor(day)) for day, cost in days]
        if self.days < NAIVE_DAYS:
            return fit_young_week(days, self.last_day)
        return fit_weekly_trend(days, self.last_day)

    def _intervals(self) -> tuple[tuple[float, float] | None, ...]:
        """Each bucket's own interval (relative to the prediction), None while it has no record yet."""
        if self.days < WARMUP_DAYS:
            return (None,) * len(BUCKETS)
        return tuple(errors.bounds() for errors in self.errors)

    def state(self) -> dict:
        """The learned numbers, as schemas/account_monitor_state.avsc records them.

        Days are proleptic ordinals (``date.toordinal``); weekday arrays are Monday first, null
        where the weekday was not seen; forecasts awaiting their day are grouped by the day made.
        """
        runs: dict[date, dict[str, list]] = {}
        for day, made in sorted(self.pending.items()):
            for made_at, predicted in made:
                if made_at not in runs:
                    runs[made_at] = self._run_state(made_at)
                run = runs[made_at]
                run["horizons"].append((day - made_at).days)
                run["predicted"].append(predicted)
        return {
            "alpha": self.alpha,
            "window": self.errors[0].window,
            "level": self.level,
            "growth": self.growth,
            "weekday": [self.weekday.get(d) for d in range(7)],
            "weekday_seen": [self.weekday_seen.get(d, 0) for d in range(7)],
            "month_start": [self.month_start.get(d) for d in (1, 2, 3)],
            "unusual": list(self.unusual),
            "errors": [[] for _ in self.errors],  # kept packed: see interval_errors()
            "interval_miss": [errors.miss for errors in self.errors],
            "pending": [runs[made_at] for made_at in sorted(runs)],
            "days": self.days,
            "last_seen": [self.last_seen.get(d) for d in range(7)],
            "last_day": self.last_day.toordinal() if self.last_day else None,
            "one_step_error": self.one_step_error.get(),
            "adopted_on": self.adopted_on,
        }

    def interval_errors(self) -> list[bytes]:
        """Each horizon bucket's errors, packed (the state record's ``interval_errors``)."""
        return [errors.packed() for errors in self.errors]

    def trend_state(self) -> dict:
        """What the weekly trend candidate keeps: the usual days it fits and its fit of each pending basis."""
        return {
            "usual_days": [d for d, _ in self.usual],
            "usual_costs": [c for _, c in self.usual],
            "bases": self.choice.trend_state(),
        }

    def quarter_state(self) -> dict:
        """What the one-day verdict on steps keeps: usual quarter shares, yesterday's last quarter, the scale back."""
        return {"shares": list(self.quarter_shares), "last_quarter": self.last_quarter, "provisional": self.provisional}

    def _run_state(self, made_at: date) -> dict:
        issued = self.issued.get(made_at) or (None,) * len(BUCKETS)
        interval = [bound for bounds in issued for bound in (bounds or (None, None))]
        return {"made_at": made_at.toordinal(), "horizons": [], "predicted": [], "interval": interval}

    @classmethod
    def from_state(
        cls,
        state: dict,
        choice: dict | None = None,
        trend: dict | None = None,
        interval_errors: list[bytes] | None = None,
        quarters: dict | None = None,
    ) -> DailyCostForecaster:
        """The forecaster its ``state()`` and the companion records of the account's state described.

        The companions are ``choice.state()``, ``trend_state()``, ``interval_errors()`` and ``quarter_state()``.
        It learns and forecasts exactly as the original would; without ``choice``, its model choice
        starts afresh; without ``trend``, its weekly trend starts on the days to come; without
        ``interval_errors`` (a record from before they were packed), its errors are the state's own;
        without ``quarters``, its quarter shares are learned from the usual days to come.
        """
        forecaster = cls(state["alpha"], state["window"])
        trend = trend or {"usual_days": [], "usual_costs": [], "bases": []}
        if choice is not None:
            forecaster.choice = ModelChoice.from_state(choice, len(BUCKETS), HORIZON_DAYS, trend["bases"])
        forecaster.usual = list(zip(trend["usual_days"], trend["usual_costs"], strict=True))
        forecaster.level, forecaster.growth = state["level"], state["growth"]
        forecaster.weekday = {d: f for d, f in enumerate(state["weekday"]) if f is not None}
        forecaster.weekday_seen.update({d: n for d, n in enumerate(state["weekday_seen"]) if n})
        forecaster.month_start = {d: list(r) for d, r in zip((1, 2, 3), state["month_start"], strict=True) if r}
        forecaster.unusual = list(state["unusual"])
        errors = interval_errors if interval_errors is not None else [tuple(v) for v in state["errors"]]
        forecaster.errors = [
            RelativeErrors(state["window"], values, miss)
            for values, miss in zip(errors, state["interval_miss"], strict=True)
        ]
        for run in state["pending"]:
            made_at = date.fromordinal(run["made_at"])
            pairs = zip(run["interval"][::2], run["interval"][1::2], strict=True)
            forecaster.issued[made_at] = tuple(None if low is None else (low, high) for low, high in pairs)
            for horizon, predicted in zip(run["horizons"], run["predicted"], strict=True):
                forecaster.pending[made_at + timedelta(days=horizon)].append((made_at, predicted))
        forecaster.days = state["days"]
        forecaster.last_seen = {d: cost for d, cost in enumerate(state["last_seen"]) if cost is not None}
        forecaster.last_day = date.fromordinal(state["last_day"]) if state["last_day"] else None
        forecaster.one_step_error = restored_ewmean(ONE_STEP_FADING, state["one_step_error"])
        forecaster.adopted_on = state["adopted_on"]  # null from a version 1-5 record: no step is settling
        if quarters is not None:
            forecaster.quarter_shares, forecaster.last_quarter = list(quarters["shares"]), quarters["last_quarter"]
            forecaster.provisional = quarters["provisional"]
        return forecaster
