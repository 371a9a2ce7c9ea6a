"""Normalize AWS CUR 2.0 (Data Exports) CSV rows into cost events.

CUR 2.0 flattens the legacy ``lineItem/UnblendedCost`` names into snake case
(``line_item_unblended_cost``) and carries map columns such as ``resource_tags`` as JSON
objects in CSV exports.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.columns import (
    Checks,
    batch_of,
    column,
    currencies,
    decimals,
    empty,
    first_filled,
    mapped,
    numpy_mask,
    one_row,
    optional_decimals,
    tags,
    text,
    timestamps_ms,
)
from pipelines.cost_event import ChargeType, CostEvent, CostEventBatch, PricingTerm
from pipelines.optimize.catalog import instance_type_of

SOURCE_FORMAT = "cur2"

REQUIRED_COLUMNS = (
    "identity_line_item_id",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_unblended_cost",
)

CHARGE_TYPES: dict[str, ChargeType] = {
    "Usage": ChargeType.USAGE,
    "DiscountedUsage": ChargeType.USAGE,
    "SavingsPlanCoveredUsage": ChargeType.USAGE,
    "Fee": ChargeType.FEE,
    "RIFee": ChargeType.FEE,
    "SavingsPlanRecurringFee": ChargeType.FEE,
    "SavingsPlanUpfrontFee": ChargeType.FEE,
    "Tax": ChargeType.TAX,
    "Credit": ChargeType.CREDIT,
    "Refund": ChargeType.REFUND,
    "BundledDiscount": ChargeType.DISCOUNT,
    "EdpDiscount": ChargeType.DISCOUNT,
    "PrivateRateDiscount": ChargeType.DISCOUNT,
    "DistributorDiscount": ChargeType.DISCOUNT,
    "SavingsPlanNegation": ChargeType.DISCOUNT,
}


# The column holding a line item's amortized (effective) cost, where it differs from net cost.
AMORTIZED_COLUMNS = {
    "DiscountedUsage": "reservation_effective_cost",
    "SavingsPlanCoveredUsage": "savings_plan_savings_plan_effective_cost",
}


# Line item types that say how usage (or the fee for a commitment) was priced.
TERMS_BY_LINE_ITEM_TYPE = {
    "DiscountedUsage": PricingTerm.RESERVED,
    "RIFee": PricingTerm.RESERVED,
    "SavingsPlanCoveredUsage": PricingTerm.SAVINGS_PLAN,
    "SavingsPlanRecurringFee": PricingTerm.SAVINGS_PLAN,
    "SavingsPlanUpfrontFee": PricingTerm.SAVINGS_PLAN,
}
INSTANCE_USAGE = ("BoxUsage", "SpotUsage", "DedicatedUsage", "HostUsage")
# CUR 2.0 spells ARN ``a_r_n``; CUR 1.0 renamed by rule gives ``arn``: both are read.
COMMITMENT_COLUMNS = (
    "savings_plan_savings_plan_a_r_n",
    "savings_plan_savings_plan_arn",
    "reservation_reservation_a_r_n",
    "reservation_reservation_arn",
)


def missing_columns(header: list[str]) -> list[str]:
    """Required CUR 2.0 columns absent from a file's header (empty when the file is CUR 2.0)."""
    present = set(header)
    return [column for column in REQUIRED_COLUMNS if column not in present]


