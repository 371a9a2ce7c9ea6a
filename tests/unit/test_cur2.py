from decimal import Decimal

import pytest

from pipelines.cost_event import ChargeType, RejectedRow
from pipelines.cur2 import missing_columns, normalize_cur2_row


def cur2_row(**overrides: str) -> dict[str, str]:
    row = {
        "identity_line_item_id": "abc123",
        "bill_billing_period_start_date": "2026-10-01T00:00:00.000Z",
        "bill_payer_account_id": "999999999999",
        "line_item_usage_account_id": "111111111111",
        "line_item_usage_start_date": "2026-10-06T14:00:00.000Z",
        "line_item_usage_end_date": "2026-10-06T15:00:00.000Z",
        "line_item_product_code": "AmazonEC2",
        "product_region_code": "us-east-1",
        "line_item_resource_id": "i-0abc",
        "line_item_line_item_type": "Usage",
        "line_item_usage_type": "USE1-BoxUsage:m6i.xlarge",
        "line_item_unblended_cost": "0.2562432000",
        "line_item_net_unblended_cost": "0.2400000000",
        "line_item_currency_code": "USD",
        "line_item_usage_amount": "1.3346",
        "resource_tags": '{"user_team": "web", "user_environment": "production"}',
    }
    row.update(overrides)
    return row


def test_usage_row_normalizes_every_field():
    event = normalize_cur2_row(cur2_row())
    assert event.usage_account_id == "111111111111"
    assert event.payer_account_id == "999999999999"
    assert event.usage_start_ms == 1791295200000  # 2026-10-06T14:00:00Z
    assert event.usage_end_ms - event.usage_start_ms == 3600_000
    assert event.billing_period == "2026-10"
    assert (event.service, event.region, event.resource_id) == ("AmazonEC2", "us-east-1", "i-0abc")
    assert event.charge_type is ChargeType.USAGE
    assert (event.unblended_cost, event.net_cost, event.usage_amount) == ("0.2562432000", "0.2400000000", "1.3346")
    assert event.tags == {"user_team": "web", "user_environment": "production"}
    assert event.source_format == "cur2"


# AWS's line item types (CUR 2.0 data dictionary) and the charge type each must count as, written out
# here rather than read from the normalizer's own table.
EXPECTED_CHARGE_TYPES = [
    ("Usage", "usage"),
    ("DiscountedUsage", "usage"),
    ("SavingsPlanCoveredUsage", "usage"),
    ("Fee", "fee"),
    ("RIFee", "fee"),
    ("SavingsPlanRecurringFee", "fee"),
    ("SavingsPlanUpfrontFee", "fee"),
    ("Tax", "tax"),
    ("Credit", "credit"),
    ("Refund", "refund"),
    ("BundledDiscount", "discount"),
    ("EdpDiscount", "discount"),
    ("PrivateRateDiscount", "discount"),
    ("DistributorDiscount", "discount"),
    ("SavingsPlanNegation", "discount"),
]


@pytest.mark.parametrize("line_item_type, charge_type", EXPECTED_CHARGE_TYPES)
def test_every_known_line_item_type_has_a_charge_type(line_item_type, charge_type):
    event = normalize_cur2_row(cur2_row(line_item_line_item_type=line_item_type))
    assert event.charge_type.value == charge_type
    assert event.line_item_type == line_item_type


def test_unknown_line_item_type_is_kept_as_other():
    event = normalize_cur2_row(cur2_row(line_item_line_item_type="SomethingNewFromAWS"))
    assert event.charge_type is ChargeType.OTHER


def test_negative_credit_keeps_its_sign_exactly():
    event = normalize_cur2_row(
        cur2_row(
            line_item_line_item_type="Credit", line_item_unblended_cost="-5.2500000000", line_item_net_unblended_cost=""
        )
    )
    assert event.charge_type is ChargeType.CREDIT
    assert event.unblended_cost == "-5.2500000000"
    assert event.net_cost == event.unblended_cost  # no net column value: net equals unblended


def test_decimal_costs_are_exact_not_floats():
    costs = ["0.1", "0.2", "0.0000000001", "12345678.1234567891"]
    events = [normalize_cur2_row(cur2_row(line_item_unblended_cost=c)) for c in costs]
    assert sum(Decimal(e.unblended_cost) for e in events) == Decimal("12345678.4234567892")
    assert normalize_cur2_row(cur2_row(line_item_unblended_cost="1E-7")).unblended_cost == "0.0000001"


