"""Sweeps without a scheduler: one shard of the tasks per job, then ``collect``.

``sscard-sim sweep ... --store DIR --shard I/N`` runs the tasks shard I owns
(see :class:`~sim.experiment.store.Shard`) into the store, skipping those whose
folder is there already, and writes no table: N jobs of a job array (SLURM,
PBS) each run one. ``sscard-sim sweep collect DIR`` then checks that every
task is done and writes ``sweep.parquet`` and ``summary.parquet`` from the
task folders, exactly as a sweep on one machine would; if a task is missing it
names it and its shard, and writes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

import attrs

from sim.experiment.catalogue import PLAN_FILE, Catalogue
from sim.experiment.executors import Executor, InProcessExecutor, Runner
from sim.experiment.plan import Plan, PlanError
from sim.experiment.progress import SweepProgress
from sim.experiment.store import Shard, Store, StoreError, plan_keys, shard_keys
from sim.experiment.summary import summarise_sweep
from sim.experiment.sweep import SweepResult
from sim.experiment.sweep_record import result_tables, stamp_plan, task_invocation
from sim.experiment.task import OK, TaskSpec, describe, run_task
from sim.experiment.taskfiles import KEEP_ALL
from sim.run.provenance import scenario_file, utc_now

__all__ = ["ShardResult", "collect", "run_shard"]

SHOWN_MISSING = 20
"""How many missing tasks ``collect`` lists before it summarises the rest."""


@attrs.frozen
class ShardResult:
    """What one shard did: its tasks, those run now, found done, and failed."""

    shard: Shard
    tasks: int
    ran: int
    skipped: int
    failed: int
    wall_time_s: float


def run_shard(
    plan: Plan,
    store: str | Path,
    replications: int,
    shard: Shard,
    executor: Executor | None = None,
    keep: str = KEEP_ALL,
    runner: Runner = run_task,
    progress: SweepProgress | None = None,
) -> ShardResult:
    """Run the tasks of ``shard`` not yet done into ``store``; record the shard's end."""
    if replications < 1:
        raise PlanError(f"--replications must be ≥ 1, got {replications}")
    started = time.perf_counter()
    target = Store.open(store, plan, replications)
    root = target.root.resolve()
    catalogue = Catalogue(root, plan, root)
    keys = shard_keys(plan_keys(plan, replications), shard)
    todo = [k for k in keys if not catalogue.is_done(k)]
    if progress is not None:
        progress.start(len(keys), len(keys) - len(todo))
    executor = executor if executor is not None else InProcessExecutor()
    digest = scenario_file(plan.source)[1]
    specs = [TaskSpec(k, plan.task_scenario(k), keep, str(root), task_invocation(plan, k, digest))
             for k in todo]  # fmt: skip
    failed: dict[str, str] = {}
    ran = 0
    for outcome in executor.run(runner, specs):
        ran += 1
        if outcome.status == OK:
            try:
                catalogue.store(outcome)  # files from a runner that did not write them
            except OSError as exc:
                outcome = attrs.evolve(outcome, status="failed",
                                       error=f"storing its results: {describe(exc)}")  # fmt: skip
        if outcome.status != OK:
            failed[outcome.key.name] = outcome.error
        if progress is not None:
            progress.advance(outcome.status == OK)
    target.record_shard(shard, replications, ran, failed)
    wall = time.perf_counter() - started
    return ShardResult(shard, len(keys), ran, len(keys) - len(todo), len(failed), wall)


def collect(store: str | Path, out: str | Path | None = None) -> SweepResult:
    """Write the sweep folder (default: the store itself) once every task is in the store.

    Raises:
        StoreError: ``store`` is not a store, or some tasks are not done (each is
            named, with its shard); nothing is written then.
    """
    started, started_utc = time.perf_counter(), utc_now()
    target, replications = Store.read(store)
    missing = target.missing(replications)
    total = len(target.plan.variants) * replications
    if missing:
        shown = "\n  ".join(missing[:SHOWN_MISSING])
        more = len(missing) - SHOWN_MISSING
        tail = f"\n  … and {more} more" if more > 0 else ""
        raise StoreError(
            f"store {target.root}: {len(missing)} of {total} task(s) not done, nothing "
            f"written; run their shards again, then collect:\n  {shown}{tail}"
        )
    folder = Path(out) if out is not None else target.root
    catalogue = Catalogue.open(folder, target.plan, target.root)
    tasks = catalogue.tasks_table(replications)
    summary = summarise_sweep(tasks, target.plan)
    catalogue.write_tables(tasks, summary)
    catalogue.write_plan(replications)
    tables = result_tables(catalogue.root, tasks, target.plan)
    stamp_plan(catalogue.root, PLAN_FILE, target.plan, replications, started_utc, tables,
               target.root)  # fmt: skip
    wall = time.perf_counter() - started
    return SweepResult(folder, tasks, summary, replications, 0, total, 0, None, wall)
