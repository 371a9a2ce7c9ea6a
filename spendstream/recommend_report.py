"""``recommend``'s report.html: what to change, what it saves, and why, for people who will act on it.

Plain HTML (no scripts, no network): the totals per account, one row per live recommendation
(largest saving first) with a bar of the saving against the cost it comes from, the commitment
terms where there are any, and every examined instance's finding with its reason.
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from pipelines.optimize.engine import AccountAdvice

STYLE = (
    "body{font:14px sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".bar{background:#e5e7eb;width:160px;height:10px}.bar div{background:#2563eb;height:10px}"
)


def write_report(path: Path, advice: dict[str, AccountAdvice], catalog_date: str) -> None:
    sections = [account_section(account, item) for account, item in advice.items()]
    as_of = max((item.as_of_ms for item in advice.values()), default=0)
    when = datetime.fromtimestamp(as_of / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "".join(sections) or "<p>No EC2 instance usage in this export: nothing to recommend.</p>"
    path.write_text(
        f"<!doctype html><meta charset='utf-8'><title>spendstream recommendations</title><style>{STYLE}</style>"
        f"<h1>Recommendations</h1><p>As of {when}; instance catalog of {html.escape(catalog_date)}. "
        "Monthly = 730 hours. Savings never exceed the cost they come from.</p>" + body
    )


def account_section(account: str, advice: AccountAdvice) -> str:
    live = sorted(advice.live, key=lambda r: -r.potential_savings)
    total = sum((r.potential_savings for r in live), Decimal(0))
    rows = "".join(
        f"<tr><td>{html.escape(r.type.replace('_', ' '))}</td><td>{html.escape(r.resource_id or r.region)}</td>"
        f"<td>{html.escape(r.current_type)} → {html.escape(r.recommended_type or 'stop')}</td>"
        f"<td class=num>${r.current_monthly_cost}</td><td class=num>${r.potential_savings}</td>"
        f"<td class=num>${r.savings_p10}–${r.savings_p90}</td>"
        f"<td>{bar(r.potential_savings, r.current_monthly_cost)}</td>"
        f"<td>{html.escape(r.risk_level)}</td><td>{html.escape(r.description)}</td></tr>"
        for r in live
    )
    kinds = Counter(f.kind for f in advice.findings)
    findings = "".join(
        f"<tr><td>{html.escape(f.history.resource_id)}</td><td>{html.escape(f.history.instance_type)}</td>"
        f"<td>{html.escape(f.kind)}</td><td>{html.escape(f.reason)}</td></tr>"
        for f in advice.findings
    )
    summary = ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()) or "none"
    return (
        f"<h2>Account {html.escape(account)}: ${total}/month in {len(live)} recommendations</h2>"
        "<table><tr><th>kind</th><th>resource</th><th>change</th><th>monthly cost</th><th>saving</th>"
        f"<th>P10–P90</th><th></th><th>risk</th><th>why</th></tr>{rows}</table>"
        f"<h3>Instances examined: {summary}</h3>"
        f"<table><tr><th>resource</th><th>type</th><th>finding</th><th>why</th></tr>{findings}</table>"
    )


def bar(part: Decimal, whole: Decimal) -> str:
    share = float(part / whole) if whole else 0.0
    return f"<div class=bar><div style='width:{min(1.0, share) * 100:.0f}%'></div></div>"
