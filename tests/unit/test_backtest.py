"""``spendstream backtest`` writes its four files for every supported export format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.labelled_cur import write as write_labelled_bill
from connectors.cur_files import export_files
from pipelines.enrichment import load_directory
from spendstream.backtest.beam import build, pipeline_options
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


def test_the_beam_pipeline_on_the_direct_runner_writes_exactly_what_the_in_process_backtest_writes(tmp_path):
    """Sums per file, combined per key, monitors per series and account in worker processes: same bytes."""
    export, labels = write_labelled_bill(tmp_path / "bill", days=45, seed=11)
    shutil.copy(FIXTURES / "cur2_malformed.csv", next(export.rglob("*.csv*")).parent / "late-additions.csv")
    directory = load_directory(ROOT / "accounts.yaml")
    alone = backtest(export, tmp_path / "alone", directory, labels_file=labels, show_progress=False)
    beam = backtest(export, tmp_path / "beam", directory, labels_file=labels, show_progress=False, runner="direct")
    assert len(export_files(export)) > 1 and alone.metrics["rows_rejected"] == 6
    assert alone.metrics["anomaly_alerts"] > 0 and alone.metrics["forecasts"] > 0
    for name in ("anomalies.jsonl", "anomaly_episodes.jsonl", "forecasts.jsonl", "forecast_accuracy.jsonl"):
        assert (tmp_path / "beam" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes(), name
    assert (tmp_path / "beam" / "metrics.json").read_text() == (tmp_path / "alone" / "metrics.json").read_text()
    assert beam.daily_usage == alone.daily_usage


def test_the_beam_graph_and_options_for_runners_this_machine_cannot_reach():
    """Flink and Dataflow cannot run here: their options and the graph they would run are checked."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import DirectOptions, GoogleCloudOptions, StandardOptions

    direct = pipeline_options("direct")
    assert direct.view_as(StandardOptions).runner == "DirectRunner"
    assert direct.view_as(DirectOptions).direct_running_mode == "multi_processing"
    flink = pipeline_options("flink", ["--flink_master=flink.example:8081 --parallelism=8"])
    assert flink.view_as(StandardOptions).runner == "FlinkRunner"
    assert flink.get_all_options()["flink_master"] == "flink.example:8081"
    assert flink.get_all_options()["parallelism"] == 8
    dataflow = pipeline_options(
        "dataflow", ["--project=finops", "--region=europe-west1", "--temp_location=gs://finops-backtests/tmp"]
    )
    assert dataflow.view_as(GoogleCloudOptions).project == "finops"
    with pytest.raises(ValueError, match="unknown runner 'samza'"):
        pipeline_options("samza")

    pipeline = beam.Pipeline(options=dataflow)
    build(
        pipeline,
        [Path("a.csv.gz"), Path("b.parquet")],
        "auto",
        load_directory(ROOT / "accounts.yaml"),
        "gs://finops-backtests/out",
    )
    names = {t.unique_name for t in pipeline.to_runner_api().components.transforms.values()}
    for step in ("export files", "read + normalize + sum", "sum per key", "group", "through the monitors", "write"):
        assert step in names, sorted(names)
