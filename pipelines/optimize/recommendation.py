"""Recommendations as people and services receive them: one record per action, money exact.

Built from rightsizing findings (one instance each) and commitment plans (one record per RI pool,
EC2 Instance SP family or Compute SP). The id is a hash of what is recommended, so the same
advice refreshed tomorrow keeps its id, and different advice for the same resource gets a new one
(the old one is then closed). Savings are monthly (730 h) and never exceed the cost they come from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from pipelines.optimize.catalog import HOURS_PER_MONTH
from pipelines.optimize.commitments import Demand, Outcome, Plan, apply_plan
from pipelines.optimize.instance_mix import Mix, Workload
from pipelines.optimize.rightsizing import Finding
from pipelines.optimize.settings import UPFRONT_SHARE, CommitmentTerms, MixSettings

CENT = Decimal("0.01")
# What applying each kind takes: stopping is quick, a resize needs a stop/start and a day of watching.
IMPLEMENTATION_TIME = {"idle": "15 minutes", "rightsize": "1 hour"}
COMMITMENT_FIELDS = (
    "commitment_type",
    "term_years",
    "payment_option",
    "hourly_commitment",
    "discount",
    "expected_utilization",
    "expected_coverage",
    "break_even_months",
)


@dataclass(frozen=True)
class Recommendation:
    type: str  # idle, rightsize, instance_mix, reserved_instance, ec2_instance_savings_plan, compute_savings_plan
    account_id: str
    resource_id: str | None
    region: str
    current_type: str
    recommended_type: str
    current_monthly_cost: Decimal
    projected_monthly_cost: Decimal
    savings_p10: Decimal
    savings_p90: Decimal
    risk_level: str
    description: str
    execution_plan: tuple[str, ...]
    evidence: dict = field(default_factory=dict)
    commitment: dict | None = None  # commitment_type, term_years, payment_option, hourly_commitment, ...

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.potential_savings <= self.current_monthly_cost:
            raise ValueError(f"savings {self.potential_savings} outside 0..{self.current_monthly_cost}")

    @property
    def potential_savings(self) -> Decimal:
        return self.current_monthly_cost - self.projected_monthly_cost

    @property
    def estimated_implementation_time(self) -> str:
        return IMPLEMENTATION_TIME.get(self.type, "15 minutes")  # a commitment is a purchase

    @property
    def recommendation_id(self) -> str:
        scope = self.resource_id or f"{self.region}|{self.current_type}"
        key = f"{self.account_id}|{self.type}|{scope}|{self.recommended_type}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def record(self, as_of_ms: int, status: str = "open") -> dict:
        """As topics (schemas/recommendation.avsc), ``recommendations.jsonl`` and InfluxDB carry it."""
        commitment = dict.fromkeys(COMMITMENT_FIELDS) | (self.commitment or {})
        return {
            "recommendation_id": self.recommendation_id,
            "status": status,
            "as_of_ms": as_of_ms,
            "type": self.type,
            "account_id": self.account_id,
            "resource_id": self.resource_id,
            "region": self.region,
            "current_type": self.current_type,
            "recommended_type": self.recommended_type,
            "current_monthly_cost": str(self.current_monthly_cost),
            "projected_monthly_cost": str(self.projected_monthly_cost),
            "potential_savings": str(self.potential_savings),
            "savings_p10": str(self.savings_p10),
            "savings_p90": str(self.savings_p90),
            "risk_level": self.risk_level,
            "estimated_implementation_time": self.estimated_implementation_time,
            "description": self.description,
            "execution_plan": list(self.execution_plan),
            "evidence": self.evidence,
            **commitment,
        }


def from_finding(finding: Finding) -> Recommendation:
    history = finding.history
    low, high = finding.savings_range
    saving = finding.potential_savings
    target = finding.recommended_type
    steps = (
        ("Stop the instance (or terminate it after a snapshot).",)
        if finding.kind == "idle"
        else (f"Stop {history.resource_id}.", f"Change its type to {target}.", "Start it and watch CPU for a day.")
    )
    return Recommendation(
        type=finding.kind,
        account_id=history.account_id,
        resource_id=history.resource_id,
        region=history.region,
        current_type=history.instance_type,
        recommended_type=target,
        current_monthly_cost=finding.current_monthly_cost,
        projected_monthly_cost=finding.projected_monthly_cost,
        savings_p10=min(low, saving),
        savings_p90=min(max(high, saving), finding.current_monthly_cost),
        risk_level=finding.risk_level,
        description=f"{history.resource_id} ({history.instance_type}): {finding.reason}",
        execution_plan=steps,
        evidence=finding.evidence,
    )


def one_per_resource(recommendations: list[Recommendation]) -> tuple[list[Recommendation], list[Recommendation]]:
    """Live recommendations (per resource the larger saving wins) and the ones they supersede."""
    best: dict[tuple[str, str], Recommendation] = {}
    live, superseded = [], []
    for item in recommendations:
        if item.resource_id is None:
            live.append(item)
            continue
        key = (item.account_id, item.resource_id)
        incumbent = best.get(key)
        if incumbent is None or item.potential_savings > incumbent.potential_savings:
            if incumbent is not None:
                superseded.append(incumbent)
            best[key] = item
        else:
            superseded.append(item)
    return live + list(best.values()), superseded


def from_mix(
    account_id: str, workload: Workload, mix: Mix, settings: MixSettings, evidence: dict
) -> Recommendation | None:
    """A tagged workload's cheaper on-demand/reserved/spot mix, or None when today's is as cheap."""
    service, family, region, name = workload.key
    hours = Decimal(workload.demand.size)
    current = (workload.cost * HOURS_PER_MONTH / hours).quantize(CENT)
    projected = (Decimal(str(mix.cost)) * HOURS_PER_MONTH / hours).quantize(CENT)
    if projected >= current:
        return None
    target = mix_label(mix, workload.reference_type)
    return Recommendation(
        type="instance_mix",
        account_id=account_id,
        resource_id=None,
        region=region,
        current_type=f"workload {name} ({service} {family})",
        recommended_type=target,
        current_monthly_cost=current,
        projected_monthly_cost=projected,
        savings_p10=current - projected,
        savings_p90=current - projected,
        risk_level="medium" if mix.spot_share >= 0.005 else "low",
        description=(
            f"workload {name} ({workload.instances} {family} instances in {region}): {target}; simulated "
            f"{mix.performance:.4f} of the capacity needed, {mix.availability:.4f} of hours at ≥ "
            f"{settings.min_performance:.0%} with spot interrupted {workload.prices.interruption_bucket} a month"
        ),
        execution_plan=(
            f"Buy {mix.reserved} {workload.reference_type} reserved instances.",
            "Run the workload's Auto Scaling group with a mixed instances policy: on-demand base "
            f"{mix.reserved}, {mix.spot_share:.0%} spot above it, capacity-optimized allocation.",
        ),
        evidence={
            **evidence,
            "performance": round(mix.performance, 5),
            "availability": round(mix.availability, 5),
            "interruption_bucket": workload.prices.interruption_bucket,
            "recovery_minutes": settings.recovery_minutes,
            "simulations": settings.simulations,
        },
    )


def mix_label(mix: Mix, instance_type: str) -> str:
    """``2 × m5.large reserved, 60% of the rest on spot``, ``all on spot``, ``40% on spot``."""
    share = round(mix.spot_share * 100)
    if not mix.reserved:
        return "all on spot" if share == 100 else f"{share}% on spot, the rest on demand"
    rest = "the rest on spot" if share == 100 else f"{share}% of the rest on spot" if share else "the rest on demand"
    return f"{mix.reserved} × {instance_type} reserved, {rest}"


def from_plan(
    account_id: str, demand: Demand, plan: Plan, terms: CommitmentTerms, scenarios: tuple[Demand, Demand]
) -> list[Recommendation]:
    """One record per commitment bought, each credited with what it adds in AWS's order.

    ``demand`` is the projection the plan was sized on; ``scenarios`` the low and high trend
    projections, which give the P10–P90 range of the total saving (each record gets its share).
    """
    hours = demand.hours.shape[1]
    monthly = Decimal(HOURS_PER_MONTH) / Decimal(hours)
    total = apply_plan(demand, plan)
    spread = [apply_plan(s, plan).savings / total.savings if total.savings > 0 else 0.0 for s in scenarios]
    records, before = [], apply_plan(demand, Plan(np.zeros_like(plan.reserved), {}, 0.0))
    for step in steps_in_aws_order(demand, plan):
        after = apply_plan(demand, step.plan)
        if before.cost - after.cost > 0:
            records.append(
                commitment_record(
                    account_id,
                    step,
                    covered=(after.covered - before.covered) * float(monthly),
                    saving=Decimal(str(before.cost - after.cost)) * monthly,
                    hourly=(sum(after.committed.values()) - sum(before.committed.values())) / hours,
                    spread=spread,
                    terms=terms,
                    outcome=after,
                )
            )
        before = after
    return records


@dataclass(frozen=True)
class Step:
    kind: str
    label: str  # what is committed to: "3 × m5.large", "m5 family", "any compute"
    region: str
    discount: float
    plan: Plan  # everything up to and including this commitment


def steps_in_aws_order(demand: Demand, plan: Plan):
    """The plan's commitments one by one, in the order AWS applies them: RIs, EC2 Instance SPs, Compute SP."""
    reserved = np.zeros_like(plan.reserved)
    for i, count in enumerate(plan.reserved):
        if count > 0:
            reserved = reserved.copy()
            reserved[i] = count
            instance_type, region = demand.pools[i]
            discount = float(demand.discounts["reserved_instance"][i])
            label = f"{int(count)} × {instance_type}"
            yield Step("reserved_instance", label, region, discount, Plan(reserved, {}, 0.0))
    chosen: dict = {}
    for group, commitment in sorted(plan.instance_sp.items()):
        if commitment > 1e-9:
            chosen = {**chosen, group: commitment}
            discount = float(demand.discounts["ec2_instance_savings_plan"][demand.groups.index(group)])
            label = f"{group[0]} family"
            yield Step("ec2_instance_savings_plan", label, group[1], discount, Plan(reserved, chosen, 0.0))
    if plan.compute_sp > 1e-9:
        discount = float(demand.discounts["compute_savings_plan"].max())
        yield Step("compute_savings_plan", "any compute", "any", discount, Plan(reserved, chosen, plan.compute_sp))


