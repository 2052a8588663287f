"""One look for every counted progress bar (utterances, sentences, files) in the commands."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def count_progress(*, stderr: bool = False, transient: bool = False) -> Progress:
    """Description, bar, done/total, elapsed, remaining; ``stderr`` keeps stdout for results;
    a ``transient`` bar is erased when it stops (and never printed where stderr is no terminal)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True) if stderr else None,
        transient=transient,
    )
