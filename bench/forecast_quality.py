"""The forecast half of bench.detection_quality in seconds, for working on the forecaster.

    python -m bench.forecast_quality [--seeds 1 2 ... 20] [--per-seed] [--anchor]

The full benchmark writes each varied bill as a CUR export and runs ``spendstream backtest`` on it
(about 90 s a bill). The forecasts of account totals need only each account's daily usage cost:
this sums the bill's usage rows per account and day as the generator makes them and runs the
same ``DailyCostForecaster`` over them, day by day, as the account monitor does for service
``*``. Its ratios and coverages equal the full benchmark's to the digit on the development seeds
(checked on 2026-12-06); it does not score detection. ``--anchor`` also fits AutoETS from the same
cutoffs (~15 s a bill), so the anchor stands beside the figures of the same run. Held-out seeds stay
unscored here as there.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections import defaultdict
from datetime import date
from decimal import Decimal

from bench.detection_quality import DEVELOPMENT_SEEDS, bill_days, decile, level_shifts, perfect_forecasts, ratios
from bench.forecast_anchors import autoets_forecasts
from bench.labelled_cur import labels, legitimate_daily_usage, plan_anomalies, rows, varied_series
from pipelines.evaluation import forecast_metrics
from pipelines.forecast import QUARTERS
from pipelines.spend_monitor import AccountMonitor, DayOfSpend
from pipelines.spend_series import quarter_of
from spendstream.backtest.runner import forecast_json


def bill_usage(seed: int) -> tuple[dict, dict, dict]:
    """(account, service, day) → usage cost, account → level-shift starts, and the noise-free usage of bill ``seed``."""
    days = bill_days(seed)
    rng = random.Random(seed)
    bill = varied_series(rng)
    plan_anomalies(bill, rng, days)
    usage: dict[tuple[str, str, date], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * QUARTERS)
    for row in rows(bill, days, rng):
        if row["type"] == "Usage":
            quarter = quarter_of(int(row["start"].timestamp() * 1000))
            usage[(row["account"], row["service"], row["start"].date())][quarter] += Decimal(row["cost"])
    return dict(usage), level_shifts(labels(bill)), legitimate_daily_usage(bill, days)


def account_totals(usage: dict[tuple[str, str, date], Decimal]) -> dict[tuple[str, date], float]:
    """(account, day) → usage cost: the actuals forecasts of the account totals are scored against."""
    totals: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for (account, _, day), quarters in usage.items():
        totals[(account, day)] += sum(quarters)
    return {key: float(cost) for key, cost in totals.items()}


def forecasts(usage: dict[tuple[str, str, date], Decimal]) -> list[dict]:
    """Every account total's 30-day forecasts, made each day by the account monitor as the job makes them."""
    days: dict[tuple[str, date], dict[str, list[Decimal]]] = defaultdict(dict)
    for (account, service, day), quarters in usage.items():
        days[(account, day)][service] = quarters
    monitors: dict[str, AccountMonitor] = {}
    out = []
    for (account, day), quarters in sorted(days.items()):
        monitor = monitors.setdefault(account, AccountMonitor(account))
        by_service = {service: sum(q) for service, q in quarters.items()}
        total = sum(by_service.values(), Decimal(0))
        made = monitor.observe(DayOfSpend(account, day, by_service, total, {s: tuple(q) for s, q in quarters.items()}))
        out += [forecast_json(point) for point in made.forecasts if point.service == "*"]
    return out


FIGURES = ("shift-free MAPE ÷ naive", "all-horizon MAPE ÷ naive", "coverage shift-free", "coverage all", "perfect")
ANCHOR_FIGURES = ("AutoETS shift-free ÷ naive", "AutoETS all-horizon ÷ naive", "AutoETS coverage shift-free")


def seed_figures(seed: int, anchor: bool = False) -> tuple[float, ...]:
    """``FIGURES`` of bill ``seed``, then ``ANCHOR_FIGURES`` if ``anchor``."""
    usage, shifts, legitimate = bill_usage(seed)
    made, totals = forecasts(usage), account_totals(usage)
    perfect = perfect_forecasts(made, legitimate)
    figures = (*ratios(forecast_metrics(made, totals, shifts)), ratios(forecast_metrics(perfect, totals, shifts))[0])
    if not anchor:
        return figures
    return figures + ratios(forecast_metrics(autoets_forecasts(made, totals), totals, shifts))[:3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=DEVELOPMENT_SEEDS)
    parser.add_argument("--per-seed", action="store_true")
    parser.add_argument("--anchor", action="store_true", help="also fit and score AutoETS (bench extra)")
    args = parser.parse_args()
    figures = [seed_figures(seed, args.anchor) for seed in args.seeds]
    if args.per_seed:
        for seed, row in zip(args.seeds, figures, strict=True):
            print(seed, " ".join(f"{value:.3f}" for value in row))
    names = FIGURES + (ANCHOR_FIGURES if args.anchor else ())
    for name, values in zip(names, zip(*figures, strict=True), strict=True):
        low, high = decile(values, "low"), decile(values, "high")
        print(f"{name}: median {statistics.median(values):.3f}, deciles {low:.3f}–{high:.3f}")
    if args.anchor:
        beaten = sum(row[0] < row[len(FIGURES)] for row in figures)
        print(f"better than AutoETS on shift-free horizons: {beaten} of {len(figures)} seeds")


if __name__ == "__main__":
    main()
