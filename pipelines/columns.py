"""The normalizers' rules applied a column at a time (Arrow compute) to a record batch of an export.

Each rule is written once, for one value, in pipelines/cost_event.py (``exact_decimal``,
``timestamp_ms``, ``currency``, ``resource_tags``, ``event_id``).
Here Arrow recognises, in C++, the values those rules would return unchanged (a decimal already
in canonical form, a whole-second UTC timestamp); only values of any other shape go through the
rule itself, one by one, and only those can be refused. An export is almost all canonical, so the
per-value Python runs on a few rows, and a batch of one row gives exactly the row rules' answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.cost_event import (
    CostEvent,
    CostEventBatch,
    RejectedRow,
    currency,
    exact_decimal,
    resource_tags,
    timestamp_ms,
)

# Shapes whose rule is the identity (exact_decimal returns them as they are; timestamp_ms of a
# whole second is exact). Anything else takes the rule's own path.
CANONICAL_DECIMAL = r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,18})?$"
WHOLE_SECOND_UTC = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.0{1,6})?Z?$"
SECONDS_FORMAT = "%Y-%m-%dT%H:%M:%S"
REFUSED = (RejectedRow, ValueError, TypeError)
EXACT_SUM = pa.decimal256(76, 18)  # sums of amounts of at most 18 decimal places below 1e15, exactly
ID_BYTES = 16  # an event id is the first 32 hex digits of the key's SHA-256
HEX_DIGITS = np.array([f"{byte:02x}".encode() for byte in range(256)], dtype="S2")


class Checks:
    """The values of one batch's rows and the first reason each row is refused for.

    Rules run in the order the row normalizer states them; a row keeps the reason of the first
    rule that refused it, as a row-at-a-time normalizer that raises at its first problem would.
    """

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.refused = np.zeros(rows, dtype=bool)
        self.reasons: dict[int, str] = {}

    def refuse(self, mask: np.ndarray | pa.Array, reason: str | Callable[[int], str]) -> None:
        """Refuse the rows of ``mask`` (not refused before) for ``reason`` (or ``reason(row)``)."""
        new = numpy_mask(mask) & ~self.refused
        for row in np.flatnonzero(new):
            self.reasons[int(row)] = reason(int(row)) if callable(reason) else reason
        self.refused |= new

    def apply(
        self, rule: Callable[[str], Any], inputs: pa.Array, fast: pa.Array, where: np.ndarray | None = None
    ) -> pa.Array:
        """``fast``'s values where they are set, else ``rule`` of the input; a null when refused.

        A value the rule refuses refuses its row (only where ``where`` holds, when given).
        """
        slow = ~numpy_mask(pc.is_valid(fast))
        if where is not None:
            slow &= where
        rows = np.flatnonzero(slow)
        if not len(rows):
            return fast
        results, reasons = [], {}
        for row, value in zip(rows.tolist(), inputs.take(pa.array(rows)).to_pylist(), strict=True):
            try:
                results.append(rule(value))
            except REFUSED as error:
                results.append(None)
                reasons[row] = str(error)
        refused = np.zeros(self.rows, dtype=bool)
        refused[list(reasons)] = True
        self.refuse(refused, reasons.__getitem__)
        return pc.replace_with_mask(fast, pa.array(slow), pa.array(results, fast.type))

    def kept(self) -> np.ndarray:
        """The rows no rule refused."""
        return np.flatnonzero(~self.refused)


def numpy_mask(mask: np.ndarray | pa.Array) -> np.ndarray:
    if isinstance(mask, np.ndarray):
        return mask
    return mask.fill_null(False).to_numpy(zero_copy_only=False)


def column(table: pa.Table, name: str) -> pa.Array:
    """A column as text, as read ("" for a null or a column the file does not have)."""
    position = table.schema.get_field_index(name)  # -1 when absent (or, for a repeated name, ambiguous)
    if position < 0:
        return pa.array([""] * table.num_rows, pa.string())
    chunks = table.column(position)
    values = chunks.chunk(0) if chunks.num_chunks == 1 else chunks.combine_chunks()
    return values.fill_null("") if values.null_count else values  # fill_null copies even when nothing is null


def text(table: pa.Table, name: str) -> pa.Array:
    """A column's values as ``str.strip()`` leaves them (Arrow's whitespace is Python's, for every code point)."""
    return pc.utf8_trim_whitespace(column(table, name))


