"""Benchmark 7 — backtest at scale: rows/s of `backtest` in one process and as a Beam pipeline.

    python -m bench.backtest_scale [--rows 2000000 10000000] [--files 16]

The export is the bundled sample's rows repeated with fresh line item ids, split into ``--files``
CSV.gz files (an export is delivered as many files; Beam reads one shard per file). "in process"
is today's `backtest`; "Beam" is `backtest --runner direct`: the DirectRunner with one worker
process per core. Both write their result files and the benchmark checks they are identical.
One run per size (a 10M-row run takes minutes).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from rich.progress import Progress
from rich.table import Table

from bench.replay_parse import big_export
from bench.report import ROOT, publish
from pipelines.enrichment import load_directory
from spendstream.backtest.runner import backtest

RESULT_FILES = ("anomalies.jsonl", "anomaly_episodes.jsonl", "forecasts.jsonl", "forecast_accuracy.jsonl")


def timed_backtest(export: Path, out: Path, runner: str | None) -> float:
    started = time.perf_counter()
    backtest(export, out, load_directory(ROOT / "accounts.yaml"), show_progress=False, runner=runner)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2_000_000, 10_000_000])
    parser.add_argument("--files", type=int, default=16)
    args = parser.parse_args()
    table = Table("rows", "files", "in process rows/s", "Beam (direct, 2 workers) rows/s", "Beam ÷ in process")
    with Progress() as progress:
        for rows in args.rows:
            with tempfile.TemporaryDirectory() as work:
                task = progress.add_task(f"{rows:,} rows: writing the export", total=None)
                export = Path(work) / "export"
                big_export(rows, export, args.files)
                progress.update(task, description=f"{rows:,} rows: in process")
                alone = timed_backtest(export, Path(work) / "alone", None)
                progress.update(task, description=f"{rows:,} rows: Beam")
                beam = timed_backtest(export, Path(work) / "beam", "direct")
                for name in RESULT_FILES:
                    same = (Path(work) / "beam" / name).read_bytes() == (Path(work) / "alone" / name).read_bytes()
                    assert same, f"{name} differs between the runs"
                progress.remove_task(task)
            table.add_row(
                f"{rows:,}", str(args.files), f"{rows / alone:,.0f}", f"{rows / beam:,.0f}", f"{alone / beam:.2f}"
            )
    publish(
        f"Backtest at scale, CUR 2.0 CSV.gz in {args.files} files",
        table,
        [
            f"one run per size on {os.cpu_count()} cores; both runs wrote identical result files (checked)",
            "rows/s = export rows ÷ wall time of the whole backtest (read, normalize, sum, detect, forecast, write)",
        ],
    )


if __name__ == "__main__":
    main()
