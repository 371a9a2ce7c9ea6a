"""Job recovery and lifecycle on the real session cluster.

A TaskManager killed with SIGKILL mid-job: the job restarts from its last checkpoint on a new
TaskManager, the totals stay exact and the anomaly models resume from their checkpointed state.
A continuously running job stopped with a savepoint mid-replay (an operator's upgrade path) is
listed, resumed from that savepoint, reaches exact totals, and is cancelled.

A *bounded* backfill resumed from a savepoint never finishes: the Kafka connector's known bug
FLINK-31006 (a restored bounded enumerator never signals "no more splits"); upgrades go through
the continuous job.
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
from pathlib import Path

import pytest

from connectors.influx_query import DatabaseNotFoundError, influxql
from connectors.influx_sink import InfluxSink
from connectors.replay import ReplaySummary, replay, send_heartbeat
from pipelines.enrichment import load_directory
from schemas import SchemaName, codec
from spendstream.backtest.runner import backtest
from spendstream.config import Config
from spendstream.flink_client import (
    cancel,
    job_failure,
    list_jobs,
    rest,
    stop_with_savepoint,
    submit,
    wait_for_job,
)
from spendstream.stack import LocalStack
from tests.integration.test_formats_pipeline import isolated
from tests.integration.test_pipeline import ROOT, input_rows, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """A 21-day export, both tests read the same one.

    Three weeks hold the sample's runaway instance (day 15) and a week of forecasts, and the job
    spends over a minute on them: its first checkpoint lands long before the end, and what comes
    after it is replayed after a failure. 45 days took the job three minutes.
    """
    folder = tmp_path_factory.mktemp("recovery") / "export"
    subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "sample" / "generate_cur2.py"), "--out", str(folder), "--days", "21"],
        check=True,
        capture_output=True,
    )
    return folder


def backfill(stack: Config, export: Path, name: str, continuous: bool = False) -> tuple[Config, str, ReplaySummary]:
    """The export replayed into topics of its own and the job running on it.

    A backfill stops at the replay's end offsets; a ``continuous`` job reads on (the replay ends
    with a heartbeat so its last hour closes). Checkpoints every 5 s: the first lands well before
    the job ends, and every checkpoint copies the whole state (at 1 s the job spent most of its
    time checkpointing: 3.5 min after a restart instead of under 1).
    """
    config = isolated(stack, name)
    config = replace(config, flink=replace(config.flink, checkpoint_interval_s=5, restart_attempts=5))
    summary = replay(export, config, show_progress=False, heartbeat=continuous)
    job_args = summary.backfill_args()[:2] if continuous else summary.backfill_args()
    job_id = submit(config, "cost-aggregation", job_args)
    deadline = time.monotonic() + 120
    while rest(config, f"/jobs/{job_id}/checkpoints")["counts"]["completed"] < 1:
        assert time.monotonic() < deadline, "no checkpoint completed"
        assert rest(config, f"/jobs/{job_id}")["state"] == "RUNNING", "the job ended before the test could act"
        time.sleep(0.1)
    return config, job_id, summary


def assert_daily_totals_exact(config: Config, export: Path, settle_s: float = 0) -> None:
    """Sink what the job wrote; a job still running gets ``settle_s`` to catch up."""
    deadline = time.monotonic() + settle_s
    while True:
        InfluxSink(config).run(until_idle_s=4)
        try:
            return _assert_daily_totals_exact(config, export)
        except (AssertionError, DatabaseNotFoundError):  # nothing written yet is not settled yet
            if time.monotonic() > deadline:
                raise


def _assert_daily_totals_exact(config: Config, export: Path) -> None:
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in input_rows(export):
        day = row["line_item_usage_start_date"][:10]
        expected[(row["line_item_usage_account_id"], day)] += Decimal(row["line_item_unblended_cost"])
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


def test_job_survives_a_killed_taskmanager_with_exact_totals(stack: Config, export: Path, tmp_path):
    config, job_id, _ = backfill(stack, export, "tm-kill")
    local = LocalStack(config)
    for pid in local.taskmanager_pids():
        os.kill(pid, signal.SIGKILL)
    local.start_taskmanager()
    assert wait_for_job(config, job_id, timeout_s=600) == "FINISHED", job_failure(config, job_id)
    assert rest(config, f"/jobs/{job_id}/exceptions")["exceptionHistory"]["entries"], "the job saw no failure"
    assert_daily_totals_exact(config, export)
    assert_models_restored(config, export, tmp_path)


def assert_models_restored(config: Config, export: Path, tmp_path) -> None:
    """The river models came back from the checkpoint: the job said what a backtest says.

    Output replayed after the restart repeats some messages; they carry the same ids.
    """
    offline = backtest(export, tmp_path / "backtest", load_directory(ROOT / "accounts.yaml"), show_progress=False)
    anomalies = {
        a["alert_id"]: a for a in (codec().decode(r.value, SchemaName.ANOMALY) for r in read_topic(config, "anomaly"))
    }
    assert anomalies and set(anomalies) == {a.alert_id for a in offline.history.anomalies}
    forecasts = {
        (f["account_id"], f["service"], f["made_at"], f["date"], f["predicted_cost"])
        for f in (codec().decode(r.value, SchemaName.FORECAST) for r in read_topic(config, "forecast"))
    }
    assert forecasts and forecasts == {
        (f.account_id, f.service, f.made_at.isoformat(), f.day.isoformat(), f"{f.predicted:.6f}")
        for f in offline.history.forecasts
    }


def test_upgrade_through_a_savepoint_mid_replay_keeps_exact_totals(stack: Config, export: Path, tmp_path):
    config, job_id, summary = backfill(stack, export, "savepoint", continuous=True)
    location = stop_with_savepoint(config, job_id, f"file://{tmp_path}/savepoints")
    assert Path(location.removeprefix("file:")).exists()
    listed = {job["id"]: job for job in list_jobs(config)}
    assert listed[job_id]["state"] == "FINISHED" and listed[job_id]["records_in"] > 0
    resumed = submit(config, "cost-aggregation", summary.backfill_args()[:2], savepoint=location)
    deadline = time.monotonic() + 120
    restored = None
    while restored is None:
        assert time.monotonic() < deadline, "the resumed job did not restore its savepoint"
        restored = (rest(config, f"/jobs/{resumed}/checkpoints").get("latest") or {}).get("restored")
        time.sleep(0.2)
    assert restored["is_savepoint"] and restored["external_path"] == location
    send_heartbeat(config, summary.closing_heartbeat_ms + 1)  # the restored windows fire on the next record
    assert_daily_totals_exact(config, export, settle_s=300)
    cancel(config, resumed)
    assert wait_for_job(config, resumed, timeout_s=60) == "CANCELED"
