"""Batches normalized by worker processes come back in order, exactly as normalized in place."""

from pathlib import Path

from connectors.cur_files import ExportBatch, read_batches
from connectors.normalize_pool import NormalizerPool

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "sample" / "cur2"


def test_workers_give_the_same_events_and_messages_in_the_same_order():
    table = next(read_batches(next(SAMPLE.rglob("*.csv.gz")), lambda header: None)).table
    batches = [
        (ExportBatch(Path("x.csv"), 2 + start, table.slice(start, 1000), True), "cur2")
        for start in range(0, min(table.num_rows, 12_000), 1000)
    ]
    with NormalizerPool(parallel=False, encode=True) as in_place, NormalizerPool(parallel=True, encode=True) as pool:
        assert pool.pool is not None  # this machine has cores to spare
        alone = list(in_place.map(batches))
        together = list(pool.map(batches))
    assert [batch for batch, _ in together] == [batch for batch, _ in batches]
    for (_, mine), (_, theirs) in zip(alone, together, strict=True):
        assert mine.events.events() == theirs.events.events()
        assert mine.values.to_pylist() == theirs.values.to_pylist()


def _cannot_start() -> None:
    raise RuntimeError("no worker today")


def test_workers_that_cannot_start_slow_the_replay_down_but_lose_nothing(caplog):
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    table = next(read_batches(next(SAMPLE.rglob("*.csv.gz")), lambda header: None)).table
    batches = [
        (ExportBatch(Path("x.csv"), 2 + start, table.slice(start, 500), True), "cur2") for start in (0, 500, 1000)
    ]
    with NormalizerPool(parallel=False, encode=False) as in_place, NormalizerPool(parallel=True, encode=False) as pool:
        pool.pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=_cannot_start)
        together = list(pool.map(batches))
        alone = list(in_place.map(batches))
    assert [n.events.events() for _, n in together] == [n.events.events() for _, n in alone]
    assert pool.pool is None and "normalizing in this process" in caplog.text
