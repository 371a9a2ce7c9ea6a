"""Real servers for the integration tests.

The embedded stack (SeaweedFS + Tansu, InfluxDB 1.6, a Flink session cluster) and Debian's
victoria-metrics for the InfluxDB v2 write API.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest

from spendstream.config import Config, load_config
from spendstream.processes import free_port, http_ok
from spendstream.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory) -> dict[str, str]:
    state = tmp_path_factory.mktemp("spendstream-state")
    return {
        **os.environ,
        "SPENDSTREAM_STACK_STATE_DIR": str(state),
        "SPENDSTREAM_ACCOUNTS_FILE": str(ROOT / "accounts.yaml"),
        # the tests run their own jobs on the cluster's two slots (test_stack_pipeline.py runs the supervisor's)
        "SPENDSTREAM_STACK_PIPELINE": "false",
    }


@pytest.fixture(scope="session")
def stack(stack_env) -> Config:
    config = load_config(None, env=stack_env)
    local = LocalStack(config)
    try:
        local.up()
        yield load_config(None, env=stack_env)
    finally:
        local.down()


@contextmanager
def serve(argv: list[str], ready: Callable[[], bool], name: str):
    """Run a server process; enter once ``ready()`` holds, stop it on exit."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not ready():
            assert proc.poll() is None and time.monotonic() < deadline, f"{name} did not start"
            time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory) -> str:
    """Debian's victoria-metrics: a real server with InfluxDB's /api/v2/write."""
    binary = shutil.which("victoria-metrics")
    if binary is None:
        pytest.fail("victoria-metrics is not installed: run `make test` (it installs it with apt)")
    port, data = free_port(), tmp_path_factory.mktemp("victoria-metrics")
    url = f"http://127.0.0.1:{port}"
    argv = [binary, f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={data}", "-retentionPeriod=100y"]
    with serve(argv, lambda: http_ok(f"{url}/health"), "victoria-metrics"):
        yield url


@pytest.fixture(scope="session")
def cloudwatch_server() -> str:
    """moto's server mode: a real HTTP endpoint speaking the CloudWatch API."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with serve(argv, lambda: http_ok(f"{url}/moto-api/"), "moto server"):
        yield url
