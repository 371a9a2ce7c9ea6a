"""Quality of the optimization engine on labelled fleets and demands it was not tuned on.

    python -m bench.optimizer_quality [--seeds 1 2 ...] [--held-out]

Rightsizing and idle: each seed's fleet (bench/optimizer_labelled.py) through ``advise`` →
precision and recall of idle / rightsize advice against the labels, and unsafe downsizes
(a rightsize of a bursty or memory-bound instance). Commitments: each seed's compute demand,
60 days of lookback (all of it, the default commitment lookback), advice as of day 60, then
realized on the 90 held-out days that follow: the engine's plan (trend-projected), the
look-back-only plan (the same optimum over the lookback repeated, which is what AWS's purchase
recommendations do) and the hindsight optimum (the best plan for the actual 90 days).

Targets (issue 12): precision ≥ 0.95, recall ≥ 0.9, zero unsafe downsizes; commitment savings
within 5% of the hindsight optimum, never negative, at least the look-back-only plan's on every
seed, utilization ≥ 95%. Development seeds 1–10 (1–40 for commitment changes); held-out 201–220,
scored once at the end (101–110 were scored on 2026-12-04 and looked at since).
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter

from rich.progress import Progress
from rich.table import Table

from bench.optimizer_labelled import START_MS, compute_demand, fleet
from bench.report import publish
from pipelines.optimize.catalog import load_catalog
from pipelines.optimize.commitments import apply_plan, demand_of, optimal_plan, size_commitments
from pipelines.optimize.engine import advise
from pipelines.optimize.settings import OptimizerSettings

DEV_SEEDS, HELD_OUT_SEEDS = list(range(1, 11)), list(range(201, 221))
DAY_MS, FLEET_DAYS, LOOKBACK_DAYS, HELD_OUT_DAYS = 86_400_000, 30, OptimizerSettings().commitment_lookback_days, 90
POOLS = (("m5.large", "us-east-1"), ("c6i.xlarge", "us-east-1"), ("m7g.large", "us-east-1"))


def rightsizing_scores(seed: int) -> dict:
    catalog = load_catalog()
    usage, labels = fleet(seed, catalog, FLEET_DAYS)
    advice = advise("111111111111", usage.histories(), START_MS + FLEET_DAYS * DAY_MS, catalog, OptimizerSettings())
    given = {f.history.resource_id: f.kind for f in advice.findings if f.actionable}
    truth = {item.resource_id: {"idle": "idle", "oversized": "rightsize"}.get(item.label) for item in labels}
    correct = sum(1 for resource, kind in given.items() if truth[resource] == kind)
    wanted = sum(1 for kind in truth.values() if kind)
    unsafe = sum(1 for i in labels if i.label in ("bursty", "memory_bound") and given.get(i.resource_id) == "rightsize")
    kinds = {f.history.resource_id: f.kind for f in advice.findings}
    missed = Counter(kinds[r] for r, kind in truth.items() if kind and given.get(r) != kind)
    return {
        "precision": correct / len(given) if given else 1.0,
        "recall": correct / wanted if wanted else 1.0,
        "unsafe": unsafe,
        "counts": (correct, len(given), wanted),
        "missed": missed,  # what the engine said instead, per missed idle/rightsize
    }


def commitment_scores(seed: int) -> dict:
    catalog = load_catalog()
    drawn = compute_demand(seed, len(POOLS), 60 + HELD_OUT_DAYS)
    rates = [float(catalog.rate(t, r)) for t, r in POOLS]
    split = 60 * 24
    lookback = demand_of(
        catalog, list(POOLS), rates, drawn.hours[:, split - LOOKBACK_DAYS * 24 : split], 1, "no_upfront"
    )
    actual = lookback.scaled(drawn.hours[:, split:])
    floor = OptimizerSettings().min_utilization
    plans = {
        "engine": size_commitments(lookback, HELD_OUT_DAYS, floor).plan,
        "look-back only": size_commitments(lookback, HELD_OUT_DAYS, floor, trend=False).plan,
        "hindsight": optimal_plan(actual, max_columns=None),  # exact, at AWS-style 95% on what happened
    }
    outcomes = {name: apply_plan(actual, plan) for name, plan in plans.items()}
    best = outcomes["hindsight"].savings
    return {
        "trend": f"{drawn.trend} {drawn.weekly_growth:+.1%}/wk",
        "engine_vs_hindsight": outcomes["engine"].savings / best,
        "lookback_vs_hindsight": outcomes["look-back only"].savings / best,
        "engine_utilization": outcomes["engine"].utilization(),
        "lookback_utilization": outcomes["look-back only"].utilization(),
        "engine_savings": outcomes["engine"].savings,
        "lookback_savings": outcomes["look-back only"].savings,
    }


def worst_decile(values: list[float], low_is_bad: bool = True) -> float:
    ordered = sorted(values, reverse=not low_is_bad)
    return ordered[max(0, int(len(ordered) * 0.1 + 0.5) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the 10 development seeds")
    parser.add_argument("--held-out", action="store_true", help="score the held-out seeds 201–220 (once, at the end)")
    args = parser.parse_args()
    seeds = args.seeds or (HELD_OUT_SEEDS if args.held_out else DEV_SEEDS)
    rows = []
    with Progress() as progress:
        task = progress.add_task("seeds", total=len(seeds))
        for seed in seeds:
            rows.append((seed, rightsizing_scores(seed), commitment_scores(seed)))
            progress.advance(task)
    table = Table(title="Optimization engine quality")
    for column in (
        "seed", "precision", "recall", "unsafe downsizes", "demand", "engine ÷ hindsight", "look-back ÷ hindsight",
        "engine utilization", "look-back utilization",
    ):  # fmt: skip
        table.add_column(column)
    for seed, r, c in rows:
        table.add_row(
            str(seed), f"{r['precision']:.3f}", f"{r['recall']:.3f}", str(r["unsafe"]), c["trend"],
            f"{c['engine_vs_hindsight']:.3f}", f"{c['lookback_vs_hindsight']:.3f}",
            f"{c['engine_utilization']:.3f}", f"{c['lookback_utilization']:.3f}",
        )  # fmt: skip
    precision = [r["precision"] for _, r, _ in rows]
    recall = [r["recall"] for _, r, _ in rows]
    correct, given, wanted = (sum(r["counts"][i] for _, r, _ in rows) for i in range(3))
    missed = sum((r["missed"] for _, r, _ in rows), Counter())
    engine = [c["engine_vs_hindsight"] for _, _, c in rows]
    beats = sum(1 for _, _, c in rows if c["engine_savings"] >= c["lookback_savings"] - 1e-6)
    notes = [
        f"seeds {seeds[0]}–{seeds[-1]} ({'held out' if args.held_out else 'development'})",
        f"precision median {statistics.median(precision):.3f}, worst decile {worst_decile(precision):.3f}; "
        f"recall median {statistics.median(recall):.3f}, worst decile {worst_decile(recall):.3f}; "
        f"unsafe downsizes {sum(r['unsafe'] for _, r, _ in rows)}; pooled precision {correct}/{given}, recall "
        f"{correct}/{wanted}; missed advice was judged: "
        + (", ".join(f"{kind} {n}" for kind, n in missed.most_common()) or "none"),
        f"commitments: engine ÷ hindsight median {statistics.median(engine):.3f}, worst decile "
        f"{worst_decile(engine):.3f}; at least the look-back-only saving on {beats}/{len(rows)} seeds; "
        f"lowest realized utilization {min(c['engine_utilization'] for _, _, c in rows):.3f}",
    ]
    publish("Optimization engine quality (bench.optimizer_quality)", table, notes)


if __name__ == "__main__":
    main()
