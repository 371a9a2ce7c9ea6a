"""Anomalies, forecasts and alerts from the streaming job, and parity with ``spendstream backtest``.

A labelled bill (spikes, a level shift, spend in a new region, weekly bursts, month-start runs,
fees) replayed through the real broker and the Flink job: the job's anomaly and forecast topics
and the scores of its forecasts (live accuracy) say exactly what the backtest says for the same
export, alerts reach the alert topic, and the sink writes the ``anomaly``, ``forecast`` and
``forecast_accuracy`` measurements to InfluxDB.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench.labelled_cur import write as write_labelled_bill
from connectors.alert_labels import UnknownAlertError, alert_labels
from connectors.influx_query import influxql
from connectors.influx_sink import InfluxSink
from connectors.replay import replay
from pipelines.enrichment import load_directory
from schemas import SchemaName, codec
from spendstream.alert_feedback import mark
from spendstream.api.settings import SettingsStore
from spendstream.backtest.runner import backtest
from spendstream.config import Config
from spendstream.flink_client import job_failure, submit, wait_for_job
from spendstream.models import model_families
from tests.integration.test_formats_pipeline import isolated
from tests.integration.test_pipeline import ROOT, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def streamed(stack: Config, tmp_path_factory) -> tuple[Config, Path, list[str]]:
    """The labelled bill through the job: its config, the export, and the job's arguments."""
    export, _ = write_labelled_bill(tmp_path_factory.mktemp("labelled"), days=45, seed=4)
    config = isolated(stack, "analytics")
    summary = replay(export, config, show_progress=False)
    job_id = submit(config, "cost-aggregation", summary.backfill_args())
    assert wait_for_job(config, job_id, timeout_s=600) == "FINISHED", job_failure(config, job_id)
    return config, export, summary.backfill_args()


def decoded(config: Config, role: str, schema: SchemaName) -> list[dict]:
    return [codec().decode(record.value, schema) for record in read_topic(config, role)]


def episodes(anomalies: list[dict]) -> list[tuple]:
    """What the job said of each episode, comparable with ``episodes_of`` a backtest's."""
    fields = ("episode_id", "status", "window_start_ms", "actual_cost", "expected_cost", "score", "reasons")
    return sorted(tuple(tuple(a[f]) if f == "reasons" else a[f] for f in fields) for a in anomalies)


def episodes_of(alerts: list) -> list[tuple]:
    return sorted(
        (a.episode_id, a.status, a.window_start_ms, f"{a.actual_cost:.6f}", f"{a.expected_cost:.6f}")
        + (a.score, a.reasons)
        for a in alerts
    )


def test_the_job_and_the_backtest_emit_the_same_anomalies_and_forecasts(streamed, tmp_path):
    config, export, _ = streamed
    offline = backtest(export, tmp_path / "backtest", load_directory(ROOT / "accounts.yaml"), show_progress=False)
    anomalies = decoded(config, "anomaly", SchemaName.ANOMALY)
    assert anomalies, "the job emitted no anomaly"
    assert episodes(anomalies) == episodes_of(offline.history.anomalies)
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
    config, *_ = streamed
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


def test_marked_alerts_give_live_precision_raise_the_series_thresholds_and_the_latest_mark_stands(
    streamed, stack, tmp_path
):
    config, export, job_args = streamed
    InfluxSink(config).run(until_idle_s=4)
    alerts = [a for a in decoded(config, "alert", SchemaName.ALERT) if a["kind"] == "anomaly"]
    opened = [a for a in alerts if a["details"]["status"] == "open"][:3]
    assert len(opened) == 3
    mark(config, opened[0]["alert_id"][:12], "confirmed")
    mark(config, opened[1]["alert_id"], "false_positive", note="planned load test")
    mark(config, opened[2]["alert_id"], "false_positive")
    mark(config, opened[2]["alert_id"], "confirmed")  # corrected: the latest verdict stands
    labels = alert_labels(config)
    assert {k: v["verdict"] for k, v in labels.items()} == {
        opened[0]["alert_id"]: "confirmed",
        opened[1]["alert_id"]: "false_positive",
        opened[2]["alert_id"]: "confirmed",
    }
    assert labels[opened[1]["alert_id"]]["note"] == "planned load test"
    assert labels[opened[1]["alert_id"]]["episode_id"] == opened[1]["details"]["episode_id"]
    with pytest.raises(UnknownAlertError, match="no alert"):
        mark(config, "0" * 32, "confirmed")
    with pytest.raises(UnknownAlertError, match="too short"):
        mark(config, "ab", "confirmed")

    families = model_families(config)
    assert families[0].live.startswith("precision 0.67 (2 confirmed, 1 false positives of")

    # the one false positive stands in its account's settings and raises its series' thresholds
    account, service = opened[1]["account_id"], opened[1]["service"]
    store = SettingsStore(config)
    assert store.standing(account).account.false_positives == {service: 1}
    assert store.history(account)[-1]["changed_by"].startswith("alerts mark ")
    marked = store.directory().with_entry(account, store.standing(account).account.entry)
    offline = backtest(export, tmp_path / "marked", marked, show_progress=False).history.anomalies
    unmarked = backtest(export, tmp_path / "unmarked", load_directory(ROOT / "accounts.yaml"), show_progress=False)
    judged = {False: [], True: []}  # (marked series?) → alerts
    for alerts, directory in ((offline, "marked"), (unmarked.history.anomalies, "unmarked")):
        for alert in alerts:
            judged[(alert.account_id, alert.service) == (account, service)].append((directory, alert))
    others = {d: episodes_of([a for where, a in judged[False] if where == d]) for d in ("marked", "unmarked")}
    assert others["marked"] == others["unmarked"], "a mark changed another series"
    raised = [a for where, a in judged[True] if where == "marked" and a.status != "close"]
    before = [a for where, a in judged[True] if where == "unmarked" and a.status != "close"]
    note = "thresholds raised ×1.25 after 1 anomaly of this series marked false positive"
    assert raised and len(raised) <= len(before) and all(note in a.reasons for a in raised)

    # a job started after the mark judges the same bill as that backtest: it reads the marks from the settings
    rerun = isolated(stack, "analytics-marked")
    inputs = ("raw_cost", "restated_cost", "metrics", "account_settings", "alert_label")
    topics = {**rerun.kafka.topics, **{role: config.kafka.topics[role] for role in inputs}}
    rerun = replace(rerun, kafka=replace(rerun.kafka, topics=topics))
    job_id = submit(rerun, "cost-aggregation", job_args)
    assert wait_for_job(rerun, job_id, timeout_s=600) == "FINISHED", job_failure(rerun, job_id)
    assert episodes(decoded(rerun, "anomaly", SchemaName.ANOMALY)) == episodes_of(offline)


def test_models_reports_the_live_accuracy_the_job_recorded(streamed):
    config, *_ = streamed
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
    assert row.version == "account_monitor_state v6" and " – " in row.data
    assert f"MAPE {mape:.3f}" in row.live and f"covered {coverage:.2f}, {len(week)} scored" in row.live
