"""Progress bars for long-running commands (count, rate, ETA), quiet when not wanted."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Units per second of a task (bytes/s while reading, rows/s while producing)."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:>10,.0f}/s", style="cyan")


def replay_progress(enabled: bool = True) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        disable=not enabled,
    )
