"""The progress bar of a sweep: tasks done out of the total, failures, elapsed time, ETA.

It goes to stderr and only when stderr is a terminal, like a single run's bar
(:mod:`sim.cli.console`); tasks finished in an earlier session count as done from
the start but not towards the speed behind the ETA.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["SweepProgress"]


class SweepProgress:
    """A bar over the tasks of a sweep (a no-op when the stream is not a terminal)."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._progress: Progress | None = None
        self._task: Any = None
        self._failed = 0

    def start(self, total: int, done: int) -> None:
        """Show ``done`` of ``total`` tasks (a new round replaces the previous bar)."""
        if not self.enabled:
            return
        if self._progress is None:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("tasks · {task.fields[failed]} failed ·"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._progress.start()
        else:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(
            self.label, total=total, completed=done, failed=self._failed
        )

    def advance(self, ok: bool) -> None:
        """One more task has finished (``ok`` False: it failed)."""
        if self._progress is None:
            return
        self._failed += 0 if ok else 1
        self._progress.update(self._task, advance=1, failed=self._failed)

    def close(self) -> None:
        """Remove the bar from the terminal."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
