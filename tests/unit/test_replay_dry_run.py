"""`replay --dry-run`: the check an analyst runs on an export before publishing it.

It reads, checks, normalizes and sorts everything and reports what a replay would publish, with
no broker: the Kafka address given here is closed, so any attempt to produce would fail.
"""

import os
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from connectors.replay import replay
from spendstream.config import Config, to_env
from tests.conformance.bill import charges, write_cur2

ROOT = Path(__file__).resolve().parents[2]
MALFORMED = ROOT / "tests" / "fixtures" / "cur2_malformed.csv"
NO_BROKER = "127.0.0.1:9"  # discard port: nothing listens


def export_with_bad_rows(tmp_path: Path) -> tuple[Path, object]:
    bill = charges(days=2)
    folder = tmp_path / "export" / "data" / "BILLING_PERIOD=2026-09"
    write_cur2(bill, folder / "export-00001.csv")
    shutil.copy(MALFORMED, folder / "late-additions.csv")
    return tmp_path / "export", bill


def offline(tmp_path: Path) -> Config:
    config = Config()
    return replace(
        config,
        kafka=replace(config.kafka, bootstrap=NO_BROKER),
        stack=replace(config.stack, state_dir=str(tmp_path / "state")),
    )


def test_a_dry_run_reports_what_a_replay_would_publish_and_touches_nothing(tmp_path):
    export, bill = export_with_bad_rows(tmp_path)
    config = offline(tmp_path)
    summary = replay(export, config, show_progress=False, dry_run=True)

    assert summary.files == 2 and summary.rows_read == len(bill) + 8  # the malformed file: 2 valid, 6 bad
    assert summary.produced == len(bill) + 2 and summary.rejected == 6
    assert summary.reasons == {
        "line_item_unblended_cost is not a decimal number": 1,
        "identity_line_item_id is missing": 1,
        "line_item_usage_start_date is not an ISO-8601 timestamp": 1,
        "resource_tags is not valid JSON": 1,
        "line_item_usage_end_date is before line_item_usage_start_date": 1,
        "row has 6 columns, header has 33": 1,
    }
    late = export / "data" / "BILLING_PERIOD=2026-09" / "late-additions.csv"
    assert summary.first_rejected_at["line_item_unblended_cost is not a decimal number"] == f"{late}:3"
    expected = defaultdict(Decimal)
    for charge in bill:
        expected[charge.account] += charge.cost
    expected["111111111111"] += Decimal("1.0000000001")  # the malformed file's valid rows
    expected["444444444444"] += Decimal("-0.5")
    assert summary.cost_by_account == expected
    assert sorted(summary.deliveries.published) == ["2026-09", "2026-10"]
    assert not (config.state_dir / "deliveries").exists()  # the ledger is not written: a real replay still publishes
    assert summary.end_offsets == {}


def dry_run(export: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "spendstream.cli", "replay", "--dry-run", "--no-progress", str(export)]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_the_dry_run_command_exits_1_naming_each_reason_and_where_it_first_occurs(tmp_path):
    export, _ = export_with_bad_rows(tmp_path)
    env = {**os.environ, **to_env(offline(tmp_path))}
    done = dry_run(export, env)
    assert done.returncode == 1, done.stderr
    output = " ".join(done.stdout.split())
    assert "would produce" in output and "nothing was sent" in output
    assert "rejected 1: resource_tags is not valid JSON (first at " in output
    assert "billing period 2026-09: would publish delivery" in output
    clean = tmp_path / "clean"
    write_cur2(charges(days=1), clean / "export-00001.csv")
    again = dry_run(clean, env)
    assert again.returncode == 0, again.stderr
