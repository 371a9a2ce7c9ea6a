"""Idle and rightsizing findings on hand-made instances whose right answer is known."""

from decimal import Decimal

import numpy as np
import pytest

from pipelines.cost_event import ChargeType, CostEvent
from pipelines.metrics import MetricEvent
from pipelines.optimize.catalog import instance_type_of, load_catalog
from pipelines.optimize.rightsizing import examine
from pipelines.optimize.settings import RightsizingSettings
from pipelines.optimize.usage import DAY_MS, ResourceUsage

HOUR = 3_600_000
DAYS = 20
START = 1_767_225_600_000  # 2026-01-01


def usage(instance_type: str, cpu, memory=None, network=1e9, days: int = DAYS, rate: str = "0.192") -> ResourceUsage:
    """One instance running every hour at ``rate``, with hourly CPU maxima ``cpu(hour)``."""
    built = ResourceUsage()
    for hour in range(days * 24):
        start = START + hour * HOUR
        built.add_cost(event(start, instance_type, rate))
        built.add_sample(sample(start, "CPUUtilization", cpu(hour)))
        built.add_sample(sample(start, "NetworkIn", network / 24))
        if memory is not None:
            built.add_sample(sample(start, "mem_used_percent", memory))
    return built


def event(start: int, instance_type: str, rate: str) -> CostEvent:
    return CostEvent(
        event_id=str(start), source_format="cur2", line_item_id=str(start), billing_period="2026-01",
        usage_start_ms=start, usage_end_ms=start + HOUR, payer_account_id="p", usage_account_id="111",
        service="AmazonEC2", region="us-east-1", resource_id="i-1", line_item_type="Usage",
        charge_type=ChargeType.USAGE, usage_type=f"BoxUsage:{instance_type}", unblended_cost=rate, net_cost=rate,
        currency="USD", usage_amount="1", instance_type=instance_type, pricing_term="on_demand",
        public_on_demand_rate=rate,
    )  # fmt: skip


def sample(ts: int, metric: str, value: float) -> MetricEvent:
    return MetricEvent(f"{metric}{ts}", "test", "i-1", "AWS/EC2", metric, "Percent", ts, float(value))


def finding(built: ResourceUsage, days: int = DAYS):
    (history,) = built.histories()
    return examine(history, START + days * DAY_MS, load_catalog(), RightsizingSettings())


def test_an_oversized_instance_moves_to_the_smallest_same_family_size_its_p99_5_plus_headroom_fits():
    # m5.xlarge (4 vCPU) at 20-30% CPU: 30% of 4 vCPU = 1.2 vCPU, ×1.2 headroom = 1.44 ≤ 2 → m5.large
    result = finding(usage("m5.xlarge", lambda h: 20 + 10 * (h % 24 == 12)))
    assert (result.kind, result.recommended_type) == ("rightsize", "m5.large")
    monthly = Decimal("0.192") * 730
    assert result.current_monthly_cost == monthly
    assert result.projected_monthly_cost == monthly / 2  # the bill's rate × the catalog's price ratio
    assert 0 < result.potential_savings <= result.current_monthly_cost
    assert result.evidence["data_points"] == 14 * 24  # the lookback, not all history
    assert result.evidence["catalog_date"]


def test_an_instance_that_needs_its_size_is_left_alone():
    result = finding(usage("m5.xlarge", lambda h: 55))
    assert result.kind == "optimized" and result.potential_savings == 0


def test_bursty_workloads_are_never_downsized_even_when_the_percentile_misses_their_bursts():
    # two one-hour bursts to 95% in 480 hours: P99.5 ignores them, the peak does not
    result = finding(usage("m5.2xlarge", lambda h: 95 if h in (100, 300) else 8))
    assert result.kind == "bursty" and not result.recommended_type and result.potential_savings == 0


def test_memory_bound_instances_are_never_downsized():
    assert finding(usage("m5.xlarge", lambda h: 10, memory=85)).kind == "memory_bound"
    # memory-optimized family without a memory metric: nobody knows the memory fits
    assert finding(usage("r5.xlarge", lambda h: 10, rate="0.252")).kind == "memory_bound"


def test_measured_memory_must_fit_the_smaller_size_too():
    # CPU would fit m5.large, but 55% of 16 GiB ×1.2 does not fit 8 GiB
    assert finding(usage("m5.xlarge", lambda h: 10, memory=55)).kind == "optimized"


def test_an_idle_instance_is_stopped_and_saves_exactly_its_cost():
    result = finding(usage("m5.large", lambda h: 1.0, network=1e5, rate="0.096"))
    assert result.kind == "idle"
    assert result.projected_monthly_cost == 0 and result.potential_savings == result.current_monthly_cost


def test_too_little_data_gives_no_recommendation_and_says_why():
    result = finding(usage("m5.xlarge", lambda h: 5, days=10), days=10)
    assert result.kind == "insufficient_data" and "14 needed" in result.reason and not result.actionable


def test_a_type_the_catalog_does_not_know_is_named():
    result = finding(usage("x9.mega", lambda h: 5, rate="1"))
    assert result.kind == "unknown_type" and "x9.mega" in result.reason


def test_the_catalog_covers_the_families_and_regions_and_keeps_architectures_apart():
    catalog = load_catalog()
    families = {t.family for t in catalog.types.values()}
    assert {"m5", "m6i", "m7g", "c5", "c6i", "c7g", "r5", "r6i", "r7g", "t3", "t4g"} <= families
    for instance in catalog.types.values():
        assert set(instance.on_demand) >= {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"}
        assert all(t.architecture == instance.architecture for t in catalog.smaller_sizes(instance.name))
    assert catalog.rate("m5.large", "us-east-1") == Decimal("0.096")
    assert catalog.snapshot_date and "Price List" in catalog.source


@pytest.mark.parametrize(
    ("text", "expected"),
    [("BoxUsage:m5.large", "m5.large"), ("USW2-SpotUsage:c6i.2xlarge", "c6i.2xlarge"),
     ("$0.34 per On Demand Linux c5.2xlarge Instance Hour", "c5.2xlarge"), ("TimedStorage-ByteHrs", "")],
)  # fmt: skip
def test_instance_types_are_read_from_usage_types_and_descriptions(text, expected):
    assert instance_type_of(text) == expected


def test_histories_keep_only_ec2_instance_usage():
    built = usage("m5.large", lambda h: 3, days=1)
    storage = event(START, "m5.large", "0.1")
    built.add_cost(CostEvent(**{**storage.to_record(), "charge_type": ChargeType.USAGE, "instance_type": ""}))
    (history,) = built.histories()
    assert len(history.hours_ms) == 24 and np.nanmax(history.cpu_max) == 3


def test_without_a_memory_metric_at_most_half_the_memory_is_given_up():
    # 6% of 8 vCPU would fit an m5.large, but nobody measured the memory: m5.xlarge
    result = finding(usage("m5.2xlarge", lambda h: 6, rate="0.384"))
    assert (result.kind, result.recommended_type, result.risk_level) == ("rightsize", "m5.xlarge", "medium")


def test_burstable_sizes_are_compared_by_the_capacity_they_sustain_not_their_vcpu_count():
    # a t3.medium has the t3.large's 2 vCPU but half its price (and less baseline): 50% CPU does not fit
    assert finding(usage("t3.large", lambda h: 50, memory=30, rate="0.0832")).kind == "optimized"
