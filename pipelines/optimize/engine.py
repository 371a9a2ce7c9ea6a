"""One account's recommendations at a point in event time: the call the job and ``recommend`` share."""

from __future__ import annotations

from dataclasses import dataclass, replace

from pipelines.optimize.catalog import Catalog
from pipelines.optimize.commitments import eligible_demand, size_commitments
from pipelines.optimize.instance_mix import MixModel, optimal_mix, workloads
from pipelines.optimize.recommendation import (
    Recommendation,
    from_finding,
    from_mix,
    from_plan,
    one_per_resource,
)
from pipelines.optimize.rightsizing import Finding, examine
from pipelines.optimize.settings import OptimizerSettings
from pipelines.optimize.usage import DAY_MS, ResourceHistory


@dataclass(frozen=True)
class AccountAdvice:
    as_of_ms: int
    live: list[Recommendation]
    superseded: list[Recommendation]
    findings: list[Finding]  # every instance examined, with why (also when nothing is recommended)


def advise(
    account_id: str, histories: list[ResourceHistory], as_of_ms: int, catalog: Catalog, settings: OptimizerSettings
) -> AccountAdvice:
    """Rightsizing per instance still running (costing in the last day), then commitments for what is left.

    Then each tagged workload's on-demand/reserved/spot mix, and commitments for the untagged rest,
    all on the demand as it will be once the advice is followed: without the idle instances and
    with the rightsized ones at their new type, so no saving is counted twice (an RI for an
    instance that should be stopped, or for a workload whose mix already reserves it).
    """
    running = [h for h in histories if h.running_at(as_of_ms)]
    findings = [examine(history, as_of_ms, catalog, settings.rightsizing) for history in running]
    candidates = [from_finding(f) for f in findings if f.actionable]
    remaining = after_advice(histories, findings)
    mixed, remaining = mixes(account_id, remaining, as_of_ms, catalog, settings)
    candidates += mixed + commitments(account_id, remaining, as_of_ms, catalog, settings)
    live, superseded = one_per_resource(candidates)
    return AccountAdvice(as_of_ms, live, superseded, findings)


def after_advice(histories: list[ResourceHistory], findings: list[Finding]) -> list[ResourceHistory]:
    """The histories as if each idle instance were stopped and each rightsized one ran at its new type."""
    advised = {id(f.history): f for f in findings if f.actionable}
    adjusted = []
    for history in histories:
        finding = advised.get(id(history))
        if finding is None:
            adjusted.append(history)
        elif finding.kind == "rightsize":  # same hours, the new type's pool and catalog rate
            adjusted.append(replace(history, instance_type=finding.recommended_type, billed_rate=None))
    return adjusted


def mixes(
    account_id: str, histories: list[ResourceHistory], as_of_ms: int, catalog: Catalog, settings: OptimizerSettings
) -> tuple[list[Recommendation], list[ResourceHistory]]:
    """An instance_mix per tagged workload that saves, and the histories no mix took."""
    as_of_ms -= as_of_ms % DAY_MS
    start_ms = lookback_start(histories, as_of_ms, settings.commitment_lookback_days)
    terms = settings.terms
    recommendations, taken = [], set()
    for workload, members in workloads(histories, catalog, start_ms, as_of_ms, terms.term_years, terms.payment_option):
        mix = optimal_mix(MixModel(workload.demand, workload.prices, settings.mix))
        evidence = {"lookback_days": (as_of_ms - start_ms) // DAY_MS, "catalog_date": catalog.snapshot_date}
        found = from_mix(account_id, workload, mix, settings.mix, evidence)
        if found is not None:
            recommendations.append(found)
            taken |= {id(m) for m in members}
    return recommendations, [h for h in histories if id(h) not in taken]


def lookback_start(histories: list[ResourceHistory], as_of_ms: int, days: int) -> int:
    """The first whole day of the lookback that the bill covers.

    Days before the bill begins are unknown, not zero: counted as zero they would read as a
    growth trend and halve a workload's monthly cost.
    """
    known_from = min((int(h.hours_ms[0]) for h in histories if len(h.hours_ms)), default=as_of_ms)
    known_days = max(0, (as_of_ms - known_from) // DAY_MS)
    return as_of_ms - min(days, known_days) * DAY_MS


def commitments(
    account_id: str, histories: list[ResourceHistory], as_of_ms: int, catalog: Catalog, settings: OptimizerSettings
) -> list[Recommendation]:
    as_of_ms -= as_of_ms % DAY_MS  # whole days: the projection repeats the lookback's last week day by day
    start_ms = lookback_start(histories, as_of_ms, settings.commitment_lookback_days)
    terms = settings.terms
    demand = eligible_demand(histories, catalog, start_ms, as_of_ms, terms.term_years, terms.payment_option)
    if demand is None:
        return []
    sizing = size_commitments(demand, settings.forecast_days, settings.min_utilization)
    evidence = {
        "lookback_days": (as_of_ms - start_ms) // DAY_MS,
        "data_points": int(demand.hours.shape[1]),  # hours of eligible on-demand usage per pool
        "pools": len(demand.pools),
        "forecast_days": settings.forecast_days,
        "planned_utilization": settings.min_utilization,
        "catalog_date": catalog.snapshot_date,
    }
    records = from_plan(account_id, sizing.expected, sizing.plan, terms, (sizing.low, sizing.high))
    return [replace(record, evidence=evidence) for record in records]
