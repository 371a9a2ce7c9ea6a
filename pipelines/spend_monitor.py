"""Keyed spend monitors: the analytics the streaming job and ``backtest`` share, engine-free.

``SeriesMonitor`` (one per account × service) turns finished hours of usage cost into anomaly
alerts: one episode per anomaly, opened once, updated while it lasts, closed when spend is back
to normal. ``AccountMonitor`` (one per account) turns finished days into 30-day forecasts of
each service and of the account (service ``*``, the sum of its services' forecasts), and raises
a projected-overspend alert when the month-end projection crosses the monthly budget. The Flink
job keeps them in keyed state as plain, versioned Avro records (``state()`` / ``from_state``;
schemas/*_monitor_state.avsc): numbers and names only, so a checkpoint cannot carry code, and a
later build or Python reads it. Settings and budgets are not state: they come from accounts.yaml
whenever a monitor is restored.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import NamedTuple

from pipelines.aggregates import plain_decimal
from pipelines.anomaly import HOUR_MS, DetectorSettings, HourlyCostDetector, Score, severity
from pipelines.budgets import Budget
from pipelines.enrichment import AccountDirectory
from pipelines.forecast import HORIZON_DAYS, QUARTERS, DailyCostForecaster, DayForecast, ForecastScore

CLOSE_AFTER_H = 3  # normal hours that end an episode
UPDATE_EVERY_H = 6  # an open episode reports this often
MAX_GAP_H = 24 * 14  # hours without data filled with zero cost (a longer silence restarts the clock)
TOP_RESOURCES = 3
PROJECTION_WARMUP_DAYS = 7  # a month-end projection needs this much history
CENT = Decimal("0.01")


def stable_id(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class HourOfSpend:
    """One finished hour of one series: usage cost per region and its costliest resources."""

    account_id: str
    service: str
    hour_ms: int
    regions: dict[str, Decimal]
    top_resources: tuple[tuple[str, Decimal], ...] = ()

    @property
    def cost(self) -> Decimal:
        return sum(self.regions.values(), Decimal(0))


@dataclass(frozen=True)
class AnomalyAlert:
    """One message of an anomaly episode: ``open``, ``update`` or ``close``."""

    account_id: str
    service: str
    status: str
    episode_id: str
    window_start_ms: int
    window_end_ms: int
    actual_cost: float
    expected_cost: float
    score: float
    severity: str
    history_days: float
    reasons: tuple[str, ...]
    top_resources: tuple[tuple[str, str], ...]

    @property
    def alert_id(self) -> str:
        return stable_id("anomaly", self.episode_id, self.status, self.window_start_ms)


@dataclass
class _Episode:
    episode_id: str
    start_ms: int
    last_anomalous_ms: int
    last_report_ms: int
    peak: Score
    peak_window: tuple[int, int]


def _episode_state(episode: _Episode) -> dict:
    return {
        "episode_id": episode.episode_id,
        "start_ms": episode.start_ms,
        "last_anomalous_ms": episode.last_anomalous_ms,
        "last_report_ms": episode.last_report_ms,
        "peak_actual": episode.peak.actual,
        "peak_expected": episode.peak.expected,
        "peak_score": episode.peak.score,
        "peak_reasons": list(episode.peak.reasons),
        "peak_start_ms": episode.peak_window[0],
        "peak_end_ms": episode.peak_window[1],
    }


class SeriesMonitor:
    """Anomaly episodes of one account × service hourly usage cost series."""

    def __init__(self, account_id: str, service: str, settings: DetectorSettings | None = None) -> None:
        self.account_id, self.service = account_id, service
        self.detector = HourlyCostDetector(settings)
        self.episode: _Episode | None = None
        self.last_hour_ms: int | None = None
        self.suspect_ms: int | None = None  # a moderate excess waits one hour for confirmation

    def observe(self, hour: HourOfSpend) -> list[AnomalyAlert]:
        """Feed a finished hour (after any hours the series skipped, as zero cost)."""
        alerts: list[AnomalyAlert] = []
        if self.last_hour_ms is not None and hour.hour_ms <= self.last_hour_ms:
            return alerts  # a re-delivered hour: already learned
        if self.last_hour_ms is not None and hour.hour_ms - self.last_hour_ms <= MAX_GAP_H * HOUR_MS:
            for gap_ms in range(self.last_hour_ms + HOUR_MS, hour.hour_ms, HOUR_MS):
                alerts += self._step(HourOfSpend(self.account_id, self.service, gap_ms, {}))
        alerts += self._step(hour)
        return alerts

    def _step(self, hour: HourOfSpend) -> list[AnomalyAlert]:
        regions = {region: float(cost) for region, cost in hour.regions.items()}
        cost = float(hour.cost)
        score = self.detector.score_one(hour.hour_ms, cost, regions)
        alerts = self._track(hour, score)
        self.detector.learn_one(hour.hour_ms, cost, regions, score)
        self.last_hour_ms = hour.hour_ms
        return alerts

    def _track(self, hour: HourOfSpend, score: Score) -> list[AnomalyAlert]:
        episode, start = self.episode, hour.hour_ms
        if score.anomalous:
            if episode is None and not self._confirmed(start, score):
                return []
            if episode is None:
                episode_id = stable_id(self.account_id, self.service, start)
                self.episode = _Episode(episode_id, start, start, start, score, (start, start + HOUR_MS))
                return [self._alert("open", hour, score, self.episode)]
            episode.last_anomalous_ms = start
            if score.score > episode.peak.score:
                episode.peak, episode.peak_window = score, (start, start + HOUR_MS)
            if start - episode.last_report_ms >= UPDATE_EVERY_H * HOUR_MS:
                episode.last_report_ms = start
                return [self._alert("update", hour, score, episode)]
            return []
        if episode is not None and start - episode.last_anomalous_ms >= CLOSE_AFTER_H * HOUR_MS:
            self.episode = None
            return [self._alert("close", hour, score, episode)]
        return []

    def state(self) -> dict:
        """What schemas/series_monitor_state.avsc records: the detector's numbers and the open episode."""
        episode = self.episode
        return {
            "account_id": self.account_id,
            "service": self.service,
            "detector": self.detector.state(),
            "episode": None if episode is None else _episode_state(episode),
            "last_hour_ms": self.last_hour_ms,
            "suspect_ms": self.suspect_ms,
            "recent_scores": list(self.detector.recent_scores),
            "run_excess": self.detector.run_excess,
            "packed_slots": self.detector.packed_slots(),
        }

    @classmethod
    def from_state(cls, state: dict, settings: DetectorSettings | None = None) -> SeriesMonitor:
        monitor = cls(state["account_id"], state["service"], settings)
        monitor.detector = HourlyCostDetector.from_state(state["detector"], settings, state["packed_slots"])
        monitor.detector.recent_scores = list(state["recent_scores"])
        monitor.detector.run_excess = state["run_excess"]
        if (episode := state["episode"]) is not None:
            peak = Score(
                episode["peak_actual"], episode["peak_expected"], episode["peak_score"], episode["peak_reasons"]
            )
            moments = (episode["start_ms"], episode["last_anomalous_ms"], episode["last_report_ms"])
            monitor.episode = _Episode(
                episode["episode_id"], *moments, peak, (episode["peak_start_ms"], episode["peak_end_ms"])
            )
        monitor.last_hour_ms, monitor.suspect_ms = state["last_hour_ms"], state["suspect_ms"]
        return monitor

    def _confirmed(self, start: int, score: Score) -> bool:
        """A strong signal opens an episode at once; a moderate excess must persist a second hour."""
        strong = score.actual >= score.expected * (1 + 2 * self.detector.settings.relative_threshold)
        if strong or any(reason != "spend above expected" for reason in score.reasons):
            return True
        confirmed = self.suspect_ms == start - HOUR_MS
        self.suspect_ms = start
        return confirmed

    def _raise_note(self, status: str) -> tuple[str, ...]:
        note = self.detector.settings.raise_note()
        return (note,) if note and status != "close" else ()

    def _alert(self, status: str, hour: HourOfSpend, score: Score, episode: _Episode) -> AnomalyAlert:
        reported = score if status != "close" else episode.peak
        window = (hour.hour_ms, hour.hour_ms + HOUR_MS) if status != "close" else (episode.start_ms, hour.hour_ms)
        return AnomalyAlert(
            account_id=self.account_id,
            service=self.service,
            status=status,
            episode_id=episode.episode_id,
            window_start_ms=window[0],
            window_end_ms=window[1],
            actual_cost=round(reported.actual, 6),
            expected_cost=round(reported.expected, 6),
            score=reported.score,
            severity=severity(reported) if status != "close" else "info",
            history_days=round(self.detector.history_days(hour.hour_ms), 2),
            reasons=(*(reported.reasons or ("spend back to normal",)), *self._raise_note(status)),
            top_resources=tuple((rid, plain_decimal(str(cost))) for rid, cost in hour.top_resources[:TOP_RESOURCES]),
        )


