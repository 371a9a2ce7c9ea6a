"""A TaskManager killed with SIGKILL mid-job.

The job restarts from its last checkpoint on a new TaskManager and the totals in InfluxDB are
still exact.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.influx_query import influxql
from connectors.influx_sink import InfluxSink
from connectors.replay import replay
from spendstream.config import Config
from spendstream.flink_client import job_failure, rest, submit, wait_for_job
from spendstream.stack import LocalStack
from tests.integration.test_formats_pipeline import isolated
from tests.integration.test_pipeline import ROOT, input_rows

pytestmark = pytest.mark.integration


def test_job_survives_a_killed_taskmanager_with_exact_totals(stack: Config, tmp_path):
    export = tmp_path / "export"
    subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "sample" / "generate_cur2.py"), "--out", str(export), "--days", "45"],
        check=True,
        capture_output=True,
    )
    config = isolated(stack, "tm-kill")
    config = replace(config, flink=replace(config.flink, checkpoint_interval_s=1, restart_attempts=5))
    summary = replay(export, config, show_progress=False)
    until = ",".join(f"{p}:{o}" for p, o in sorted(summary.end_offsets.items()))
    job_id = submit(config, "cost-aggregation", ["--from-earliest", "--until-offsets", until])

    local = LocalStack(config)
    deadline = time.monotonic() + 120
    while rest(config, f"/jobs/{job_id}/checkpoints")["counts"]["completed"] < 1:
        assert time.monotonic() < deadline, "no checkpoint completed"
        assert rest(config, f"/jobs/{job_id}")["state"] == "RUNNING", "job ended before the TaskManager was killed"
        time.sleep(0.1)
    for pid in local.taskmanager_pids():
        os.kill(pid, signal.SIGKILL)
    local.start_taskmanager()

    assert wait_for_job(config, job_id, timeout_s=600) == "FINISHED", job_failure(config, job_id)
    assert rest(config, f"/jobs/{job_id}/exceptions")["exceptionHistory"]["entries"], "the job saw no failure"
    InfluxSink(config).run(until_idle_s=4)

    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in input_rows(export):
        expected[(row["line_item_usage_account_id"], row["line_item_usage_start_date"][:10])] += Decimal(
            row["line_item_unblended_cost"]
        )
    series = influxql(
        config.influx,
        "SELECT SUM(usd_micros) FROM cost WHERE time >= '2026-09-01' AND "
        "time < '2027-01-01' GROUP BY time(1d), account fill(none)",
    )
    actual = {
        (s["tags"]["account"], datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%d")): Decimal(v) / 10**6
        for s in series
        for t, v in s["values"]
    }
    assert set(actual) == set(expected)
    for key, total in expected.items():
        assert actual[key].quantize(Decimal("0.01")) == total.quantize(Decimal("0.01")), key
