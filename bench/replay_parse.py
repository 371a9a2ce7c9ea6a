"""Benchmark 1 — replay parse: rows/s normalizing a large CUR 2.0 export, against pyarrow.

    python -m bench.replay_parse [--rows 2000000] [--runs 3]

The export is the bundled sample's rows repeated with fresh line item ids until ``--rows``, as
one CSV.gz and the same table as Parquet. "ours" is what replay does before producing: read,
check, normalize every row into a cost event (and encode it to Avro). The baseline is pyarrow
reading the same file into memory without normalization: the practical limit. Each figure is the
median of ``--runs``; each run times ours and the baseline back to back.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.progress import Progress
from rich.table import Table

from bench.report import ROOT, publish
from connectors.deliveries import DeliveryLedger, DeliveryTracker
from connectors.replay import FormatChecker, ReplaySummary, encoded_events, normalized_batches

SAMPLE = ROOT / "deploy" / "sample" / "cur2"


def big_export(rows: int, out: Path, files: int = 1) -> tuple[Path, Path]:
    """A CUR 2.0 export folder ``out`` holding ``rows`` rows built from the sample, in ``files`` CSV.gz files.

    The same table as Parquet goes beside the folder, so a replay of ``out`` reads the CSV only.
    Returns the first CSV file and the Parquet file.
    """
    sample = []
    for path in sorted(SAMPLE.rglob("*.csv.gz")):
        with gzip.open(path, "rt", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            sample.extend(reader)
    ids = header.index("identity_line_item_id")
    folder = out / "data" / "BILLING_PERIOD=2026-10"
    folder.mkdir(parents=True)
    paths = [folder / f"big-{part + 1:05d}.csv.gz" for part in range(files)]
    for part, csv_path in enumerate(paths):
        with gzip.open(csv_path, "wt", newline="", compresslevel=6) as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for n in range(part * rows // files, (part + 1) * rows // files):
                row = list(sample[n % len(sample)])
                row[ids] = f"{row[ids]}-{n // len(sample)}"
                writer.writerow(row)
    parquet_path = out.with_suffix(".parquet")
    if files == 1:
        pq.write_table(pacsv.read_csv(paths[0]), parquet_path)
    return paths[0], parquet_path


def ours(path: Path, encode: bool) -> int:
    """Rows normalized (and encoded) by replay's own path; returns the count."""
    summary, rejected = ReplaySummary(), []
    checker = FormatChecker("auto")
    if encode:
        tracker = DeliveryTracker(DeliveryLedger(path.parent / "ledger"), "bench", force=True)
        count = sum(
            1 for _ in encoded_events([path], summary, lambda row, why: rejected.append(why), [0], checker, tracker)
        )
    else:
        batches = normalized_batches([path], summary, lambda row, why: rejected.append(why), [0], checker)
        count = sum(len(normalized.events) for _, normalized in batches)
    assert not rejected, rejected[:3]
    return count


def timed(work: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    count = work()
    return time.perf_counter() - started, count


def measure(path: Path, baseline: Callable[[], int], runs: int, progress: Progress) -> dict[str, float]:
    task = progress.add_task(f"{path.suffix.lstrip('.')}: {runs} runs", total=runs)
    rates: dict[str, list[float]] = {"normalize": [], "normalize + encode": [], "pyarrow": []}
    for _ in range(runs):
        for name, work in (
            ("normalize", lambda: ours(path, encode=False)),
            ("normalize + encode", lambda: ours(path, encode=True)),
            ("pyarrow", baseline),
        ):
            seconds, count = timed(work)
            rates[name].append(count / seconds)
        progress.advance(task)
    return {name: statistics.median(values) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work, Progress() as progress:
        build = progress.add_task(f"writing a {args.rows:,}-row export", total=None)
        csv_path, parquet_path = big_export(args.rows, Path(work) / "export")
        progress.remove_task(build)
        results = {
            "CSV.gz": measure(csv_path, lambda: pacsv.read_csv(csv_path).num_rows, args.runs, progress),
            "Parquet": measure(parquet_path, lambda: pq.read_table(parquet_path).num_rows, args.runs, progress),
        }
    table = Table("format", "normalize rows/s", "+ Avro encode rows/s", "pyarrow rows/s", "ratio", "target")
    for name, rates in results.items():
        table.add_row(
            name,
            f"{rates['normalize']:,.0f}",
            f"{rates['normalize + encode']:,.0f}",
            f"{rates['pyarrow']:,.0f}",
            f"{rates['normalize'] / rates['pyarrow']:.3f}",
            "≥ 0.5",
        )
    publish(
        f"Replay parse, {args.rows:,} CUR 2.0 rows",
        table,
        [
            f"median of {args.runs} runs; ours and pyarrow timed back to back in each run",
            "ratio = normalize rows/s ÷ pyarrow rows/s (pyarrow: read into memory, no normalization)",
        ],
    )


if __name__ == "__main__":
    main()
