"""Every export format spendstream reads, and recognising one from a file's header."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pyarrow as pa

from pipelines import cur1, cur2, focus
from pipelines.cost_event import CostEvent, CostEventBatch


class UnknownFormatError(ValueError):
    """The header matches no format, or the one asked for; the message says what was expected."""


@dataclass(frozen=True)
class ExportFormat:
    name: str
    description: str
    missing_columns: Callable[[list[str]], list[str]]
    normalize_batch: Callable[[pa.Table], CostEventBatch]  # a record batch of rows (column → text)
    normalize: Callable[[Mapping[str, str]], CostEvent]  # one row: the batch of one


FORMATS = {
    "cur2": ExportFormat(
        "cur2", "AWS CUR 2.0 (Data Exports)", cur2.missing_columns, cur2.normalize_cur2, cur2.normalize_cur2_row
    ),
    "cur1": ExportFormat(
        "cur1", "AWS CUR 1.0 (legacy)", cur1.missing_columns, cur1.normalize_cur1, cur1.normalize_cur1_row
    ),
    "focus": ExportFormat(
        "focus", "FinOps FOCUS 1.x", focus.missing_columns, focus.normalize_focus, focus.normalize_focus_row
    ),
}


def detect_format(header: list[str], wanted: str = "auto") -> ExportFormat:
    """The one format whose required columns the header has (or check the one ``wanted``)."""
    if wanted != "auto":
        if wanted not in FORMATS:
            raise UnknownFormatError(f"unknown format {wanted!r}; choose auto, {', '.join(FORMATS)}")
        missing = FORMATS[wanted].missing_columns(header)
        if missing:
            raise UnknownFormatError(f"not {FORMATS[wanted].description}: missing columns {', '.join(missing)}")
        return FORMATS[wanted]
    matches = [f for f in FORMATS.values() if not f.missing_columns(header)]
    if len(matches) == 1:
        return matches[0]
    found = ", ".join(header[:5]) + (", ..." if len(header) > 5 else "")
    if matches:
        raise UnknownFormatError(
            f"ambiguous: the header fits {' and '.join(f.description for f in matches)}; pass --format"
        )
    expected = "; ".join(f"{f.description} needs {', '.join(f.missing_columns([]))}" for f in FORMATS.values())
    raise UnknownFormatError(f"unrecognised export format: found columns {found} ({len(header)} in all); {expected}")
