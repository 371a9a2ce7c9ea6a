"""Pipeline metrics: the job's own counters in Flink's metric system, the processes' on Prometheus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter

import pytest

from connectors.influx_query import influxql
from connectors.influx_sink import InfluxSink
from connectors.kafka_io import ensure_topics, producer
from connectors.pipeline_health import collect_health
from connectors.process_metrics import serve_metrics
from connectors.replay import replay
from schemas import SchemaName, codec
from spendstream.config import Config, to_env
from spendstream.flink_client import cancel, pipeline_metrics, submit, wait_for_job
from spendstream.processes import free_port
from spendstream.stack import LocalStack
from tests.conformance.bill import charges, write_cur2
from tests.integration.test_formats_pipeline import isolated
from tests.integration.test_pipeline import HEALTH_DASHBOARD, POISON, ROOT, grafana_queries, read_topic

pytestmark = pytest.mark.integration


def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    samples = (line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {name: float(value) for name, value in samples}


def test_job_and_process_metrics_count_what_flowed(stack: Config, tmp_path):
    config = isolated(stack, "observability")
    port = free_port()
    serve_metrics(port)
    bill = charges(days=2, seed=9)
    write_cur2(bill, tmp_path / "export.csv")
    summary = replay(tmp_path / "export.csv", config, show_progress=False, heartbeat=True)
    poison = producer(config)
    poison.send(config.kafka.topic("raw_cost"), POISON, partition=0, timestamp_ms=summary.closing_heartbeat_ms).get(10)
    poison.close()
    job_id = submit(config, "cost-aggregation", summary.backfill_args()[:2])  # a running job, not a backfill
    try:
        accounts = {c.account for c in bill}
        series = {(c.account, c.service) for c in bill if c.line_item_type == "Usage"}
        forecasts = 2 * 30 * (len(accounts) + len(series))  # two finished days, 30 days ahead, per series and "*"
        deadline, seen = time.monotonic() + 180, {}
        wanted = {"forecast_records": forecasts, "dead_letters_written": 1, "series_models": len(series)}
        while any(seen.get(name) != value for name, value in wanted.items()):  # each vertex's counters arrive apart
            assert time.monotonic() < deadline, f"the job's counters did not reach the input: {seen}"
            time.sleep(2)
            seen = pipeline_metrics(config, job_id)
        assert seen["aggregates_written"] > 0 and seen["alerts_written"] == seen["alert_records"]
        assert (seen["series_models"], seen["account_models"]) == (len(series), len(accounts))
        pushed = {"series_models": len(series), "account_models": len(accounts)}
        # the Java decoder's counters: every replayed event (per export format) and the poison message
        pushed |= {"cost_events_decoded": summary.produced, "cost_events_undecodable": 1}
        text = assert_pushed_to_prometheus(config, job_id, pushed)
        assert any("cost_events_decoded{" in line and 'format="cur2"' in line for line in text.splitlines())
        stats = InfluxSink(config).run(until_idle_s=4)
        assert_live_totals_end_at_the_final_ones(config, len(accounts))
        assert_health_dashboard_shows(config, dead_letters=seen["dead_letters_written"])
    finally:
        cancel(config, job_id)
        wait_for_job(config, job_id, timeout_s=60)
    scraped = scrape(port)
    assert scraped["spendstream_replay_produced_total"] >= len(bill)
    assert scraped["spendstream_sink_points_total"] >= stats.points > 0


def assert_live_totals_end_at_the_final_ones(config: Config, accounts: int) -> None:
    """The live running totals (topic and ``cost_live``) end at each hour's final aggregate, to the cent."""
    final = {
        a["aggregate_id"]: a
        for a in (codec().decode(r.value, SchemaName.COST_AGGREGATE) for r in read_topic(config, "aggregate"))
        if a["scope"] == "account_service"
    }
    latest: dict[str, dict] = {}  # one aggregate's updates share a key, so a partition, in emission order
    for record in read_topic(config, "live_aggregate"):
        if record.value is not None:
            update = codec().decode(record.value, SchemaName.COST_AGGREGATE)
            latest[update["aggregate_id"]] = update
    assert set(latest) == set(final)
    for aggregate_id, aggregate in final.items():
        live = latest[aggregate_id]
        assert (live["unblended_cost"], live["net_cost"], live["line_items"]) == (
            aggregate["unblended_cost"],
            aggregate["net_cost"],
            aggregate["line_items"],
        ), aggregate_id
    per_account = {
        measurement: {
            item["tags"]["account"]: item["values"][0][1]
            for item in influxql(config.influx, f"SELECT SUM(usd_micros) FROM {measurement} GROUP BY account")
        }
        for measurement in ("cost", "cost_live")
    }
    assert per_account["cost_live"] == per_account["cost"] and len(per_account["cost"]) == accounts


