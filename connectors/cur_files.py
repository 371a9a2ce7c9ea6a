"""Find and read the CSV files of an export as they land (CUR: ``data/BILLING_PERIOD=YYYY-MM/*.csv.gz``)."""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SUFFIXES = (".csv", ".csv.gz")


class ExportError(ValueError):
    """A whole file or folder cannot be read; the message names it and what was expected."""


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One data row with where it came from; ``raw`` is the row re-encoded as a CSV line."""

    file: Path
    line: int
    values: dict[str, str]
    raw: bytes


def export_files(path: Path) -> list[Path]:
    """A single file, or every CSV/CSV.gz file below a folder, in a stable order."""
    if path.is_file():
        if not path.name.endswith(SUFFIXES):
            raise ExportError(f"{path}: expected a .csv or .csv.gz export file")
        return [path]
    if not path.is_dir():
        raise ExportError(f"{path}: no such file or folder")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
    if not files:
        raise ExportError(f"{path}: no .csv or .csv.gz files found (expected data/BILLING_PERIOD=YYYY-MM/*.csv.gz)")
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
    """Rows of one CSV file as column → text; ``counter[0]`` tracks file bytes consumed.

    ``check_header`` raises ExportError when the file is not of the expected format, so a wrong
    file is refused before any of its rows is produced.
    """
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
                yield SourceRow(path, reader.line_num, values, _csv_line(cells))
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            raise ExportError(f"{path}: file is damaged near line {reader.line_num}: {error}") from None


def _csv_line(cells: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue().encode()
