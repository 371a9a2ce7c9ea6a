"""The embedded stack runs the whole pipeline: `replay --heartbeat` alone fills InfluxDB.

The supervisor (what `stack up` starts) is run here as its own process against the test stack's
servers, with topics, consumer groups, database and state folder of its own: it submits the
cost job and starts the InfluxDB sink and the health writer; a replay with a heartbeat is then
all it takes for InfluxDB to hold the bill's books to the cent; a sink killed is restarted and
carries on; stopping the supervisor leaves nothing running that it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from connectors.influx_query import DatabaseNotFoundError
from spendstream.api.access import SECRET_ENV
from spendstream.config import Config, to_env
from spendstream.flink_client import cancel
from spendstream.processes import free_port, running_pid, spawn, stop, wait_until
from spendstream.supervisor import LIVE_STATES, PIPELINE, cost_job, cost_job_running, pipeline_lag
from tests.conformance.bill import charges
from tests.integration.test_formats_pipeline import isolated
from tests.integration.test_pipeline import ROOT
from tests.integration.test_restatement import assert_books_match, written

pytestmark = pytest.mark.integration


def test_replay_with_a_heartbeat_alone_fills_influxdb_and_a_dead_sink_comes_back(stack: Config, tmp_path):
    config = isolated(stack, "supervised")
    state = tmp_path / "state"
    config = replace(
        config,
        stack=replace(config.stack, state_dir=str(state), pipeline=True),
        api=replace(config.api, port=free_port()),
    )
    env = {**to_env(config), SECRET_ENV: "supervisor-test-secret-of-forty-bytes!!!"}
    spawn("supervisor", [sys.executable, "-m", "spendstream.cli", "stack", "supervise"], state, env=env)
    try:
        wait_until(lambda: cost_job_running(config), "the supervised cost job", 240, state / "logs" / "supervisor.log")
        assert all(running_pid(name, state) for name in (*PIPELINE, "api"))

        bill = charges(days=2)
        replay = [str(ROOT / ".venv" / "bin" / "spendstream"), "replay", str(written(bill, tmp_path / "export"))]
        done = subprocess.run([*replay, "--heartbeat", "--no-progress"], env={**os.environ, **env}, timeout=600)
        assert done.returncode == 0
        _until_books_match(config, bill)

        sink = running_pid("influx-sink", state)
        os.kill(sink, signal.SIGKILL)
        wait_until(lambda: running_pid("influx-sink", state) not in (None, sink), "a new sink", 30)
        assert set(pipeline_lag(config)) == {"cost job", "influx sink"}
    finally:  # the supervisor first, or it restarts what is stopped; the job last (asking Flink may fail)
        for name in ("supervisor", *PIPELINE, "api"):
            stop(name, state)
        job = cost_job(config)
        if job is not None and job.state in LIVE_STATES:
            cancel(config, job.job_id)
    assert not any(running_pid(name, state) for name in ("supervisor", *PIPELINE, "api"))


def _until_books_match(config: Config, bill, timeout_s: float = 300) -> None:
    """InfluxDB, written by the supervised sink alone, holds the bill's books (polled; the test sinks nothing)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return assert_books_match(config, bill)
        except (AssertionError, DatabaseNotFoundError):
            if time.monotonic() > deadline:
                raise
            time.sleep(5)
