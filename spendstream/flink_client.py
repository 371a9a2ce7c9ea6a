"""Submit jobs to a Flink cluster with ``flink run -py`` and follow them through its REST API."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from spendstream import PACKAGES, SOURCE_ROOT
from spendstream.config import Config, require, to_env
from spendstream.java_functions import pyflink_home

TERMINAL_STATES = ("FINISHED", "FAILED", "CANCELED")
SAVEPOINT_CREATED = re.compile(r"A savepoint has been created at: (\S+?),? but")  # StopWithSavepointStoppingException
JOB_FILES = {"cost-aggregation": SOURCE_ROOT / "jobs" / "cost_aggregation.py"}


def run_command(config: Config, job: str, job_args: list[str], savepoint: str | None = None) -> list[str]:
    """The exact ``flink run`` command operators use (detached; jars come from pyflink/lib)."""
    rest = urlparse(require(config.flink.rest_url, "Flink REST URL", "SPENDSTREAM_FLINK_REST_URL"))
    return [
        str(pyflink_home() / "bin" / "flink"),
        "run",
        "--detached",
        *(["--fromSavepoint", savepoint] if savepoint else []),
        "--jobmanager",
        f"{rest.hostname}:{rest.port}",
        "--pyExecutable",
        sys.executable,
        "--pyClientExecutable",
        sys.executable,
        "--pyFiles",
        ",".join(str(SOURCE_ROOT / package) for package in PACKAGES),
        "--python",
        str(JOB_FILES.get(job) or Path(job)),  # a named job, or the path of a PyFlink script
        *job_args,
    ]


def submit(config: Config, job: str, job_args: list[str], savepoint: str | None = None) -> str:
    """Run ``flink run`` (from ``savepoint`` when given); returns the job id, or raises with Flink's words."""
    command = run_command(config, job, job_args, savepoint)
    env = {**os.environ, **to_env(config), "FLINK_CONF_DIR": str(config.state_dir / "flink" / "conf")}
    if not Path(env["FLINK_CONF_DIR"]).exists():
        env.pop("FLINK_CONF_DIR")
    completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=SOURCE_ROOT)
    output = completed.stdout + completed.stderr
    for line in output.splitlines():
        if "JobID" in line or "job id" in line:
            return line.split()[-1]
    reason = next((line for line in output.splitlines() if "Caused by" in line or "Error" in line), output[-800:])
    raise RuntimeError(
        f"flink run failed (exit {completed.returncode}): {reason.strip()}\ncommand: {shlex.join(command)}"
    )


def rest(config: Config, path: str, method: str = "GET", body: dict | None = None) -> dict:
    """Call the Flink REST API; errors are raised with the cluster's own message."""
    url = require(config.flink.rest_url, "Flink REST URL", "SPENDSTREAM_FLINK_REST_URL").rstrip("/") + path
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
            return json.loads(payload) if payload else {}
    except urllib.error.HTTPError as error:
        reasons = json.loads(error.read() or b"{}").get("errors", [str(error)])
        raise RuntimeError(f"Flink refused {method} {path}: {reasons[0].splitlines()[0]}") from error
    except urllib.error.URLError as error:
        raise RuntimeError(f"Flink REST API at {url} does not answer ({error}); is the cluster up?") from error