def test_monthly_tax_without_region_is_global():
    event = normalize_cur2_row(
        cur2_row(
            line_item_line_item_type="Tax",
            product_region_code="",
            line_item_usage_start_date="2026-10-01T00:00:00Z",
            line_item_usage_end_date="2026-11-01T00:00:00Z",
            resource_tags="",
        )
    )
    assert event.region == "global"
    assert event.charge_type is ChargeType.TAX
    assert event.tags == {}
    assert event.usage_end_ms - event.usage_start_ms == 31 * 24 * 3600_000


def test_event_id_is_deterministic_and_interval_specific():
    first, again = normalize_cur2_row(cur2_row()), normalize_cur2_row(cur2_row())
    later = normalize_cur2_row(
        cur2_row(line_item_usage_start_date="2026-10-06T15:00:00Z", line_item_usage_end_date="2026-10-06T16:00:00Z")
    )
    assert first.event_id == again.event_id
    assert first.event_id != later.event_id


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"identity_line_item_id": ""}, "identity_line_item_id is missing"),
        ({"line_item_usage_account_id": "  "}, "line_item_usage_account_id is missing"),
        ({"line_item_unblended_cost": "abc"}, "line_item_unblended_cost is not a decimal number"),
        ({"line_item_unblended_cost": "NaN"}, "line_item_unblended_cost is not finite"),
        ({"line_item_unblended_cost": "Infinity"}, "line_item_unblended_cost is not finite"),
        ({"line_item_unblended_cost": "1e30"}, "line_item_unblended_cost is implausibly large"),
        ({"line_item_usage_start_date": "yesterday"}, "line_item_usage_start_date is not an ISO-8601 timestamp"),
        ({"line_item_usage_end_date": "2026-10-06T13:00:00Z"}, "line_item_usage_end_date is before"),
        ({"resource_tags": "{not json"}, "resource_tags is not valid JSON"),
        ({"resource_tags": "[1, 2]"}, "resource_tags is not a JSON object"),
        ({"line_item_currency_code": "US-DOLLAR"}, "line_item_currency_code is not a currency code"),
    ],
)
def test_bad_rows_are_rejected_with_a_specific_reason(overrides, reason):
    with pytest.raises(RejectedRow, match=reason):
        normalize_cur2_row(cur2_row(**overrides))


def test_header_check_names_missing_columns():
    assert missing_columns(list(cur2_row())) == []
    assert missing_columns(["lineItem/UnblendedCost"]) == [
        "identity_line_item_id",
        "line_item_usage_start_date",
        "line_item_usage_end_date",
        "line_item_usage_account_id",
        "line_item_line_item_type",
        "line_item_unblended_cost",
    ]


def test_instance_usage_carries_its_type_term_and_public_rate():
    event = normalize_cur2_row(cur2_row(pricing_public_on_demand_rate="0.192", pricing_term="OnDemand"))
    assert (event.instance_type, event.pricing_term) == ("m6i.xlarge", "on_demand")
    assert event.public_on_demand_rate == "0.192"
    assert event.commitment_id == ""
    named = normalize_cur2_row(cur2_row(product_instance_type="c7g.large", line_item_usage_type="anything"))
    assert named.instance_type == "c7g.large"


@pytest.mark.parametrize(
    ("overrides", "term", "commitment"),
    [
        ({"line_item_line_item_type": "SavingsPlanCoveredUsage", "savings_plan_savings_plan_a_r_n": "arn:sp"},
         "savings_plan", "arn:sp"),
        ({"line_item_line_item_type": "DiscountedUsage", "reservation_reservation_a_r_n": "arn:ri"},
         "reserved", "arn:ri"),
        ({"line_item_usage_type": "USE1-SpotUsage:c5.large"}, "spot", ""),
        ({"line_item_line_item_type": "Tax", "line_item_usage_type": "", "line_item_resource_id": ""}, "", ""),
    ],
)  # fmt: skip
def test_the_pricing_term_and_commitment_come_from_the_line_item(overrides, term, commitment):
    event = normalize_cur2_row(cur2_row(**overrides))
    assert (event.pricing_term, event.commitment_id) == (term, commitment)
