"""Business context for cost: who owns an account, and what its resources' tags say.

Loaded from ``accounts.yaml`` and shipped with the job, so enrichment is a dictionary lookup per
event, not a call to anything remote. An account changed through the API while the job runs has
a new entry of the same shape (``with_entry``; pipelines/account_settings.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import astuple, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from pipelines.anomaly import DetectorSettings
from pipelines.budgets import Budget
from pipelines.unit_costs import AllocationRule

DIMENSIONS = ("cost_center", "project", "environment", "team")  # every cost is reported under these
UNIT_DIMENSIONS = ("customer", "feature")  # what the cost serves: empty when untagged (shared cost)
TAGGED = (*DIMENSIONS, *UNIT_DIMENSIONS)  # what tag rules and an account's entry may set
UNASSIGNED = "unassigned"
FALSE_POSITIVES = "false_positives"  # in an entry's anomaly settings: service → its anomalies marked false positive


@dataclass(frozen=True, slots=True)
class BusinessContext:
    """The business dimensions one cost event is reported under."""

    account_name: str
    cost_center: str
    project: str
    environment: str
    team: str
    customer: str = ""
    feature: str = ""


@dataclass(frozen=True, slots=True)
class Account:
    """An account's owner and defaults, as written in accounts.yaml."""

    account_id: str
    name: str
    dimensions: dict[str, str]
    budgets: tuple[Budget, ...] = ()
    anomaly: DetectorSettings = field(default_factory=DetectorSettings)
    false_positives: Mapping[str, int] = field(default_factory=dict)  # service → its anomalies marked false positive
    tag_rules: tuple[TagRule, ...] = ()  # the account's own, applied after the directory's
    allocation: AllocationRule = field(default_factory=AllocationRule)  # its untagged cost among its customers
    entry: Mapping[str, Any] = field(default_factory=dict, compare=False)  # as written


@dataclass(frozen=True, slots=True)
class TagRule:
    """Take a dimension from a resource tag, optionally mapping its values (``Prod`` → ``production``)."""

    tag: str
    dimension: str
    values: dict[str, str] = field(default_factory=dict)

    def apply(self, tags: Mapping[str, str]) -> str | None:
        value = tags.get(self.tag, "").strip(" ")  # spaces only: Flink SQL's TRIM (jobs/enrichment_sql.py)
        if not value:
            return None
        return self.values.get(value, value)


@dataclass(frozen=True)
class AccountDirectory:
    """All accounts and tag rules; ``context`` answers for one event."""

    accounts: dict[str, Account]
    tag_rules: tuple[TagRule, ...]
    defaults: dict[str, str]

    def context(self, account_id: str, tags: Mapping[str, str]) -> BusinessContext:
        """Tag rules win over the account's defaults, which win over the directory's defaults.

        The account's own tag rules are applied after the directory's, so they win over them.
        """
        account = self.accounts.get(account_id)
        dims = dict(self.defaults)
        rules = self.tag_rules
        if account is not None:
            dims.update(account.dimensions)
            rules = (*rules, *account.tag_rules)
        for rule in rules:
            value = rule.apply(tags)
            if value is not None:
                dims[rule.dimension] = value
        return BusinessContext(
            account_name=self.account_name(account_id),
            cost_center=dims["cost_center"],
            project=dims["project"],
            environment=dims["environment"],
            team=dims["team"],
            customer=dims["customer"],
            feature=dims["feature"],
        )

    def entry(self, account_id: str) -> dict[str, Any]:
        """The account's entry as accounts.yaml writes it ({} for an account it does not list)."""
        account = self.accounts.get(account_id)
        return dict(account.entry) if account else {}

    def with_entry(self, account_id: str, entry: Mapping[str, Any], source: str = "accounts") -> AccountDirectory:
        """This directory with the account's entry replaced (validated as accounts.yaml is)."""
        return replace(self, accounts={**self.accounts, account_id: _account(account_id, entry, source)})

    def budgets(self, account_id: str) -> tuple[Budget, ...]:
        account = self.accounts.get(account_id)
        return account.budgets if account else ()

    def account_name(self, account_id: str) -> str:
        """The name from accounts.yaml, or the id of an account it does not list."""
        account = self.accounts.get(account_id)
        return account.name if account else account_id

    def allocation(self, account_id: str) -> AllocationRule:
        """How the account's untagged cost is shared among its customers (proportional by default)."""
        account = self.accounts.get(account_id)
        return account.allocation if account else AllocationRule()

    def monthly_budget(self, account_id: str) -> Budget | None:
        return next((b for b in self.budgets(account_id) if b.period == "monthly" and b.service == "*"), None)

    def anomaly_settings(self, account_id: str, service: str = "*") -> DetectorSettings:
        """The account's thresholds, raised for a service whose anomalies people marked false positive."""
        account = self.accounts.get(account_id)
        if account is None:
            return DetectorSettings()
        return account.anomaly.raised(account.false_positives.get(service, 0))


