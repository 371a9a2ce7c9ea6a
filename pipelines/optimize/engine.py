"""One account's recommendations at a point in event time: the call the job and ``recommend`` share."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.optimize.catalog import Catalog
from pipelines.optimize.commitments import eligible_demand, optimal_plan, project
from pipelines.optimize.recommendation import CommitmentTerms, Recommendation, from_finding, from_plan, one_per_resource
from pipelines.optimize.rightsizing import Finding, RightsizingSettings, examine
from pipelines.optimize.usage import DAY_MS, ResourceHistory


@dataclass(frozen=True)
class OptimizerSettings:
    rightsizing: RightsizingSettings = field(default_factory=RightsizingSettings)
    commitment_lookback_days: int = 30
    forecast_days: int = 90
    terms: CommitmentTerms = field(default_factory=lambda: CommitmentTerms(1, "no_upfront"))

    @property
    def history_days(self) -> int:
        """How far back any advice looks: what the job keeps of each account."""
        return max(self.rightsizing.lookback_days, self.commitment_lookback_days)

    def __post_init__(self) -> None:
        if self.forecast_days < 1 or self.commitment_lookback_days < 7:
            raise ValueError("commitments need forecast_days ≥ 1 and commitment_lookback_days ≥ 7 (one week)")


@dataclass(frozen=True)
class AccountAdvice:
    as_of_ms: int
    live: list[Recommendation]
    superseded: list[Recommendation]
    findings: list[Finding]  # every instance examined, with why (also when nothing is recommended)


def advise(
    account_id: str, histories: list[ResourceHistory], as_of_ms: int, catalog: Catalog, settings: OptimizerSettings
) -> AccountAdvice:
    """Rightsizing per instance running in the lookback, then commitments sized on what is left."""
    start_ms = as_of_ms - settings.rightsizing.lookback_days * DAY_MS
    running = [h for h in histories if len(h.hours_ms) and h.hours_ms[-1] >= start_ms and h.hours_ms[0] < as_of_ms]
    findings = [examine(history, as_of_ms, catalog, settings.rightsizing) for history in running]
    candidates = [from_finding(f) for f in findings if f.actionable]
    candidates += commitments(account_id, histories, as_of_ms, catalog, settings)
    live, superseded = one_per_resource(candidates)
    return AccountAdvice(as_of_ms, live, superseded, findings)


def commitments(
    account_id: str, histories: list[ResourceHistory], as_of_ms: int, catalog: Catalog, settings: OptimizerSettings
) -> list[Recommendation]:
    as_of_ms -= as_of_ms % DAY_MS  # whole days: the projection repeats the lookback's last week day by day
    start_ms = as_of_ms - settings.commitment_lookback_days * DAY_MS
    terms = settings.terms
    demand = eligible_demand(histories, catalog, start_ms, as_of_ms, terms.term_years, terms.payment_option)
    if demand is None:
        return []
    future = project(demand, settings.forecast_days)
    plan = optimal_plan(future)
    scenarios = (project(demand, settings.forecast_days, "low"), project(demand, settings.forecast_days, "high"))
    return from_plan(account_id, future, plan, terms, scenarios)
