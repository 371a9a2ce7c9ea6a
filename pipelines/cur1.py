"""Normalize legacy AWS CUR 1.0 rows (``lineItem/UnblendedCost``, ``resourceTags/user:team``, ...).

CUR 2.0 renamed every column by a fixed rule — ``category/CamelCase`` → ``category_snake_case`` —
and moved the resource tag columns into one ``resource_tags`` map with ``:`` turned into ``_``.
So a CUR 1.0 row is renamed and normalized by the CUR 2.0 code: one set of rules for both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.columns import one_row
from pipelines.cost_event import CostEvent, CostEventBatch
from pipelines.cur2 import normalize_cur2

SOURCE_FORMAT = "cur1"
TAG_PREFIX = "resourceTags/"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@cache
def cur2_name(column: str) -> str:
    """``lineItem/UnblendedCost`` → ``line_item_unblended_cost``."""
    return "_".join(_CAMEL.sub("_", part).lower() for part in column.split("/"))


REQUIRED_CUR1 = (
    "identity/LineItemId",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/UsageAccountId",
    "lineItem/LineItemType",
    "lineItem/UnblendedCost",
)


def missing_columns(header: list[str]) -> list[str]:
    present = set(header)
    return [column for column in REQUIRED_CUR1 if column not in present]


def to_cur2(table: pa.Table) -> pa.Table:
    """Rename columns and fold the ``resourceTags/*`` columns into a ``resource_tags`` JSON object per row."""
    nothing = pa.array([""] * table.num_rows, pa.string())
    renamed: dict[str, pa.Array] = {}
    tag_columns: list[tuple[str, pa.Array]] = []
    for name in table.column_names:
        values = table.column(name).combine_chunks().fill_null("")
        if name.startswith(TAG_PREFIX):
            tag_columns.append((name[len(TAG_PREFIX) :].replace(":", "_"), values))
        else:
            renamed[cur2_name(name)] = values  # a later column of the same CUR 2.0 name wins
    code = renamed.get("product_region_code", nothing)
    renamed["product_region_code"] = pc.if_else(pc.equal(code, ""), renamed.get("product_region", nothing), code)
    renamed["resource_tags"] = _tags_json(tag_columns, nothing)
    return pa.table(renamed)


def _tags_json(tag_columns: list[tuple[str, pa.Array]], nothing: pa.Array) -> pa.Array:
    """Each row's non-empty tag values as a JSON object ("" when it has none); a later column wins."""
    if not tag_columns:
        return nothing
    texts = []
    for values in zip(*(values.to_pylist() for _, values in tag_columns), strict=True):
        tags = {}
        for (key, _), value in zip(tag_columns, values, strict=True):
            if value:
                tags[key] = value
        texts.append(json.dumps(tags) if tags else "")
    return pa.array(texts, pa.string())


def normalize_cur1(table: pa.Table) -> CostEventBatch:
    return normalize_cur2(to_cur2(table), SOURCE_FORMAT)


def normalize_cur1_row(row: Mapping[str, str]) -> CostEvent:
    """One row (column → text) to a cost event; raises RejectedRow with the reason."""
    return one_row(normalize_cur1, row)
