"""The embedded stack for the benchmarks that need servers: started on 127.0.0.1, always stopped."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench.report import ROOT
from spendstream.config import Config, load_config
from spendstream.processes import running_pid
from spendstream.stack import LocalStack

BROKERS = {"s3": "Tansu, s3:// on SeaweedFS (the pipeline's)", "memory": "Tansu, memory:// (baseline)"}


@contextmanager
def embedded_stack(kafka_storage: str = "s3") -> Iterator[Config]:
    """A fresh stack with its own state folder, removed afterwards.

    ``kafka_storage``: "s3" (the pipeline's: Tansu on SeaweedFS) or "memory" (the broker without
    its storage, a baseline).
    """
    state = Path(tempfile.mkdtemp(prefix="spendstream-bench-"))
    env = {
        **os.environ,
        "SPENDSTREAM_STACK_STATE_DIR": str(state),
        "SPENDSTREAM_ACCOUNTS_FILE": str(ROOT / "accounts.yaml"),
        "SPENDSTREAM_STACK_PIPELINE": "false",  # each benchmark runs the jobs it measures, alone
        "SPENDSTREAM_STACK_KAFKA_STORAGE": kafka_storage,
    }
    local = LocalStack(load_config(None, env=env))
    try:
        with Console().status(f"starting the embedded stack ({BROKERS[kafka_storage]}, InfluxDB, Flink) ..."):
            local.up()
        yield load_config(None, env=env)
    finally:
        local.down()
        shutil.rmtree(state, ignore_errors=True)


@dataclass
class CpuUse:
    """The CPU the stack's storage (SeaweedFS) and the whole machine used over a span (``cpu_use``)."""

    seaweedfs_cores: float = 0.0  # CPU seconds per second: 1.0 is one core kept busy
    machine_busy: float = 0.0  # share of all cores' time not idle


@contextmanager
def cpu_use(config: Config) -> Iterator[CpuUse]:
    """Measure what SeaweedFS (if running) and the machine spent on the block's work.

    On two cores the broker's storage competes with the job for CPU; this says how much it took.
    """
    pid, use = running_pid("seaweedfs", config.state_dir), CpuUse()
    weed, busy, total, started = _process_seconds(pid), *_machine_jiffies(), time.monotonic()
    yield use
    elapsed = time.monotonic() - started
    busy_now, total_now = _machine_jiffies()
    use.seaweedfs_cores = (_process_seconds(pid) - weed) / elapsed if pid else 0.0
    use.machine_busy = (busy_now - busy) / max(total_now - total, 1)


def _process_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process (0 without one)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of all cores since boot, from /proc/stat (idle and iowait are not busy)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)
