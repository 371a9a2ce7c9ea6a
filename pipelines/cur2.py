"""Normalize AWS CUR 2.0 (Data Exports) CSV rows into cost events.

CUR 2.0 flattens the legacy ``lineItem/UnblendedCost`` names into snake case
(``line_item_unblended_cost``) and carries map columns such as ``resource_tags`` as JSON
objects in CSV exports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from pipelines.cost_event import ChargeType, CostEvent, PricingTerm, RejectedRow, event_id, exact_decimal
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


def normalize_cur2_row(row: Mapping[str, str], source_format: str = SOURCE_FORMAT) -> CostEvent:
    """One CSV row (column → text) to a cost event; raises RejectedRow with the reason.

    ``source_format`` lets CUR 1.0, whose columns map one to one onto CUR 2.0's, reuse this.
    """
    for column in REQUIRED_COLUMNS:
        if not (row.get(column) or "").strip():
            raise RejectedRow(f"{column} is missing")
    line_item_id = row["identity_line_item_id"].strip()
    start_ms = timestamp_ms(row["line_item_usage_start_date"], "line_item_usage_start_date")
    end_ms = timestamp_ms(row["line_item_usage_end_date"], "line_item_usage_end_date")
    if end_ms < start_ms:
        raise RejectedRow("line_item_usage_end_date is before line_item_usage_start_date")
    unblended = exact_decimal(row["line_item_unblended_cost"], "line_item_unblended_cost")
    net_text = row.get("line_item_net_unblended_cost") or ""
    net = exact_decimal(net_text, "line_item_net_unblended_cost") if net_text.strip() else unblended
    line_item_type = row["line_item_line_item_type"].strip()
    usage_type = (row.get("line_item_usage_type") or "").strip()
    instance_type = instance_type_of(row.get("product_instance_type") or "") or (
        instance_type_of(usage_type) if any(kind in usage_type for kind in INSTANCE_USAGE) else ""
    )
    return CostEvent(
        event_id=event_id(source_format, line_item_id, start_ms, end_ms),
        source_format=source_format,
        line_item_id=line_item_id,
        billing_period=billing_period(row, start_ms),
        usage_start_ms=start_ms,
        usage_end_ms=end_ms,
        payer_account_id=(row.get("bill_payer_account_id") or "").strip(),
        usage_account_id=row["line_item_usage_account_id"].strip(),
        service=(row.get("line_item_product_code") or "").strip() or "unknown",
        region=(row.get("product_region_code") or "").strip() or "global",
        resource_id=(row.get("line_item_resource_id") or "").strip(),
        line_item_type=line_item_type,
        charge_type=CHARGE_TYPES.get(line_item_type, ChargeType.OTHER),
        usage_type=usage_type,
        unblended_cost=unblended,
        net_cost=net,
        currency=currency(row.get("line_item_currency_code") or "USD"),
        usage_amount=exact_decimal(row.get("line_item_usage_amount") or "", "line_item_usage_amount", required=False),
        tags=resource_tags(row.get("resource_tags") or ""),
        amortized_cost=optional_decimal(row, AMORTIZED_COLUMNS.get(line_item_type, "")) or net,
        list_cost=optional_decimal(row, "pricing_public_on_demand_cost"),
        instance_type=instance_type,
        pricing_term=pricing_term(line_item_type, usage_type, instance_type),
        public_on_demand_rate=optional_decimal(row, "pricing_public_on_demand_rate"),
        commitment_id=next((row[c].strip() for c in COMMITMENT_COLUMNS if (row.get(c) or "").strip()), ""),
    )


def pricing_term(line_item_type: str, usage_type: str, instance_type: str) -> str:
    """Reserved / Savings Plan from the line item type, spot from the usage type, else on-demand instance usage."""
    if line_item_type in TERMS_BY_LINE_ITEM_TYPE:
        return TERMS_BY_LINE_ITEM_TYPE[line_item_type].value
    if "SpotUsage" in usage_type:
        return PricingTerm.SPOT.value
    return PricingTerm.ON_DEMAND.value if instance_type and line_item_type == "Usage" else ""


def optional_decimal(row: Mapping[str, str], column: str) -> str:
    """An optional money column: its exact value, or "" when the export leaves it out."""
    text = (row.get(column) or "").strip() if column else ""
    return exact_decimal(text, column) if text else ""


def timestamp_ms(text: str, column: str) -> int:
    """ISO-8601 timestamp (``Z`` or offset; naive means UTC) to epoch milliseconds."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RejectedRow(f"{column} is not an ISO-8601 timestamp: {text[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def billing_period(row: Mapping[str, str], start_ms: int) -> str:
    """YYYY-MM of the bill the line item belongs to (its usage month when the column is empty)."""
    text = (row.get("bill_billing_period_start_date") or "").strip()
    if text:
        return text[:7]
    return datetime.fromtimestamp(start_ms / 1000, UTC).strftime("%Y-%m")


def currency(text: str) -> str:
    """An ISO-4217-shaped currency code."""
    code = text.strip().upper() or "USD"
    if len(code) != 3 or not code.isalpha():
        raise RejectedRow(f"line_item_currency_code is not a currency code: {text[:20]!r}")
    return code


def resource_tags(text: str) -> dict[str, str]:
    """The ``resource_tags`` JSON object (CUR 2.0 keys such as ``user_team``); empty when absent."""
    if not text.strip():
        return {}
    try:
        tags = json.loads(text)
    except json.JSONDecodeError as error:
        raise RejectedRow(f"resource_tags is not valid JSON: {error.msg}") from None
    if not isinstance(tags, dict):
        raise RejectedRow("resource_tags is not a JSON object")
    return {str(key): "" if value is None else str(value) for key, value in tags.items()}
