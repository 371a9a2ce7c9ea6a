"""``spendstream recommend``: an export (and its utilization) through the optimization engine.

read + normalize the export (any supported format) and the metric files → resource-hours
(pipelines/optimize/usage.py) → per account the same ``advise`` the job runs → the live
recommendations in ``recommendations.jsonl``, every instance's finding in ``findings.jsonl``, and
both for people in ``report.html``.
``as_of`` uses only data before it, so a walk-forward evaluation can score advice on later months.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from connectors.cur_files import ExportError, SourceRow, export_files, read_rows
from connectors.progress import replay_progress
from connectors.replay import FormatChecker, ReplaySummary, normalized_events
from pipelines.cost_event import RejectedRow
from pipelines.metrics import normalize_metric_row, series_of
from pipelines.optimize.catalog import Catalog
from pipelines.optimize.engine import AccountAdvice, advise
from pipelines.optimize.rightsizing import Finding
from pipelines.optimize.settings import OptimizerSettings
from pipelines.optimize.usage import ResourceUsage
from spendstream.recommend_report import write_report

METRIC_COLUMNS = {"timestamp", "resource_id", "metric", "value"}


@dataclass
class RecommendResult:
    summary: ReplaySummary
    rejected: Counter  # reason → rows of the export refused
    metric_rows: int
    metric_rejects: Counter
    advice: dict[str, AccountAdvice]


def recommend(
    export: Path,
    metrics: list[Path],
    out: Path,
    catalog: Catalog,
    as_of_ms: int | None = None,
    settings: OptimizerSettings | None = None,
    show_progress: bool = True,
) -> RecommendResult:
    settings = settings or OptimizerSettings()
    usage, summary, rejected = ResourceUsage(workload_tags=settings.workload_tags), ReplaySummary(), Counter()
    latest = 0

    def reject(row: SourceRow, reason: str) -> None:
        summary.rejected += 1
        rejected[reason.split(":")[0]] += 1

    with replay_progress(show_progress) as progress:
        with progress.console.status("reading the export ..."):
            for event in normalized_events(export_files(export), summary, reject, [0], FormatChecker("auto")):
                if as_of_ms is None or event.usage_start_ms < as_of_ms:
                    usage.add_cost(event)
                    latest = max(latest, event.usage_end_ms)
        metric_rows, metric_rejects = read_metrics(metrics, usage, as_of_ms)
        as_of = as_of_ms if as_of_ms is not None else latest
        histories = usage.histories()
        advice = {}
        for account in sorted({h.account_id for h in histories}):
            with progress.console.status(f"optimizing account {account} ..."):
                mine = [h for h in histories if h.account_id == account]
                advice[account] = advise(account, mine, as_of, catalog, settings)
    write_outputs(out, advice)
    write_report(out / "report.html", advice, catalog.snapshot_date)
    return RecommendResult(summary, rejected, metric_rows, metric_rejects, advice)


def read_metrics(paths: list[Path], usage: ResourceUsage, as_of_ms: int | None) -> tuple[int, Counter]:
    """``timestamp,resource_id,metric,value`` CSV files (CloudWatch GetMetricData flattened)."""
    rows, rejects = 0, Counter()

    def check(path: Path):
        def header(columns: list[str]) -> None:
            if not set(columns) >= METRIC_COLUMNS:
                raise ExportError(f"{path}: expected columns {', '.join(sorted(METRIC_COLUMNS))}; found {columns[:5]}")

        return header

    for path in [p for given in paths for p in export_files(given)]:
        for row in read_rows(path, check(path)):
            rows += 1
            try:
                sample = normalize_metric_row(row.values, series_of(row.values, None), source="recommend")
            except RejectedRow as error:
                rejects[str(error).split(":")[0]] += 1
                continue
            if as_of_ms is None or sample.timestamp_ms < as_of_ms:
                usage.add_sample(sample)
    return rows, rejects


def finding_json(finding: Finding) -> dict:
    history = finding.history
    return {
        "account_id": history.account_id,
        "resource_id": history.resource_id,
        "instance_type": history.instance_type,
        "finding": finding.kind,
        "reason": finding.reason,
        "current_monthly_cost": str(finding.current_monthly_cost),
        "evidence": finding.evidence,
    }


def write_outputs(out: Path, advice: dict[str, AccountAdvice]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "recommendations.jsonl").open("w") as recommendations, (out / "findings.jsonl").open("w") as findings:
        for account in advice.values():
            for item in sorted(account.live, key=lambda r: -r.potential_savings):
                recommendations.write(json.dumps(item.record(account.as_of_ms)) + "\n")
            for finding in account.findings:
                findings.write(json.dumps(finding_json(finding)) + "\n")
