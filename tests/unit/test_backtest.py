"""``spendstream backtest`` writes its four files for every supported export format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.labelled_cur import write as write_labelled_bill
from pipelines.enrichment import load_directory
from spendstream.backtest.runner import backtest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
ANOMALY_KEYS = {
    "account_id",
    "service",
    "window_start",
    "window_end",
    "actual_cost",
    "expected_cost",
    "score",
    "severity",
}
FORECAST_KEYS = {"account_id", "service", "made_at", "date", "predicted_cost", "lower", "upper"}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    "export, anomalies",
    [(FIXTURES / "cur1-real", 0), (FIXTURES / "focus-real", 1), (ROOT / "deploy" / "sample" / "cur2", 1)],
)
def test_every_format_gives_the_four_files(export, anomalies, tmp_path):
    result = backtest(export, tmp_path, load_directory(ROOT / "accounts.yaml"), show_progress=False)
    assert {p.name for p in tmp_path.iterdir()} >= {"anomalies.jsonl", "forecasts.jsonl", "metrics.json", "report.html"}
    assert result.metrics["rows_rejected"] == 0 and result.metrics["series"] > 0
    forecasts = lines(tmp_path / "forecasts.jsonl")
    assert forecasts and all(set(f) >= FORECAST_KEYS for f in forecasts)
    assert {f["service"] for f in forecasts} >= {"*"}
    found = lines(tmp_path / "anomalies.jsonl")
    assert len(found) == anomalies and all(set(a) >= ANOMALY_KEYS for a in found)  # the sample's one runaway day
    assert json.loads((tmp_path / "metrics.json").read_text())["forecasts"] == len(forecasts)
    assert "<svg" in (tmp_path / "report.html").read_text()


def test_labels_add_detection_metrics_and_the_runaway_day_is_found(tmp_path):
    export, labels = write_labelled_bill(tmp_path / "bill", days=60, seed=5)
    result = backtest(
        export, tmp_path / "out", load_directory(ROOT / "accounts.yaml"), labels_file=labels, show_progress=False
    )
    detection = result.metrics["detection"]
    assert detection["labels"] > 0 and detection["recall"] >= 0.8 and detection["precision"] >= 0.8
    sample = backtest(
        ROOT / "deploy" / "sample" / "cur2",
        tmp_path / "sample",
        load_directory(ROOT / "accounts.yaml"),
        show_progress=False,
    )
    opened = [a for a in sample.history.anomalies if a.status == "open"]
    assert [(a.account_id, a.service) for a in opened] == [("444444444444", "AmazonEC2")]  # the runaway GPU fleet
