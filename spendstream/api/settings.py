"""Account settings changed through the API: read what stands, change one part, keep the audit trail.

The settings that stand for an account are its latest change on the settings topic, or its
accounts.yaml entry before its first change (version 0). A change is validated before it is
written (pipelines/account_settings.py), so a refused change leaves the topic, and the job, as
they were. Changes of one API process are made one at a time, so versions never collide.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.account_settings import settings_changes, standing_changes, write_change
from pipelines.account_settings import changed_entry, entry_json
from pipelines.enrichment import Account, AccountDirectory, load_directory
from spendstream.api.read_model import BadRequest
from spendstream.config import Config


@dataclass(frozen=True)
class StandingSettings:
    """An account's settings as they stand, and which change made them (version 0: accounts.yaml)."""

    account: Account
    version: int
    changed_at_ms: int | None
    changed_by: str | None


class SettingsStore:
    """The settings topic as the API reads and changes it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._lock = threading.Lock()

    def directory(self) -> AccountDirectory:
        """accounts.yaml, read anew: its entries are what an account's first change starts from."""
        return load_directory(Path(self.config.accounts_file))

    def standing(self, account_id: str) -> StandingSettings:
        latest = standing_changes(self.config).get(account_id)
        return self._standing(account_id, latest)

    def history(self, account_id: str) -> list[dict]:
        return [change for change in settings_changes(self.config) if change["account_id"] == account_id]

    def change(self, account_id: str, change: str, values: dict[str, Any], changed_by: str) -> StandingSettings:
        """Validate and write one change; raises BadRequest (nothing written) when it is refused."""
        with self._lock:
            latest = standing_changes(self.config).get(account_id)
            before = json.loads(latest["after"]) if latest else self.directory().entry(account_id)
            try:
                after = changed_entry(account_id, before, change, values)
            except ValueError as refused:
                raise BadRequest(str(refused)) from None
            record = {
                "account_id": account_id,
                "version": (latest["version"] if latest else 0) + 1,
                "changed_at_ms": int(time.time() * 1000),
                "changed_by": changed_by,
                "change": change,
                "before": entry_json(before),
                "after": entry_json(after),
            }
            write_change(self.config, record)
            return self._standing(account_id, record)

    def _standing(self, account_id: str, latest: dict | None) -> StandingSettings:
        directory = self.directory()
        if latest is None:
            return StandingSettings(
                directory.with_entry(account_id, directory.entry(account_id)).accounts[account_id], 0, None, None
            )
        account = directory.with_entry(account_id, json.loads(latest["after"])).accounts[account_id]
        return StandingSettings(account, latest["version"], latest["changed_at_ms"], latest["changed_by"])
