"""Online anomaly detection for one hourly cost series (account × service usage cost).

A river-style estimator (``learn_one`` / ``score_one``) composed of river's exponentially
weighted means:

- an hour-of-week profile (168 slots; hour-of-day until a slot has been seen), so daily cycles
  and planned weekly batch bursts are expected, not anomalous;
- a month-start memory (days 1-3 × hour), so month-start runs are learned; the first month start
  a series meets is learned, not alerted (it cannot be told from an anomaly);
- a level (actual ÷ profile, half-life 24 h) that follows a lasting level shift within about two
  days, and a fast level (half-life 6 h) whose lead over it reveals cost that keeps growing (a
  leak): a step stops leading within hours, a leak keeps leading.

The score is the hour's log ratio to its expectation over the typical absolute log error: cost
noise is multiplicative (a ×1.5 hour is as likely as a ×0.67 one), so measured on the ratio the
upper tail of a noisy series would look several times more surprising than it is. A run of
moderate excess adds up: the score is the best of the last one, two or three hours' combined
evidence (their scores' sum ÷ √n, as likely under noise as one hour's), and the dollar threshold
is met by one hour's excess or by the run's. A score counts only when the excess also passes the
relative and that dollar threshold, because cost alerts are about money, not statistics.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from river import stats

from pipelines.packed import pack, unpack

HOUR_MS = 3_600_000
WEEK_SLOTS, DAY_SLOTS, MONTH_START_SLOTS = 168, 24, 72  # hour of week, hour of day, days 1-3 × hour
EVIDENCE_HOURS = 3  # an hour's score is the best evidence of it and up to two hours before
ERROR_CAP = 1.0  # the most one hour adds to the typical log error (a gap of zero cost, a spike)
RAISE_PER_MARK = 1.25  # each anomaly of a series marked false positive raises its thresholds by this factor
MARKS_COUNTED = 4  # … up to this many marks (×2.44): a series stays able to alert on a real surge


def log_ratio(cost: float, expected: float) -> float:
    """ln(cost ÷ expected), a cost of zero as a hundredth of the expectation (a bounded surprise)."""
    return math.log(max(cost, expected / 100, 1e-9) / max(expected, 1e-9))


def fading(half_life_h: float) -> float:
    """River's fading factor (weight of the newest value) for a half-life in hours."""
    return 1 - 0.5 ** (1 / half_life_h)


def raise_factor(false_positives: int) -> float:
    """How much a series' thresholds rise after ``false_positives`` of its alerts were marked so."""
    return RAISE_PER_MARK ** min(max(false_positives, 0), MARKS_COUNTED)


@dataclass(frozen=True)
class DetectorSettings:
    """Per-account thresholds (accounts.yaml ``anomaly:``); an alert needs all of them."""

    relative_threshold: float = 0.4  # excess ÷ expected
    dollar_threshold: float = 2.0  # excess in an hour, or over a run of unusual hours, in the bill's currency
    z_threshold: float = 5.0  # log excess ÷ typical log error, over the last 1-3 hours
    growth_threshold: float = 0.2  # fast level ÷ level − 1 that counts as cost growing
    warmup_days: int = 7  # history before a series may alert (at most 14)
    full_history_days: int = 14  # alerts on less history say so
    false_positives: int = 0  # the series' alerts people marked as not a problem (``raised``)

    def raised(self, false_positives: int) -> DetectorSettings:
        """The thresholds for a series with ``false_positives`` of its alerts marked as not a problem.

        A person who marks an alert false positive says this much excess on this series is
        normal. Each mark, up to MARKS_COUNTED, asks a quarter more of every excess an alert needs
        (relative, in dollars, in evidence, in growth), so the alerts that come back are the
        clearly larger ones; a mark taken back (marked confirmed) lowers them again. Settings
        already raised are raised from where they were before: ``raised(0)`` undoes it.
        """
        factor = raise_factor(false_positives) / raise_factor(self.false_positives)
        return replace(
            self,
            relative_threshold=self.relative_threshold * factor,
            dollar_threshold=self.dollar_threshold * factor,
            z_threshold=self.z_threshold * factor,
            growth_threshold=self.growth_threshold * factor,
            false_positives=max(false_positives, 0),
        )

    def raise_note(self) -> str | None:
        """What an alert says of thresholds raised by marks (None when none are)."""
        if not self.false_positives:
            return None
        marked = f"{self.false_positives} {'anomalies' if self.false_positives > 1 else 'anomaly'} of this series"
        return f"thresholds raised ×{raise_factor(self.false_positives):.2f} after {marked} marked false positive"


@dataclass
class Score:
    """How one hour compares with what the series expected."""

    actual: float
    expected: float
    score: float
    reasons: list[str] = field(default_factory=list)
    own_score: float = 0.0  # this hour's evidence alone (the detector remembers it for the next hours)
    run_excess: float = 0.0  # the excess of this run of unusual hours so far, this hour's included

    @property
    def anomalous(self) -> bool:
        return bool(self.reasons)