def load_directory(path: Path) -> AccountDirectory:
    """Read accounts.yaml; errors name the file and the entry at fault."""
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read accounts file {path}: {error}") from error
    return directory_from_document(document, source=str(path))


def directory_from_document(document: Mapping[str, Any], source: str = "accounts") -> AccountDirectory:
    defaults = {dim: UNASSIGNED for dim in DIMENSIONS} | dict.fromkeys(UNIT_DIMENSIONS, "")
    defaults.update({k: str(v) for k, v in (document.get("defaults") or {}).items() if k in DIMENSIONS})
    accounts = {
        str(account_id): _account(str(account_id), entry or {}, source)
        for account_id, entry in (document.get("accounts") or {}).items()
    }
    rules = tuple(_tag_rule(entry, source) for entry in document.get("tag_rules") or [])
    return AccountDirectory(accounts=accounts, tag_rules=rules, defaults=defaults)


def _account(account_id: str, entry: Mapping[str, Any], source: str) -> Account:
    budgets = _budgets(entry.get("budgets") or {}, f"{source}: account {account_id}")
    where = f"{source}: account {account_id}"
    rules = tuple(_tag_rule(rule, where) for rule in entry.get("tag_rules") or [])
    repeated = sorted({r.dimension for r in rules if sum(o.dimension == r.dimension for o in rules) > 1})
    if repeated:
        raise ValueError(f"{where}: one tag rule per dimension, but {', '.join(repeated)} has more")
    return Account(
        account_id=account_id,
        name=str(entry.get("name") or account_id),
        dimensions={dim: str(entry[dim]) for dim in TAGGED if entry.get(dim)},
        budgets=budgets,
        anomaly=_anomaly_settings(entry.get("anomaly") or {}, where),
        false_positives=_false_positives((entry.get("anomaly") or {}).get(FALSE_POSITIVES), where),
        tag_rules=rules,
        allocation=AllocationRule.from_config(entry.get("allocation"), where),
        entry=dict(entry),
    )


def _budgets(entry: Mapping[str, Any], where: str) -> tuple[Budget, ...]:
    """``{daily: …, monthly: …, services: {AmazonEC2: {daily: …}}}``: the account's and its services' budgets."""
    services = entry.get("services") or {}
    if not isinstance(services, Mapping) or not all(isinstance(v, Mapping) for v in services.values()):
        raise ValueError(f"{where}: budgets.services maps a service to its budgets by period")
    account = [Budget.from_config(period, spec, where) for period, spec in entry.items() if period != "services"]
    per_service = [
        Budget.from_config(period, spec, f"{where}, service {service}", service=str(service))
        for service, periods in services.items()
        for period, spec in periods.items()
    ]
    return (*account, *per_service)


def _anomaly_settings(entry: Mapping[str, Any], where: str) -> DetectorSettings:
    """``anomaly: {relative_threshold: 0.5, dollar_threshold: 10, warmup_days: 7}``."""
    known = {f.name for f in fields(DetectorSettings)}  # false_positives: a map of counts, read by _false_positives
    unknown = set(entry) - known
    if unknown:
        raise ValueError(f"{where}: unknown anomaly setting(s) {sorted(unknown)}; known: {sorted(known)}")
    numbers = {key: value for key, value in entry.items() if key != FALSE_POSITIVES}
    try:
        settings = DetectorSettings(**{key: float(value) for key, value in numbers.items()})
    except (TypeError, ValueError):
        raise ValueError(f"{where}: anomaly settings must be numbers (got {numbers})") from None
    if not all(math.isfinite(value) and value >= 0 for value in astuple(settings)):
        raise ValueError(f"{where}: anomaly settings must be finite and not negative (got {dict(entry)})")
    if not 1 <= settings.warmup_days <= 14:
        raise ValueError(f"{where}: anomaly warmup_days must be between 1 and 14")
    return settings


def _false_positives(entry: Any, where: str) -> dict[str, int]:
    """``anomaly: {false_positives: {AmazonEC2: 2}}``: per service, its anomalies marked false positive.

    ``spendstream alerts mark`` keeps it; each mark raises that series' thresholds (DetectorSettings.raised).
    """
    if entry is None:
        return {}
    if not isinstance(entry, Mapping) or not all(
        isinstance(count, int) and not isinstance(count, bool) and count >= 0 for count in entry.values()
    ):
        raise ValueError(f"{where}: anomaly {FALSE_POSITIVES} maps a service to a count of marked alerts (got {entry})")
    return {str(service): count for service, count in entry.items() if count}


def _tag_rule(entry: Mapping[str, Any], source: str) -> TagRule:
    if entry.get("dimension") not in TAGGED or not entry.get("tag"):
        raise ValueError(f"{source}: tag rule {dict(entry)} needs 'tag' and a 'dimension' in {TAGGED}")
    values = {str(k): str(v) for k, v in (entry.get("values") or {}).items()}
    return TagRule(tag=str(entry["tag"]), dimension=str(entry["dimension"]), values=values)
