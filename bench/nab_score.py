"""The anomaly detector on NAB's realAWSCloudwatch series, scored with NAB's standard profile.

    python -m bench.nab_score [--nab DIR]   (default: the copy in bench/data/nab)

NAB (numenta/NAB, MIT) labels anomaly windows in 17 AWS CloudWatch series (5-minute samples).
The detector (pipelines/anomaly.py) runs on each series as it does on hourly cost, with the
dollar threshold off (these are not dollars); a detection is the first anomalous sample of an
episode (an episode ends after an hour of normal samples). Scoring follows NAB: detections in the
first 15% of a file are ignored (probation); in a window, the earliest detection scores
A_tp·σ(position) (1 at the window's start, 0 at its end); outside, A_fp·σ(distance after the
previous window) (−A_fp before any window); a missed window scores −A_fn; standard profile
A_tp = 1, A_fp = 0.11, A_fn = 1; normalized so a detector that never fires scores 0 and a perfect
one 100. The detector only looks for increases (cost going up), so NAB's drop anomalies are
misses by design.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from bench.report import ROOT, publish
from pipelines.anomaly import DetectorSettings, HourlyCostDetector

A_TP, A_FP, A_FN = 1.0, 0.11, 1.0
PROBATION = 0.15
EPISODE_END_SAMPLES = 12  # an hour of 5-minute samples


def scaled_sigmoid(position: float) -> float:
    """NAB's scoring curve: ~1 at a window's start (−1), 0 at its end, towards −1 well after it."""
    return -1.0 if position > 3.0 else 2 / (1 + math.exp(5 * position)) - 1


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.split(".")[0]).replace(tzinfo=UTC)


def detections(times: list[datetime], values: list[float], settings: DetectorSettings) -> list[int]:
    """Indices where an episode opens."""
    detector, found, normal_run, in_episode = HourlyCostDetector(settings), [], 0, False
    for index, (moment, value) in enumerate(zip(times, values, strict=True)):
        ms = int(moment.timestamp() * 1000)
        score = detector.score_one(ms, value)
        detector.learn_one(ms, value, scored=score)
        if score.anomalous:
            normal_run = 0
            if not in_episode:
                found.append(index)
                in_episode = True
        else:
            normal_run += 1
            if normal_run >= EPISODE_END_SAMPLES:
                in_episode = False
    return found


def score_file(n_rows: int, windows: list[tuple[int, int]], found: list[int]) -> tuple[float, int, int]:
    """(NAB score, windows detected, false positives) of one file."""
    probation = int(PROBATION * n_rows)
    best: dict[int, float] = {}
    score, false_positives = 0.0, 0
    for index in (i for i in found if i >= probation):
        inside = next((w for w, (left, right) in enumerate(windows) if left <= index <= right), None)
        if inside is not None:
            left, right = windows[inside]
            position = -(right - index + 1) / (right - left + 1)
            best[inside] = max(best.get(inside, -1.0), A_TP * scaled_sigmoid(position))
            continue
        false_positives += 1
        previous = [w for w in windows if w[1] < index]
        if previous:
            left, right = previous[-1]
            score += A_FP * scaled_sigmoid(abs(right - index) / max(right - left, 1))
        else:
            score -= A_FP
    score += sum(best.values()) - A_FN * (len(windows) - len(best))
    return score, len(best), false_positives


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", type=Path, default=ROOT / "bench" / "data" / "nab", help="a NAB checkout")
    parser.add_argument("--relative-threshold", type=float, default=0.2)
    args = parser.parse_args()
    data = args.nab / "data" / "realAWSCloudwatch"
    if not data.is_dir():
        raise SystemExit(f"{data} not found: pass --nab DIR (a checkout of numenta/NAB with data/ and labels/)")
    all_windows = json.loads((args.nab / "labels" / "combined_windows.json").read_text())
    settings = DetectorSettings(relative_threshold=args.relative_threshold, dollar_threshold=0.0, warmup_days=1)
    table = Table("series", "rows", "windows", "detected", "false positives", "score")
    total = null = perfect = 0.0
    for path in sorted(data.glob("*.csv")):
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
        times, values = [parse(r["timestamp"]) for r in rows], [float(r["value"]) for r in rows]
        index = {moment: i for i, moment in enumerate(times)}
        windows = [(index[parse(a)], index[parse(b)]) for a, b in all_windows[f"realAWSCloudwatch/{path.name}"]]
        score, detected, false_positives = score_file(len(rows), windows, detections(times, values, settings))
        total, null = total + score, null - A_FN * len(windows)
        perfect += A_TP * scaled_sigmoid(-1.0) * len(windows)
        table.add_row(path.stem, str(len(rows)), str(len(windows)), str(detected), str(false_positives), f"{score:.2f}")
    normalized = 100 * (total - null) / (perfect - null)
    table.add_row("all 17 series", "", "", "", "", f"normalized {normalized:.1f}")
    publish(
        "NAB realAWSCloudwatch, standard profile",
        table,
        [
            f"Normalized NAB score (standard profile) over the 17 realAWSCloudwatch series: "
            f"{normalized:.1f} (0 = never fires, 100 = perfect).",
            "For reference, the NAB README's scoreboard reports standard-profile scores over the 58-series corpus "
            "(not this subset), e.g. Numenta HTM about 70, random detections about 11; the numbers are not directly "
            "comparable, and this detector looks only for increases, by design for cost.",
        ],
    )


if __name__ == "__main__":
    main()
