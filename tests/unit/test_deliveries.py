"""Deliveries: the same export is recognised, a restated one replaces it, vanished key-hours are zeroed."""

import shutil
from decimal import Decimal
from pathlib import Path

from connectors.deliveries import REMOVED, DeliveryLedger, DeliveryTracker, key_hour
from connectors.replay import FormatChecker, ReplaySummary, encoded_events
from pipelines.cost_event import ChargeType, CostEvent
from pipelines.cur2 import normalize_cur2_row
from schemas import SchemaName, codec
from tests.conformance.bill import charges, restate, write_cur2

TOPIC = "spendstream.cost.raw"


def read(export: Path, ledger: DeliveryLedger, force: bool = False) -> tuple[DeliveryTracker, list, list]:
    """Read an export like a replay does; returns the tracker, the row records and the removal records."""
    tracker = DeliveryTracker(ledger, TOPIC, force)
    files = sorted(export.rglob("*.csv"))
    rows = list(encoded_events(files, ReplaySummary(), lambda row, reason: None, [0], FormatChecker(), tracker))
    return tracker, rows, list(tracker.removals())


def write(bill, folder: Path) -> Path:
    write_cur2(bill, folder / "data" / "BILLING_PERIOD=2026-09" / "export-00001.csv")
    return folder


def test_same_export_twice_publishes_nothing_the_second_time(tmp_path):
    ledger = DeliveryLedger(tmp_path / "ledger")
    export = write(charges(days=1), tmp_path / "first")
    first, rows, removals = read(export, ledger)
    assert list(first.plan.published) == ["2026-09"] and removals == []
    assert first.plan.records == len(rows) and all(first.publishes(r) for r in rows)
    first.commit()

    copy = shutil.copytree(export, tmp_path / "elsewhere")  # where the files sit does not matter
    again, rows, removals = read(copy, ledger)
    assert again.plan.unchanged == first.plan.published and again.plan.published == {}
    assert not any(again.publishes(r) for r in rows) and removals == [] and again.plan.records == 0

    forced, rows, _ = read(copy, ledger, force=True)
    assert list(forced.plan.published) == ["2026-09"] and all(forced.publishes(r) for r in rows)


def test_restated_export_is_a_new_delivery_and_zeroes_vanished_key_hours(tmp_path):
    ledger = DeliveryLedger(tmp_path / "ledger")
    bill = charges(days=1)
    first, _, _ = read(write(bill, tmp_path / "d1"), ledger)
    first.commit()
    restated, rows, removals = read(write(restate(bill), tmp_path / "d2"), ledger)
    assert list(restated.plan.published) == ["2026-09"]
    assert restated.plan.published["2026-09"] != first.plan.published["2026-09"]

    vanished = first.periods["2026-09"].key_hours - restated.periods["2026-09"].key_hours
    assert vanished and restated.plan.removed_key_hours == len(removals) == len(vanished)
    events = [codec().decode(r.value, SchemaName.COST_EVENT) for r in removals]
    assert {e["line_item_type"] for e in events} == {REMOVED}
    assert all(Decimal(e["unblended_cost"]) == 0 and Decimal(e["net_cost"]) == 0 for e in events)
    events = [{**e, "charge_type": ChargeType(e["charge_type"])} for e in events]
    assert {key_hour(CostEvent(**e)) for e in events} == vanished  # each lands in the key-hour it replaces
    assert all(r.group == "2026-09" and restated.publishes(r) for r in rows + removals)


def test_key_hour_is_the_hour_of_usage_start_with_the_enrichment_inputs():
    row = {
        "identity_line_item_id": "li-1",
        "line_item_usage_start_date": "2026-09-01T10:15:00Z",
        "line_item_usage_end_date": "2026-09-01T11:15:00Z",
        "line_item_usage_account_id": "1",
        "line_item_line_item_type": "Usage",
        "line_item_product_code": "AmazonEC2",
        "line_item_unblended_cost": "1",
        "resource_tags": '{"user_team": "web"}',
    }
    key = key_hour(normalize_cur2_row(row))
    assert key.hour_ms == 1788256800000 and key.tags == '{"user_team": "web"}' and key.usage_account_id == "1"
