"""Normalize FinOps FOCUS 1.0–1.2 rows (``BilledCost``, ``ChargeCategory``, ``ChargePeriodStart``, ...).

FOCUS names the provider's service (``ServiceName``), sub-account (``SubAccountId``) and region
(``RegionId``) directly, carries tags as one JSON object, and several cost measures side by side:
billed (what the invoice says), effective (amortized), contracted and list. Exports write absent
values as empty strings or the literal ``NULL``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from pipelines.cost_event import ChargeType, CostEvent, PricingTerm, RejectedRow, event_id, exact_decimal
from pipelines.cur2 import currency, resource_tags, timestamp_ms
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


def value(row: Mapping[str, str], column: str) -> str:
    text = (row.get(column) or "").strip()
    return "" if text in NULLS else text


def normalize_focus_row(row: Mapping[str, str]) -> CostEvent:
    """One FOCUS row to a cost event; raises RejectedRow with the reason."""
    for column in ("BilledCost", "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd"):
        if not value(row, column):
            raise RejectedRow(f"{column} is missing")
    category = value(row, "ChargeCategory")
    if category not in CHARGE_TYPES:
        raise RejectedRow(f"ChargeCategory {category[:30]!r} is not one of {', '.join(CHARGE_TYPES)}")
    account = value(row, "SubAccountId") or value(row, "BillingAccountId")
    if not account:
        raise RejectedRow("SubAccountId and BillingAccountId are both missing")
    start_ms = timestamp_ms(value(row, "ChargePeriodStart"), "ChargePeriodStart")
    end_ms = timestamp_ms(value(row, "ChargePeriodEnd"), "ChargePeriodEnd")
    if end_ms < start_ms:
        raise RejectedRow("ChargePeriodEnd is before ChargePeriodStart")
    billed = exact_decimal(value(row, "BilledCost"), "BilledCost")
    line_item_id = value(row, "Id") or value(row, "x_LineItemId") or _row_hash(row)
    charge_class = value(row, "ChargeClass")
    instance_type = instance_type_of(value(row, "x_InstanceType"), value(row, "ChargeDescription"))
    return CostEvent(
        event_id=event_id(SOURCE_FORMAT, line_item_id, start_ms, end_ms),
        source_format=SOURCE_FORMAT,
        line_item_id=line_item_id,
        billing_period=value(row, "BillingPeriodStart")[:7] or value(row, "ChargePeriodStart")[:7],
        usage_start_ms=start_ms,
        usage_end_ms=end_ms,
        payer_account_id=value(row, "BillingAccountId"),
        usage_account_id=account,
        service=value(row, "ServiceName") or "unknown",
        region=value(row, "RegionId") or "global",
        resource_id=value(row, "ResourceId"),
        line_item_type=f"{category}/{charge_class}" if charge_class else category,
        charge_type=CHARGE_TYPES[category],
        usage_type=value(row, "SkuPriceId") or value(row, "ChargeDescription")[:200],
        unblended_cost=billed,
        net_cost=billed,
        currency=currency(value(row, "BillingCurrency") or "USD"),
        usage_amount=_optional(row, "ConsumedQuantity") or _optional(row, "UsageQuantity") or "0",
        tags=resource_tags(value(row, "Tags")),
        amortized_cost=_optional(row, "EffectiveCost"),
        list_cost=_optional(row, "ListCost"),
        instance_type=instance_type,
        pricing_term=pricing_term(row, category, instance_type),
        public_on_demand_rate=_optional(row, "ListUnitPrice"),
        commitment_id=value(row, "CommitmentDiscountId"),
    )


def pricing_term(row: Mapping[str, str], category: str, instance_type: str) -> str:
    """The commitment that applied (``CommitmentDiscountType``), spot (``PricingCategory`` Dynamic), else on-demand."""
    commitment = COMMITMENT_TERMS.get(value(row, "CommitmentDiscountType"))
    if commitment and value(row, "CommitmentDiscountStatus") != "Unused":
        return commitment.value
    if value(row, "PricingCategory") == "Dynamic":
        return PricingTerm.SPOT.value
    return PricingTerm.ON_DEMAND.value if instance_type and category == "Usage" else ""


def _optional(row: Mapping[str, str], column: str) -> str:
    text = value(row, column)
    return exact_decimal(text, column) if text else ""


def _row_hash(row: Mapping[str, str]) -> str:
    """FOCUS has no mandatory row id: the row's own content identifies it deterministically."""
    digest = hashlib.sha256("\x1f".join(f"{k}={v}" for k, v in sorted(row.items())).encode())
    return digest.hexdigest()[:32]
