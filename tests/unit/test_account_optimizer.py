"""The job's per-account optimizer: daily refreshes, closing advice no longer given, state that round-trips."""

from pipelines.optimize.account_optimizer import AccountOptimizer
from pipelines.optimize.catalog import load_catalog
from pipelines.optimize.engine import OptimizerSettings, advise
from pipelines.optimize.usage import DAY_MS
from schemas import SchemaName, codec
from tests.unit.test_rightsizing import DAYS, START, event, sample, usage


def test_a_refresh_gives_what_advise_gives_and_only_new_advice_is_opened():
    built = usage("m5.xlarge", lambda h: 20)
    as_of = START + DAYS * DAY_MS
    optimizer = AccountOptimizer("111", built)
    first = optimizer.refresh(as_of, load_catalog(), OptimizerSettings())
    expected = advise("111", usage("m5.xlarge", lambda h: 20).histories(), as_of, load_catalog(), OptimizerSettings())
    assert first.records == [item.record(as_of) for item in expected.live]
    assert {r["type"] for r in first.records} == {"rightsize", "reserved_instance"} and first.opened == expected.live
    again = optimizer.refresh(as_of, load_catalog(), OptimizerSettings())
    assert again.records == first.records and again.opened == []  # refreshed, not announced twice


def test_advice_no_longer_given_is_closed_once():
    optimizer = AccountOptimizer("111", usage("m5.xlarge", lambda h: 20))
    as_of = START + DAYS * DAY_MS
    first = optimizer.refresh(as_of, load_catalog(), OptimizerSettings()).records
    (rightsize,) = [record for record in first if record["type"] == "rightsize"]
    for hour in range(DAYS * 24, (DAYS + 14) * 24):  # two busy weeks: the instance needs its size now
        start = START + hour * 3_600_000
        optimizer.usage.add_cost(event(start, "m5.xlarge", "0.192"))
        optimizer.usage.add_sample(sample(start, "CPUUtilization", 70))
    later = START + (DAYS + 14) * DAY_MS
    closed = [
        r for r in optimizer.refresh(later, load_catalog(), OptimizerSettings()).records if r["status"] == "closed"
    ]
    assert {**rightsize, "status": "closed", "as_of_ms": later} in closed
    after = optimizer.refresh(later + DAY_MS, load_catalog(), OptimizerSettings()).records
    assert rightsize["recommendation_id"] not in {r["recommendation_id"] for r in after}  # closed once


def test_state_round_trips_through_its_schema_and_forgets_hours_no_advice_looks_at():
    optimizer = AccountOptimizer("111", usage("m5.xlarge", lambda h: 20, memory=40, days=40))
    as_of = START + 40 * DAY_MS
    optimizer.refresh(as_of, load_catalog(), OptimizerSettings())
    kept = {h for hours in optimizer.usage.costs.values() for h in hours}
    assert min(kept) == as_of - OptimizerSettings().history_days * DAY_MS  # 30 days of 40
    state = codec().decode(
        codec().encode(SchemaName.ACCOUNT_OPTIMIZER_STATE, optimizer.state()), SchemaName.ACCOUNT_OPTIMIZER_STATE
    )
    restored = AccountOptimizer.from_state(state)
    assert restored.state() == optimizer.state()
    next_day = as_of + DAY_MS
    assert restored.refresh(next_day, load_catalog(), OptimizerSettings()) == optimizer.refresh(
        next_day, load_catalog(), OptimizerSettings()
    )