@dataclass(frozen=True)
class ForecastPoint:
    """One predicted day of one series' forecast (service ``*`` is the account total)."""

    account_id: str
    service: str
    made_at: date
    day: date
    predicted: float
    lower: float
    upper: float


@dataclass(frozen=True)
class ForecastAccuracy:
    """How one series' earlier forecast of a day did, scored as the day arrived (live accuracy)."""

    account_id: str
    service: str
    score: ForecastScore

    @property
    def accuracy_id(self) -> str:
        """One per series, forecast day and horizon: a re-scored day overwrites, never double-counts."""
        return stable_id("forecast-accuracy", self.account_id, self.service, self.score.made_at, self.score.day)

    def record(self) -> dict:
        """As schemas/forecast_accuracy.avsc holds it: the job's topic and the backtest's file alike."""
        score = self.score
        return {
            "accuracy_id": self.accuracy_id,
            "account_id": self.account_id,
            "service": self.service,
            "made_at": score.made_at.isoformat(),
            "date": score.day.isoformat(),
            "horizon_days": score.horizon,
            "predicted_cost": f"{score.predicted:.6f}",
            "lower": f"{score.lower:.6f}",
            "upper": f"{score.upper:.6f}",
            "actual_cost": f"{score.actual:.6f}",
            "naive_cost": None if score.naive is None else f"{score.naive:.6f}",
            "covered": score.covered,
            "ape": score.ape,
            "naive_ape": score.naive_ape,
        }


