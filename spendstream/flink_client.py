"""Submit jobs to a Flink cluster with ``flink run -py`` and follow them through its REST API."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from spendstream.config import Config, require, to_env
from spendstream.stack import pyflink_home

ROOT = Path(__file__).resolve().parent.parent
JOB_FILES = {"cost-aggregation": ROOT / "jobs" / "cost_aggregation.py"}
PYTHON_PACKAGES = ("connectors", "jobs", "pipelines", "schemas", "spendstream")


def run_command(config: Config, job: str, job_args: list[str]) -> list[str]:
    """The exact ``flink run`` command operators use (detached; jars come from pyflink/lib)."""
    rest = urlparse(require(config.flink.rest_url, "Flink REST URL", "SPENDSTREAM_FLINK_REST_URL"))
    return [
        str(pyflink_home() / "bin" / "flink"),
        "run",
        "--detached",
        "--jobmanager",
        f"{rest.hostname}:{rest.port}",
        "--pyExecutable",
        sys.executable,
        "--pyClientExecutable",
        sys.executable,
        "--pyFiles",
        ",".join(str(ROOT / package) for package in PYTHON_PACKAGES),
        "--python",
        str(JOB_FILES[job]),
        *job_args,
    ]


def submit(config: Config, job: str, job_args: list[str]) -> str:
    """Run ``flink run``; returns the job id, or raises with Flink's own words."""
    command = run_command(config, job, job_args)
    env = {**os.environ, **to_env(config), "FLINK_CONF_DIR": str(config.state_dir / "flink" / "conf")}
    if not Path(env["FLINK_CONF_DIR"]).exists():
        env.pop("FLINK_CONF_DIR")
    completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    output = completed.stdout + completed.stderr
    for line in output.splitlines():
        if "JobID" in line or "job id" in line:
            return line.split()[-1]
    reason = next((line for line in output.splitlines() if "Caused by" in line or "Error" in line), output[-800:])
    raise RuntimeError(
        f"flink run failed (exit {completed.returncode}): {reason.strip()}\ncommand: {shlex.join(command)}"
    )


def rest(config: Config, path: str) -> dict:
    url = require(config.flink.rest_url, "Flink REST URL", "SPENDSTREAM_FLINK_REST_URL").rstrip("/") + path
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)
    except urllib.error.URLError as error:
        raise RuntimeError(f"Flink REST API at {url} does not answer ({error}); is the cluster up?") from error


def wait_for_job(config: Config, job_id: str, timeout_s: float = 600) -> str:
    """Poll until the job reaches a terminal state; returns it (FINISHED, FAILED, CANCELED)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = rest(config, f"/jobs/{job_id}")["state"]
        if state in ("FINISHED", "FAILED", "CANCELED"):
            return state
        time.sleep(1)
    raise TimeoutError(f"job {job_id} still running after {timeout_s:.0f}s")


def job_failure(config: Config, job_id: str) -> str:
    """The root cause Flink recorded for a failed job, in one line."""
    history = rest(config, f"/jobs/{job_id}/exceptions").get("exceptionHistory") or {}
    entries = history.get("entries") or []
    if not entries:
        return "no exception recorded"
    causes = [line for line in entries[0].get("stacktrace", "").splitlines() if line.startswith("Caused by")]
    return (causes[-1] if causes else entries[0].get("exceptionName", "unknown error")).strip()
