"""Record batches normalized (and Avro-encoded) in worker processes, handed back in input order.

Reading stays in the replay's process: it checks each file's header and counts bytes for the
progress bar. Normalizing costs about three times what reading does, so a big export is
normalized by a pool of worker processes (one per core), a few batches in flight each so memory
stays bounded. A small export is normalized in place: a worker takes about a second to start.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context

import pyarrow as pa

from connectors.cur_files import ExportBatch
from pipelines.cost_event import CostEventBatch
from pipelines.formats import FORMATS
from schemas import SchemaName
from schemas.avro_batch import Repeated, encode_batch

log = logging.getLogger(__name__)

PARALLEL_FROM_BYTES = 16 << 20  # exports of at least this many file bytes are normalized by workers
IN_FLIGHT_PER_WORKER = 2


@dataclass
class Normalized:
    """A batch's events and, when asked for, their Avro messages (one per event, in order)."""

    events: CostEventBatch
    values: pa.BinaryArray | None = None


def normalize(format_name: str, table: pa.Table, encode: bool) -> Normalized:
    """Normalize one record batch (in a worker or in place)."""
    events = FORMATS[format_name].normalize_batch(table)
    if not encode or not len(events):
        return Normalized(events)
    tags = Repeated(events.tag_index, events.tag_maps)
    return Normalized(events, encode_batch(SchemaName.COST_EVENT, {**events.columns, "tags": tags}))


class NormalizerPool:
    """``map`` normalizes batches in order: in worker processes when ``parallel`` and the machine has cores."""

    def __init__(self, parallel: bool, encode: bool) -> None:
        self.encode = encode
        workers = os.cpu_count() or 1
        self.pool = (
            ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
            if parallel and workers > 1
            else None
        )
        self.in_flight = workers * IN_FLIGHT_PER_WORKER

    def __enter__(self) -> NormalizerPool:
        return self

    def __exit__(self, *_) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def map(self, batches: Iterable[tuple[ExportBatch, str]]) -> Iterator[tuple[ExportBatch, Normalized]]:
        """(batch, its format's name) → (batch, normalized), in the order given."""
        pending: deque[tuple[ExportBatch, str, Future | None]] = deque()
        for batch, format_name in batches:
            pending.append((batch, format_name, self._submit(batch, format_name)))
            while len(pending) >= self.in_flight or (pending and pending[0][2] is None):
                yield self._next(pending)
        while pending:
            yield self._next(pending)

    def _submit(self, batch: ExportBatch, format_name: str) -> Future | None:
        if self.pool is None:
            return None
        try:
            return self.pool.submit(normalize, format_name, batch.table, self.encode)
        except BrokenProcessPool:
            self._in_place_from_now_on()
            return None

    def _next(self, pending: deque) -> tuple[ExportBatch, Normalized]:
        batch, format_name, future = pending.popleft()
        if future is not None:
            try:
                return batch, future.result()
            except BrokenProcessPool:
                self._in_place_from_now_on()
        return batch, normalize(format_name, batch.table, self.encode)

    def _in_place_from_now_on(self) -> None:
        """Workers that cannot start (a script without ``if __name__ == "__main__":``) slow a replay, never stop it."""
        if self.pool is not None:
            log.warning(
                "normalizing in this process: its worker processes could not start "
                "(a script that calls replay must guard its top level with `if __name__ == '__main__':`)"
            )
            self.pool.shutdown(cancel_futures=True)
            self.pool = None
