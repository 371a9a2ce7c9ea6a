"""Model choice per series: several cheap forecasters, weighted by their own rolling-origin errors.

A bill's series differ in what forecasts them best: a steady one wants its learned weekday
pattern, a series whose trend is an artefact of a few noisy weeks wants that trend damped, one
whose week repeats exactly wants last week again. No single model is best everywhere (the
independent bills of issue 13 had series where seasonal naive beat today's model), so each
series keeps all of them and lets its own record decide.

Every candidate forecasts from the same learned numbers, a ``Basis``: the level, growth and
seasonal factors of the series' model and the last actual of each weekday, as they stood on the
day a forecast was made. So remembering a forecast costs one basis (19 numbers), not one
prediction per candidate and horizon, and scoring a day recomputes what each candidate said.
Per horizon bucket, each candidate's mean absolute percentage error fades over its last ~60
scores. The weekly trend is the incumbent: it forecasts alone until every candidate has been scored
``MIN_SCORED`` times in that bucket, and after that the forecast issued is the candidates' mix
weighted by the inverse fourth power of their errors, the challengers' errors counted double. So a
challenger takes a series over only where its record is clearly better (half the incumbent's
error gets it an equal share, a quarter 16 times the share), as where a series' week changed
shape and last week's actuals know it at once.

Why an incumbent, not an even contest: a candidate's recent error on one series predicts its next
errors poorly (a month of overlapping 30-day forecasts is a handful of independent outcomes), so
an even mix chased noise. Measured on the varied bills (BENCHMARKS.md, 2026-12-07): the weekly
trend alone forecast the account totals at 0.592 × naive (shift-free, mean of 20 bills), the even
mix at 0.630, the mix with the challengers' errors doubled 0.592, tripled 0.592. The weekly trend
(pipelines/weekly_trend.py, a line with weekday levels through the last twelve weeks' usual
days) reads a steady trend at once where Holt's growth (the model) takes weeks; the model
and the damped trend forecast while the weekly trend has too few days; seasonal naive is kept for
series whose week repeats more exactly than any average.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from river import stats

from pipelines.anomaly import restored_ewmean
from pipelines.weekly_trend import WeeklyTrend

CANDIDATES = ("model", "seasonal_naive", "damped_trend", "weekly_trend")
DAMPING = 0.9  # per day ahead: a damped trend adds at most 9 days of growth, however far it looks
ERROR_FADING = 1 / 60  # river fading factor of a candidate's error per bucket
MIN_SCORED = 14  # scores per bucket and candidate before the mix moves away from the incumbent
WEIGHT_POWER = 4  # weights are error ** -WEIGHT_POWER
INCUMBENT = CANDIDATES.index("weekly_trend")
CHALLENGER_HANDICAP = 2.0  # a challenger's error counts this many times the incumbent's
ERROR_FLOOR = 0.005  # a candidate is never trusted as more than 0.5% accurate (no division by zero)


@dataclass(frozen=True)
class Basis:
    """What a series' model knew on the day a forecast was made; every candidate forecasts from it."""

    made_at: date
    level: float
    growth: float
    weekday: tuple[float, ...]  # 7 factors, Monday first (1.0 where not yet seen)
    month_start: tuple[float, ...]  # days 1-3: their factors (1.0 until known)
    last_seen: tuple[float | None, ...]  # 7 latest actuals, Monday first
    young: bool  # under three weeks: every candidate forecasts the young week (or each weekday as last seen)
    trend: WeeklyTrend | None = None  # the weekly trend fitted that day (young: the pooled week; None: too few days)

    def _month(self, day: date) -> float:
        return self.month_start[day.day - 1] if day.day <= 3 else 1.0

    def _season(self, day: date) -> float:
        return self.weekday[day.weekday()] * self._month(day)

    def predictions(self, day: date) -> tuple[float, ...]:
        """Each candidate's forecast of ``day``, in the order of ``CANDIDATES``."""
        horizon = (day - self.made_at).days
        naive = self.last_seen[day.weekday()]
        damped_growth = DAMPING * (1 - DAMPING**horizon) / (1 - DAMPING)  # Σ φ^i, i = 1..horizon
        damped = max((self.level + damped_growth * self.growth) * self._season(day), 0.0)
        model = max((self.level + horizon * self.growth) * self._season(day), 0.0)
        trend = model if self.trend is None else self.trend.predict(horizon, day.weekday()) * self._month(day)
        if naive is None:
            return model, model, damped, trend
        if self.young:  # every candidate forecasts the young week where it is read, else last week
            young = naive if self.trend is None else trend
            return young, young, young, young
        return model, naive, damped, trend


