"""Event-time ordering of an export whose rows are not in time order, in bounded memory.

An external merge sort: records are sorted in chunks of ``chunk_size``, each chunk beyond the
first is spilled to a temporary file, and the sorted chunks are merged lazily. Ties keep their
input order, so a replay of the same export always emits the same sequence.
"""

from __future__ import annotations

import heapq
import struct
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

_FRAME = struct.Struct(">qIII")


class TimedRecord(NamedTuple):
    """A record to emit at event time ``ts_ms``: Kafka key and value, already encoded.

    ``group`` says which unit of delivery (a billing period) the record belongs to, so a replay
    can still leave out a group it decides, after reading everything, not to publish.
    """

    ts_ms: int
    key: bytes
    value: bytes
    group: str = ""


def sort_by_event_time(
    records: Iterable[TimedRecord], chunk_size: int = 250_000, spill_dir: Path | None = None
) -> Iterator[TimedRecord]:
    """Yield ``records`` ordered by ``ts_ms``, holding at most ``chunk_size`` of them in memory."""
    with tempfile.TemporaryDirectory(prefix="spendstream-sort-", dir=spill_dir) as tmp:
        runs: list[Iterator[tuple[int, int, TimedRecord]]] = []
        chunk: list[tuple[int, int, TimedRecord]] = []
        for seq, record in enumerate(records):
            chunk.append((record.ts_ms, seq, record))
            if len(chunk) >= chunk_size:
                runs.append(_spill(sorted(chunk, key=_order), Path(tmp) / f"run-{len(runs)}"))
                chunk = []
        runs.append(iter(sorted(chunk, key=_order)))
        for _, _, record in heapq.merge(*runs, key=_order):
            yield record


def _order(item: tuple[int, int, TimedRecord]) -> tuple[int, int]:
    return item[0], item[1]


def _spill(chunk: list[tuple[int, int, TimedRecord]], path: Path) -> Iterator[tuple[int, int, TimedRecord]]:
    with path.open("wb") as out:
        for ts_ms, seq, record in chunk:
            group = record.group.encode()
            out.write(_FRAME.pack(ts_ms, len(record.key), len(record.value), len(group)))
            out.write(record.key)
            out.write(record.value)
            out.write(group)
            out.write(struct.pack(">q", seq))
    return _read_run(path)


def _read_run(path: Path) -> Iterator[tuple[int, int, TimedRecord]]:
    with path.open("rb") as run:
        while header := run.read(_FRAME.size):
            ts_ms, key_len, value_len, group_len = _FRAME.unpack(header)
            key, value, group = _read(run, key_len), _read(run, value_len), _read(run, group_len)
            record = TimedRecord(ts_ms, key, value, group.decode())
            (seq,) = struct.unpack(">q", _read(run, 8))
            yield ts_ms, seq, record


def _read(run: BinaryIO, size: int) -> bytes:
    data = run.read(size)
    if len(data) != size:
        raise OSError(f"spill file {run.name} is truncated")
    return data