@dataclass(frozen=True)
class ProjectedOverspend:
    """Month-end projection above the monthly budget, with the services driving it."""

    account_id: str
    month: str
    budget: Decimal
    month_to_date: Decimal
    projected: Decimal
    made_at: date
    drivers: tuple[tuple[str, Decimal], ...]

    @property
    def alert_id(self) -> str:
        return stable_id("projected-overspend", self.account_id, self.month)


@dataclass
class DayOfSpend:
    """One finished day of one account: usage cost per service and total (all charge types) cost.

    ``quarters_by_service``: each service's usage in the day's four six-hour quarters (UTC), which
    lets its forecaster tell a step that held all day from a spike (empty where not known).
    """

    account_id: str
    day: date
    usage_by_service: dict[str, Decimal]
    total_cost: Decimal
    quarters_by_service: dict[str, tuple[Decimal, ...]] = field(default_factory=dict)

    @property
    def usage(self) -> Decimal:
        return sum(self.usage_by_service.values(), Decimal(0))


class DayOutcome(NamedTuple):
    """What an account monitor says at the end of a day."""

    forecasts: list[ForecastPoint]
    overspends: list[ProjectedOverspend]
    accuracy: list[ForecastAccuracy]


@dataclass
class AccountMonitor:
    """Forecasts of one account and its services; the month-end projection against its budget."""

    account_id: str
    monthly_budget: Budget | None = None
    forecasters: dict[str, DailyCostForecaster] = field(default_factory=dict)
    history: dict[str, list[tuple[date, float]]] = field(default_factory=dict)
    month_to_date: tuple[str, Decimal] = ("", Decimal(0))
    warned_months: set[str] = field(default_factory=set)
    last_day: date | None = None

    def observe(self, spend: DayOfSpend) -> DayOutcome:
        if self.last_day is not None and spend.day <= self.last_day:
            return DayOutcome([], [], [])  # a re-delivered day
        self.last_day = spend.day
        series = {"*": float(spend.usage), **{s: float(c) for s, c in spend.usage_by_service.items()}}
        for name in self.forecasters.keys() - series.keys():
            series[name] = 0.0  # a service without spend today
        quarters = _quarters(spend, series)
        points, made, accuracy = [], {}, []
        for name, cost in sorted(series.items(), key=_services_first):
            forecaster = self.forecasters.setdefault(name, DailyCostForecaster())
            scores = forecaster.learn_one(spend.day, cost, quarters.get(name))
            accuracy += [ForecastAccuracy(self.account_id, name, s) for s in scores]
            recent = self.history.setdefault(name, [])
            recent.append((spend.day, cost))
            del recent[:-HORIZON_DAYS]
            made[name] = forecaster.forecast(parts=_sum_of(made) if name == "*" else None)
            points += [self._point(name, f) for f in made[name]]
        return DayOutcome(points, self._projection(spend, made), accuracy)

    def state(self) -> dict:
        """What schemas/account_monitor_state.avsc records: each series' forecaster and recent days."""
        return {
            "account_id": self.account_id,
            "series": [
                {
                    "name": name,
                    "forecaster": forecaster.state(),
                    "recent_days": [day.toordinal() for day, _ in self.history.get(name, [])],
                    "recent_costs": [cost for _, cost in self.history.get(name, [])],
                }
                for name, forecaster in sorted(self.forecasters.items())
            ],
            "month": self.month_to_date[0],
            "month_to_date": str(self.month_to_date[1]),
            "warned_months": sorted(self.warned_months),
            "last_day": self.last_day.toordinal() if self.last_day else None,
            "model_choice": [
                {"name": name, **forecaster.choice.state()} for name, forecaster in sorted(self.forecasters.items())
            ],
            "weekly_trends": [
                {"name": name, **forecaster.trend_state()} for name, forecaster in sorted(self.forecasters.items())
            ],
            "interval_errors": [
                {"name": name, "buckets": forecaster.interval_errors()}
                for name, forecaster in sorted(self.forecasters.items())
            ],
            "day_quarters": [
                {"name": name, **forecaster.quarter_state()} for name, forecaster in sorted(self.forecasters.items())
            ],
        }

    @classmethod
    def from_state(cls, state: dict, monthly_budget: Budget | None = None) -> AccountMonitor:
        series = state["series"]
        choices = {c["name"]: c for c in state["model_choice"]}  # empty from a version 1 record
        trends = {t["name"]: t for t in state["weekly_trends"]}  # empty from a version 1 or 2 record
        errors = {e["name"]: e["buckets"] for e in state["interval_errors"]}  # empty from a version 1-3 record
        quarters = {q["name"]: q for q in state["day_quarters"]}  # empty from a version 1-4 record
        return cls(
            state["account_id"],
            monthly_budget,
            forecasters={
                s["name"]: DailyCostForecaster.from_state(
                    s["forecaster"],
                    choices.get(s["name"]),
                    trends.get(s["name"]),
                    errors.get(s["name"]),
                    quarters.get(s["name"]),
                )
                for s in series
            },
            history={
                s["name"]: [(date.fromordinal(d), c) for d, c in zip(s["recent_days"], s["recent_costs"], strict=True)]
                for s in series
            },
            month_to_date=(state["month"], Decimal(state["month_to_date"])),
            warned_months=set(state["warned_months"]),
            last_day=date.fromordinal(state["last_day"]) if state["last_day"] else None,
        )

    def _point(self, service: str, forecast: DayForecast) -> ForecastPoint:
        return ForecastPoint(
            self.account_id,
            service,
            forecast.made_at,
            forecast.day,
            round(forecast.predicted, 6),
            round(forecast.lower, 6),
            round(forecast.upper, 6),
        )

    def _projection(self, spend: DayOfSpend, made: dict[str, list[DayForecast]]) -> list[ProjectedOverspend]:
        month = spend.day.strftime("%Y-%m")
        basis = spend.usage if self.monthly_budget and self.monthly_budget.basis == "usage" else spend.total_cost
        previous = self.month_to_date[1] if self.month_to_date[0] == month else Decimal(0)
        self.month_to_date = (month, previous + basis)
        budget = self.monthly_budget
        if budget is None or month in self.warned_months or self.forecasters["*"].days < PROJECTION_WARMUP_DAYS:
            return []
        rest = [f for f in made["*"] if f.day.strftime("%Y-%m") == month]
        projected = (self.month_to_date[1] + Decimal(str(sum(f.predicted for f in rest)))).quantize(CENT)
        if projected < budget.amount or self.month_to_date[1] >= budget.amount:
            return []  # on track, or already over (the budget alert has said so)
        self.warned_months.add(month)
        return [
            ProjectedOverspend(
                self.account_id,
                month,
                budget.amount,
                self.month_to_date[1].quantize(CENT),
                projected,
                spend.day,
                self._drivers(made, rest),
            )
        ]

    def _drivers(self, made: dict[str, list[DayForecast]], rest: list[DayForecast]) -> tuple[tuple[str, Decimal], ...]:
        """Services whose forecast for the rest of the month exceeds their last-30-day pace most."""
        days = len(rest)
        change = {}
        for name, forecasts in made.items():
            if name == "*":
                continue
            pace = sum(cost for _, cost in self.history[name]) / max(len(self.history[name]), 1)
            ahead = sum(f.predicted for f in forecasts[:days])
            change[name] = Decimal(str(round(ahead - pace * days, 2)))
        ranked = sorted(change.items(), key=lambda item: (-item[1], item[0]))
        return tuple((name, delta) for name, delta in ranked[:3] if delta > 0)


