"""Enrichment as Flink SQL: accounts.yaml compiled into expressions the job evaluates natively.

``AccountDirectory.context`` is the definition (tag rules win over the account's defaults,
which win over the directory's defaults; later rules win over earlier ones, the account's own
rules over the directory's). The cost job needs the same answer for every event at native speed,
so the directory is compiled, once, into CASE/COALESCE expressions over the event's account id
and tag map; the parity test runs them in Flink against ``context`` itself.

An account changed through the API while the job runs has its new entry on the settings topic;
every event is looked up there first (``with_settings_sql``: a lookup join on the job's own
connector, jobs/java AccountSettingsLookup), and an account found there is enriched from that
entry by the same precedence instead of its compiled accounts.yaml entry.
"""

from __future__ import annotations

from collections.abc import Callable

from jobs.sql import literal
from pipelines.enrichment import TAGGED, AccountDirectory, TagRule

SETTINGS = "settings_"  # prefix of the looked-up settings' columns beside an event's own
SETTINGS_COLUMNS = {
    "version": "BIGINT",
    "entry": "STRING",  # the account's entry as JSON, for the Python functions
    "account_name": "STRING",
    **dict.fromkeys(TAGGED, "STRING"),
    **{f"{dim}_tag": "STRING" for dim in TAGGED},
    **{f"{dim}_values": "MAP<STRING, STRING>" for dim in TAGGED},
}


PYTHON_SETTINGS = ("version", "entry")  # what the Python functions read (pipelines/account_settings.py)


def settings_table_columns() -> str:
    """The columns of the ``account_settings`` lookup table, as its DDL declares them."""
    columns = [f"{name} {kind}" for name, kind in SETTINGS_COLUMNS.items()]
    return ", ".join(["account_id STRING", *columns, "PRIMARY KEY (account_id) NOT ENFORCED"])


def with_settings_sql(
    view: str, columns: tuple[str, ...] | None = None, settings: tuple[str, ...] = tuple(SETTINGS_COLUMNS)
) -> str:
    """Every row of ``view`` with its account's current settings (null when it has none) as ``settings_*``.

    ``columns`` picks the view's columns (all by default), ``settings`` the looked-up ones. The
    view's ``proc_time`` is a processing-time attribute: the settings are those that stand when
    the row is processed.
    """
    own = ", ".join(f"v.{c}" for c in columns) if columns else "v.*"
    looked_up = ", ".join(f"s.{name} AS {SETTINGS}{name}" for name in settings)
    return (
        f"SELECT {own}, {looked_up} FROM {view} AS v "
        "LEFT JOIN account_settings FOR SYSTEM_TIME AS OF v.proc_time AS s ON v.account_id = s.account_id"
    )


def account_name_sql(directory: AccountDirectory, account: str) -> str:
    names = [(a.account_id, literal(a.name)) for a in directory.accounts.values() if a.name != a.account_id]
    compiled = _lookup(account, names, account)
    return f"CASE WHEN {SETTINGS}version IS NULL THEN {compiled} ELSE COALESCE({SETTINGS}account_name, {account}) END"


def dimension_sql(directory: AccountDirectory, dimension: str, account: str, tags: str) -> str:
    accounts = directory.accounts.values()
    shared = [_tag_rule_sql(rule, tags) for rule in reversed(directory.tag_rules) if rule.dimension == dimension]
    default = literal(directory.defaults[dimension])
    own_rules = [
        (a.account_id, _tag_rule_sql(r, tags)) for a in accounts for r in a.tag_rules if r.dimension == dimension
    ]
    own_values = [(a.account_id, literal(a.dimensions[dimension])) for a in accounts if dimension in a.dimensions]
    compiled = _coalesce(
        [_lookup(account, own_rules, "NULL")] if own_rules else [], shared, _lookup(account, own_values, default)
    )
    tag, values = f"{SETTINGS}{dimension}_tag", f"{SETTINGS}{dimension}_values"
    changed = _coalesce(
        [_rule_sql(f"{tags}[{tag}]", lambda value: f"COALESCE({values}[{value}], {value})")],
        shared,
        f"COALESCE({SETTINGS}{dimension}, {default})",
    )
    return f"CASE WHEN {SETTINGS}version IS NULL THEN {compiled} ELSE {changed} END"


def context_sql(directory: AccountDirectory, account: str, tags: str) -> str:
    """SELECT-list items ``account_name, cost_center, project, environment, team, customer, feature``.

    The event's row must carry its looked-up settings (``with_settings_sql``).
    """
    items = [f"{account_name_sql(directory, account)} AS account_name"]
    items += [f"{dimension_sql(directory, dim, account, tags)} AS {dim}" for dim in TAGGED]
    return ", ".join(items)


def _coalesce(first: list[str], rules: list[str], otherwise: str) -> str:
    return f"COALESCE({', '.join([*first, *rules, otherwise])})" if first or rules else otherwise


def _lookup(key: str, pairs: list[tuple[str, str]], otherwise: str) -> str:
    """``key``'s expression among ``pairs`` (key literal, SQL expression), else ``otherwise``."""
    if not pairs:
        return otherwise
    branches = " ".join(f"WHEN {literal(k)} THEN {v}" for k, v in pairs)
    return f"CASE {key} {branches} ELSE {otherwise} END"


def _tag_rule_sql(rule: TagRule, tags: str) -> str:
    """The tag's value without surrounding spaces, mapped through the rule's values; NULL when empty."""
    pairs = [(k, literal(v)) for k, v in rule.values.items()]
    return _rule_sql(f"{tags}[{literal(rule.tag)}]", lambda value: _lookup(value, pairs, value))


def _rule_sql(tag_value: str, mapped: Callable[[str], str]) -> str:
    """NULL for a missing or blank tag, else ``mapped`` of its trimmed value."""
    value = f"TRIM({tag_value})"
    return f"CASE {value} WHEN '' THEN NULL ELSE {mapped(value)} END"
