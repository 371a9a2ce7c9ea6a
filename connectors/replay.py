"""Replay a cost export (CUR 2.0, CUR 1.0, FOCUS) into the raw cost topic in event-time order, optionally paced.

read files → normalize rows (errors → dead-letter topic) → Avro-encode → sort by usage start
(bounded memory) → pace → produce keyed by usage account, with the usage start as the Kafka
record timestamp (Flink's source derives its watermarks from it). Billing periods published
before go to the restated topic instead (connectors/deliveries.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain
from pathlib import Path

import pyarrow as pa

from connectors.cur_files import ExportBatch, ExportError, SourceRow, export_files, read_batches, total_bytes
from connectors.deliveries import HOUR_MS, DeliveryLedger, DeliveryPlan, DeliveryTracker
from connectors.kafka_io import ensure_topics
from connectors.normalize_pool import PARALLEL_FROM_BYTES, Normalized, NormalizerPool
from connectors.process_metrics import REPLAY_ROWS
from connectors.publisher import Publisher, Rehearsal
from pipelines.columns import EXACT_SUM, repeated_values
from pipelines.cost_event import CostEvent, CostEventBatch
from pipelines.formats import ExportFormat, UnknownFormatError, detect_format
from pipelines.ordering import TimedRecord, sort_by_event_time
from spendstream.config import Config


@dataclass
class RestatedOffsets:
    """Where a replay's restated periods went in the restated topic: the correction run reads exactly these."""

    start_offsets: dict[int, int] = field(default_factory=dict)
    end_offsets: dict[int, int] = field(default_factory=dict)

    def correction_args(self) -> list[str]:
        """The cost aggregation job's arguments that recompute the hours of these records."""
        return ["--restated", *bounded_args(self.start_offsets, self.end_offsets)]


@dataclass
class ReplaySummary:
    """What a replay read, produced and rejected; its offsets bound the backfill job of exactly this replay."""

    files: int = 0
    rows_read: int = 0
    produced: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    first_rejected_at: dict[str, str] = field(default_factory=dict)
    cost_by_account: dict[str, Decimal] = field(default_factory=dict)
    start_offsets: dict[int, int] = field(default_factory=dict)
    end_offsets: dict[int, int] = field(default_factory=dict)
    restated: RestatedOffsets = field(default_factory=RestatedOffsets)
    deliveries: DeliveryPlan = field(default_factory=DeliveryPlan)
    closing_heartbeat_ms: int | None = None  # event time that closes the replay's last raw hour in a running job

    def backfill_args(self) -> list[str]:
        """The cost aggregation job's arguments that process what this replay produced, and only that."""
        return bounded_args(self.start_offsets, self.end_offsets)


def bounded_args(start: dict[int, int], end: dict[int, int]) -> list[str]:
    return ["--from-offsets", format_offsets(start), "--until-offsets", format_offsets(end)]


def format_offsets(offsets: dict[int, int]) -> str:
    """{0: 120, 1: 98} → ``0:120,1:98`` (the job's --from-offsets / --until-offsets syntax)."""
    return ",".join(f"{partition}:{offset}" for partition, offset in sorted(offsets.items()))


