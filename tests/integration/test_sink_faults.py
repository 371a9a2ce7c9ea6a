"""The InfluxDB sink under faults: killed mid-batch, and InfluxDB down for a while.

Offsets are committed only after a batch is written, and a re-delivered aggregate overwrites its
own point, so after the sink is SIGKILLed and restarted, and after an InfluxDB outage it waited
out with back-off, the books in InfluxDB equal the input exactly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import replace

import pytest

from connectors.influx_query import DatabaseNotFoundError, influxql
from connectors.influx_sink import InfluxSink, SinkStats
from connectors.replay import replay
from spendstream.config import Config, to_env
from spendstream.flink_client import job_failure, submit, wait_for_job
from spendstream.processes import stop
from spendstream.stack import LocalStack
from tests.conformance.bill import charges, write_cur2
from tests.integration.test_formats_pipeline import isolated
from tests.integration.test_pipeline import ROOT
from tests.integration.test_restatement import assert_books_match

pytestmark = pytest.mark.integration


def points_written(config: Config) -> int:
    try:
        series = influxql(config.influx, "SELECT COUNT(usd_micros) FROM cost")
    except DatabaseNotFoundError:  # before the first write; any other failure is the test's failure
        return 0
    return series[0]["values"][0][1] if series else 0


def aggregates_ready(config: Config, tmp_path, name: str, bill) -> Config:
    config = isolated(config, name)
    config = replace(config, influx=replace(config.influx, batch_size=50))  # many batches to fail between
    write_cur2(bill, tmp_path / "export.csv")
    summary = replay(tmp_path / "export.csv", config, show_progress=False)
    job_id = submit(config, "cost-aggregation", summary.backfill_args())
    assert wait_for_job(config, job_id) == "FINISHED", job_failure(config, job_id)
    return config


def test_sink_killed_mid_batch_and_restarted_keeps_the_books(stack: Config, tmp_path):
    bill = charges(days=8)
    config = aggregates_ready(stack, tmp_path, "sink-kill", bill)
    env = {**os.environ, **to_env(config)}
    sink = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "spendstream"), "sink", "influx", "--until-idle", "30"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while points_written(config) == 0:
        assert sink.poll() is None and time.monotonic() < deadline, "the sink wrote nothing"
        time.sleep(0.05)
    sink.send_signal(signal.SIGKILL)
    sink.wait(10)
    partial = points_written(config)
    stats = InfluxSink(config).run(until_idle_s=4)
    assert stats.records > 0 and partial < points_written(config), "the kill did not interrupt the sink"
    assert_books_match(config, bill)


def test_sink_waits_out_an_influxdb_outage_and_keeps_the_books(stack: Config, tmp_path):
    bill = charges(days=4, seed=3)
    config = aggregates_ready(stack, tmp_path, "influx-outage", bill)
    assert stop("influxdb", config.state_dir)
    stats: list[SinkStats] = []
    worker = threading.Thread(target=lambda: stats.append(InfluxSink(config).run(until_idle_s=4)))
    worker.start()
    time.sleep(6)  # InfluxDB stays down a while: the sink retries with back-off, committing nothing
    assert worker.is_alive(), "the sink gave up while InfluxDB was down"
    LocalStack(config).up()
    worker.join(120)
    assert stats and stats[0].retries >= 2 and stats[0].dead_letters == 0
    assert_books_match(config, bill)
