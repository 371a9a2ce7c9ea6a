"""``spendstream backtest``: a historical export through the same detection and forecast code as the job.

read + normalize (any supported format) → hourly and daily series (pipelines/spend_series.py) →
the monitors (pipelines/spend_monitor.py), as fast as the machine allows → anomalies.jsonl,
forecasts.jsonl, forecast_accuracy.jsonl (every forecast scored as its day arrived, as the job's
topic has it), metrics.json and report.html in the output folder.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from connectors.cur_files import SourceRow, export_files, total_bytes
from connectors.progress import replay_progress
from connectors.replay import FormatChecker, ReplaySummary, normalized_batches
from pipelines.enrichment import AccountDirectory
from pipelines.evaluation import Label, detection_metrics, forecast_metrics, live_accuracy
from pipelines.spend_monitor import AnomalyAlert, ForecastPoint, History, monitor_history
from pipelines.spend_series import SpendSeries
from spendstream.backtest.report import write_report


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def anomaly_json(alert: AnomalyAlert) -> dict:
    return {
        "alert_id": alert.alert_id,
        "episode_id": alert.episode_id,
        "status": alert.status,
        "account_id": alert.account_id,
        "service": alert.service,
        "window_start": iso(alert.window_start_ms),
        "window_end": iso(alert.window_end_ms),
        "actual_cost": alert.actual_cost,
        "expected_cost": alert.expected_cost,
        "score": alert.score,
        "severity": alert.severity,
        "history_days": alert.history_days,
        "reasons": list(alert.reasons),
        "top_resources": [{"resource_id": rid, "cost": cost} for rid, cost in alert.top_resources],
    }


def forecast_json(point: ForecastPoint) -> dict:
    return {
        "account_id": point.account_id,
        "service": point.service,
        "made_at": point.made_at.isoformat(),
        "date": point.day.isoformat(),
        "predicted_cost": point.predicted,
        "lower": point.lower,
        "upper": point.upper,
    }


@dataclass
class BacktestResult:
    summary: ReplaySummary
    history: History
    metrics: dict
    daily_usage: dict[tuple[str, date], float]  # (account, day) → usage cost, what forecasts are scored on


def backtest(
    path: Path,
    out: Path,
    directory: AccountDirectory,
    export_format: str = "auto",
    labels_file: Path | None = None,
    show_progress: bool = True,
    runner: str | None = None,
    beam_options: list[str] | None = None,
) -> BacktestResult:
    """Run the monitors over an export and write the result files under ``out``.

    In this process by default; with ``runner`` (direct, flink, dataflow, ...) as one Apache Beam
    pipeline (spendstream/backtest/beam.py), with the same results.
    """
    files = export_files(path)
    labels = [Label.from_json(item) for item in json.loads(labels_file.read_text())] if labels_file else None
    if runner is None:
        history, summary, rejected, daily_usage = _in_process(files, export_format, directory, show_progress)
    else:
        from spendstream.backtest.beam import beam_history

        with replay_progress(show_progress) as progress, progress.console.status(f"Beam pipeline on {runner} ..."):
            history, summary, rejected, daily_usage = beam_history(
                files, export_format, directory, runner, beam_options
            )
    metrics = evaluate(summary, rejected, history, daily_usage, labels)
    write_outputs(out, history, metrics, labels)
    return BacktestResult(summary, history, metrics, daily_usage)


def _in_process(
    files: list[Path], export_format: str, directory: AccountDirectory, show_progress: bool
) -> tuple[History, ReplaySummary, Counter, dict[tuple[str, date], float]]:
    summary, rejected = ReplaySummary(), Counter()

    def reject(row: SourceRow, reason: str) -> None:
        summary.rejected += 1
        rejected[reason.split(":")[0]] += 1

    series = SpendSeries()
    with replay_progress(show_progress) as progress:
        reading = progress.add_task("read", total=total_bytes(files))
        counter = [0]
        for _, normalized in normalized_batches(files, summary, reject, counter, FormatChecker(export_format)):
            series.add_batch(normalized.events)
            if counter[0] >= 1 << 20:
                progress.advance(reading, counter[0])
                counter[0] = 0
        progress.update(reading, completed=progress.tasks[reading].total)
        with progress.console.status("detecting and forecasting ..."):
            history = monitor_history(series.hours(), series.days(), directory)
    daily_usage = {(day.account_id, day.day): float(day.usage) for day in series.days()}
    return history, summary, rejected, daily_usage


def evaluate(
    summary: ReplaySummary,
    rejected: Counter,
    history: History,
    daily_usage: dict[tuple[str, date], float],
    labels: list[Label] | None,
) -> dict:
    opened = [anomaly_json(a) for a in history.anomalies if a.status == "open"]
    metrics: dict = {
        "rows_read": summary.rows_read,
        "rows_rejected": summary.rejected,
        "rejected_by_reason": dict(rejected),
        "series": len(history.traces),
        "anomaly_alerts": len(opened),
        "anomaly_messages": Counter(a.status for a in history.anomalies),
        "forecasts": len(history.forecasts),
        "projected_overspend_alerts": len(history.overspends),
    }
    shifts = {}
    for label in labels or []:
        if label.kind == "level_shift":
            shifts.setdefault(label.account_id, []).append(label.start)
    metrics["forecast"] = forecast_metrics([forecast_json(f) for f in history.forecasts], daily_usage, shifts)
    metrics["forecast_accuracy"] = live_accuracy([scored.record() for scored in history.accuracy])
    if labels is not None:
        metrics["detection"] = detection_metrics(opened, labels)
    return metrics


def write_outputs(out: Path, history: History, metrics: dict, labels: list[Label] | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "anomalies.jsonl").open("w") as anomalies, (out / "anomaly_episodes.jsonl").open("w") as episodes:
        for alert in history.anomalies:
            line = json.dumps(anomaly_json(alert)) + "\n"
            (anomalies if alert.status == "open" else episodes).write(line)
    with (out / "forecasts.jsonl").open("w") as forecasts:
        for point in history.forecasts:
            forecasts.write(json.dumps(forecast_json(point)) + "\n")
    with (out / "forecast_accuracy.jsonl").open("w") as accuracy:
        for scored in history.accuracy:
            accuracy.write(json.dumps(scored.record()) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    write_report(out / "report.html", history, metrics, labels or [])
