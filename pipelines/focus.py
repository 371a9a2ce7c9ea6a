"""Normalize FinOps FOCUS 1.0–1.2 rows (``BilledCost``, ``ChargeCategory``, ``ChargePeriodStart``, ...).

FOCUS names the provider's service (``ServiceName``), sub-account (``SubAccountId``) and region
(``RegionId``) directly, carries tags as one JSON object, and several cost measures side by side:
billed (what the invoice says), effective (amortized), contracted and list. Exports write absent
values as empty strings or the literal ``NULL``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.columns import (
    Checks,
    batch_of,
    currencies,
    decimals,
    empty,
    first_filled,
    mapped,
    one_row,
    optional_decimals,
    refusing,
    tags,
    text,
    timestamps_ms,
)
from pipelines.cost_event import ChargeType, CostEvent, CostEventBatch, PricingTerm, RejectedRow
from pipelines.optimize.catalog import instance_type_of

SOURCE_FORMAT = "focus"
REQUIRED_COLUMNS = ("BilledCost", "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd", "ServiceName")
CHARGE_TYPES = {
    "Usage": ChargeType.USAGE,
    "Purchase": ChargeType.FEE,
    "Tax": ChargeType.TAX,
    "Credit": ChargeType.CREDIT,
    "Adjustment": ChargeType.OTHER,
}
NULLS = {"", "NULL", "null"}
COMMITMENT_TERMS = {"Savings Plan": PricingTerm.SAVINGS_PLAN, "Reservation": PricingTerm.RESERVED}


def missing_columns(header: list[str]) -> list[str]:
    present = set(header)
    return [column for column in REQUIRED_COLUMNS if column not in present]


def values(table: pa.Table, name: str) -> pa.Array:
    """A column's values stripped, with the exports' spellings of nothing as ""."""
    stripped = text(table, name)
    return pc.if_else(pc.is_in(stripped, pa.array(sorted(NULLS))), "", stripped)


def normalize_focus(table: pa.Table) -> CostEventBatch:
    """A record batch of FOCUS rows (column → text) to cost events, and the rows refused with their reason."""
    checks = Checks(table.num_rows)
    for name in ("BilledCost", "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd"):
        checks.refuse(empty(values(table, name)), f"{name} is missing")
    category = values(table, "ChargeCategory")
    refusing(checks, _charge_type, category)
    account = first_filled(values(table, "SubAccountId"), values(table, "BillingAccountId"))
    checks.refuse(empty(account), "SubAccountId and BillingAccountId are both missing")
    start_ms = timestamps_ms(checks, values(table, "ChargePeriodStart"), "ChargePeriodStart")
    end_ms = timestamps_ms(checks, values(table, "ChargePeriodEnd"), "ChargePeriodEnd")
    checks.refuse(end_ms < start_ms, "ChargePeriodEnd is before ChargePeriodStart")
    billed = decimals(checks, values(table, "BilledCost"), "BilledCost")
    charge_class = values(table, "ChargeClass")
    instance_type = mapped(instance_type_of, values(table, "x_InstanceType"), values(table, "ChargeDescription"))
    consumed = optional_decimals(checks, values(table, "ConsumedQuantity"), "ConsumedQuantity")
    usage = optional_decimals(checks, values(table, "UsageQuantity"), "UsageQuantity", where=empty(consumed))
    fields = {
        "line_item_id": _line_item_ids(table),
        "billing_period": pc.utf8_slice_codeunits(
            first_filled(values(table, "BillingPeriodStart"), values(table, "ChargePeriodStart")), 0, 7
        ),
        "usage_start_ms": pa.array(start_ms),
        "usage_end_ms": pa.array(end_ms),
        "payer_account_id": values(table, "BillingAccountId"),
        "usage_account_id": account,
        "service": first_filled(values(table, "ServiceName"), "unknown"),
        "region": first_filled(values(table, "RegionId"), "global"),
        "resource_id": values(table, "ResourceId"),
        "line_item_type": mapped(lambda kind, cls: f"{kind}/{cls}" if cls else kind, category, charge_class),
        "charge_type": mapped(lambda kind: CHARGE_TYPES.get(kind, ChargeType.OTHER).value, category),
        "usage_type": first_filled(
            values(table, "SkuPriceId"), pc.utf8_slice_codeunits(values(table, "ChargeDescription"), 0, 200)
        ),
        "unblended_cost": billed,
        "net_cost": billed,
        "currency": currencies(checks, values(table, "BillingCurrency")),
        "usage_amount": first_filled(consumed, usage, "0"),
    }
    tag_index, tag_maps = tags(checks, values(table, "Tags"))
    fields["amortized_cost"] = optional_decimals(checks, values(table, "EffectiveCost"), "EffectiveCost")
    fields["list_cost"] = optional_decimals(checks, values(table, "ListCost"), "ListCost")
    fields["instance_type"] = instance_type
    fields["pricing_term"] = mapped(
        pricing_term,
        values(table, "CommitmentDiscountType"),
        values(table, "CommitmentDiscountStatus"),
        values(table, "PricingCategory"),
        category,
        instance_type,
    )
    fields["public_on_demand_rate"] = optional_decimals(checks, values(table, "ListUnitPrice"), "ListUnitPrice")
    fields["commitment_id"] = values(table, "CommitmentDiscountId")
    return batch_of(checks, SOURCE_FORMAT, fields, tag_index, tag_maps)


def normalize_focus_row(row: Mapping[str, str]) -> CostEvent:
    """One FOCUS row to a cost event; raises RejectedRow with the reason."""
    return one_row(normalize_focus, row)


def _charge_type(category: str) -> ChargeType:
    if category not in CHARGE_TYPES:
        raise RejectedRow(f"ChargeCategory {category[:30]!r} is not one of {', '.join(CHARGE_TYPES)}")
    return CHARGE_TYPES[category]


def pricing_term(
    commitment_type: str, commitment_status: str, pricing_category: str, category: str, instance_type: str
) -> str:
    """The commitment that applied (``CommitmentDiscountType``), spot (``PricingCategory`` Dynamic), else on-demand."""
    commitment = COMMITMENT_TERMS.get(commitment_type)
    if commitment and commitment_status != "Unused":
        return commitment.value
    if pricing_category == "Dynamic":
        return PricingTerm.SPOT.value
    return PricingTerm.ON_DEMAND.value if instance_type and category == "Usage" else ""


def _line_item_ids(table: pa.Table) -> pa.Array:
    """``Id``, else ``x_LineItemId``, else a hash of the row's content (FOCUS has no mandatory row id)."""
    ids = first_filled(values(table, "Id"), values(table, "x_LineItemId"))
    missing = np.flatnonzero(empty(ids))
    if not len(missing):
        return ids
    rows = table.take(pa.array(missing)).to_pylist()
    mask = pa.array(np.isin(np.arange(len(ids)), missing))
    return pc.replace_with_mask(ids, mask, pa.array([_row_hash(row) for row in rows], pa.string()))


def _row_hash(row: Mapping[str, str]) -> str:
    """FOCUS has no mandatory row id: the row's own content identifies it deterministically."""
    digest = hashlib.sha256("\x1f".join(f"{k}={v}" for k, v in sorted(row.items())).encode())
    return digest.hexdigest()[:32]
