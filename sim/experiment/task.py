"""One task of a sweep: run one (variant, replication) and hand back its results folder.

A task is a pure function of its scenario (which carries the seed): it runs in
a scratch folder wherever an executor puts it (a local process, a Dask worker
on another machine) and returns the folder's files as bytes, so only the
process that owns the sweep folder writes to it, and no shared file system is
needed. An exception inside the run is caught and returned as a failed outcome
with its error text; the sweep records it and carries on.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
import traceback
from pathlib import Path

import attrs

from sim.outputs.folders import remove_stale
from sim.run.api import run_once
from sim.run.provenance import Invocation, invoked
from sim.scenario import Scenario

__all__ = ["FAILED", "OK", "TaskKey", "TaskOutcome", "TaskSpec", "run_task"]

OK = "ok"
FAILED = "failed"
PENDING = "pending"
"""Statuses of a task in ``sweep.parquet`` (pending: not run, the sweep was interrupted)."""


@attrs.frozen(order=True)
class TaskKey:
    """Which task: variant index and replication. Results are assembled in key order."""

    variant: int
    replication: int

    @property
    def name(self) -> str:
        """``v000/rep-000``: the task's folder below ``tasks/``."""
        return f"v{self.variant:03d}/rep-{self.replication:03d}"


@attrs.frozen
class TaskSpec:
    """Everything a worker needs to run a task."""

    key: TaskKey
    scenario: Scenario
    invocation: Invocation | None = None
    """What the task's manifest records as its command and redo command."""


@attrs.frozen
class TaskOutcome:
    """What a task hands back: its status, error text, result files and wall time."""

    key: TaskKey
    status: str
    error: str = ""
    files: dict[str, bytes] = attrs.Factory(dict)
    wall_time_s: float = 0.0
    host: str = ""


TASK_MARK = "sscard-task-"
"""Task scratch folders are ``sscard-task-<pid>-<random>`` in the temporary directory."""


def run_task(spec: TaskSpec) -> TaskOutcome:
    """Run one task in a scratch folder and return its files (or its error)."""
    started = time.perf_counter()
    host = platform.node()
    remove_stale(Path(tempfile.gettempdir()), TASK_MARK)  # of workers killed outright
    try:
        prefix = f"{TASK_MARK}{os.getpid()}-"
        with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
            out = Path(scratch) / "run"
            with invoked(spec.invocation):
                run_once(spec.scenario, out)
            files = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    except Exception as exc:  # a failed task is data, not a crash of the sweep
        wall = time.perf_counter() - started
        return TaskOutcome(spec.key, FAILED, describe(exc), wall_time_s=wall, host=host)
    return TaskOutcome(spec.key, OK, "", files, time.perf_counter() - started, host)


def describe(exc: BaseException) -> str:
    """``Type: message (file:line in function)`` of an exception's innermost frame."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" ({Path(last.filename).name}:{last.lineno} in {last.name})"
    return text
