"""Anomalies, forecasts and alerts from the streaming job, and parity with ``spendstream backtest``.

A labelled bill (spikes, a level shift, spend in a new region, weekly bursts, month-start runs,
fees) replayed through the real broker and the Flink job: the job's anomaly and forecast topics
and the scores of its forecasts (live accuracy) say exactly what the backtest says for the same
export, alerts reach the alert topic, and the sink writes the ``anomaly``, ``forecast`` and
``forecast_accuracy`` measurements to InfluxDB.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.labelled_cur import write as write_labelled_bill
from connectors.alert_labels import UnknownAlertError, alert_labels, mark_alert
from connectors.influx_query import influxql
from connectors.influx_sink import InfluxSink
from connectors.replay import replay
from pipelines.enrichment import load_directory
from schemas import SchemaName, codec
from spendstream.backtest.runner import backtest
from spendstream.config import Config
from spendstream.flink_client import job_failure, submit, wait_for_job
from spendstream.models import model_families
from tests.integration.test_formats_pipeline import isolated
from tests.integration.test_pipeline import ROOT, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def streamed(stack: Config, tmp_path_factory) -> tuple[Config, Path]:
    export, _ = write_labelled_bill(tmp_path_factory.mktemp("labelled"), days=45, seed=4)
    config = isolated(stack, "analytics")
    summary = replay(export, config, show_progress=False)
    job_id = submit(config, "cost-aggregation", summary.backfill_args())
    assert wait_for_job(config, job_id, timeout_s=600) == "FINISHED", job_failure(config, job_id)
    return config, export


def decoded(config: Config, role: str, schema: SchemaName) -> list[dict]:
    return [codec().decode(record.value, schema) for record in read_topic(config, role)]


def test_the_job_and_the_backtest_emit_the_same_anomalies_and_forecasts(streamed, tmp_path):
    config, export = streamed
    offline = backtest(export, tmp_path / "backtest", load_directory(ROOT / "accounts.yaml"), show_progress=False)
    anomalies = decoded(config, "anomaly", SchemaName.ANOMALY)
    assert anomalies, "the job emitted no anomaly"
    streamed_episodes = sorted(
        (a["episode_id"], a["status"], a["window_start_ms"], a["actual_cost"], a["expected_cost"], a["score"])
        for a in anomalies
    )
    backtest_episodes = sorted(
        (a.episode_id, a.status, a.window_start_ms, f"{a.actual_cost:.6f}", f"{a.expected_cost:.6f}", a.score)
        for a in offline.history.anomalies
    )
    assert streamed_episodes == backtest_episodes
    forecasts = decoded(config, "forecast", SchemaName.FORECAST)
    streamed_forecasts = sorted(
        (f["account_id"], f["service"], f["made_at"], f["date"], f["predicted_cost"], f["lower"], f["upper"])
        for f in forecasts
    )
    backtest_forecasts = sorted(
        (
            f.account_id,
            f.service,
            f.made_at.isoformat(),
            f.day.isoformat(),
            f"{f.predicted:.6f}",
            f"{f.lower:.6f}",
            f"{f.upper:.6f}",
        )
        for f in offline.history.forecasts
    )
    assert len(streamed_forecasts) > 1000 and streamed_forecasts == backtest_forecasts
    streamed_accuracy = sorted(
        tuple(a.values()) for a in decoded(config, "forecast_accuracy", SchemaName.FORECAST_ACCURACY)
    )
    backtest_accuracy = sorted(tuple(a.record().values()) for a in offline.history.accuracy)
    assert len(streamed_accuracy) > 1000 and streamed_accuracy == backtest_accuracy


def test_anomalies_reach_the_alert_topic_and_influxdb(streamed):
    config, _ = streamed
    anomalies = decoded(config, "anomaly", SchemaName.ANOMALY)
    alerts = decoded(config, "alert", SchemaName.ALERT)
    anomaly_alerts = {a["alert_id"]: a for a in alerts if a["kind"] == "anomaly"}
    assert set(anomaly_alerts) == {a["alert_id"] for a in anomalies}
    opened = next(a for a in anomalies if a["status"] == "open")
    alert = anomaly_alerts[opened["alert_id"]]
    assert alert["details"]["episode_id"] == opened["episode_id"] and opened["top_resources"]
    assert f"{float(opened['actual_cost']):,.2f}" in alert["message"] and opened["service"] in alert["title"]

    InfluxSink(config).run(until_idle_s=4)
    counted = influxql(config.influx, "SELECT COUNT(score) FROM anomaly")
    assert counted[0]["values"][0][1] == len(anomalies)
    per_account = influxql(
        config.influx, "SELECT COUNT(predicted_usd) FROM forecast WHERE service = '*' GROUP BY account"
    )
    accuracy = decoded(config, "forecast_accuracy", SchemaName.FORECAST_ACCURACY)
    live = influxql(config.influx, "SELECT COUNT(covered), MEAN(covered) FROM forecast_accuracy WHERE service = '*'")
    account_totals = [a for a in accuracy if a["service"] == "*"]
    assert live[0]["values"][0][1] == len(account_totals)
    assert live[0]["values"][0][2] == pytest.approx(sum(a["covered"] for a in account_totals) / len(account_totals))
    assert {s["tags"]["account"] for s in per_account} == {
        "111111111111",
        "222222222222",
        "333333333333",
        "444444444444",
    }


def test_marked_alerts_give_live_precision_and_the_latest_mark_stands(streamed):
    config, _ = streamed
    InfluxSink(config).run(until_idle_s=4)
    opened = [a for a in decoded(config, "alert", SchemaName.ALERT) if a["kind"] == "anomaly"][:3]
    assert len(opened) == 3
    mark_alert(config, opened[0]["alert_id"][:12], "confirmed")
    mark_alert(config, opened[1]["alert_id"], "false_positive", note="planned load test")
    mark_alert(config, opened[2]["alert_id"], "false_positive")
    mark_alert(config, opened[2]["alert_id"], "confirmed")  # corrected: the latest verdict stands
    labels = alert_labels(config)
    assert {k: v["verdict"] for k, v in labels.items()} == {
        opened[0]["alert_id"]: "confirmed",
        opened[1]["alert_id"]: "false_positive",
        opened[2]["alert_id"]: "confirmed",
    }
    assert labels[opened[1]["alert_id"]]["note"] == "planned load test"
    with pytest.raises(UnknownAlertError, match="no alert"):
        mark_alert(config, "0" * 32, "confirmed")
    with pytest.raises(UnknownAlertError, match="too short"):
        mark_alert(config, "ab", "confirmed")

    families = model_families(config)
    assert families[0].live.startswith("precision 0.67 (2 confirmed, 1 false positives of")


def test_models_reports_the_live_accuracy_the_job_recorded(streamed):
    config, _ = streamed
    InfluxSink(config).run(until_idle_s=4)
    week = [
        a
        for a in decoded(config, "forecast_accuracy", SchemaName.FORECAST_ACCURACY)
        if a["service"] == "*" and a["horizon_days"] <= 7
    ]
    costed = [a for a in week if a["ape"] is not None]
    coverage = sum(a["covered"] for a in week) / len(week)
    mape = sum(a["ape"] for a in costed) / len(costed)
    row = next(f for f in model_families(config) if f.name.startswith("forecast, horizons 1–7"))
    assert row.version == "account_monitor_state v2" and " – " in row.data
    assert f"MAPE {mape:.3f}" in row.live and f"covered {coverage:.2f}, {len(week)} scored" in row.live
