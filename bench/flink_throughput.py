"""Benchmark 3 — Flink job throughput: raw events/s through the full job, against native Flink only.

    python -m bench.flink_throughput [--rows 1000000] [--runs 3] [--brokers s3 memory]

A CUR 2.0 export of ``--rows`` line items is replayed once into the raw topic; each run then
submits a backfill of exactly those offsets to the embedded session cluster and times it from
RUNNING to FINISHED with Flink's own timestamps: first the full cost aggregation job (decode,
enrich, hourly aggregates, budgets, anomaly detection and forecasts, all sinks), then
bench/native_job.py (the same source and hourly windows with no Python function). With
``--brokers s3 memory`` it runs again on a stack whose Tansu keeps the topics in memory: what the
broker's storage (SeaweedFS, on the same cores) costs the job.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from rich.progress import Progress
from rich.table import Table

from bench.replay_parse import big_export
from bench.report import ROOT, publish
from bench.stack import BROKERS, embedded_stack
from connectors.replay import replay
from spendstream.config import Config
from spendstream.flink_client import job_failure, rest, submit, wait_for_job

TARGET = 50_000


def job_seconds(config: Config, job: str, args: list[str]) -> float:
    """RUNNING → FINISHED of one bounded job, from Flink's own timestamps."""
    return timed_job(config, job, args)[1]


def timed_job(config: Config, job: str, args: list[str]) -> tuple[str, float]:
    """One bounded job run to its end: its id, and RUNNING → FINISHED from Flink's own timestamps."""
    job_id = submit(config, job, args)
    state = wait_for_job(config, job_id, timeout_s=3600)
    assert state == "FINISHED", job_failure(config, job_id)
    stamps = rest(config, f"/jobs/{job_id}")["timestamps"]
    return job_id, (stamps["FINISHED"] - stamps["RUNNING"]) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--brokers", nargs="+", choices=BROKERS, default=["s3"], help="memory: the baseline")
    args = parser.parse_args()
    table = Table("broker", "events", "full job events/s", "native only events/s", "ratio", "target (full job)")
    notes = [f"median of {args.runs} runs, each timed RUNNING → FINISHED by Flink (task deployment included)"]
    parallelisms = set()
    for storage in args.brokers:
        events, rates, parallelism = measure(args, storage)
        parallelisms.add(parallelism)
        full, native = statistics.median(rates["full"]), statistics.median(rates["native"])
        row = (f"{events:,}", f"{full:,.0f}", f"{native:,.0f}", f"{full / native:.2f}", f"≥ {TARGET:,}")
        table.add_row(BROKERS[storage], *row)
        notes.append(
            f"runs on {storage}://: full {', '.join(f'{r:,.0f}' for r in rates['full'])}; "
            f"native {', '.join(f'{r:,.0f}' for r in rates['native'])}"
        )
    publish(
        f"Flink job throughput, {args.rows:,} raw events, parallelism {', '.join(map(str, sorted(parallelisms)))}",
        table,
        [
            *notes,
            "embedded session cluster: one TaskManager, 2 slots, Python UDFs in thread mode, 2 cores shared "
            "with Tansu, SeaweedFS (on s3:// only) and InfluxDB; each broker on a fresh stack",
        ],
    )


def measure(args, storage: str) -> tuple[int, dict[str, list[float]], int]:
    """Events replayed, and the full and native jobs' events/s per run, on a broker keeping topics in ``storage``."""
    rates: dict[str, list[float]] = {"full": [], "native": []}
    with tempfile.TemporaryDirectory() as work, embedded_stack(storage) as config, Progress() as progress:
        export = Path(work) / "export"
        big_export(args.rows, export)
        filling = progress.add_task(f"replaying {args.rows:,} events into the raw topic", total=None)
        summary = replay(export, config, show_progress=False)
        progress.remove_task(filling)
        task = progress.add_task(f"{args.runs} runs: full job, then native only", total=args.runs)
        for _ in range(args.runs):
            rates["full"].append(summary.produced / job_seconds(config, "cost-aggregation", summary.backfill_args()))
            native = str(ROOT / "bench" / "native_job.py")
            rates["native"].append(summary.produced / job_seconds(config, native, summary.backfill_args()))
            progress.advance(task)
    return summary.produced, rates, config.flink.parallelism


if __name__ == "__main__":
    main()
