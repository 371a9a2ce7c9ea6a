"""People's verdicts on anomaly alerts, turned into the thresholds of the series they judged.

A false-positive mark on an anomaly alert says this much excess on this account × service is
normal, so that series' thresholds rise (``DetectorSettings.raised``) and its next alert says so;
an anomaly counts once, however many of its episode's alerts are marked. The marks stand in the
account's settings (``anomaly.false_positives``: service → count), written as a settings change:
the path by which the running job takes changed thresholds without a restart, that keeps who
changed what, and that ``backtest`` replays through the account's entry. Each count is recounted
from every standing label of the account, so marking an alert twice or taking a mark back
(``--confirmed``) leaves it right.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from connectors.alert_labels import alert_labels, mark_alert
from pipelines.account_settings import ALERT_THRESHOLDS
from pipelines.enrichment import FALSE_POSITIVES
from spendstream.api.settings import SettingsStore
from spendstream.config import Config


def false_positives(labels: Iterable[dict], account_id: str) -> dict[str, int]:
    """Per service of the account, its anomalies whose standing verdict is false positive.

    An anomaly is one episode: its open, update and close alerts judged twice still count once,
    and the verdict marked last on any of them stands for it. A label from before episodes were
    recorded counts as an episode of its own.
    """
    standing: dict[tuple[str, str], dict] = {}
    for label in labels:
        if label["account_id"] != account_id or label["kind"] != "anomaly":
            continue
        episode = (label["service"], label.get("episode_id") or label["alert_id"])
        if episode not in standing or label["marked_at_ms"] >= standing[episode]["marked_at_ms"]:
            standing[episode] = label
    counts = Counter(service for (service, _), label in standing.items() if label["verdict"] == "false_positive")
    return dict(sorted(counts.items()))


def mark(config: Config, alert_id: str, verdict: str, note: str = "") -> tuple[dict, dict[str, int] | None]:
    """``spendstream alerts mark``: the label as written, and the account's false positives if they changed."""
    label = mark_alert(config, alert_id, verdict, note)
    return label, apply_label(config, label, changed_by=f"alerts mark {label['alert_id'][:12]}")


def apply_label(config: Config, label: dict, changed_by: str) -> dict[str, int] | None:
    """Recount the account's false positives after ``label``; write them if they changed.

    Returns the counts written (service → marks), or None when nothing changed (an alert other
    than an anomaly, or a verdict that leaves the counts as they stand).
    """
    if label["kind"] != "anomaly":
        return None
    account = label["account_id"]
    labels = {**alert_labels(config), label["alert_id"]: label}  # the label just written, however the read lags
    counts = false_positives(labels.values(), account)
    store = SettingsStore(config)
    if store.standing(account).account.false_positives == counts:
        return None
    store.change(account, ALERT_THRESHOLDS, {"anomaly": {FALSE_POSITIVES: counts or None}}, changed_by)
    return counts