class ModelChoice:
    """The candidates' error record of one series and the bases of its forecasts still awaiting their day."""

    def __init__(self, buckets: int, horizon: int) -> None:
        self.horizon = horizon
        self.errors = [[stats.EWMean(ERROR_FADING) for _ in range(buckets)] for _ in CANDIDATES]
        self.scored = [[0] * buckets for _ in CANDIDATES]
        self.bases: dict[date, Basis] = {}

    def weights(self, bucket: int) -> tuple[float, ...]:
        """Each candidate's share of the forecast issued for horizons of ``bucket``."""
        if min(scored[bucket] for scored in self.scored) < MIN_SCORED:
            return tuple(float(c == INCUMBENT) for c in range(len(CANDIDATES)))
        inverse = [
            max(errors[bucket].get() * (1.0 if c == INCUMBENT else CHALLENGER_HANDICAP), ERROR_FLOOR) ** -WEIGHT_POWER
            for c, errors in enumerate(self.errors)
        ]
        total = sum(inverse)
        return tuple(w / total for w in inverse)

    def predict(self, basis: Basis, days: list[tuple[date, int]], parts: list[float] | None = None) -> list[float]:
        """The mix of the candidates' forecasts of each (day, bucket); remembers the basis to score them later.

        A total whose parts are forecast too (an account's services; ``parts`` is the sum of their
        forecasts, horizon 1 first) is forecast as that sum instead: each part has chosen the
        forecaster that suits it, and a total mixes patterns no single candidate reads well. On
        the varied bills the sum beat the mix of the account total's own candidates, alone
        (shift-free 0.678 → 0.646 × naive, worst decile 0.801 → 0.716) and as a fifth candidate
        in the mix (0.669). The total's candidates are still scored: they forecast it when it has
        no parts.
        """
        self.bases[basis.made_at] = basis
        if parts is not None:
            return [parts[(day - basis.made_at).days - 1] for day, _ in days]
        weights = {bucket: self.weights(bucket) for bucket in {bucket for _, bucket in days}}
        return [
            sum(w * p for w, p in zip(weights[bucket], basis.predictions(day), strict=True)) for day, bucket in days
        ]

    def naive(self, made_at: date, day: date) -> float | None:
        """The seasonal-naive forecast of ``day`` made on ``made_at`` (None if that basis is unknown)."""
        basis = self.bases.get(made_at)
        return basis.last_seen[day.weekday()] if basis else None

    def score(self, day: date, cost: float, bucket_of) -> None:
        """Learn how far each candidate's forecasts of ``day`` were from its actual ``cost``."""
        for made_at in [m for m in self.bases if (day - m).days > self.horizon]:
            del self.bases[made_at]  # first, so a series whose spend stopped keeps 30 bases, not all
        if cost <= 0:
            return
        for made_at, basis in self.bases.items():
            if made_at >= day or basis.young:  # a young model forecast naively: nothing to tell apart
                continue
            bucket = bucket_of((day - made_at).days)
            for c, predicted in enumerate(basis.predictions(day)):
                self.errors[c][bucket].update(min(abs(predicted - cost) / cost, 1.0))
                self.scored[c][bucket] += 1

    def state(self) -> dict:
        """The record as schemas/account_monitor_state.avsc's ModelChoiceState holds it."""
        return {
            "errors": [[e.get() for e in errors] for errors in self.errors],
            "scored": [list(scored) for scored in self.scored],
            "bases": [
                {
                    "made_at": b.made_at.toordinal(),
                    "level": b.level,
                    "growth": b.growth,
                    "weekday": list(b.weekday),
                    "month_start": list(b.month_start),
                    "last_seen": list(b.last_seen),
                    "young": b.young,
                }
                for _, b in sorted(self.bases.items())
            ],
        }

    def trend_state(self) -> list[dict]:
        """The weekly trend of each basis that had one (schemas/account_monitor_state.avsc's BasisTrend)."""
        return [
            {"made_at": made_at.toordinal(), "log_levels": list(b.trend.log_levels), "slope": b.trend.slope}
            for made_at, b in sorted(self.bases.items())
            if b.trend is not None
        ]

    @classmethod
    def from_state(cls, state: dict, buckets: int, horizon: int, trends: Iterable[dict] = ()) -> ModelChoice:
        """The record ``state()`` and ``trend_state()`` described; it weighs and scores exactly as the original would.

        A record from before a candidate was added lacks its rows: that candidate starts without a
        record, so the incumbent forecasts alone until it has one (``MIN_SCORED``).
        """
        choice = cls(buckets, horizon)
        choice.errors[: len(state["errors"])] = [
            [restored_ewmean(ERROR_FADING, e) for e in errors] for errors in state["errors"]
        ]
        choice.scored[: len(state["scored"])] = [list(scored) for scored in state["scored"]]
        fitted = {t["made_at"]: WeeklyTrend(tuple(t["log_levels"]), t["slope"]) for t in trends}
        for b in state["bases"]:
            made_at = date.fromordinal(b["made_at"])
            choice.bases[made_at] = Basis(
                made_at,
                b["level"],
                b["growth"],
                tuple(b["weekday"]),
                tuple(b["month_start"]),
                tuple(b["last_seen"]),
                b["young"],
                fitted.get(b["made_at"]),
            )
        return choice
