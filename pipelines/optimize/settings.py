"""The optimization engine's settings, in a module of their own.

Config loading (every ``spendstream`` command) builds and checks them; keeping them apart from
the maths means that costs no scipy import (1.5 s) for commands that never optimize.
"""

from __future__ import annotations

from dataclasses import dataclass, field

UPFRONT_SHARE = {"no_upfront": 0.0, "partial_upfront": 0.5, "all_upfront": 1.0}  # of the term's commitment


@dataclass(frozen=True)
class RightsizingSettings:
    lookback_days: int = 14
    min_days: int = 14
    cpu_percentile: float = 99.5
    cpu_headroom: float = 0.20
    idle_cpu_percent: float = 5.0
    idle_network_bytes_per_day: float = 5e6


@dataclass(frozen=True)
class CommitmentTerms:
    term_years: int
    payment_option: str

    def __post_init__(self) -> None:
        if self.term_years not in (1, 3) or self.payment_option not in UPFRONT_SHARE:
            raise ValueError(f"term_years must be 1 or 3 and payment_option one of {', '.join(UPFRONT_SHARE)}")


@dataclass(frozen=True)
class MixSettings:
    min_performance: float = 0.95
    min_availability: float = 0.999
    recovery_minutes: float = 10.0  # an interrupted spot instance's replacement is serving after this
    simulations: int = 64


@dataclass(frozen=True)
class OptimizerSettings:
    rightsizing: RightsizingSettings = field(default_factory=RightsizingSettings)
    commitment_lookback_days: int = 60
    forecast_days: int = 90
    # commitments are planned to be this well used, so day-to-day noise keeps them ≥ 95% used
    min_utilization: float = 0.96
    # tag keys that name a workload (CUR 2.0 user tags are user_<key>); tagged workloads get an instance_mix
    workload_tags: tuple[str, ...] = ("user_workload", "workload")
    mix: MixSettings = field(default_factory=MixSettings)
    terms: CommitmentTerms = field(default_factory=lambda: CommitmentTerms(1, "no_upfront"))

    @property
    def history_days(self) -> int:
        """How far back any advice looks: what the job keeps of each account."""
        return max(self.rightsizing.lookback_days, self.commitment_lookback_days)

    def __post_init__(self) -> None:
        if self.forecast_days < 1 or self.commitment_lookback_days < 7:
            raise ValueError("commitments need forecast_days ≥ 1 and commitment_lookback_days ≥ 7 (one week)")
        if not 0 < self.min_utilization <= 1:
            raise ValueError("min_utilization is a fraction of the commitment used, in (0, 1]")