def empty(values: pa.Array) -> np.ndarray:
    return numpy_mask(_blank(values))


def _blank(values: pa.Array) -> pa.Array:
    """Empty strings, from the lengths alone (comparing with "" costs five times as much)."""
    return pc.equal(pc.binary_length(values), 0)


def decimals(
    checks: Checks, values: pa.Array, name: str, *, required: bool = True, where: np.ndarray | None = None
) -> pa.Array:
    """Exact decimal strings: canonical values as they are, the rest through ``exact_decimal``."""
    canonical = pc.match_substring_regex(values, CANONICAL_DECIMAL)
    rule = partial(exact_decimal, column=name, required=required)
    return checks.apply(rule, values, pc.if_else(canonical, values, None), where)


def optional_decimals(checks: Checks, values: pa.Array, name: str, where: np.ndarray | None = None) -> pa.Array:
    """An optional money or quantity column: exact values, "" where the export leaves it out."""
    filled = ~empty(values) if where is None else ~empty(values) & where
    return pc.if_else(pa.array(filled), decimals(checks, values, name, where=filled), "")


def timestamps_ms(checks: Checks, values: pa.Array, name: str) -> np.ndarray:
    """Epoch milliseconds: whole-second UTC timestamps parsed by Arrow, the rest by ``timestamp_ms``."""
    shaped = pc.match_substring_regex(values, WHOLE_SECOND_UTC)
    parsed = pc.strptime(pc.utf8_slice_codeunits(values, 0, 19), SECONDS_FORMAT, "s", error_is_null=True)
    # Arrow rolls an impossible date over (02-30 → 03-02): the day it parsed is then not the day written.
    written_day = pc.cast(pc.if_else(shaped, pc.utf8_slice_codeunits(values, 8, 10), "0"), pa.int64())
    exact = pc.and_(shaped, pc.equal(pc.day(parsed), written_day)).fill_null(False)
    milliseconds = pc.multiply(parsed.cast(pa.int64()), 1000)
    ms = checks.apply(partial(timestamp_ms, column=name), values, pc.if_else(exact, milliseconds, None))
    return ms.fill_null(0).to_numpy(zero_copy_only=False)


def currencies(checks: Checks, values: pa.Array) -> pa.Array:
    """Currency codes (USD where the column is empty)."""
    index, codes = refusing(checks, lambda value: currency(value or "USD"), values)
    return pa.array(codes, pa.string()).take(pa.array(index))


def tags(checks: Checks, values: pa.Array) -> tuple[np.ndarray, list[dict[str, str]]]:
    """Each row's tags object: (index, the distinct maps); parsed once per distinct text."""
    return refusing(checks, resource_tags, values)


def per_distinct(rule: Callable[..., Any], *columns: pa.Array) -> tuple[np.ndarray, list]:
    """``rule`` of each distinct combination of the columns' values: (each row's index, results).

    For rules of few distinct inputs (a charge type, an instance type, a tags object), so the
    Python runs once per distinct value, not once per row.
    """
    dictionaries, indices = [], []
    for values in columns:
        encoded = values.dictionary_encode()
        dictionaries.append(encoded.dictionary.to_pylist())
        indices.append(encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64))
    # distinct rows of the index matrix: no combined key to overflow, however many values a column has
    distinct, index = np.unique(np.stack(indices, axis=1), axis=0, return_inverse=True)
    results = [
        rule(*(dictionary[position] for dictionary, position in zip(dictionaries, row, strict=True)))
        for row in distinct.tolist()
    ]
    return index.reshape(-1), results


