"""The embedded stack's pipeline, kept running: the cost job, the InfluxDB sink, the health writer, the API.

`stack up` starts the servers and then this supervisor, a process of its own (``spendstream
stack supervise``). Every few seconds it restarts the sink, the health writer or the API when
one has died, and resubmits the cost job when the cluster no longer runs it, from the job's
latest retained checkpoint, so open hours and model state carry on across a failure or a
`stack down` / `stack up`. So `spendstream replay EXPORT --heartbeat` alone fills InfluxDB, the
API and the console. `stack status` shows each part; `stack down` stops the supervisor first.
With ``stack.pipeline: false`` it keeps only the API (the integration tests run their own jobs
on the cluster's two slots).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from connectors.consumer_lag import consumer_lag
from connectors.kafka_io import ensure_topics
from jobs.names import COST_JOB
from spendstream.config import Config
from spendstream.flink_client import rest, submit
from spendstream.processes import running_pid, spawn

log = logging.getLogger(__name__)

LIVE_STATES = {"CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "RECONCILING", "CANCELLING"}
SERVICES = {"api": ("api", "serve")}
PIPELINE = {"influx-sink": ("sink", "influx"), "health": ("health",)}
RESUBMIT_BACKOFF_S = (0, 30, 120, 600)  # after 1, 2, 3, 4+ failed submissions in a row


@dataclass(frozen=True)
class JobState:
    """The cost job as the cluster sees it: its id, state and latest retained checkpoint."""

    job_id: str
    state: str
    checkpoint: str


class Supervisor:
    """Keeps the embedded stack's processes and the cost job running (``tick`` once, or ``run``)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.state = config.state_dir
        self.failed_submissions = 0
        self.next_submission = 0.0
        self.stopping = False

    @property
    def processes(self) -> dict[str, tuple[str, ...]]:
        return {**SERVICES, **PIPELINE} if self.config.stack.pipeline else dict(SERVICES)

    def run(self, every_s: float = 5.0) -> None:
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        if self.config.stack.pipeline:
            ensure_topics(self.config)
        while not self.stopping:
            try:
                self.tick()
            except Exception:  # a broker or cluster restarting: try again at the next tick
                log.exception("supervisor tick failed")
            time.sleep(every_s)

    def tick(self) -> list[str]:
        """One round: what it (re)started."""
        _reap()
        started = []
        for name, command in self.processes.items():
            if running_pid(name, self.state) is None:
                spawn(name, [sys.executable, "-m", "spendstream.cli", *command], self.state)
                log.info("started %s", name)
                started.append(name)
        if self.config.stack.pipeline and self._keep_job_running():
            started.append("cost job")
        return started

    def _keep_job_running(self) -> bool:
        job = cost_job(self.config)
        if job is not None and job.state in LIVE_STATES:
            if job.checkpoint:
                self._remember(job.checkpoint)
            return False
        if time.monotonic() < self.next_submission:
            return False
        checkpoint = self._remembered()
        try:
            job_id = submit(self.config, "cost-aggregation", [], savepoint=checkpoint or None)
        except RuntimeError:
            self.failed_submissions += 1
            backoff = RESUBMIT_BACKOFF_S[min(self.failed_submissions, len(RESUBMIT_BACKOFF_S) - 1)]
            self.next_submission = time.monotonic() + backoff
            log.exception(
                "cost job submission failed (from %s); next try in %d s", checkpoint or "its offsets", backoff
            )
            if checkpoint:  # a checkpoint that no longer restores: start from the group's offsets next time
                self._remember("")
            return False
        self.failed_submissions = 0
        log.info("submitted the cost job %s (from %s)", job_id, checkpoint or "its consumer group's offsets")
        return True

    def _remember(self, checkpoint: str) -> None:
        path = self.state / "pipeline.json"
        path.write_text(json.dumps({"checkpoint": checkpoint}))

    def _remembered(self) -> str:
        path = self.state / "pipeline.json"
        return json.loads(path.read_text()).get("checkpoint", "") if path.exists() else ""


def cost_job(config: Config) -> JobState | None:
    """The newest cost job the cluster knows (live ones first), or None."""
    jobs = [job for job in rest(config, "/jobs/overview")["jobs"] if job["name"] == COST_JOB]
    if not jobs:
        return None
    job = max(jobs, key=lambda j: (j["state"] in LIVE_STATES, j["start-time"]))
    return JobState(
        job["jid"], job["state"], _latest_checkpoint(config, job["jid"]) if job["state"] == "RUNNING" else ""
    )


def cost_job_running(config: Config) -> bool:
    job = cost_job(config)
    return job is not None and job.state == "RUNNING"


def _latest_checkpoint(config: Config, job_id: str) -> str:
    """Where the job's latest completed checkpoint is ("" before the first, or while Flink cannot say)."""
    try:
        latest = (rest(config, f"/jobs/{job_id}/checkpoints").get("latest") or {}).get("completed") or {}
    except RuntimeError:  # Flink answers 500 while a job's checkpoint statistics are not there yet
        return ""
    return latest.get("external_path", "")


def pipeline_lag(config: Config) -> dict[str, int]:
    """Records the cost job and the sink still have to read ({"cost job": n, "influx sink": m})."""
    groups = {"cost job": config.kafka.job_group, "influx sink": config.kafka.sink_group}
    lags = consumer_lag(config, list(groups.values()))
    return {name: sum(p.lag for p in lags if p.group == group) for name, group in groups.items()}


def wait_until_caught_up(config: Config, on_progress: Callable[[dict[str, int]], None], timeout_s: float) -> None:
    """Until the job and the sink have read everything there is, twice in a row 5 s apart.

    The job commits its offsets at checkpoints and writes its hours, alerts and forecasts before
    a checkpoint completes; so once its lag is zero, everything it will write from what was
    replayed is on the topics, and once the sink's lag is zero too, it is in InfluxDB.
    """
    deadline, quiet = time.monotonic() + timeout_s, 0
    while quiet < 2:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the pipeline did not catch up within {timeout_s:.0f} s: see `spendstream stack status`"
            )
        time.sleep(5)
        lag = pipeline_lag(config)
        on_progress(lag)
        quiet = quiet + 1 if not any(lag.values()) else 0


def _reap() -> None:
    """Collect the exit status of children that died, so their pids stop looking alive."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
