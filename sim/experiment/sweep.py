"""Running a sweep: the tasks not yet done, on an executor, into the sweep folder.

:func:`run_sweep` skips tasks whose results folder is complete (resume),
records a failed task and carries on, and writes ``sweep.parquet`` and
``summary.parquet`` at the end, also when interrupted (the tasks not run are
``pending``), and for a designed sweep ``sensitivity.parquet``. With precision
targets it adds replications to every variant, round by round, until each
target figure's 95% half-width is under its target in every variant, or a
maximum is reached. With a store, workers write the task folders there (see
:mod:`sim.experiment.store`) and ``folder`` gets the tables.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import attrs
import pyarrow as pa

from sim.experiment.catalogue import PLAN_FILE, Catalogue
from sim.experiment.executors import Executor, InProcessExecutor, Runner
from sim.experiment.figures import figure_names
from sim.experiment.plan import Plan, PlanError
from sim.experiment.progress import SweepProgress
from sim.experiment.stats import replications_for
from sim.experiment.store import Store
from sim.experiment.summary import figure_intervals, summarise_sweep
from sim.experiment.sweep_record import result_tables, stamp_plan, task_invocation
from sim.experiment.task import FAILED, OK, TaskKey, TaskOutcome, TaskSpec, describe, run_task
from sim.experiment.taskfiles import KEEP_ALL
from sim.run.provenance import scenario_file, utc_now

__all__ = ["Precision", "SweepResult", "run_sweep"]


@attrs.frozen
class Precision:
    """A target: the 95% half-width of ``figure`` at most ``half_width`` in every variant.

    A proportion's interval is asymmetric; its half-width is half its length.
    """

    figure: str
    half_width: float

    @classmethod
    def parse(cls, text: str) -> Precision:
        """Read ``FIGURE=HALFWIDTH`` (the argument of ``--precision``)."""
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep:
            raise PlanError(f"--precision: expected FIGURE=HALFWIDTH, got {text!r}")
        if name not in figure_names():
            known = ", ".join(figure_names())
            raise PlanError(f"--precision: unknown figure {name!r} (known: {known})")
        try:
            half_width = float(value)
        except ValueError:
            raise PlanError(f"--precision {name}: expected a number, got {value!r}") from None
        if not half_width > 0:
            raise PlanError(f"--precision {name}: must be > 0, got {value}")
        return cls(name, half_width)


@attrs.frozen
class SweepResult:
    """What a sweep left in its folder, and what this session did."""

    folder: Path
    tasks: pa.Table
    summary: pa.Table
    replications: int
    ran: int
    """Tasks run in this session (finished or failed)."""
    skipped: int
    """Tasks found finished in the folder and not run again."""
    failed: int
    """Tasks that failed in this session."""
    precision_met: bool | None = None
    """Whether every precision target was reached (None without targets)."""
    wall_time_s: float = 0.0


def run_sweep(
    plan: Plan,
    folder: str | Path,
    replications: int,
    executor: Executor | None = None,
    precision: Sequence[Precision] = (),
    max_replications: int = 100,
    runner: Runner = run_task,
    progress: SweepProgress | None = None,
    store: str | Path | None = None,
    keep: str = KEEP_ALL,
) -> SweepResult:
    """Run ``replications`` of every variant of ``plan`` into ``folder``; resume if begun.

    Args:
        plan: The variants.
        folder: The sweep folder (created, or resumed when it holds this plan).
        replications: Replications per variant (the first round, with precision).
        executor: Where tasks run; default: one after another in this process.
        precision: Targets that add replications until met (up to ``max_replications``).
        max_replications: The most replications precision targets may ask for.
        runner: The function that runs one task (tests substitute a failing one).
        progress: A progress bar to drive.
        store: A folder every worker sees: they write the task folders there
            (``folder`` may be the store itself).
        keep: Which files each task folder keeps (``summary``, ``tables``, ``all``).

    Raises:
        SweepFolderError: ``folder`` holds another sweep.
    """
    if replications < 1:
        raise PlanError(f"--replications must be ≥ 1, got {replications}")
    started, started_utc = time.perf_counter(), utc_now()
    digest = scenario_file(plan.source)[1]
    shared = _open_store(store, plan, replications)
    catalogue = Catalogue.open(folder, plan, shared)
    executor = executor if executor is not None else InProcessExecutor()
    outcomes: dict[TaskKey, TaskOutcome] = {}
    n, ran, skipped, met = replications, 0, 0, None
    attempted: set[TaskKey] = set()
    tasks: pa.Table | None = None
    try:
        while True:
            keys = [TaskKey(v.index, r) for v in plan.variants for r in range(n)]
            todo = [k for k in keys if k not in attempted and not catalogue.is_done(k)]
            skipped += sum(1 for k in keys if k not in attempted and k not in todo)
            attempted.update(keys)
            if progress is not None:
                progress.start(len(keys), len(keys) - len(todo))
            specs = [TaskSpec(k, plan.task_scenario(k), keep, str(shared or ""),
                              task_invocation(plan, k, digest)) for k in todo]  # fmt: skip
            for outcome in executor.run(runner, specs):
                ran += 1
                if outcome.status == OK:
                    try:
                        catalogue.store(outcome)
                    except OSError as exc:  # the task ran; its folder could not be written
                        error = f"storing its results: {describe(exc)}"
                        outcome = attrs.evolve(outcome, status=FAILED, error=error)
                outcomes[outcome.key] = attrs.evolve(outcome, files={})
                if progress is not None:
                    progress.advance(outcome.status == OK)
            tasks = catalogue.tasks_table(n, outcomes)
            if not precision:
                break
            needs = [_needs(tasks, plan, p, max_replications) for p in precision]
            met = all(ok for ok, _ in needs)
            wanted = max(w for _, w in needs)
            if met or wanted <= n:  # met, at the maximum, or no value to estimate from
                break
            n = wanted
    finally:
        if tasks is None or tasks.num_rows != len(plan.variants) * n:
            tasks = catalogue.tasks_table(n, outcomes)
        summary = summarise_sweep(tasks, plan)
        catalogue.write_tables(tasks, summary)
        catalogue.write_plan(n)
        _open_store(store, plan, n)
        tables = result_tables(catalogue.root, tasks, plan)
        stamp_plan(catalogue.root, PLAN_FILE, plan, n, started_utc, tables, shared)
    failed = sum(1 for o in outcomes.values() if o.status == FAILED)
    wall = time.perf_counter() - started
    return SweepResult(Path(folder), tasks, summary, n, ran, skipped, failed, met, wall)


def _open_store(store: str | Path | None, plan: Plan, replications: int) -> Path | None:
    """The store's absolute path (the same for every worker), described for ``collect``."""
    if store is None:
        return None
    return Store.open(store, plan, replications).root.resolve()


def _needs(tasks: pa.Table, plan: Plan, target: Precision, most: int) -> tuple[bool, int]:
    """Whether a precision target is met in every variant, and the replications wanted."""
    intervals = figure_intervals(tasks, target.figure, plan)
    met = all(i.half_width <= target.half_width for i in intervals)  # False for NaN
    return met, max(replications_for(i, target.half_width, most) for i in intervals)
