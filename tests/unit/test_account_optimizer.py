"""The job's per-account optimizer: daily refreshes, closing advice no longer given, state that round-trips."""

from dataclasses import replace

from pipelines.optimize.account_optimizer import AccountOptimizer
from pipelines.optimize.catalog import load_catalog
from pipelines.optimize.engine import advise
from pipelines.optimize.realized import realized_change
from pipelines.optimize.settings import OptimizerSettings
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
    optimizer = AccountOptimizer("111", usage("m5.xlarge", lambda h: 20, memory=40, days=70))
    as_of = START + 70 * DAY_MS
    optimizer.refresh(as_of, load_catalog(), OptimizerSettings())
    kept = {h for hours in optimizer.usage.costs.values() for h in hours}
    assert min(kept) == as_of - OptimizerSettings().history_days * DAY_MS  # 60 days of 70
    state = codec().decode(
        codec().encode(SchemaName.ACCOUNT_OPTIMIZER_STATE, optimizer.state()), SchemaName.ACCOUNT_OPTIMIZER_STATE
    )
    restored = AccountOptimizer.from_state(state)
    assert restored.state() == optimizer.state()
    next_day = as_of + DAY_MS
    assert restored.refresh(next_day, load_catalog(), OptimizerSettings()) == optimizer.refresh(
        next_day, load_catalog(), OptimizerSettings()
    )


def test_a_resize_the_bill_shows_is_an_optimization_event_with_the_saving_achieved():
    optimizer = AccountOptimizer("111", usage("m5.xlarge", lambda h: 20))
    as_of = START + DAYS * DAY_MS
    (rightsize,) = [
        r for r in optimizer.refresh(as_of, load_catalog(), OptimizerSettings()).records if r["resource_id"]
    ]
    assert rightsize["recommended_type"] == "m5.large"
    for hour in range(DAYS * 24, (DAYS + 1) * 24):  # the next day it runs as an m5.large at 40% CPU
        start = START + hour * 3_600_000
        optimizer.usage.add_cost(event(start, "m5.large", "0.096"))
        optimizer.usage.add_sample(sample(start, "CPUUtilization", 40))
    (realized,) = optimizer.refresh(as_of + DAY_MS, load_catalog(), OptimizerSettings()).realized
    assert realized["recommendation_id"] == rightsize["recommendation_id"]
    assert (realized["change"], realized["cost_before"], realized["cost_after"]) == (
        "resized to m5.large",
        "140.16",
        "70.08",
    )
    assert realized["savings_achieved"] == realized["predicted_savings"] == "70.08"
    assert realized["performance_impact"] == 40.0
    payload = codec().encode(SchemaName.OPTIMIZATION_EVENT, realized)
    assert codec().decode(payload, SchemaName.OPTIMIZATION_EVENT) == realized
    assert optimizer.refresh(as_of + 2 * DAY_MS, load_catalog(), OptimizerSettings()).realized == []  # once


def test_a_stopped_idle_instance_saves_its_whole_cost_and_unchanged_advice_is_no_event():
    optimizer = AccountOptimizer("111", usage("m5.xlarge", lambda h: 1, network=1))
    as_of = START + DAYS * DAY_MS
    (idle,) = [r for r in optimizer.refresh(as_of, load_catalog(), OptimizerSettings()).records if r["resource_id"]]
    (realized,) = optimizer.refresh(as_of + DAY_MS, load_catalog(), OptimizerSettings()).realized  # no cost since
    assert (idle["type"], realized["change"], realized["cost_after"]) == ("idle", "stopped", "0")
    assert realized["savings_achieved"] == idle["current_monthly_cost"] == realized["cost_before"]
    busy = AccountOptimizer("111", usage("m5.xlarge", lambda h: 20))
    busy.refresh(as_of, load_catalog(), OptimizerSettings())
    busy.open = {i: {**r, "recommended_type": "m5.4xlarge"} for i, r in busy.open.items()}  # advice that changes
    for record in busy.open.values():
        assert realized_change(record, busy.usage.histories(), as_of, load_catalog()) is None  # still running as it was


def test_a_bought_commitment_shows_as_the_gap_between_list_price_and_what_the_covered_day_cost():
    optimizer = AccountOptimizer("111", usage("m5.xlarge", lambda h: 55))  # busy: no rightsize, an RI instead
    as_of = START + DAYS * DAY_MS
    (ri,) = optimizer.refresh(as_of, load_catalog(), OptimizerSettings()).records
    assert (ri["type"], ri["current_type"], ri["potential_savings"]) == ("reserved_instance", "1 × m5.xlarge", "51.86")
    assert realized_change(ri, optimizer.usage.histories(), as_of, load_catalog()) is None  # not bought yet
    for hour in range(DAYS * 24, (DAYS + 1) * 24):
        covered = replace(event(START + hour * 3_600_000, "m5.xlarge", "0.192"), pricing_term="reserved")
        optimizer.usage.add_cost(replace(covered, line_item_type="DiscountedUsage", amortized_cost="0.12096"))
    bought = realized_change(ri, optimizer.usage.histories(), as_of + DAY_MS, load_catalog())
    assert (bought["cost_before"], bought["cost_after"], bought["savings_achieved"]) == ("140.16", "88.30", "51.86")
    assert bought["resource_id"] is None and bought["change"].startswith("commitment in use: 24.0 instance-hours")