class HourlyCostDetector:
    """One series' model; ``score_one`` then ``learn_one`` for every hour, in event-time order."""

    PROFILES = {"week": 0.2, "day": 0.1, "month_start": 0.5}  # slot → its EWMean's fading factor
    LEVELS = {"fast": 6, "level": 24, "error": 24 * 7}  # half-lives in hours

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        self.week = SlotMeans(self.PROFILES["week"], WEEK_SLOTS)
        self.day = SlotMeans(self.PROFILES["day"], DAY_SLOTS)
        self.month_start = SlotMeans(self.PROFILES["month_start"], MONTH_START_SLOTS, first=24)
        self.fast = stats.EWMean(fading(self.LEVELS["fast"]))
        self.level = stats.EWMean(fading(self.LEVELS["level"]))
        self.error = stats.EWMean(fading(self.LEVELS["error"]))
        self.regions: set[str] = set()
        self.first_ms: int | None = None
        self.recent_scores: list[float] = []  # the last EVIDENCE_HOURS - 1 hours' own scores, oldest first
        self.run_excess = 0.0  # excess of the run of unusual hours up to the last one learned

    def state(self) -> dict:
        """The learned numbers, as schemas/series_monitor_state.avsc records them (settings are config).

        The slot means are packed apart (``packed_slots``): the nested record's arrays of them stay empty.
        """
        return {
            "week": [],
            "day": [],
            "month_start": [],
            **{name: getattr(self, name).get() for name in self.LEVELS},
            "regions": sorted(self.regions),
            "first_ms": self.first_ms,
        }

    def packed_slots(self) -> bytes:
        """Every slot's mean as 64-bit floats, NaN where nothing was learned yet: exact, and read at once.

        Slots are positions in fixed arrays: the hour of week from Monday 00:00 (168), the hour of
        day (24), then month start (day − 1) × 24 + hour (72).
        """
        return pack(self.week.means + self.day.means + self.month_start.means, "d")

    @classmethod
    def from_state(
        cls, state: dict, settings: DetectorSettings | None = None, packed_slots: bytes = b""
    ) -> HourlyCostDetector:
        """The detector ``state()`` and ``packed_slots()`` described: it scores and learns as the original would.

        Except for its run evidence (``recent_scores``, ``run_excess``): the nested detector record
        cannot grow (schemas/README.md), so the series monitor's record keeps those two and the
        packed slots. Without ``packed_slots`` (a record from before them), the slots are the
        nested record's arrays, null where not learned.
        """
        detector = cls(settings)
        if packed_slots:
            means = unpack(packed_slots, "d")
        else:
            means = array("d", [math.nan if mean is None else mean for name in cls.PROFILES for mean in state[name]])
        detector.week.means = means[:WEEK_SLOTS]
        detector.day.means = means[WEEK_SLOTS : WEEK_SLOTS + DAY_SLOTS]
        detector.month_start.means = means[WEEK_SLOTS + DAY_SLOTS :]
        for name, half_life in cls.LEVELS.items():
            setattr(detector, name, restored_ewmean(fading(half_life), state[name]))
        detector.regions, detector.first_ms = set(state["regions"]), state["first_ms"]
        return detector

    def history_days(self, hour_ms: int) -> float:
        return 0.0 if self.first_ms is None else (hour_ms - self.first_ms) / (24 * HOUR_MS)

    def profile(self, hour_ms: int) -> float | None:
        """The hour's seasonal expectation at the series' usual level, if any history covers it."""
        moment = datetime.fromtimestamp(hour_ms / 1000, UTC)
        base = self._usual(moment)
        start = self.month_start.get(moment.day * 24 + moment.hour) if moment.day <= 3 else None
        if base is not None and start is not None:
            base *= start
        return base

    def _usual(self, moment: datetime) -> float | None:
        """The hour-of-week slot's mean, or the hour of day's until that slot has been seen."""
        week = self.week.get(moment.weekday() * 24 + moment.hour)
        return self.day.get(moment.hour) if week is None else week

    def expected(self, hour_ms: int) -> float | None:
        base = self.profile(hour_ms)
        return None if base is None else base * (self.level.get() or 1.0)

    def score_one(self, hour_ms: int, cost: float, regions: dict[str, float] | None = None) -> Score:
        """Compare an hour's cost with the expectation; nothing is learned here."""
        expected = self.expected(hour_ms)
        if expected is None:
            return Score(cost, cost, 0.0)
        settings = self.settings
        excess = cost - expected
        relative = excess / max(expected, 1e-9)
        own = log_ratio(cost, expected) / self._typical_error()
        score = max(
            (own + sum(self.recent_scores[len(self.recent_scores) - n :])) / math.sqrt(n + 1)
            for n in range(len(self.recent_scores) + 1)
        )
        unusual = relative >= settings.relative_threshold and score >= settings.z_threshold
        run_excess = self.run_excess + excess if unusual else 0.0
        reasons = []
        if self.history_days(hour_ms) >= settings.warmup_days and not self._first_month_start(hour_ms):
            if unusual and max(excess, run_excess) >= settings.dollar_threshold:
                reasons.append("spend above expected")
            drift = (self.fast.get() or 1.0) / (self.level.get() or 1.0) - 1
            if drift >= settings.growth_threshold and excess >= settings.dollar_threshold:
                reasons.append("spend growing for hours")
                score = max(score, drift / self._typical_error())
            for region, region_cost in sorted((regions or {}).items()):
                if region not in self.regions and region_cost >= settings.dollar_threshold:
                    reasons.append(f"spend in a new region: {region}")
        return Score(cost, expected, round(score, 3), reasons, own, run_excess)

    def _typical_error(self) -> float:
        return max(self.error.get() or 0.1, 0.02)

    def _first_month_start(self, hour_ms: int) -> bool:
        moment = datetime.fromtimestamp(hour_ms / 1000, UTC)
        return moment.day <= 3 and (moment.day * 24 + moment.hour) not in self.month_start

    def learn_one(
        self, hour_ms: int, cost: float, regions: dict[str, float] | None = None, scored: Score | None = None
    ) -> None:
        """Learn an hour: the levels first, then the profile slots, net of the level.

        ``scored`` is what ``score_one`` said of this hour (computed here if not given): the
        evidence of the next hours builds on it.
        """
        scored = scored or self.score_one(hour_ms, cost, regions)
        self.recent_scores = [*self.recent_scores, scored.own_score][-(EVIDENCE_HOURS - 1) :]
        self.run_excess = scored.run_excess
        if self.first_ms is None:
            self.first_ms = hour_ms
        moment = datetime.fromtimestamp(hour_ms / 1000, UTC)
        base = self.profile(hour_ms)
        if base is not None and base > 1e-9:
            ratio = min(cost / base, 50.0)
            expected = base * (self.level.get() or 1.0)
            self.error.update(min(abs(log_ratio(cost, expected)), ERROR_CAP))
            self.fast.update(ratio)
            self.level.update(ratio)
        self._learn_month_start(moment, cost)
        seasonal = cost / (self.level.get() or 1.0)
        self.week.update(moment.weekday() * 24 + moment.hour, seasonal)
        self.day.update(moment.hour, seasonal)
        self.regions.update(region for region, c in (regions or {}).items() if c > 0)

    def _learn_month_start(self, moment: datetime, cost: float) -> None:
        """Days 1-3 remember how much they exceed the usual profile (ratio ≥ 1, never below)."""
        if moment.day > 3:
            return
        ordinary = self._usual(moment)
        usual = ordinary * (self.level.get() or 1.0) if ordinary is not None else None
        if usual is None or usual <= 1e-9:
            return
        ratio = max(1.0, min(cost / usual, 50.0))
        self.month_start.update(moment.day * 24 + moment.hour, ratio)


