"""What every benchmark shares: the machine it ran on, and how results land in BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "BENCHMARKS.md"


def machine() -> str:
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown CPU",
    )
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} cores ({cpu}), {memory_gb:.0f} GB RAM, {system}"


def publish(title: str, table: Table, notes: list[str]) -> None:
    """Print the table and append it, with the machine and the exact command, to BENCHMARKS.md."""
    Console(width=200).print(table)
    command = "python -m " + shlex.join([f"bench.{Path(sys.argv[0]).stem}", *sys.argv[1:]])
    lines = [
        f"\n## {title} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n",
        f"Machine: {machine()}  ",
        f"Command: `{command}`\n",
        "| " + " | ".join(column.header for column in table.columns) + " |",
        "|" + "---|" * len(table.columns),
    ]
    rows = zip(*(column._cells for column in table.columns), strict=True)
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    lines += [""] + [f"- {note}" for note in notes]
    with BENCHMARKS.open("a") as out:
        out.write("\n".join(lines) + "\n")


def keep_pace(started: float, sent: int, rate: float) -> None:
    """Sleep until ``sent`` records are due at ``rate`` per second since ``started`` (perf_counter).

    A load generator that sleeps per record cannot reach thousands a second; this one sleeps
    only when it is more than 5 ms ahead.
    """
    ahead = sent / rate - (time.perf_counter() - started)
    if ahead > 0.005:
        time.sleep(ahead)