def assert_pushed_to_prometheus(config: Config, job_id: str, expected: dict[str, int]) -> str:
    """Flink's bundled Prometheus reporter pushed the job's own counters to the stack's Pushgateway."""
    url = f"{LocalStack(config).endpoints['pushgateway']}/metrics"
    deadline, pushed, text = time.monotonic() + 60, {}, ""
    while pushed != expected:
        assert time.monotonic() < deadline, f"the Pushgateway has {pushed}, not {expected}"
        time.sleep(2)
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        pushed = {
            name: sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if not line.startswith("#") and f"_{name}{{" in line and f'job_id="{job_id}"' in line
            )
            for name in expected
        }
    return text


def assert_health_dashboard_shows(config: Config, dead_letters: float) -> None:
    """Two health measurements of the running pipeline, then every health panel's query has data."""
    collect_health(config, every_s=1.5, rounds=2)
    for where, query in grafana_queries((HEALTH_DASHBOARD,)):
        query = query.replace("$timeFilter", "time > now() - 1h").replace("$__interval", "1s")
        assert influxql(config.influx, query), where
    lags = influxql(config.influx, 'SELECT last("lag") FROM "pipeline_lag" GROUP BY "group", "topic"')
    sink_group = config.kafka.sink_group
    assert {s["tags"]["topic"] for s in lags if s["tags"]["group"] == sink_group} >= {config.kafka.topic("aggregate")}
    assert all(s["values"][0][1] == 0 for s in lags if s["tags"]["group"] == sink_group)  # the sink has read all
    stored = influxql(config.influx, 'SELECT last("records") FROM "pipeline_topic" WHERE "role" = \'dead_letter\'')
    assert stored[0]["values"][0][1] == dead_letters
    letters = [codec().decode(r.value, SchemaName.DEAD_LETTER) for r in read_topic(config, "dead_letter")]
    expected = Counter((letter["stage"], letter["reason"].split(":")[0].strip()) for letter in letters)
    counted = influxql(config.influx, 'SELECT sum("records") FROM "pipeline_dead_letters" GROUP BY "stage", "reason"')
    assert {(s["tags"]["stage"], s["tags"]["reason"]): s["values"][0][1] for s in counted} == expected  # once each


def test_json_logs_name_the_job_and_the_record_behind_each_error(stack: Config):
    config = isolated(stack, "json-logs")
    ensure_topics(config)
    sender = producer(config)
    sender.send(config.kafka.topic("aggregate"), POISON, partition=0).get(10)
    sender.close()
    sink = subprocess.run(
        [sys.executable, "-m", "spendstream.cli", "--log-format", "json", "sink", "influx", "--until-idle", "3"],
        env={**os.environ, **to_env(config)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sink.returncode == 0, sink.stdout + sink.stderr
    lines = [json.loads(line) for line in sink.stderr.splitlines() if line.strip()]  # every line is JSON
    dead_letter = next(line for line in lines if "dead-letter" in line["message"])
    assert dead_letter | {"time": None} == {
        "time": None,
        "level": "WARNING",
        "job": "spendstream sink",
        "logger": "connectors.influx_sink",
        "message": dead_letter["message"],
        "topic": config.kafka.topic("aggregate"),
        "partition": 0,
        "offset": 0,
    }
    assert "undecodable record" in dead_letter["message"]
