"""Shared cost allocated to customers: exact to the last digit, by the account's rule."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.unit_costs import SHARED, AllocationRule, allocate, exact_sum, split

MONEY = st.integers(-(10**33), 10**33).map(lambda n: Decimal(n).scaleb(-18))  # |x| < 1e15, 18 places
DIRECT = st.dictionaries(st.sampled_from(["acme", "globex", "initech", "umbrella"]), MONEY, max_size=4)
WEIGHTS = st.dictionaries(st.sampled_from(["acme", "globex", "hooli"]), st.integers(0, 5).map(Decimal), min_size=1)
RULES = st.one_of(
    st.just(AllocationRule()), st.just(AllocationRule("even")), WEIGHTS.map(lambda w: AllocationRule("fixed", w))
)


@given(direct=DIRECT, shared=MONEY, rule=RULES)
def test_customer_totals_add_up_to_the_account_total_exactly(direct, shared, rule):
    costs = allocate(direct, shared, rule)
    assert exact_sum(cost.total for cost in costs) == exact_sum([*direct.values(), shared])
    assert {c.unit: c.direct for c in costs if c.direct} == {unit: cost for unit, cost in direct.items() if cost}


@given(amount=MONEY, weights=WEIGHTS.filter(lambda w: sum(w.values()) > 0))
def test_each_share_is_within_two_micro_dollars_of_its_exact_proportion(amount, weights):
    shares = split(amount, weights)
    total = sum(weights.values())
    for unit, weight in weights.items():
        assert abs(shares[unit] - amount * weight / total) <= Decimal("0.000002")


def test_proportional_to_tagged_cost_even_and_fixed():
    direct = {"acme": Decimal("30"), "globex": Decimal("10")}
    by = {c.unit: c.allocated for c in allocate(direct, Decimal("100"), AllocationRule())}
    assert by == {"acme": Decimal("75"), "globex": Decimal("25")}
    by = {c.unit: c.allocated for c in allocate(direct, Decimal("100"), AllocationRule("even"))}
    assert by == {"acme": Decimal("50"), "globex": Decimal("50")}
    fixed = AllocationRule("fixed", {"acme": Decimal(1), "hooli": Decimal(2)})
    by = {c.unit: c.allocated for c in allocate(direct, Decimal("100"), fixed)}
    assert by == {"acme": Decimal("33.333333"), "globex": Decimal(0), "hooli": Decimal("66.666667")}


def test_an_hour_without_customers_keeps_its_cost_as_shared():
    assert [(c.unit, c.total) for c in allocate({}, Decimal("4.2"), AllocationRule())] == [(SHARED, Decimal("4.2"))]
    credits_only = allocate({"acme": Decimal("-1")}, Decimal("3"), AllocationRule())
    assert [(c.unit, c.total) for c in credits_only] == [("acme", Decimal(-1)), (SHARED, Decimal(3))]


@pytest.mark.parametrize(
    "entry",
    [{"rule": "random"}, {"rule": "fixed"}, {"rule": "fixed", "weights": {"a": -1}},
     {"rule": "even", "weights": {"a": 1}}, {"rule": "fixed", "weights": {"a": "lots"}}],
)  # fmt: skip
def test_bad_allocation_settings_are_refused(entry):
    with pytest.raises(ValueError, match="account 1"):
        AllocationRule.from_config(entry, "account 1")
