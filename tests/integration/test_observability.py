"""Pipeline metrics: the job's own counters in Flink's metric system, the processes' on Prometheus."""

from __future__ import annotations

import time
import urllib.request

import pytest

from connectors.influx_sink import InfluxSink
from connectors.kafka_io import producer
from connectors.process_metrics import serve_metrics
from connectors.replay import replay
from spendstream.config import Config
from spendstream.flink_client import cancel, pipeline_metrics, submit, wait_for_job
from spendstream.processes import free_port
from tests.conformance.bill import charges, write_cur2
from tests.integration.test_formats_pipeline import isolated
from tests.integration.test_pipeline import POISON

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
        while seen.get("forecast_records") != forecasts or seen.get("dead_letters_written") != 1:
            assert time.monotonic() < deadline, f"the job's counters did not reach the input: {seen}"
            time.sleep(2)
            seen = pipeline_metrics(config, job_id)
        assert seen["aggregates_written"] > 0 and seen["alerts_written"] == seen["alert_records"]
        assert (seen["series_models"], seen["account_models"]) == (len(series), len(accounts))
    finally:
        cancel(config, job_id)
        wait_for_job(config, job_id, timeout_s=60)
    stats = InfluxSink(config).run(until_idle_s=4)
    scraped = scrape(port)
    assert scraped["spendstream_replay_produced_total"] >= len(bill)
    assert scraped["spendstream_sink_points_total"] >= stats.points > 0
