"""Whole-file problems are refused with the file named, before anything is produced."""

import gzip
import shutil
from pathlib import Path

import pytest

from connectors.cur_files import ExportError, export_files
from connectors.deliveries import DeliveryLedger, DeliveryTracker
from connectors.replay import FormatChecker, ReplaySummary, encoded_events
from tests.conformance.bill import charges, write_cur1, write_cur2

FIXTURES = Path(__file__).parents[1] / "fixtures"


def events(*files: Path, wanted: str = "auto") -> tuple[list, ReplaySummary, list[str]]:
    summary, rejected = ReplaySummary(), []
    tracker = DeliveryTracker(DeliveryLedger(FIXTURES / "never-written"), "topic")  # nothing is published here
    reject = lambda row, reason: rejected.append(reason)  # noqa: E731
    out = list(encoded_events(list(files), summary, reject, [0], FormatChecker(wanted), tracker))
    return out, summary, rejected


def test_export_folder_layout_is_found_in_stable_order(tmp_path):
    folder = tmp_path / "data" / "BILLING_PERIOD=2026-09"
    write_cur2(charges(days=1), folder / "b.csv")
    write_cur2(charges(days=1), folder / "a.csv")
    (folder / "manifest.json").write_text("{}")
    assert [p.name for p in export_files(tmp_path)] == ["a.csv", "b.csv"]
    (tmp_path / "nothing-yet").mkdir()
    with pytest.raises(ExportError, match="nothing-yet: no .csv, .csv.gz or .parquet files"):
        export_files(tmp_path / "nothing-yet")
    with pytest.raises(ExportError, match="missing: no such file or folder"):
        export_files(tmp_path / "missing")


def test_mixed_formats_in_one_replay_are_refused_naming_the_file(tmp_path):
    write_cur2(charges(days=1), tmp_path / "a.csv")
    write_cur1(charges(days=1), tmp_path / "b.csv")
    with pytest.raises(ExportError, match=r"b.csv: is AWS CUR 1.0 \(legacy\), but earlier files .* AWS CUR 2.0"):
        events(tmp_path / "a.csv", tmp_path / "b.csv")


def test_unknown_file_is_refused_with_expected_and_found_columns(tmp_path):
    path = tmp_path / "costs.csv"
    path.write_text("date,amount\n2026-09-01,3\n")
    with pytest.raises(ExportError, match=r"costs.csv: unrecognised export format: found columns date, amount"):
        events(path)
    with pytest.raises(ExportError, match="costs.csv: not FinOps FOCUS 1.x: missing columns BilledCost"):
        events(path, wanted="focus")


def test_zero_byte_and_truncated_gzip_files_are_named(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ExportError, match="empty.csv: file is empty"):
        events(empty)
    whole = next((FIXTURES / "cur1-real").glob("*.csv.gz")).read_bytes()
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ExportError, match="truncated.csv.gz: file is damaged near line"):
        events(truncated)


def test_real_samples_replay_every_row(tmp_path):
    for folder, rows in (("cur1-real", 1281), ("focus-real", 1000)):
        copy = tmp_path / folder
        shutil.copytree(FIXTURES / folder, copy)
        out, summary, rejected = events(*export_files(copy))
        assert (summary.rows_read, len(out), rejected) == (rows, rows, [])


def test_gzip_export_reads_like_plain_csv(tmp_path):
    write_cur2(charges(days=1), tmp_path / "plain.csv")
    with gzip.open(tmp_path / "packed.csv.gz", "wb") as packed:
        packed.write((tmp_path / "plain.csv").read_bytes())
    plain, packed = events(tmp_path / "plain.csv")[0], events(tmp_path / "packed.csv.gz")[0]
    assert plain == packed
