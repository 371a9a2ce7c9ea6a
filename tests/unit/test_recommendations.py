"""Recommendation records: exact money, savings within cost, stable ids, one per resource."""

from decimal import Decimal

import numpy as np
import pytest

from pipelines.optimize.commitments import apply_plan, optimal_plan, project
from pipelines.optimize.recommendation import from_finding, from_plan, one_per_resource
from pipelines.optimize.settings import CommitmentTerms
from schemas import SchemaName, codec
from tests.unit.test_commitments import demand
from tests.unit.test_rightsizing import finding, usage


def rightsize():
    return from_finding(finding(usage("m5.xlarge", lambda h: 20)))


def test_a_finding_becomes_a_record_whose_saving_is_within_its_cost_and_range():
    item = rightsize()
    assert item.type == "rightsize" and item.recommended_type == "m5.large"
    assert 0 < item.potential_savings <= item.current_monthly_cost
    assert item.savings_p10 <= item.potential_savings <= item.savings_p90 <= item.current_monthly_cost
    assert item.evidence["percentile"] == 99.5 and item.execution_plan


def test_ids_are_deterministic_and_change_with_the_advice():
    assert rightsize().recommendation_id == rightsize().recommendation_id
    idle = from_finding(finding(usage("m5.xlarge", lambda h: 1, network=1)))
    assert idle.type == "idle" and idle.recommendation_id != rightsize().recommendation_id


def test_one_live_recommendation_per_resource_the_larger_saving_wins():
    smaller, idle = rightsize(), from_finding(finding(usage("m5.xlarge", lambda h: 1, network=1)))
    live, superseded = one_per_resource([smaller, idle])
    assert live == [idle] and superseded == [smaller]


def test_a_saving_larger_than_the_cost_is_refused():
    item = rightsize()
    with pytest.raises(ValueError, match="outside"):
        type(item)(**{**item.__dict__, "projected_monthly_cost": Decimal(-1)})


def test_commitment_records_add_up_to_the_plans_saving_in_aws_order():
    hours = np.vstack([np.full(28 * 24, 4.0), np.full(28 * 24, 2.0), np.full(28 * 24, 3.0)])
    hours[:, ::5] += 2  # some variable demand for the Savings Plans
    future = project(demand(hours), 90)
    plan = optimal_plan(future)
    records = from_plan("111", future, plan, CommitmentTerms(1, "no_upfront"), (future, future))
    total = apply_plan(future, plan).savings * 730 / future.hours.shape[1]
    assert records and sum(float(r.potential_savings) for r in records) == pytest.approx(total, abs=0.01 * len(records))
    assert records[0].type == "reserved_instance"  # RIs apply first
    for record in records:
        assert record.resource_id is None and 0 < record.potential_savings <= record.current_monthly_cost
        assert record.commitment["expected_utilization"] >= 0.95 and 0 < record.commitment["discount"] < 1
        assert record.commitment["break_even_months"] == 0  # no upfront: saving from the first month


def test_records_of_every_kind_go_through_the_recommendation_schema_unchanged():
    hours = np.vstack([np.full(28 * 24, 4.0), np.full(28 * 24, 2.0), np.full(28 * 24, 3.0)])
    future = project(demand(hours), 30)
    commitments = from_plan("111", future, optimal_plan(future), CommitmentTerms(1, "no_upfront"), (future, future))
    for item in [rightsize(), *commitments]:
        record = item.record(as_of_ms=1_700_000_000_000)
        payload = codec().encode(SchemaName.RECOMMENDATION, record)
        assert codec().decode(payload, SchemaName.RECOMMENDATION) == record
        assert Decimal(record["potential_savings"]) == item.potential_savings
    assert rightsize().record(0, "closed")["status"] == "closed"
