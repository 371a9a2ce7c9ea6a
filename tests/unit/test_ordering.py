import random

from pipelines.ordering import TimedRecord, sort_by_event_time


def shuffled(n: int, seed: int = 7) -> list[TimedRecord]:
    rng = random.Random(seed)
    records = [
        TimedRecord(rng.randrange(0, 10_000) * 1000, f"k{i}".encode(), f"v{i}".encode(), f"2026-{i % 12 + 1:02d}")
        for i in range(n)
    ]
    rng.shuffle(records)
    return records


def test_shuffled_export_comes_out_in_event_time_order():
    records = shuffled(5_000)
    out = list(sort_by_event_time(records, chunk_size=10_000))
    assert [r.ts_ms for r in out] == sorted(r.ts_ms for r in records)
    assert sorted(out) == sorted(records)


def test_spilled_chunks_merge_to_the_same_order_as_in_memory(tmp_path):
    records = shuffled(5_000)
    in_memory = list(sort_by_event_time(records, chunk_size=100_000))
    spilled = list(sort_by_event_time(records, chunk_size=333, spill_dir=tmp_path))
    assert spilled == in_memory
    assert list(tmp_path.iterdir()) == []  # spill files are removed afterwards


def test_ties_keep_input_order_so_replays_are_repeatable():
    records = [TimedRecord(1000, b"a", b"first"), TimedRecord(0, b"b", b"x"), TimedRecord(1000, b"a", b"second")]
    values = [r.value for r in sort_by_event_time(records, chunk_size=1)]
    assert values == [b"x", b"first", b"second"]