def _quarters(spend: DayOfSpend, series: dict[str, float]) -> dict[str, tuple[float, ...]]:
    """Each service's usage per quarter of the day (none at all if a service's is unknown).

    Not the account total's: it is forecast as its services' sum, so its own level never forecasts.
    """
    known = spend.quarters_by_service
    if not known or spend.usage_by_service.keys() - known.keys():
        return {}
    idle = (0.0,) * QUARTERS  # a service without spend today
    return {name: tuple(map(float, known[name])) if name in known else idle for name in series if name != "*"}


def _services_first(item: tuple[str, float]) -> tuple[bool, str]:
    """Services in name order, then the account total ("*"), which is forecast as their sum."""
    return item[0] == "*", item[0]


def _sum_of(made: dict[str, list[DayForecast]]) -> list[float] | None:
    """Each horizon's sum of the services' forecasts: the account total forecast bottom-up (None without services)."""
    return [math.fsum(f.predicted for f in day) for day in zip(*made.values(), strict=True)] if made else None


def day_of(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


@dataclass
class History:
    """Everything the monitors said over a history, and each series' hourly actual vs expected."""

    anomalies: list[AnomalyAlert] = field(default_factory=list)
    forecasts: list[ForecastPoint] = field(default_factory=list)
    overspends: list[ProjectedOverspend] = field(default_factory=list)
    accuracy: list[ForecastAccuracy] = field(default_factory=list)
    traces: dict[tuple[str, str], list[tuple[int, float, float | None]]] = field(default_factory=dict)


def series_history(
    account_id: str, service: str, hours: Iterable[HourOfSpend], directory: AccountDirectory
) -> tuple[list[tuple[int, AnomalyAlert]], list[tuple[int, float, float | None]]]:
    """One series' hours in event-time order through its monitor: (the hour each alert came at, alert), trace."""
    monitor = SeriesMonitor(account_id, service, directory.anomaly_settings(account_id, service))
    alerts, trace = [], []
    for hour in hours:
        trace.append((hour.hour_ms, float(hour.cost), monitor.detector.expected(hour.hour_ms)))
        alerts += [(hour.hour_ms, alert) for alert in monitor.observe(hour)]
    return alerts, trace


def account_history(
    account_id: str, days: Iterable[DayOfSpend], directory: AccountDirectory
) -> list[tuple[date, DayOutcome]]:
    """One account's days in order through its monitor: each day's outcome (forecasts, overspends, accuracy)."""
    monitor = AccountMonitor(account_id, directory.monthly_budget(account_id))
    return [(day.day, monitor.observe(day)) for day in days]


def merged_history(
    series: dict[tuple[str, str], tuple[list[tuple[int, AnomalyAlert]], list]],
    accounts: dict[str, list[tuple[date, DayOutcome]]],
) -> History:
    """Every series' and account's history as one, in the order a single pass over time gives.

    Hours are watched in (hour, account, service) order and days in (day, account) order, so
    where the histories run keyed and apart (the job, a Beam backtest) the result is the same.
    """
    history = History()
    first_hour = {key: trace[0][0] for key, (_, trace) in series.items() if trace}
    for key in sorted(first_hour, key=lambda k: (first_hour[k], *k)):
        history.traces[key] = series[key][1]
    alerts = [(hour_ms, *key, n, alert) for key, (said, _) in series.items() for n, (hour_ms, alert) in enumerate(said)]
    history.anomalies = [item[-1] for item in sorted(alerts, key=lambda item: item[:4])]
    outcomes = sorted((day, account, outcome) for account, days in accounts.items() for day, outcome in days)
    for _, _, outcome in outcomes:
        history.forecasts += outcome.forecasts
        history.overspends += outcome.overspends
        history.accuracy += outcome.accuracy
    return history


def monitor_history(hours: Iterable[HourOfSpend], days: Iterable[DayOfSpend], directory: AccountDirectory) -> History:
    """Run the monitors over finished hours and days in event-time order (what the job does, keyed)."""
    by_series: dict[tuple[str, str], list[HourOfSpend]] = {}
    for hour in hours:
        by_series.setdefault((hour.account_id, hour.service), []).append(hour)
    by_account: dict[str, list[DayOfSpend]] = {}
    for day in days:
        by_account.setdefault(day.account_id, []).append(day)
    return merged_history(
        {key: series_history(*key, said, directory) for key, said in by_series.items()},
        {account: account_history(account, said, directory) for account, said in by_account.items()},
    )