class SlotMeans:
    """River EWMeans, one per slot (an hour of the week, of the day, of a month start), kept as their means.

    The job restores a detector from its state record for every hour it judges, and an hour
    touches two or three of its 264 slots: building an EWMean for every slot on each restore
    cost more than judging the hour. A slot stays a number in a fixed array (NaN until it learns
    a value, the form the state record packs); then river's EWMean, standing at that number
    (``restored_ewmean``), takes the value, so the means are exactly those of long-lived EWMeans.
    """

    def __init__(self, fading_factor: float, slots: int, first: int = 0) -> None:
        self.fading_factor, self.first = fading_factor, first
        self.means = array("d", [math.nan]) * slots  # slot first + i at index i

    def get(self, slot: int) -> float | None:
        mean = self.means[slot - self.first]
        return None if math.isnan(mean) else mean

    def __contains__(self, slot: int) -> bool:
        return self.get(slot) is not None

    def update(self, slot: int, value: float) -> None:
        mean = restored_ewmean(self.fading_factor, self.get(slot) or 0.0)
        mean.update(value)
        self.means[slot - self.first] = mean.get()


def restored_ewmean(fading_factor: float, mean: float) -> stats.EWMean:
    """A river EWMean standing at ``mean``, rebuilt from that number alone.

    An EWMean whose mean is 0 takes its next value as is, so feeding a fresh one its mean
    restores it exactly (tests/unit/test_spend_monitor.py: restored models say what the
    originals say).
    """
    restored = stats.EWMean(fading_factor)
    if mean:
        restored.update(mean)
    return restored


def severity(score: Score) -> str:
    """critical above twice the expectation, warning otherwise; info for new-region-only signals."""
    if all(reason.startswith("spend in a new region") for reason in score.reasons):
        return "info" if score.actual - score.expected < 0 else "warning"
    ratio = score.actual / max(score.expected, 1e-9)
    return "critical" if ratio >= 2 or math.isinf(ratio) else "warning"