def mapped(rule: Callable[..., str], *columns: pa.Array) -> pa.Array:
    """``rule`` (giving text) of each row's values, computed once per distinct combination."""
    index, results = per_distinct(rule, *columns)
    return pa.array(results, pa.string()).take(pa.array(index))


def refusing(checks: Checks, rule: Callable[..., Any], *columns: pa.Array) -> tuple[np.ndarray, list]:
    """``per_distinct`` of a rule that may refuse: a refused value refuses every row holding it (result None)."""

    def outcome(*args):
        try:
            return True, rule(*args)
        except REFUSED as error:
            return False, str(error)

    index, outcomes = per_distinct(outcome, *columns)
    refused = {i: result for i, (ok, result) in enumerate(outcomes) if not ok}
    if refused:
        checks.refuse(np.isin(index, list(refused)), lambda row: refused[int(index[row])])
    return index, [result if ok else None for ok, result in outcomes]


def first_filled(*candidates: pa.Array | str) -> pa.Array:
    """Per row, the first candidate that is not empty ("" when none is); a text is a default."""
    nulled = [values if isinstance(values, str) else pc.if_else(_blank(values), None, values) for values in candidates]
    return pc.coalesce(*nulled, "")


def event_ids(source_format: str, line_item_ids: pa.Array, start_ms: pa.Array, end_ms: pa.Array) -> pa.Array:
    """``event_id`` of every row: keys joined by Arrow, hashed by hashlib (sha256 is not in Arrow), hex in numpy."""
    keys = pc.binary_join_element_wise(
        source_format, line_item_ids, start_ms.cast(pa.string()), end_ms.cast(pa.string()), "|"
    )
    sha256 = hashlib.sha256
    digests = b"".join([sha256(key).digest()[:ID_BYTES] for key in keys.cast(pa.binary()).to_pylist()])
    hexed = HEX_DIGITS[np.frombuffer(digests, dtype=np.uint8)].tobytes()  # two hex digits per byte
    offsets = np.arange(0, len(hexed) + 1, 2 * ID_BYTES, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(keys), [None, pa.py_buffer(offsets), pa.py_buffer(hexed)])


def batch_of(
    checks: Checks, source_format: str, fields: dict[str, pa.Array], tag_index: np.ndarray, tag_maps: list
) -> CostEventBatch:
    """The rows no rule refused, as cost events (ids computed for those rows only)."""
    kept = checks.kept()
    taken = pa.array(kept, pa.int64())
    columns = {name: values.take(taken) for name, values in fields.items()}
    columns["source_format"] = pa.array([source_format] * len(kept), pa.string())
    columns["event_id"] = event_ids(
        source_format, columns["line_item_id"], columns["usage_start_ms"], columns["usage_end_ms"]
    )
    used, tag_index = np.unique(tag_index[kept], return_inverse=True)
    maps = [tag_maps[i] for i in used.tolist()]
    return CostEventBatch(columns, tag_index.reshape(-1), maps, kept, dict(checks.reasons))


def one_row(normalize: Callable[[pa.Table], CostEventBatch], row: Mapping[str, str | None]) -> CostEvent:
    """The row normalizers' answer for one row: its event, or RejectedRow with the reason."""
    columns = {name: pa.array([value], pa.string()) for name, value in row.items()}
    table = pa.table(columns or {"": pa.array([""])})  # a row of no columns is still one row
    batch = normalize(table)
    if batch.rejected:
        raise RejectedRow(batch.rejected[0])
    return batch.events()[0]


def repeated_values(values: pa.Array) -> list:
    """``values.to_pylist()`` for a column of few distinct values: one Python object per distinct value."""
    encoded = values.dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    return [distinct[index] for index in encoded.indices.to_numpy(zero_copy_only=False).tolist()]
