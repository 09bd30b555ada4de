"""One task of a sweep: run one (variant, replication) and hand back its results folder.

A task is a pure function of its scenario (which carries the seed): it runs in
a scratch folder wherever an executor puts it (a local process, a Dask worker
on another machine) and returns the folder's files as bytes, so only the
process that owns the sweep folder writes to it, and no shared file system is
needed. With a store (a folder every worker sees) the worker writes the task
folder there itself and hands back only the task's row of ``sweep.parquet``.
An exception inside the run is caught and returned as a failed outcome with
its error text; the sweep records it and carries on.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
import traceback
from pathlib import Path

import attrs

from sim.experiment.figures import task_row
from sim.experiment.taskfiles import KEEP_ALL, TASKS, kept, task_name, write_task_folder
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
        """``variant=v000/replication=000``: the task's folder below ``tasks/``."""
        return task_name(self.variant, self.replication)


@attrs.frozen
class TaskSpec:
    """Everything a worker needs to run a task."""

    key: TaskKey
    scenario: Scenario
    keep: str = KEEP_ALL
    """Which files the task folder keeps (``--keep``)."""
    store: str = ""
    """The store the worker writes the task folder into; empty: hand the files back."""
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
    row: dict[str, float] | None = None
    """The task's figures, when its worker wrote the folder into a store (files empty)."""


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
            files = kept({p.name: p.read_bytes() for p in sorted(out.iterdir())}, spec.keep)
        row = _store(spec, files) if spec.store else None
    except Exception as exc:  # a failed task is data, not a crash of the sweep
        wall = time.perf_counter() - started
        return TaskOutcome(spec.key, FAILED, describe(exc), wall_time_s=wall, host=host)
    wall = time.perf_counter() - started
    if row is not None:
        return TaskOutcome(spec.key, OK, "", {}, wall, host, row)
    return TaskOutcome(spec.key, OK, "", files, wall, host)


def _store(spec: TaskSpec, files: dict[str, bytes]) -> dict[str, float]:
    """Write the task folder into the store (unless there already) and read its row back."""
    folder = Path(spec.store) / TASKS / spec.key.name
    write_task_folder(folder, files)
    return task_row(folder)


def describe(exc: BaseException) -> str:
    """``Type: message (file:line in function)`` of an exception's innermost frame."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" ({Path(last.filename).name}:{last.lineno} in {last.name})"
    return text
