"""How good detection and forecasts were on a history: precision, recall, F1, delay, MAPE, coverage.

An alert counts for a labelled anomaly of the same account and service if its hour falls
within the anomaly or the 24 hours after it; the delay is from the anomaly's start to the end of
the first such alert's hour (when that hour's data was complete). Forecasts are compared per
account with the seasonal-naive forecast (the same weekday of the week before the cutoff).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pipelines.forecast import BUCKETS

GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class Label:
    account_id: str
    service: str
    start: datetime
    end: datetime
    kind: str = ""

    @classmethod
    def from_json(cls, item: dict) -> Label:
        return cls(item["account_id"], item["service"], parse(item["start"]), parse(item["end"]), item.get("kind", ""))


def parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def detection_metrics(alerts: list[dict], labels: list[Label]) -> dict:
    """``alerts``: opening anomaly alerts as written to anomalies.jsonl."""
    matched_alerts, delays = 0, {}
    for alert in alerts:
        start, end = parse(alert["window_start"]), parse(alert["window_end"])
        hits = [
            label
            for label in labels
            if (label.account_id, label.service) == (alert["account_id"], alert["service"])
            and label.start <= start < label.end + GRACE
        ]
        matched_alerts += bool(hits)
        for label in hits:
            delay = (end - label.start).total_seconds() / 3600
            delays[label] = min(delays.get(label, delay), delay)
    precision = matched_alerts / len(alerts) if alerts else 1.0
    recall = len(delays) / len(labels) if labels else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    by_kind: dict[str, list[bool]] = {}
    for label in labels:
        by_kind.setdefault(label.kind or "anomaly", []).append(label in delays)
    return {
        "alerts": len(alerts),
        "labels": len(labels),
        "true_positive_alerts": matched_alerts,
        "detected_labels": len(delays),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "median_delay_h": round(statistics.median(delays.values()), 2) if delays else None,
        "recall_by_kind": {kind: round(sum(hit) / len(hit), 4) for kind, hit in sorted(by_kind.items())},
        "missed": [
            f"{lb.account_id} {lb.service} {lb.kind} {lb.start:%Y-%m-%dT%H:%M}" for lb in labels if lb not in delays
        ],
    }


def forecast_metrics(
    forecasts: list[dict], actuals: dict[tuple[str, date], float], shifts: dict[str, list[datetime]]
) -> dict:
    """Per-account ("*") forecasts against actual days and the seasonal-naive baseline.

    ``actuals``: (account, day) → usage cost; ``shifts``: account → level-shift starts, whose
    nearby horizons (from 7 days before the cutoff to the horizon's end) are reported apart. The
    days on or after a shift that began after the forecast was made are also reported apart
    (``unseen_shift_*``): no forecast from before a shift can know it, so there the model and
    seasonal naive are equally wrong, and their share bounds what the all-horizon ratio can reach.
    """
    clean: dict[str, list[float]] = {"model": [], "naive": [], "covered": []}
    everything: dict[str, list[float]] = {"model": [], "naive": [], "covered": []}
    unseen: dict[str, list[float]] = {"model": [], "naive": []}
    for item in forecasts:
        if item["service"] != "*":
            continue
        account, made, day = item["account_id"], date.fromisoformat(item["made_at"]), date.fromisoformat(item["date"])
        actual = actuals.get((account, day))
        last_week = made - timedelta(days=(made.weekday() - day.weekday()) % 7)
        naive = actuals.get((account, last_week))
        if not actual or naive is None:
            continue
        model_ape, naive_ape = abs(item["predicted_cost"] - actual) / actual, abs(naive - actual) / actual
        covered = float(item["lower"] <= actual <= item["upper"])
        everything["model"].append(model_ape)
        everything["naive"].append(naive_ape)
        everything["covered"].append(covered)
        near_shift = any(
            made - timedelta(days=7) <= s.date() <= made + timedelta(days=30) for s in shifts.get(account, [])
        )
        if not near_shift:
            clean["model"].append(model_ape)
            clean["naive"].append(naive_ape)
            clean["covered"].append(covered)
        if any(made < s.date() <= day for s in shifts.get(account, [])):
            unseen["model"].append(model_ape)
            unseen["naive"].append(naive_ape)

    def mean(values: list[float]) -> float | None:
        return round(statistics.fmean(values), 4) if values else None

    return {
        "days_scored": len(everything["model"]),
        "mape": mean(everything["model"]),
        "seasonal_naive_mape": mean(everything["naive"]),
        "interval_coverage": mean(everything["covered"]),
        "no_shift_days_scored": len(clean["model"]),
        "no_shift_mape": mean(clean["model"]),
        "no_shift_seasonal_naive_mape": mean(clean["naive"]),
        "no_shift_interval_coverage": mean(clean["covered"]),
        "unseen_shift_days_scored": len(unseen["model"]),
        "unseen_shift_mape": mean(unseen["model"]),
        "unseen_shift_seasonal_naive_mape": mean(unseen["naive"]),
    }


def live_accuracy(records: list[dict]) -> dict:
    """Every forecast of every account total ("*") as it was scored when its day arrived, per horizon bucket.

    ``records`` are ForecastAccuracy records (schemas/forecast_accuracy.avsc): the job's live
    accuracy, here over a whole history. Unlike ``forecast_metrics`` every daily forecast counts,
    not only the cutoffs', and the naive baseline is the one the job scored beside it.
    """
    out = {}
    for low, high in BUCKETS:
        scored = [r for r in records if r["service"] == "*" and low <= r["horizon_days"] <= high]
        out[f"{low}-{high}"] = {
            "scored": len(scored),
            "mape": _mean_of(scored, "ape"),
            "seasonal_naive_mape": _mean_of(scored, "naive_ape"),
            "interval_coverage": _mean_of(scored, "covered"),
        }
    return out


def _mean_of(records: list[dict], name: str) -> float | None:
    """The mean of a field where it is known (as InfluxQL's MEAN, which ``spendstream models`` runs)."""
    values = [r[name] for r in records if r[name] is not None]
    return round(statistics.fmean(values), 4) if values else None
