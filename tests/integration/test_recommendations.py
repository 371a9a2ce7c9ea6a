"""Recommendations from the streaming job: the same advice as ``spendstream recommend``, on the topic and in InfluxDB.

A small CUR 2.0 fleet (an idle instance, an oversized one, a busy one, all on demand) and its
CloudWatch-style metrics replayed through the real broker and the Flink job: once per event-time
day the job refreshes each account's advice, and on any day it is exactly what ``recommend
--as-of`` that day gives for the same files; new advice above the alert threshold becomes an
alert, and the sink writes measurement ``recommendation``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from connectors.influx_query import influxql
from connectors.influx_sink import InfluxSink
from connectors.metric_replay import replay_metrics
from connectors.replay import format_offsets, replay
from pipelines.optimize.catalog import load_catalog
from pipelines.optimize.usage import DAY_MS
from schemas import SchemaName
from spendstream.config import Config
from spendstream.flink_client import job_failure, submit, wait_for_job
from spendstream.recommend import recommend
from tests.integration.test_analytics import decoded
from tests.integration.test_formats_pipeline import isolated
from tests.integration.test_pipeline import SAVINGS_DASHBOARD, as_grafana_runs_it, grafana_queries, screenshot
from tests.unit.test_recommend_command import DAYS, FLEET, START, write_bill

# Two busy instances tagged as one workload (an instance_mix), beside the untagged fleet.
WEB = {"i-web-1": ("c6i.xlarge", "0.17", 55.0, 1e8), "i-web-2": ("c6i.xlarge", "0.17", 60.0, 1e8)}
TAGS = {resource: {"user_workload": "web"} for resource in WEB}
# After the advice of day 30 is followed: the idle instance stopped, the oversized one one size down.
FOLLOWED = {**FLEET, **WEB, "i-oversized": ("m5.xlarge", "0.192", 24.0, 1e8)}
del FOLLOWED["i-idle"]
ADVISED_AT = int(START.timestamp() * 1000) + DAYS * DAY_MS  # the end of day 30

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def streamed(stack: Config, tmp_path_factory) -> tuple[Config, Path, Path]:
    bill, metrics = write_bill(
        tmp_path_factory.mktemp("fleet") / "in",
        DAYS + 2,
        lambda day: {**FLEET, **WEB} if day < DAYS else FOLLOWED,
        TAGS,
    )
    config = isolated(stack, "recommendations")
    config = replace(config, optimizer=replace(config.optimizer, alert_monthly_savings=50.0))
    summary = replay(bill, config, show_progress=False)
    samples = replay_metrics(metrics, None, config)
    assert samples.rejected == 1  # the row whose timestamp is not a time
    job_args = [*summary.backfill_args(), "--metrics-until-offsets", format_offsets(samples.end_offsets)]
    job_id = submit(config, "cost-aggregation", job_args)
    assert wait_for_job(config, job_id, timeout_s=600) == "FINISHED", job_failure(config, job_id)
    return config, bill, metrics


def test_each_day_the_job_gives_what_recommend_gives_as_of_that_day(streamed, tmp_path):
    config, bill, metrics = streamed
    records = decoded(config, "recommendation", SchemaName.RECOMMENDATION)
    days = sorted({r["as_of_ms"] for r in records})
    assert len(days) >= 16, "a refresh every day once there is advice to give"
    assert ADVISED_AT in days
    for as_of in (days[len(days) // 2], ADVISED_AT, days[-1]):
        offline = recommend(
            bill, [metrics], tmp_path / str(as_of), config.optimizer.load_catalog(), as_of, config.optimizer.settings(),
            show_progress=False,
        )  # fmt: skip
        expected = sorted((i.record(as_of) for a in offline.advice.values() for i in a.live), key=by_id)
        streamed_open = sorted((r for r in records if r["as_of_ms"] == as_of and r["status"] == "open"), key=by_id)
        assert streamed_open == expected
    advised = {r["resource_id"]: r for r in records if r["as_of_ms"] == ADVISED_AT and r["resource_id"]}
    assert advised["i-idle"]["type"] == "idle" and advised["i-oversized"]["type"] == "rightsize"
    assert "i-busy" not in advised
    mixes = [r for r in records if r["as_of_ms"] == ADVISED_AT and r["type"] == "instance_mix"]
    assert [r["current_type"] for r in mixes] == ["workload web (AmazonEC2 c6i)"]


def test_advice_the_bill_shows_was_followed_becomes_an_optimization_event(streamed):
    config, _, _ = streamed
    events = {e["resource_id"]: e for e in decoded(config, "optimization_event", SchemaName.OPTIMIZATION_EVENT)}
    assert set(events) == {"i-idle", "i-oversized"}
    stopped, resized = events["i-idle"], events["i-oversized"]
    assert (stopped["change"], stopped["cost_before"], stopped["cost_after"]) == ("stopped", "70.08", "0")
    assert stopped["savings_achieved"] == stopped["predicted_savings"] == "70.08"  # 0.096 $/h × 730 h
    assert (resized["change"], resized["cost_before"], resized["cost_after"]) == (
        "resized to m5.xlarge",
        "280.32",
        "140.16",
    )
    assert resized["savings_achieved"] == resized["predicted_savings"] == "140.16"
    assert 24 <= resized["performance_impact"] <= 29  # the CPU it now runs at: 24% plus the hourly wobble
    assert stopped["detected_at_ms"] == resized["detected_at_ms"] == ADVISED_AT + DAY_MS  # the first whole day after

    InfluxSink(config).run(until_idle_s=4)
    realized = influxql(config.influx, "SELECT SUM(achieved_usd), SUM(predicted_usd) FROM optimization_event")
    assert realized[0]["values"][0][1:] == [pytest.approx(210.24), pytest.approx(210.24)]
    for where, query in grafana_queries((SAVINGS_DASHBOARD,)):
        assert influxql(config.influx, as_grafana_runs_it(query)), f"{where}: no data"


def test_advice_is_refreshed_not_repeated_as_alerts_and_reaches_influxdb(streamed):
    config, _, _ = streamed
    records = decoded(config, "recommendation", SchemaName.RECOMMENDATION)
    alerts = [a for a in decoded(config, "alert", SchemaName.ALERT) if a["kind"] == "recommendation"]
    announced = [a["details"]["recommendation_id"] for a in alerts]
    assert len(announced) == len(set(announced)), "each recommendation is announced once"
    worth = {r["recommendation_id"] for r in records if float(r["potential_savings"]) >= 50}
    assert set(announced) <= worth and {"idle", "rightsize"} <= {a["details"]["type"] for a in alerts}
    idle = next(a for a in alerts if a["details"]["type"] == "idle")
    assert "i-idle" in idle["title"] and idle["window_end_ms"] % DAY_MS == 0

    InfluxSink(config).run(until_idle_s=4)
    counted = influxql(config.influx, "SELECT COUNT(savings_usd) FROM recommendation GROUP BY status")
    by_status = {series["tags"]["status"]: series["values"][0][1] for series in counted}
    assert sum(by_status.values()) == len(records)
    assert by_status["open"] == sum(1 for r in records if r["status"] == "open")


def test_the_recommend_report_renders_in_headless_chromium(streamed, tmp_path):
    _, bill, metrics = streamed
    offline = recommend(bill, [metrics], tmp_path / "out", load_catalog(), ADVISED_AT, show_progress=False)
    page = tmp_path / "out" / "report.html"
    assert page.read_text().count("<tr><td>") == sum(len(a.live) + len(a.findings) for a in offline.advice.values())
    image = screenshot(page, tmp_path / "report.png", (1400, 900))
    colors = Counter(image.get_flattened_data())
    bars = sum(n for (r, g, b), n in colors.items() if abs(r - 0x25) + abs(g - 0x63) + abs(b - 0xEB) < 60)
    assert bars > 300, "the saving bars (blue) are not drawn"


def by_id(record: dict) -> str:
    return record["recommendation_id"]