def commitment_record(
    account_id: str,
    step: Step,
    covered: float,
    saving: Decimal,
    hourly: float,
    spread: list[float],
    terms: CommitmentTerms,
    outcome: Outcome,
) -> Recommendation:
    kind, label, region = step.kind, step.label, step.region
    current = Decimal(str(covered)).quantize(CENT)
    saving = min(saving.quantize(CENT), current)
    monthly_commitment = hourly * HOURS_PER_MONTH
    upfront = UPFRONT_SHARE[terms.payment_option] * monthly_commitment * 12 * terms.term_years
    monthly_gain = float(saving) + UPFRONT_SHARE[terms.payment_option] * monthly_commitment
    low, high = sorted(saving * Decimal(str(round(s, 6))) for s in spread)
    return Recommendation(
        type=kind,
        account_id=account_id,
        resource_id=None,
        region=region,
        current_type=label,
        recommended_type=f"{terms.term_years}-year {kind.replace('_', ' ')}, {terms.payment_option.replace('_', ' ')}",
        current_monthly_cost=current,
        projected_monthly_cost=current - saving,
        savings_p10=max(Decimal(0), min(low.quantize(CENT), saving)),
        savings_p90=min(max(high.quantize(CENT), saving), current),
        risk_level="low" if outcome.utilization(kind) >= 0.98 else "medium",
        description=f"Commit ${hourly:.4f}/h ({label}, {region}): saves ${saving}/month of ${current} on-demand",
        execution_plan=(f"Buy the {kind.replace('_', ' ')} in the console or with the AWS CLI.",),
        commitment={
            "commitment_type": kind,
            "term_years": terms.term_years,
            "payment_option": terms.payment_option,
            "hourly_commitment": f"{hourly:.6f}",
            "discount": round(step.discount, 4),
            "expected_utilization": round(outcome.utilization(kind), 4),
            "expected_coverage": round(outcome.coverage, 4),
            "break_even_months": round(upfront / monthly_gain, 2) if monthly_gain > 0 else None,
        },
    )