class Pacer:
    """Holds back records so event time advances ``speed`` seconds per wall-clock second."""

    def __init__(
        self,
        speed: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.speed, self.clock, self.sleep = speed, clock, sleep
        self._origin: tuple[int, float] | None = None

    def wait_for(self, ts_ms: int) -> None:
        if not self.speed:
            return
        if self._origin is None:
            self._origin = (ts_ms, self.clock())
            return
        due = self._origin[1] + (ts_ms - self._origin[0]) / 1000 / self.speed
        delay = due - self.clock()
        if delay > 0:
            self.sleep(delay)


class FormatChecker:
    """Recognises each file's format from its header; every file of one replay must agree."""

    def __init__(self, wanted: str = "auto") -> None:
        self.wanted = wanted
        self.format: ExportFormat | None = None

    def for_file(self, path: Path) -> Callable[[list[str]], None]:
        def check(header: list[str]) -> None:
            try:
                found = detect_format(header, self.wanted)
            except UnknownFormatError as error:
                raise ExportError(f"{path}: {error}") from None
            if self.format is not None and found is not self.format:
                raise ExportError(
                    f"{path}: is {found.description}, but earlier files of this replay are "
                    f"{self.format.description}; replay one format at a time"
                )
            self.format = found

        return check


def normalized_batches(
    files: list[Path],
    summary: ReplaySummary,
    reject: Callable[[SourceRow, str], None],
    counter: list[int],
    formats: FormatChecker,
    encode: bool = False,
    parallel: bool = True,
) -> Iterator[tuple[ExportBatch, Normalized]]:
    """Normalize (and encode) every file a record batch at a time; rejected rows go to ``reject`` with their reason.

    A big export is normalized by worker processes (connectors/normalize_pool.py) unless not ``parallel``.
    """
    big = parallel and total_bytes(files) >= PARALLEL_FROM_BYTES
    with NormalizerPool(big, encode) as pool:
        for batch, normalized in pool.map(_read(files, summary, counter, formats)):
            read = batch.table.num_rows + len(batch.unreadable)
            summary.rows_read += read
            REPLAY_ROWS.labels(formats.format.name).inc(read)
            for row, reason in batch.unreadable:
                reject(row, reason)
            for index, reason in sorted(normalized.events.rejected.items()):
                reject(batch.row(index), reason)
            yield batch, normalized


def _read(files: list[Path], summary: ReplaySummary, counter: list[int], formats: FormatChecker):
    for path in files:
        summary.files += 1
        for batch in read_batches(path, formats.for_file(path), counter):
            yield batch, formats.format.name


def normalized_events(
    files: list[Path],
    summary: ReplaySummary,
    reject: Callable[[SourceRow, str], None],
    counter: list[int],
    formats: FormatChecker,
) -> Iterator[CostEvent]:
    """Every valid row of every file as a cost event (for the batch commands that work event by event)."""
    for _, normalized in normalized_batches(files, summary, reject, counter, formats):
        yield from normalized.events.events()


def encoded_events(
    files: list[Path],
    summary: ReplaySummary,
    reject: Callable[[SourceRow, str], None],
    counter: list[int],
    formats: FormatChecker,
    deliveries: DeliveryTracker,
) -> Iterator[TimedRecord]:
    """Normalize and Avro-encode every row, a batch at a time; rejected rows go to ``reject`` with their reason."""
    for batch, normalized in normalized_batches(files, summary, reject, counter, formats, encode=True):
        events = normalized.events
        if not len(events):
            continue
        deliveries.observe(batch.file, events)
        add_costs(summary.cost_by_account, events)
        yield from map(
            TimedRecord,
            events.columns["usage_start_ms"].to_numpy().tolist(),
            repeated_values(events.columns["usage_account_id"].cast(pa.binary())),
            normalized.values.to_pylist(),
            repeated_values(events.columns["billing_period"]),
        )


def add_costs(totals: dict[str, Decimal], events: CostEventBatch) -> None:
    """Add a batch's unblended cost to each account's total, exactly (decimals of 18 places)."""
    costs = pa.table(
        {"account": events.columns["usage_account_id"], "cost": events.columns["unblended_cost"].cast(EXACT_SUM)}
    )
    for row in costs.group_by("account").aggregate([("cost", "sum")]).to_pylist():
        totals[row["account"]] = totals.get(row["account"], Decimal(0)) + row["cost_sum"]


def closing_heartbeat_ms(event_ms: int, config: Config) -> int:
    """The event time whose watermark fires the window of ``event_ms``'s hour."""
    return event_ms - event_ms % HOUR_MS + HOUR_MS + config.flink.out_of_orderness_s * 1000


def send_heartbeat(config: Config, ts_ms: int) -> None:
    """A heartbeat on every partition of the raw topic: a running job's watermark moves to ``ts_ms``.

    Watermarks are not part of Flink's checkpoints: a job resumed from a savepoint fires the
    windows it restored only once new records (or a heartbeat) arrive.
    """
    publisher = Publisher(config, "heartbeat", config.kafka.topic("raw_cost"), ReplaySummary())
    publisher.heartbeat(ts_ms)
    publisher.close()


def replay(
    path: Path,
    config: Config,
    speed: float | None = None,
    show_progress: bool = True,
    export_format: str = "auto",
    force: bool = False,
    heartbeat: bool = False,
    dry_run: bool = False,
) -> ReplaySummary:
    """Replay ``path`` (file or export folder) into the raw cost topic; returns the summary.

    Billing periods whose delivery was already published are left out unless ``force``; a newer
    delivery replaces the older one (see connectors/deliveries.py). ``heartbeat`` ends the replay
    with a heartbeat past its last hour, so a continuously running job closes that hour too.
    ``dry_run`` reads, checks, normalizes and sorts everything and says what would be published,
    without touching Kafka or the delivery ledger.
    """
    from connectors.progress import replay_progress

    files = export_files(path)
    topic = config.kafka.topic("raw_cost")
    summary = ReplaySummary()
    if dry_run:
        publisher = restated = Rehearsal(summary)
    else:
        ensure_topics(config)
        publisher = Publisher(config, "replay", topic, summary)
        restated = Publisher(config, "replay", config.kafka.topic("restated_cost"), summary, summary.restated)
    deliveries = DeliveryTracker(DeliveryLedger(config.state_dir / "deliveries"), topic, force)
    pacer = Pacer(None if dry_run else speed)
    with replay_progress(show_progress) as progress:
        counter = [0]
        reading = progress.add_task("read + sort", total=total_bytes(files))
        events = encoded_events(files, summary, publisher.reject, counter, FormatChecker(export_format), deliveries)
        producing = None
        for record in sort_by_event_time(chain(_tracking(events, progress, reading, counter), deliveries.removals())):
            if producing is None:
                progress.update(reading, completed=progress.tasks[reading].total)
                producing = progress.add_task("check" if dry_run else "produce", total=deliveries.plan.records)
            if deliveries.publishes(record):
                pacer.wait_for(record.ts_ms)
                if deliveries.restates(record):
                    restated.send(record)
                else:
                    publisher.send(record)
                    summary.closing_heartbeat_ms = closing_heartbeat_ms(record.ts_ms, config)
                progress.advance(producing)
        if heartbeat and summary.closing_heartbeat_ms is not None:
            publisher.heartbeat(summary.closing_heartbeat_ms)
        publisher.close()
        restated.close()
    if not dry_run:
        deliveries.commit()
    summary.deliveries = deliveries.plan
    return summary


def _tracking(records: Iterator[TimedRecord], progress, task, counter: list[int]) -> Iterator[TimedRecord]:
    for record in records:
        if counter[0] >= 1 << 20:
            progress.advance(task, counter[0])
            counter[0] = 0
        yield record
