"""The backtest as one Apache Beam pipeline, for exports bigger than one process should read.

    files ─▶ read + normalize, one shard per file (the columnar normalizers)
          ─▶ that file's hourly and daily sums (pipelines/spend_series.py) ─▶ summed per key
          ─▶ per series: its hours in event-time order through its monitor  ┐ pipelines/
          ─▶ per account: its days in order through its monitor             ┘ spend_monitor.py
          ─▶ results, ordered by the driver exactly as a single pass orders them

The same `pipelines/` code as the job and the in-process backtest, so the results are identical
(tests/unit/test_backtest.py). The DirectRunner (default: one worker process per core) runs here;
``--runner flink`` / ``dataflow`` with their options (``--beam-option``) need a Flink job server
or Google Cloud, and every worker must read the export's paths.
"""

from __future__ import annotations

import base64
import logging
import pickle
import shlex
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from connectors.cur_files import SourceRow
from connectors.replay import FormatChecker, ReplaySummary, normalized_batches
from pipelines.enrichment import AccountDirectory
from pipelines.spend_monitor import History, account_history, merged_history, series_history
from pipelines.spend_series import SpendSeries, sum_parts

RUNNERS = {"direct": "DirectRunner", "flink": "FlinkRunner", "dataflow": "DataflowRunner", "spark": "SparkRunner"}


def pipeline_options(runner: str, extra: list[str] | None = None):
    """Beam's options for ``runner``: the DirectRunner on every core of this machine, others as given."""
    from apache_beam.options.pipeline_options import PipelineOptions

    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}; choose {', '.join(RUNNERS)}")
    flags = [f"--runner={RUNNERS[runner]}"]
    if runner == "direct":
        flags += ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]  # 0: one per core
    return PipelineOptions(flags + [flag for option in extra or [] for flag in shlex.split(option)])


def file_parts(path: str, export_format: str) -> Iterator[tuple]:
    """One export file's sums per key, and its counts (rows read, rejects by reason) under key ("rows",)."""
    summary, rejected = ReplaySummary(), Counter()

    def reject(row: SourceRow, reason: str) -> None:
        rejected[reason.split(":")[0]] += 1

    series = SpendSeries()
    read = normalized_batches([Path(path)], summary, reject, [0], FormatChecker(export_format), parallel=False)
    for _, normalized in read:  # a Beam worker is the parallelism: no pool of its own
        series.add_batch(normalized.events)
    for key, part in series.parts():
        yield tuple(value.isoformat() if isinstance(value, date) else value for value in key), part  # keys are encoded
    yield ("rows",), (summary.rows_read, rejected)


def watched(key_parts: tuple, directory: AccountDirectory) -> Iterator[tuple]:
    """A series' or an account's summed parts through its monitor (the job's code, keyed)."""
    (kind, *key), parts = key_parts
    if kind == "day":
        parts = [((kind, account, date.fromisoformat(day)), part) for (kind, account, day), part in parts]
    series = SpendSeries.from_parts(parts)
    if kind == "hour":
        yield "series", tuple(key), series_history(*key, series.hours(), directory)
    else:
        yield "account", key[0], account_history(key[0], series.days(), directory)
        yield "days", key[0], [(day.account_id, day.day, float(day.usage)) for day in series.days()]


def build(pipeline, files: list[Path], export_format: str, directory: AccountDirectory, out: str):
    """The backtest's graph on ``pipeline``; results go to ``out``-* as pickled lines."""
    import apache_beam as beam

    sums = (
        pipeline
        | "export files" >> beam.Create([str(path) for path in files])
        | "read + normalize + sum" >> beam.FlatMap(file_parts, export_format)
        | "sum per key" >> beam.CombinePerKey(sum_parts)
    )
    counts = sums | "counts" >> beam.Filter(lambda item: item[0][0] == "rows")
    watched_keys = (
        sums
        | "hours and days" >> beam.Filter(lambda item: item[0][0] != "rows")
        | "by series or account" >> beam.Map(lambda item: ((item[0][0], *item[0][1:-1]), (item[0], item[1])))
        | "group" >> beam.GroupByKey()
        | "through the monitors" >> beam.FlatMap(lambda item: watched((item[0], list(item[1])), directory))
    )
    return (
        (counts, watched_keys)
        | beam.Flatten()
        | "pickle" >> beam.Map(lambda item: base64.b64encode(pickle.dumps(item)).decode())
        | "write" >> beam.io.WriteToText(out)
    )


def beam_history(
    files: list[Path], export_format: str, directory: AccountDirectory, runner: str, options: list[str] | None = None
) -> tuple[History, ReplaySummary, Counter, dict]:
    """Run the pipeline; returns what the in-process backtest computes: history, counts, daily usage."""
    import apache_beam as beam

    logging.getLogger("apache_beam").setLevel(logging.ERROR)  # its workers' start-up warnings are noise
    with tempfile.TemporaryDirectory(prefix="spendstream-beam-") as work:
        with beam.Pipeline(options=pipeline_options(runner, options)) as pipeline:
            build(pipeline, files, export_format, directory, f"{work}/results")
        items = [
            pickle.loads(base64.b64decode(line))
            for path in sorted(Path(work).glob("results*"))
            for line in path.read_text().splitlines()
        ]
    summary, rejected = ReplaySummary(files=len(files)), Counter()
    series, accounts, daily_usage = {}, {}, {}
    for item in items:
        if len(item) == 2:  # (("rows",), (rows read, rejects by reason))
            summary.rows_read, rejected = item[1][0], Counter(item[1][1])
            summary.rejected = sum(rejected.values())
        elif item[0] == "series":
            series[item[1]] = item[2]
        elif item[0] == "account":
            accounts[item[1]] = item[2]
        else:
            daily_usage.update({(account, day): usage for account, day, usage in item[2]})
    return merged_history(series, accounts), summary, rejected, daily_usage
