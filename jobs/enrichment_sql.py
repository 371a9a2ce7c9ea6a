"""Enrichment as Flink SQL: accounts.yaml compiled into expressions the job evaluates natively.

``AccountDirectory.context`` is the definition (tag rules win over the account's defaults,
which win over the directory's defaults; later rules win over earlier ones). The cost job
needs the same answer for every event at native speed, so the directory is compiled, once,
into CASE/COALESCE expressions over the event's account id and tag map; the parity test runs
them in Flink against ``context`` itself.
"""

from __future__ import annotations

from jobs.sql import literal
from pipelines.enrichment import DIMENSIONS, AccountDirectory, TagRule


def account_name_sql(directory: AccountDirectory, account: str) -> str:
    names = [(a.account_id, a.name) for a in directory.accounts.values() if a.name != a.account_id]
    return _lookup(account, names, account)


def dimension_sql(directory: AccountDirectory, dimension: str, account: str, tags: str) -> str:
    accounts = directory.accounts.values()
    defaults = [(a.account_id, a.dimensions[dimension]) for a in accounts if dimension in a.dimensions]
    fallback = _lookup(account, defaults, literal(directory.defaults[dimension]))
    rules = [_tag_rule_sql(rule, tags) for rule in reversed(directory.tag_rules) if rule.dimension == dimension]
    return f"COALESCE({', '.join([*rules, fallback])})" if rules else fallback


def context_sql(directory: AccountDirectory, account: str, tags: str) -> str:
    """SELECT-list items ``account_name, cost_center, project, environment, team`` for one event."""
    items = [f"{account_name_sql(directory, account)} AS account_name"]
    items += [f"{dimension_sql(directory, dim, account, tags)} AS {dim}" for dim in DIMENSIONS]
    return ", ".join(items)


def _lookup(key: str, pairs: list[tuple[str, str]], otherwise: str) -> str:
    if not pairs:
        return otherwise
    branches = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in pairs)
    return f"CASE {key} {branches} ELSE {otherwise} END"


def _tag_rule_sql(rule: TagRule, tags: str) -> str:
    """The tag's value without surrounding spaces, mapped through the rule's values; NULL when empty."""
    value = f"TRIM({tags}[{literal(rule.tag)}])"
    mapped = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in rule.values.items())
    return f"CASE {value} WHEN '' THEN NULL {mapped} ELSE {value} END"
