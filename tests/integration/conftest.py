"""Real servers for the integration tests.

The embedded stack (SeaweedFS + Tansu, InfluxDB 1.6, a Flink session cluster) and Debian's
victoria-metrics for the InfluxDB v2 write API.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
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


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory) -> str:
    binary = shutil.which("victoria-metrics")
    if binary is None:
        pytest.fail("victoria-metrics is not installed: run `make test` (it installs it with apt)")
    port = free_port()
    data = tmp_path_factory.mktemp("victoria-metrics")
    proc = subprocess.Popen(
        [binary, f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={data}", "-retentionPeriod=100y"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not http_ok(f"{url}/health"):
        assert time.monotonic() < deadline, "victoria-metrics did not start"
        time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def cloudwatch_server() -> str:
    """moto's server mode: a real HTTP endpoint speaking the CloudWatch API."""
    port = free_port()
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not http_ok(f"{url}/moto-api/"):
        assert time.monotonic() < deadline, "moto server did not start"
        time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(10)
