from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.cur_files import read_batches
from pipelines import cur2
from pipelines.cost_event import ChargeType, RejectedRow
from pipelines.cur1 import cur2_name, normalize_cur1_row
from pipelines.focus import normalize_focus_row
from pipelines.formats import FORMATS, UnknownFormatError, detect_format
from tests.conformance.bill import SERVICES, WRITERS, charges, write_cur2_parquet

FIXTURES = Path(__file__).parents[1] / "fixtures"


def normalized(path: Path):
    """The file's format and its events, normalized a record batch at a time as replay does (no rejects)."""
    found = {}

    def check(header):
        found["format"] = detect_format(header)

    events = []
    for batch in read_batches(path, check):
        normalized_batch = found["format"].normalize_batch(batch.table)
        assert not batch.unreadable and not normalized_batch.rejected, normalized_batch.rejected
        events += normalized_batch.events()
    return found["format"], events


@pytest.mark.parametrize(
    "column, expected",
    [
        ("lineItem/UnblendedCost", "line_item_unblended_cost"),
        ("identity/LineItemId", "identity_line_item_id"),
        ("product/regionCode", "product_region_code"),
        ("pricing/publicOnDemandCost", "pricing_public_on_demand_cost"),
        ("savingsPlan/SavingsPlanEffectiveCost", "savings_plan_savings_plan_effective_cost"),
    ],
)
def test_cur1_columns_rename_to_cur2(column, expected):
    assert cur2_name(column) == expected


def test_cur1_row_with_tag_columns():
    event = normalize_cur1_row(
        {
            "identity/LineItemId": "x1",
            "lineItem/UsageStartDate": "2023-11-01T00:00:00.000Z",
            "lineItem/UsageEndDate": "2023-11-02T00:00:00.000Z",
            "lineItem/UsageAccountId": "123412340534",
            "lineItem/LineItemType": "Usage",
            "lineItem/UnblendedCost": "0.0123",
            "lineItem/ProductCode": "AmazonS3",
            "product/region": "ca-central-1",
            "resourceTags/user:team": "data",
            "resourceTags/user:owner": "",
        }
    )
    assert (event.source_format, event.service, event.region) == ("cur1", "AmazonS3", "ca-central-1")
    assert event.tags == {"user_team": "data"}
    assert event.usage_end_ms - event.usage_start_ms == 86_400_000  # daily line items are events too


def test_focus_row_measures_and_nulls():
    event = normalize_focus_row(
        {
            "BilledCost": "0.00001605990",
            "EffectiveCost": "0.0000150000",
            "ListCost": "0.00002",
            "ChargeCategory": "Usage",
            "ChargePeriodStart": "2024-09-30 22:00:00",
            "ChargePeriodEnd": "2024-09-30 23:00:00",
            "ServiceName": "Elastic Load Balancing",
            "SubAccountId": "43883916739",
            "BillingAccountId": "1234567890123",
            "RegionId": "NULL",
            "ResourceId": "NULL",
            "Tags": "NULL",
            "BillingCurrency": "USD",
            "Id": "19384",
        }
    )
    assert event.unblended_cost == "0.00001605990"
    assert (event.amortized_cost, event.list_cost) == ("0.0000150000", "0.00002")
    assert (event.region, event.resource_id, event.tags) == ("global", "", {})
    assert event.usage_start_ms == int(datetime(2024, 9, 30, 22, tzinfo=UTC).timestamp() * 1000)
    assert event.charge_type is ChargeType.USAGE


def test_focus_unknown_charge_category_is_rejected_by_name():
    with pytest.raises(RejectedRow, match="ChargeCategory 'Gift'"):
        normalize_focus_row(
            {
                "BilledCost": "1",
                "ChargeCategory": "Gift",
                "ChargePeriodStart": "2024-09-01",
                "ChargePeriodEnd": "2024-09-02",
                "ServiceName": "x",
                "SubAccountId": "1",
            }
        )


def test_detect_format_names_what_was_expected_and_found():
    assert detect_format(list(cur2.REQUIRED_COLUMNS)).name == "cur2"
    with pytest.raises(UnknownFormatError, match="found columns date, amount .*FinOps FOCUS 1.x needs BilledCost"):
        detect_format(["date", "amount"])
    with pytest.raises(UnknownFormatError, match="not AWS CUR 1.0"):
        detect_format(["BilledCost"], wanted="cur1")


@pytest.mark.parametrize(
    "folder, fmt, rows, charge_types",
    [
        ("cur1-real", "cur1", 1281, {"usage": 1269, "tax": 12}),
        ("focus-real", "focus", 1000, {"usage": 997, "other": 2, "credit": 1}),
    ],
)
def test_real_public_samples_normalize_without_rejects(folder, fmt, rows, charge_types):
    path = next((FIXTURES / folder).glob("*.csv.gz"))
    export_format, events = normalized(path)
    assert export_format.name == fmt
    counts = defaultdict(int)
    for event in events:
        counts[event.charge_type.value] += 1
    assert len(events) == rows
    assert counts == charge_types


def usage_totals(path: Path) -> dict[tuple[str, str, str], Decimal]:
    _, events = normalized(path)
    names = {long: code for code, long in SERVICES.items()}
    totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for event in events:
        if event.charge_type is ChargeType.USAGE:
            day = datetime.fromtimestamp(event.usage_start_ms / 1000, UTC).strftime("%Y-%m-%d")
            totals[(event.usage_account_id, names.get(event.service, event.service), day)] += Decimal(
                event.unblended_cost
            )
    return dict(totals)


def test_one_bill_in_every_format_gives_the_same_usage_totals(tmp_path):
    bill = charges()
    totals = {}
    for name, write in WRITERS.items():
        write(bill, tmp_path / f"{name}.csv")
        totals[name] = usage_totals(tmp_path / f"{name}.csv")
    assert set(WRITERS) == set(FORMATS)
    assert totals["cur2"] == totals["cur1"] == totals["focus"]
    expected = sum(c.cost for c in bill if c.line_item_type == "Usage")
    assert sum(totals["focus"].values()) == expected
    assert len(totals["cur2"]) == 3 * 3 * 3  # accounts x services x days


def test_cur2_parquet_gives_the_same_events_as_cur2_csv(tmp_path):
    bill = charges(days=2)
    WRITERS["cur2"](bill, tmp_path / "cur2.csv")
    write_cur2_parquet(bill, tmp_path / "cur2.parquet")
    parquet_format, parquet_events = normalized(tmp_path / "cur2.parquet")
    assert parquet_format.name == "cur2"
    tags = {e.line_item_id: e.tags for e in parquet_events}
    for charge in bill:
        assert tags[charge.line_item_id] == ({"user_team": charge.team} if charge.team else {})
    assert usage_totals(tmp_path / "cur2.parquet") == usage_totals(tmp_path / "cur2.csv")


def test_the_real_focus_sample_names_instance_types_and_commitments():
    """AWS rows of the FOCUS sample: instance type from the charge description, Savings Plan usage by its id."""
    _, events = normalized(next((FIXTURES / "focus-real").glob("*.csv.gz")))
    instances = [e for e in events if e.instance_type]
    assert any(e.instance_type == "c5.2xlarge" and e.public_on_demand_rate == "0.34" for e in instances)
    covered = [e for e in events if e.pricing_term == "savings_plan"]
    assert covered and all(e.commitment_id for e in covered)
    assert {e.pricing_term for e in instances} <= {"on_demand", "savings_plan", "spot", "reserved"}