def wait_for_job(config: Config, job_id: str, timeout_s: float = 600) -> str:
    """Poll until the job reaches a terminal state; returns it (FINISHED, FAILED, CANCELED)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = rest(config, f"/jobs/{job_id}")["state"]
        if state in TERMINAL_STATES:
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


def list_jobs(config: Config) -> list[dict]:
    """Every job the cluster knows: id, name, state, uptime, last checkpoint, records in and out."""
    jobs = []
    for job in rest(config, "/jobs/overview")["jobs"]:
        vertices = rest(config, f"/jobs/{job['jid']}").get("vertices", [])
        latest = (rest(config, f"/jobs/{job['jid']}/checkpoints").get("latest") or {}).get("completed") or {}
        jobs.append(
            {
                "id": job["jid"],
                "name": job["name"],
                "state": job["state"],
                "uptime_s": job["duration"] // 1000,
                "last_checkpoint": latest.get("external_path", ""),
                # what left the source vertices and what reached the sink vertices (Flink's task metrics)
                "records_in": sum(
                    v["metrics"].get("write-records", 0) for v in vertices if v["name"].startswith("Source")
                ),
                "records_out": sum(v["metrics"].get("read-records", 0) for v in vertices if "Sink" in v["name"]),
            }
        )
    return jobs


VERTEX_COUNTS = {  # what Flink's task metrics say about each stage (vertex name prefix → metric)
    "aggregates_written": ("aggregates_sink", "read-records"),
    "alerts_written": ("alerts_sink", "read-records"),
    "dead_letters_written": ("dead_letters_sink", "read-records"),
}


def pipeline_metrics(config: Config, job_id: str) -> dict[str, float]:
    """A running job's counts: records per stage (Flink's task metrics) and the analytics' own counters.

    The analytics report ``series_models``, ``account_models`` (models created) and
    ``anomaly_records``, ``alert_records``, ``forecast_records`` in metric group ``spendstream``.
    """
    vertices = rest(config, f"/jobs/{job_id}").get("vertices", [])
    totals: dict[str, float] = {
        name: float(sum(v["metrics"].get(metric, 0) for v in vertices if v["name"].startswith(prefix)))
        for name, (prefix, metric) in VERTEX_COUNTS.items()
    }
    for vertex in vertices:
        path = f"/jobs/{job_id}/vertices/{vertex['id']}/metrics"
        names = [m["id"] for m in rest(config, path) if ".spendstream." in m["id"]]
        for metric in rest(config, f"{path}?get={','.join(names)}") if names else ():
            name = metric["id"].split(".spendstream.", 1)[1]
            totals[name] = totals.get(name, 0.0) + float(metric["value"])
    return totals


def stop_with_savepoint(config: Config, job_id: str, directory: str, timeout_s: float = 120) -> str:
    """Stop a job with a savepoint (the upgrade path); returns the savepoint's location.

    Flink can write a consistent savepoint and then fail while the tasks shut down
    (``StopWithSavepointStoppingException``); the job would then restart from its last checkpoint.
    The savepoint is usable, so it is returned and the job is cancelled, as the operator asked
    for it to stop.
    """
    trigger = rest(config, f"/jobs/{job_id}/stop", "POST", {"targetDirectory": directory, "drain": False})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = rest(config, f"/jobs/{job_id}/savepoints/{trigger['request-id']}")
        if status["status"]["id"] == "COMPLETED":
            location, stopped = savepoint_outcome(job_id, status["operation"])
            if not stopped:
                stop_for_good(config, job_id, max(deadline - time.monotonic(), 10))
            return location
        time.sleep(0.5)
    raise TimeoutError(f"savepoint of job {job_id} not done after {timeout_s:.0f}s")


def savepoint_outcome(job_id: str, operation: dict) -> tuple[str, bool]:
    """A finished stop-with-savepoint operation → (savepoint location, whether the job stopped).

    Raises when no savepoint was written.
    """
    if "failure-cause" not in operation:
        return operation["location"], True
    trace = operation["failure-cause"].get("stack-trace", "")
    created = SAVEPOINT_CREATED.search(trace)
    if not created:
        cause = trace.splitlines()
        raise RuntimeError(f"savepoint of job {job_id} failed: {cause[0] if cause else 'unknown'}")
    return created.group(1), False


def stop_for_good(config: Config, job_id: str, timeout_s: float) -> None:
    """Cancel a job unless it already reached a terminal state, and wait until it has."""
    if rest(config, f"/jobs/{job_id}")["state"] not in TERMINAL_STATES:
        cancel(config, job_id)
    wait_for_job(config, job_id, timeout_s)


def cancel(config: Config, job_id: str) -> None:
    rest(config, f"/jobs/{job_id}?mode=cancel", "PATCH")
