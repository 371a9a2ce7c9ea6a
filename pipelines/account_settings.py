"""An account's settings as people change them while the job runs, and what one change makes of them.

Each of the API's two mutations owns part of an account's entry (accounts.yaml's shape): the
business mapping (name, dimensions, the account's own tag rules) and the alert thresholds
(budgets, anomaly thresholds). A change starts from the entry that stands (accounts.yaml's until
the account's first change), replaces what it names, and is validated exactly as accounts.yaml
is: a bad change is refused before it reaches the settings topic, so the job never sees one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from pipelines.enrichment import TAGGED, AccountDirectory

log = logging.getLogger(__name__)

BUSINESS_MAPPING = "business_mapping"
ALERT_THRESHOLDS = "alert_thresholds"
PARTS = {BUSINESS_MAPPING: ("name", *TAGGED, "tag_rules", "allocation"), ALERT_THRESHOLDS: ("budgets", "anomaly")}
MERGED = ("budgets", "anomaly")  # changed key by key (one budget period, one threshold)


def changed_entry(account_id: str, before: Mapping[str, Any], change: str, values: Mapping[str, Any]) -> dict:
    """The entry after ``values`` replace their part of ``before``; None removes a setting.

    Budgets and anomaly thresholds are merged key by key (setting the daily budget keeps the
    monthly one, one service's budgets keep the others'); names, dimensions and the list of tag
    rules are replaced.
    Raises ValueError, naming the setting at fault, for anything accounts.yaml would refuse.
    """
    allowed = PARTS.get(change)
    if allowed is None:
        raise ValueError(f"unknown change {change!r}: expected {' or '.join(PARTS)}")
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValueError(f"{change} cannot set {', '.join(unknown)}; it sets {', '.join(allowed)}")
    after = dict(before)
    for key, value in values.items():
        if key in MERGED and value is not None:
            value = _merged(after.get(key) or {}, value)
        if value is None:
            after.pop(key, None)
        else:
            after[key] = value
    for key in ("name", *TAGGED):
        if key in after and (not isinstance(after[key], str) or not after[key].strip()):
            raise ValueError(f"{key} must be a non-empty string (got {after[key]!r})")
    AccountDirectory({}, (), {}).with_entry(account_id, after, source="change")
    return after


def _merged(before: Mapping[str, Any], change: Mapping[str, Any], deeper: str | None = "services") -> dict | None:
    """Key by key, None removing one; ``services`` (per-service budgets) service by service, then by period."""
    merged = dict(before)
    for key, value in change.items():
        if key == deeper and value is not None:
            value = {
                service: None if periods is None else _merged((before.get(key) or {}).get(service) or {}, periods, None)
                for service, periods in value.items()
            }
            value = _merged(before.get(key) or {}, value, None)
        merged[key] = value
    return {k: v for k, v in merged.items() if v is not None} or None


def entry_json(entry: Mapping[str, Any]) -> str:
    """An entry as the settings topic carries it: compact JSON, keys sorted (equal entries, equal text)."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str)


class ChangedAccounts:
    """The job's accounts.yaml directory, with the entry of each account changed since.

    Rows reach the job's Python functions with their account's settings as they stood when the
    row was processed (version and entry; none for an account never changed), so a threshold
    changed through the API applies to the next hour judged, with no restart.
    """

    def __init__(self, directory: AccountDirectory) -> None:
        self.base = directory
        self._latest: dict[str, tuple[int, AccountDirectory]] = {}

    def directory(self, account_id: str, version: int | None, entry: str | None) -> AccountDirectory:
        if version is None or entry is None:
            return self.base
        known = self._latest.get(account_id)
        if known is None or known[0] != version:
            try:
                changed = self.base.with_entry(account_id, json.loads(entry), source=f"settings version {version}")
            except ValueError as error:  # the API validates every change; an older writer's may not read
                log.warning("account %s: settings version %s ignored: %s", account_id, version, error)
                changed = self.base
            known = self._latest[account_id] = (version, changed)
        return known[1]
