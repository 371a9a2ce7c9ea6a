"""The anchor beside spendstream's forecaster: statsforecast AutoETS (season 7) on the same series and cutoffs.

Bench-only (``pip install -e '.[bench]'``). From every (account, cutoff) the model forecast from,
AutoETS is fit on that account's daily usage up to the cutoff and forecasts the next 30 days with
its 80% interval. Its forecasts take the backtest's form, so pipelines/evaluation.py scores the
model and the anchor alike, against the same actual days and the same seasonal-naive baseline.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import numpy as np
from statsforecast.models import AutoETS

from pipelines.forecast import HORIZON_DAYS

SEASON = 7
LEVEL = 80


def autoets_forecasts(model_forecasts: list[dict], daily_usage: dict[tuple[str, date], float]) -> list[dict]:
    """AutoETS forecasts (account totals, service ``*``) from the cutoffs of ``model_forecasts``."""
    days: dict[str, dict[date, float]] = defaultdict(dict)
    for (account, day), cost in daily_usage.items():
        days[account][day] = cost
    totals = (f for f in model_forecasts if f["service"] == "*")
    cutoffs = sorted({(f["account_id"], date.fromisoformat(f["made_at"])) for f in totals})
    out = []
    for account, made_at in cutoffs:
        history = daily_history(days[account], made_at)
        if len(history) < 2 * SEASON:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):  # ETS candidates with no residual dof: rejected anyway
            fit = AutoETS(season_length=SEASON).forecast(y=np.asarray(history), h=HORIZON_DAYS, level=[LEVEL])
        for h in range(HORIZON_DAYS):
            out.append(
                {
                    "account_id": account,
                    "service": "*",
                    "made_at": made_at.isoformat(),
                    "date": (made_at + timedelta(days=h + 1)).isoformat(),
                    "predicted_cost": float(fit["mean"][h]),
                    "lower": float(fit[f"lo-{LEVEL}"][h]),
                    "upper": float(fit[f"hi-{LEVEL}"][h]),
                }
            )
    return out


def daily_history(days: dict[date, float], until: date) -> list[float]:
    """Every day's cost from the first day seen to ``until``, a day with no usage as 0."""
    first = min(days)
    return [days.get(first + timedelta(days=n), 0.0) for n in range((until - first).days + 1)]
