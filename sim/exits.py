"""The program's exit statuses, shared by the CLI and the experiment commands it runs.

They sit below both so that :mod:`sim.experiment.commands` can return them without
importing :mod:`sim.cli.main`, which dispatches to it.
"""

from __future__ import annotations

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_NOT_MET", "EXIT_OK"]

EXIT_OK = 0
EXIT_FAILED = 1
"""A run, a check or a task failed."""
EXIT_BAD_INPUT = 2
"""Bad input, or a run too large for its limits: nothing ran."""
EXIT_NOT_MET = 3
"""Everything ran but the goal was not met (``--precision``, a ``capacity`` target)."""
EXIT_INTERRUPTED = 130
"""Ended by Ctrl-C or SIGTERM."""