def normalize_cur2(table: pa.Table, source_format: str = SOURCE_FORMAT) -> CostEventBatch:
    """A record batch of CUR 2.0 rows (column → text) to cost events, and the rows refused with their reason.

    The rules run in the order a row is checked; ``source_format`` lets CUR 1.0, whose columns
    map one to one onto CUR 2.0's, reuse them.
    """
    checks = Checks(table.num_rows)
    for name in REQUIRED_COLUMNS:
        checks.refuse(empty(text(table, name)), f"{name} is missing")
    start_ms = timestamps_ms(checks, text(table, "line_item_usage_start_date"), "line_item_usage_start_date")
    end_ms = timestamps_ms(checks, text(table, "line_item_usage_end_date"), "line_item_usage_end_date")
    checks.refuse(end_ms < start_ms, "line_item_usage_end_date is before line_item_usage_start_date")
    unblended = decimals(checks, text(table, "line_item_unblended_cost"), "line_item_unblended_cost")
    net = first_filled(
        optional_decimals(checks, text(table, "line_item_net_unblended_cost"), "line_item_net_unblended_cost"),
        unblended,
    )
    line_item_type = text(table, "line_item_line_item_type")
    usage_type = text(table, "line_item_usage_type")
    instance_type = mapped(_instance_type, column(table, "product_instance_type"), usage_type)
    currency_codes = currencies(checks, column(table, "line_item_currency_code"))
    usage_amount = decimals(checks, text(table, "line_item_usage_amount"), "line_item_usage_amount", required=False)
    tag_index, tag_maps = tags(checks, column(table, "resource_tags"))
    amortized = _amortized(checks, table, line_item_type)
    fields = {
        "line_item_id": text(table, "identity_line_item_id"),
        "billing_period": _billing_periods(text(table, "bill_billing_period_start_date"), start_ms),
        "usage_start_ms": pa.array(start_ms),
        "usage_end_ms": pa.array(end_ms),
        "payer_account_id": text(table, "bill_payer_account_id"),
        "usage_account_id": text(table, "line_item_usage_account_id"),
        "service": first_filled(text(table, "line_item_product_code"), "unknown"),
        "region": first_filled(text(table, "product_region_code"), "global"),
        "resource_id": text(table, "line_item_resource_id"),
        "line_item_type": line_item_type,
        "charge_type": mapped(lambda kind: CHARGE_TYPES.get(kind, ChargeType.OTHER).value, line_item_type),
        "usage_type": usage_type,
        "unblended_cost": unblended,
        "net_cost": net,
        "currency": currency_codes,
        "usage_amount": usage_amount,
        "amortized_cost": first_filled(amortized, net),
        "list_cost": optional_decimals(
            checks, text(table, "pricing_public_on_demand_cost"), "pricing_public_on_demand_cost"
        ),
        "instance_type": instance_type,
        "pricing_term": mapped(pricing_term, line_item_type, usage_type, instance_type),
        "public_on_demand_rate": optional_decimals(
            checks, text(table, "pricing_public_on_demand_rate"), "pricing_public_on_demand_rate"
        ),
        "commitment_id": first_filled(*(text(table, name) for name in COMMITMENT_COLUMNS)),
    }
    return batch_of(checks, source_format, fields, tag_index, tag_maps)


def normalize_cur2_row(row: Mapping[str, str], source_format: str = SOURCE_FORMAT) -> CostEvent:
    """One row (column → text) to a cost event; raises RejectedRow with the reason."""
    return one_row(lambda table: normalize_cur2(table, source_format), row)


def _instance_type(product_instance_type: str, usage_type: str) -> str:
    return instance_type_of(product_instance_type) or (
        instance_type_of(usage_type) if any(kind in usage_type for kind in INSTANCE_USAGE) else ""
    )


def _amortized(checks: Checks, table: pa.Table, line_item_type: pa.Array) -> pa.Array:
    """Each row's amortized cost from the column its line item type names ("" where none)."""
    amortized = pa.array([""] * table.num_rows, pa.string())
    for kind, name in AMORTIZED_COLUMNS.items():
        of_kind = numpy_mask(pc.equal(line_item_type, kind))
        amortized = pc.if_else(
            pa.array(of_kind), optional_decimals(checks, text(table, name), name, of_kind), amortized
        )
    return amortized


def _billing_periods(period_start: pa.Array, start_ms: np.ndarray) -> pa.Array:
    """YYYY-MM of each row's bill (its usage month where the column is empty; printed for those rows only)."""
    periods = pc.utf8_slice_codeunits(period_start, 0, 7)
    unnamed = empty(period_start)
    if not unnamed.any():
        return periods
    usage_month = pc.strftime(pa.array(start_ms[unnamed], pa.timestamp("ms", "UTC")), "%Y-%m")
    return pc.replace_with_mask(periods, pa.array(unnamed), usage_month)


def pricing_term(line_item_type: str, usage_type: str, instance_type: str) -> str:
    """Reserved / Savings Plan from the line item type, spot from the usage type, else on-demand instance usage."""
    if line_item_type in TERMS_BY_LINE_ITEM_TYPE:
        return TERMS_BY_LINE_ITEM_TYPE[line_item_type].value
    if "SpotUsage" in usage_type:
        return PricingTerm.SPOT.value
    return PricingTerm.ON_DEMAND.value if instance_type and line_item_type == "Usage" else ""
