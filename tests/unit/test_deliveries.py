"""Deliveries: the same export is recognised, a restated one replaces it, vanished key-hours are zeroed."""

import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.deliveries import REMOVED, DeliveryLedger, DeliveryTracker, key_hour
from connectors.replay import FormatChecker, ReplaySummary, encoded_events
from jobs import cost_aggregation
from pipelines.cost_event import ChargeType, CostEvent
from pipelines.cur2 import normalize_cur2_row
from schemas import SchemaName, codec
from spendstream.restatements import correction_command
from tests.conformance.bill import charges, restate, write_cur2

ROOT = Path(__file__).resolve().parents[2]

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
    assert first.plan.restated == {} and not any(first.restates(r) for r in rows)  # a first delivery: raw topic
    first.commit()

    copy = shutil.copytree(export, tmp_path / "elsewhere")  # where the files sit does not matter
    again, rows, removals = read(copy, ledger)
    assert again.plan.unchanged == first.plan.published and again.plan.published == {}
    assert not any(again.publishes(r) for r in rows) and removals == [] and again.plan.records == 0

    forced, rows, _ = read(copy, ledger, force=True)
    assert list(forced.plan.published) == ["2026-09"] and all(forced.publishes(r) for r in rows)
    assert forced.plan.restated == forced.plan.published and all(forced.restates(r) for r in rows)


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
    assert restated.plan.restated == restated.plan.published and all(restated.restates(r) for r in rows + removals)


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


def test_the_correction_run_reads_exactly_the_restated_offsets_and_refuses_to_run_unbounded(capsys):
    summary = ReplaySummary(start_offsets={0: 40, 1: 38}, end_offsets={0: 40, 1: 38})
    summary.restated.start_offsets, summary.restated.end_offsets = {0: 0, 1: 7}, {0: 12, 1: 9}
    args = ["--restated", "--from-offsets", "0:0,1:7", "--until-offsets", "0:12,1:9"]
    assert summary.restated.correction_args() == args
    assert correction_command(summary) == "spendstream job submit --wait " + " ".join(args)
    cli = str(ROOT / ".venv" / "bin" / "spendstream")
    env = {**os.environ, "SPENDSTREAM_FLINK_REST_URL": "http://127.0.0.1:1"}
    dry_run = subprocess.run([cli, "job", "submit", "--dry-run", *args], env=env, capture_output=True, text=True)
    job_args = dry_run.stdout.split()[-5:]  # what `flink run` passes the job
    assert dry_run.returncode == 0 and job_args == [*args[1:], "--restated"], dry_run.stderr
    with pytest.raises(SystemExit):
        cost_aggregation.main(["--restated", "--until-offsets", "0:12"])
    assert "--restated needs --from-offsets and --until-offsets" in capsys.readouterr().err
