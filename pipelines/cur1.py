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

from pipelines.cost_event import CostEvent
from pipelines.cur2 import normalize_cur2_row

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


def to_cur2(row: Mapping[str, str]) -> dict[str, str]:
    """Rename columns and fold the ``resourceTags/*`` columns into a ``resource_tags`` JSON object."""
    renamed: dict[str, str] = {}
    tags: dict[str, str] = {}
    for column, value in row.items():
        if column.startswith(TAG_PREFIX):
            if value:
                tags[column[len(TAG_PREFIX) :].replace(":", "_")] = value
        else:
            renamed[cur2_name(column)] = value
    if not renamed.get("product_region_code"):
        renamed["product_region_code"] = renamed.get("product_region", "")
    renamed["resource_tags"] = json.dumps(tags) if tags else ""
    return renamed


def normalize_cur1_row(row: Mapping[str, str]) -> CostEvent:
    return normalize_cur2_row(to_cur2(row), SOURCE_FORMAT)
