"""Find and read the CSV files of an export as they land (CUR: ``data/BILLING_PERIOD=YYYY-MM/*.csv.gz``)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SUFFIXES = (".csv", ".csv.gz", ".parquet")


class ExportError(ValueError):
    """A whole file or folder cannot be read; the message names it and what was expected."""


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One data row with where it came from; ``cells`` are a CSV row's fields as read."""

    file: Path
    line: int
    values: dict[str, str]
    cells: list[str] | None = None

    @property
    def raw(self) -> bytes:
        """The row as the dead-letter payload: its CSV line, or JSON for a Parquet row.

        Built only for a rejected row: re-encoding every row cost a fifth of replay's parse time.
        """
        return _csv_line(self.cells) if self.cells is not None else json.dumps(self.values).encode()


def export_files(path: Path) -> list[Path]:
    """A single file, or every CSV/CSV.gz file below a folder, in a stable order."""
    if path.is_file():
        if not path.name.endswith(SUFFIXES):
            raise ExportError(f"{path}: expected a .csv, .csv.gz or .parquet export file")
        return [path]
    if not path.is_dir():
        raise ExportError(f"{path}: no such file or folder")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
    if not files:
        raise ExportError(
            f"{path}: no .csv, .csv.gz or .parquet files found (expected data/BILLING_PERIOD=YYYY-MM/*.csv.gz)"
        )
    return files


def total_bytes(files: list[Path]) -> int:
    return sum(os.path.getsize(f) for f in files)


class _CountingReader(io.RawIOBase):
    """Counts compressed bytes consumed so progress bars can show an ETA for .gz files."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner, self.consumed = inner, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.consumed += len(data)
        return len(data)


def read_rows(
    path: Path, check_header: Callable[[list[str]], None], counter: list[int] | None = None
) -> Iterator[SourceRow]:
    """Rows of one export file as column → text; ``counter[0]`` tracks file bytes consumed.

    ``check_header`` raises ExportError when the file is not of the expected format, so a wrong
    file is refused before any of its rows is produced.
    """
    if path.name.endswith(".parquet"):
        yield from read_parquet_rows(path, check_header, counter)
        return
    with path.open("rb") as raw_file:
        counting = _CountingReader(raw_file)
        binary: IO[bytes] = io.BufferedReader(counting, 1 << 20)
        if path.name.endswith(".gz"):
            binary = gzip.GzipFile(fileobj=binary)
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            raise ExportError(f"{path}: file is empty (expected a CSV header)") from None
        except (OSError, EOFError) as error:
            raise ExportError(f"{path}: cannot read: {error}") from None
        check_header(header)
        width = len(header)
        try:
            for cells in reader:
                if counter is not None:
                    counter[0] += counting.consumed
                    counting.consumed = 0
                if len(cells) != width:
                    values = {"__error__": f"row has {len(cells)} columns, header has {width}"}
                else:
                    values = dict(zip(header, cells, strict=True))
                yield SourceRow(path, reader.line_num, values, cells)
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            raise ExportError(f"{path}: file is damaged near line {reader.line_num}: {error}") from None


def _csv_line(cells: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue().encode()


def read_parquet_rows(
    path: Path, check_header: Callable[[list[str]], None], counter: list[int] | None = None
) -> Iterator[SourceRow]:
    """Rows of a Parquet export, read in record batches so memory stays bounded.

    Values become the text a CSV export would carry: map columns (``resource_tags``) as JSON
    objects, timestamps as ISO-8601 UTC, doubles in their shortest exact representation.
    """
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as error:
        raise ExportError(f"{path}: not a readable Parquet file: {error}") from None
    check_header(parquet.schema_arrow.names)
    total_rows = max(parquet.metadata.num_rows, 1)
    size = os.path.getsize(path)
    line = 1
    for batch in parquet.iter_batches(batch_size=8192):
        if counter is not None:
            counter[0] += size * batch.num_rows // total_rows
        names = batch.schema.names
        for cells in zip(*(_column_text(column) for column in batch.columns), strict=True):
            line += 1
            yield SourceRow(path, line, dict(zip(names, cells, strict=True)))


def _column_text(column: pa.Array) -> list[str]:
    """A column as CSV text, converted a column at a time where Arrow can (strings, timestamps)."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.fill_null("").to_pylist()
    if pa.types.is_timestamp(column.type) and column.type.tz in (None, "UTC", "+00:00"):
        try:
            seconds = pc.cast(column, pa.timestamp("s", column.type.tz))  # refuses to drop fractions
        except pa.ArrowInvalid:
            return [_text(value) for value in column.to_pylist()]
        return pc.strftime(seconds, "%Y-%m-%dT%H:%M:%SZ").fill_null("").to_pylist()
    return [_text(value) for value in column.to_pylist()]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.isoformat().replace("+00:00", "Z")
    if isinstance(value, list):  # Arrow map → list of (key, value) pairs
        return json.dumps(dict(value))
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)
