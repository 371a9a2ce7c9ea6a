"""Benchmark 8 — where the cost job's time goes: busy time per operator on the bundled sample's shape.

    python -m bench.job_profile [--days 45] [--runs 3] [--taskmanagers 1] [--parallelism 1]

The sample generator's bill (four accounts, daily and weekly cycles, a runaway instance, month
starts) of ``--days`` days is replayed once; the full cost aggregation job and the native-only job
(bench/native_job.py) then each process exactly those offsets. Flink's own counters say how long
each operator (a chain of them: a vertex) was busy and how long it waited on the operators after
it (backpressure): the busiest vertex is what bounds the job. Python operators in thread mode
share one interpreter per TaskManager, so their busy times add up on its lock (busy time counts
the wait for it). ``--taskmanagers 2 --parallelism 2`` splits every keyed operator over two
TaskManager processes, two interpreters.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from rich.table import Table

from bench.flink_throughput import job_seconds, timed_job
from bench.report import ROOT, publish
from bench.stack import embedded_stack
from connectors.replay import replay
from spendstream.config import Config
from spendstream.flink_client import rest
from spendstream.stack import LocalStack

SHOWN = 10  # the busiest vertices listed


def vertex_times(config: Config, job_id: str) -> list[tuple[str, int, float, float]]:
    """(name, records in, busy s, backpressured s) of every vertex of a finished job, busiest first."""
    vertices = rest(config, f"/jobs/{job_id}")["vertices"]
    rows = [
        (
            v["name"],
            int(v["metrics"].get("read-records", 0)),
            v["metrics"].get("accumulated-busy-time", 0) / 1000,
            v["metrics"].get("accumulated-backpressured-time", 0) / 1000,
        )
        for v in vertices
    ]
    return sorted(rows, key=lambda row: -row[2])


def short(name: str, width: int = 70) -> str:
    """A vertex name without its chain's tail, as the table shows it."""
    return name if len(name) <= width else name[: width - 1] + "…"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--taskmanagers", type=int, default=1, help="TaskManager processes (2 slots each)")
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3, help="runs of each job; the table is the median run's")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work, embedded_stack() as config:
        for _ in range(args.taskmanagers - 1):
            LocalStack(config).start_taskmanager()
        config = replace(config, flink=replace(config.flink, parallelism=args.parallelism))
        export = Path(work) / "export"
        generator = ROOT / "deploy" / "sample" / "generate_cur2.py"
        subprocess.run([sys.executable, str(generator), "--out", str(export), "--days", str(args.days)], check=True)
        summary = replay(export, config)
        full, native = [], []
        for _ in range(args.runs):
            full.append(timed_job(config, "cost-aggregation", summary.backfill_args()))
            native.append(job_seconds(config, str(ROOT / "bench" / "native_job.py"), summary.backfill_args()))
        full_id, full_s = sorted(full, key=lambda run: run[1])[len(full) // 2]
        native_s = statistics.median(native)
        vertices = vertex_times(config, full_id)
    table = Table("operator (vertex)", "records in", "busy s", "backpressured s", "busy ÷ job time")
    for name, records, busy, backpressured in vertices[:SHOWN]:
        table.add_row(short(name), f"{records:,}", f"{busy:.1f}", f"{backpressured:.1f}", f"{busy / full_s:.2f}")
    python_busy = sum(busy for name, _, busy, _ in vertices if is_python(name))
    publish(
        f"Where the cost job's time goes, the sample bill of {args.days} days ({summary.produced:,} events), "
        f"{args.taskmanagers} TaskManager(s), parallelism {args.parallelism}",
        table,
        [
            f"full job {full_s:.1f} s RUNNING → FINISHED ({summary.produced / full_s:,.0f} events/s), the median "
            f"of {args.runs} runs: {', '.join(f'{run[1]:.1f}' for run in full)} s; native only (the baseline, same "
            f"runs) {native_s:.1f} s ({summary.produced / native_s:,.0f} events/s); the table is the median run's",
            f"the {SHOWN} busiest of {len(vertices)} vertices; busy time of all Python vertices together: "
            f"{python_busy:.1f} s ({python_busy / full_s:.2f} × the job's time, on {args.taskmanagers} interpreter "
            "lock(s)); a vertex's busy time is summed over its parallel subtasks",
            f"embedded session cluster: {args.taskmanagers} TaskManager(s) of 2 slots, Python in thread mode, "
            "2 cores shared with Tansu, SeaweedFS and InfluxDB",
        ],
    )


def is_python(name: str) -> bool:
    """A vertex that runs Python: a keyed process function of the job, or a chain with a Python UDF."""
    return "Python" in name or name.startswith(("anomaly detection", "forecasts and", "recommendations"))


if __name__ == "__main__":
    main()
