"""A sweep's provenance: each task's own redo command, and ``plan.json``'s record.

Every task is a plain run, so its manifest's ``reproduce`` is the ``sscard-sim
run`` command that gives the same results folder (the scenario file, the
sweep's ``--set``, the variant's values, the replication's seed); its
``command`` is the sweep's command line as run. ``plan.json`` gets the same
``provenance`` object as a run's manifest (:mod:`sim.run.provenance`), for
the sweep session that wrote it last, with the sha256 of ``sweep.parquet``,
``summary.parquet`` and of each task's ``checksums.sha256`` (which covers
that task's files), and, for a designed sweep, the design (method, ranges,
each variant's role and factor values) that ``sensitivity.parquet`` is read with.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import attrs
import pyarrow as pa

from sim.experiment.catalogue import SUMMARY_TABLE, SWEEP_TABLE
from sim.experiment.plan import Plan
from sim.experiment.sensitivity import SENSITIVITY_TABLE, sensitivity_table
from sim.experiment.task import TaskKey
from sim.outputs.folders import CHECKSUMS
from sim.outputs.results import write_table
from sim.run import provenance
from sim.run.provenance import Invocation

__all__ = ["stamp_plan", "task_invocation"]


def task_command(plan: Plan, key: TaskKey) -> list[str]:
    """The arguments of ``python -m sim`` that run one task of ``plan`` alone."""
    variant = plan.variants[key.variant]
    sets = [*plan.sets, *(f"{k}={v}" for k, v in variant.settings)]
    return ["run", plan.source, *(a for s in sets for a in ("--set", s)),
            "--seed", str(plan.seed(key.replication))]  # fmt: skip


def task_invocation(plan: Plan, key: TaskKey, digest: str | None) -> Invocation:
    """A task's invocation: the sweep's command as run, the task's own redo command."""
    sweep = provenance.current()
    redo = shlex.join(["python", "-m", "sim", *task_command(plan, key)])
    scenario_file, _ = provenance.scenario_file(plan.source)
    return Invocation(
        sweep.command if sweep is not None else None,
        redo,
        sweep.cwd if sweep is not None else os.getcwd(),
        scenario_file,
        digest,
    )


def sweep_command(plan: Plan, root: Path, replications: int) -> list[str]:
    """The arguments of ``python -m sim`` that make this sweep (for a sweep run from Python)."""
    args = ["sweep", plan.source, *(a for s in plan.sets for a in ("--set", s))]
    args += [a for v in plan.vary_args() for a in ("--vary", v)]
    if plan.design is not None:
        args += ["--design", plan.design.method, "--samples", str(plan.design.samples)]
    return [*args, "--replications", str(replications), "--out", str(root)]


def stamp_plan(
    root: Path, plan_file: str, plan: Plan, replications: int, started_utc: str,
    tables: tuple[str, ...], tasks_in: Path | None = None,
) -> None:  # fmt: skip
    """Add ``provenance`` to ``plan.json`` once the tables and task folders are written.

    ``tasks_in`` is the folder holding ``tasks/`` when it is not ``root`` (a store):
    the task checksums are then named by their path in the store.
    """
    path = root / plan_file
    data = json.loads(path.read_text("utf-8"))
    outputs = {name: root / name for name in tables if (root / name).is_file()}
    holder = root if tasks_in is None else tasks_in
    for checksums in sorted(holder.glob(f"tasks/**/{CHECKSUMS}")):
        outputs[checksums.relative_to(holder).as_posix()] = checksums
    if plan.design is not None:
        data["design"] = plan.design.record(plan.base.seed)
    sweep = provenance.current()
    if sweep is None:  # run_sweep called from Python: the equivalent command line
        sweep = Invocation.of_command((), sweep_command(plan, root, replications), plan.source)
        sweep = attrs.evolve(sweep, command=None)
    data["provenance"] = provenance.provenance(started_utc, sweep, outputs, sweep.reproduce)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(temp, path)


def result_tables(root: Path, tasks: pa.Table, plan: Plan) -> tuple[str, ...]:
    """Write a designed sweep's ``sensitivity.parquet``; the tables ``plan.json`` hashes."""
    tables: tuple[str, ...] = (SWEEP_TABLE, SUMMARY_TABLE)
    if plan.design is not None:
        write_table(sensitivity_table(tasks, plan), root / SENSITIVITY_TABLE)
        tables = (*tables, SENSITIVITY_TABLE)
    return tables
