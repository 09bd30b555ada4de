"""The sweep folder: every task's results folder, the plan, and the two tables.

Layout (one folder per sweep)::

    plan.json                       what the sweep is: variants, their scenarios' hashes
                                    (and ``store``: where the task folders are, if elsewhere)
    tasks/variant=v000/replication=000/
                                    one run's results folder (the single-run contract)
    sweep.parquet                   one row per task: variant values, replication, seed,
                                    status, error, warm-up cut, headline figures, the
                                    counts the shares are of (F_trials), wall time
    summary.parquet                 one row per variant: mean, 95% interval (ends and
                                    half-width) and n of each figure, and paired
                                    differences to variant v000

A task's folder is written all or nothing, so a folder that exists is a
finished task: re-running the same sweep skips it (resume). ``plan.json``
guards against resuming into a folder that holds a different sweep.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sim.experiment.figures import HEADLINE, task_row, trials_columns
from sim.experiment.plan import Factor, Plan
from sim.experiment.task import OK, PENDING, TaskKey, TaskOutcome
from sim.experiment.taskfiles import TASKS, remove_stale_staging, task_name, write_task_folder
from sim.outputs.folders import CHECKSUMS, verify_checksums
from sim.outputs.results import MANIFEST, SUMMARY, write_table

__all__ = ["PLAN_FILE", "SUMMARY_TABLE", "SWEEP_TABLE", "Catalogue", "SweepFolderError"]

PLAN_FILE = "plan.json"
SWEEP_TABLE = "sweep.parquet"
SUMMARY_TABLE = "summary.parquet"
FORMAT = 1


class SweepFolderError(ValueError):
    """The folder holds something other than this sweep."""


def plan_record(plan: Plan, replications: int, format_: int = FORMAT) -> dict[str, Any]:
    """What ``plan.json`` and a store's ``store.json`` say of the plan: enough to rebuild it."""
    record = {
        "format": format_,
        "scenario": plan.source,
        "name": plan.base.name,
        "set": list(plan.sets),
        "vary": [{"key": f.key, "values": list(f.values)} for f in plan.factors],
        "replications": replications,
        "identity": plan.identity(),
    }
    if plan.design is not None:  # the ranges and the design sample the same variants again
        record["planned_by"] = {"vary": plan.vary_args(), "design": plan.design.method,
                                "samples": plan.design.samples}  # fmt: skip
    return record


class Catalogue:
    """The folder of one sweep: what is done, storing results, writing the tables."""

    def __init__(self, root: Path, plan: Plan, store: Path | None = None) -> None:
        self.root = root
        self.plan = plan
        self.store_root = store
        """Where the task folders are, when workers write them (``--store``)."""
        self._rows: dict[TaskKey, dict[str, Any]] = {}
        self._verified: dict[TaskKey, bool] = {}

    @classmethod
    def open(cls, root: str | Path, plan: Plan, store: Path | None = None) -> Catalogue:
        """Create the folder, or check that it holds this plan's sweep (to resume it).

        With ``store`` the task folders are the store's (a store may be the folder itself).
        """
        root = Path(root)
        plan_path = root / PLAN_FILE
        if plan_path.exists():
            stored = json.loads(plan_path.read_text("utf-8"))
            if stored.get("identity") != plan.identity():
                raise SweepFolderError(
                    f"{root} holds a different sweep (other variants, scenario or seed); "
                    "choose another --out"
                )
        elif root.exists() and any(root.iterdir()) and not _same(root, store):
            raise SweepFolderError(f"{root} exists and is not a sweep folder")
        root.mkdir(parents=True, exist_ok=True)
        _rename_old_task_folders(root / TASKS)
        catalogue = cls(root, plan, store)
        if not plan_path.exists():
            catalogue.write_plan(0)
        return catalogue

    def write_plan(self, replications: int) -> None:
        """Write ``plan.json``: the plan's identity and how to read it."""
        data = plan_record(self.plan, replications)
        if self.store_root is not None and not _same(self.store_root, self.root):
            data["store"] = str(self.store_root.resolve())
        _atomic_write_text(self.root / PLAN_FILE, json.dumps(data, indent=2) + "\n")

    def task_dir(self, key: TaskKey) -> Path:
        """The results folder of a task."""
        return (self.store_root or self.root) / TASKS / key.name

    def is_done(self, key: TaskKey) -> bool:
        """Whether the task's results folder is complete and intact (its checksums match).

        A folder that fails the check (truncated, corrupted) counts as not done:
        :meth:`store` replaces it when the task is run again.
        """
        done = self._verified.get(key)
        if done is None:
            folder = self.task_dir(key)
            done = (folder / SUMMARY).is_file() and (folder / MANIFEST).is_file()
            if done and (folder / CHECKSUMS).exists():
                done = not verify_checksums(folder)
            elif done:  # written before checksums: its JSON must at least read
                done = _json_reads(folder / SUMMARY) and _json_reads(folder / MANIFEST)
            self._verified[key] = done
        return done

    def store(self, outcome: TaskOutcome) -> None:
        """Write a finished task's files and their checksums as its results folder.

        All or nothing; a broken folder left by an earlier session is replaced. A task
        whose worker wrote its folder into the store brings its row instead of files.
        """
        if outcome.row is None:
            write_task_folder(self.task_dir(outcome.key), outcome.files)
            self._rows.pop(outcome.key, None)
        else:
            self._rows[outcome.key] = self._finished_row(outcome.key, outcome.row)
        self._verified[outcome.key] = True

    def tasks_table(
        self, replications: int, outcomes: Mapping[TaskKey, TaskOutcome] = {}
    ) -> pa.Table:
        """``sweep.parquet``: one row per task of ``replications`` per variant, in key order.

        Finished tasks are read from their folders; ``outcomes`` gives the status
        and error of tasks that failed in this session; the others are pending.
        """
        types = _row_types(self.plan)
        rows = [
            self._row(key, outcomes.get(key))
            for variant in self.plan.variants
            for key in (TaskKey(variant.index, r) for r in range(replications))
        ]
        # NaN (a figure the run cannot give) is stored as null: missing, and equal to itself.
        return pa.table(
            {
                name: pa.array([row[name] for row in rows], kind, from_pandas=True)
                for name, kind in types.items()
            }
        )

    def _row(self, key: TaskKey, outcome: TaskOutcome | None) -> dict[str, Any]:
        cached = self._rows.get(key)
        if cached is not None:
            return cached
        variant = self.plan.variants[key.variant]
        row: dict[str, Any] = {"variant": variant.id}
        row.update(factor_values(self.plan, key.variant))
        row.update(replication=key.replication, seed=self.plan.seed(key.replication))
        if self.is_done(key):
            self._rows[key] = self._finished_row(key, task_row(self.task_dir(key)))
            return self._rows[key]
        row.update(status=PENDING, error="", warmup_s=None)
        row.update({f.name: None for f in HEADLINE})
        row.update(dict.fromkeys(trials_columns()))
        row["wall_time_s"] = None
        if outcome is not None:
            row.update(status=outcome.status, error=outcome.error, wall_time_s=outcome.wall_time_s)
        return row

    def _finished_row(self, key: TaskKey, figures: Mapping[str, float]) -> dict[str, Any]:
        row: dict[str, Any] = {"variant": self.plan.variants[key.variant].id}
        row.update(factor_values(self.plan, key.variant))
        row.update(replication=key.replication, seed=self.plan.seed(key.replication))
        row.update(status=OK, error="")
        row.update(figures)
        return row

    def write_tables(self, tasks: pa.Table, summary: pa.Table) -> None:
        """Write ``sweep.parquet`` and ``summary.parquet`` (each replaced atomically)."""
        _atomic_write_table(tasks, self.root / SWEEP_TABLE)
        _atomic_write_table(summary, self.root / SUMMARY_TABLE)


def factor_values(plan: Plan, variant: int) -> dict[str, Any]:
    """A variant's value of each factor, typed as in the tables (numbers when all are)."""
    combo = plan.variants[variant].settings
    out = {}
    for factor, (_key, text) in zip(plan.factors, combo, strict=True):
        out[factor.key] = factor.typed()[factor.values.index(text)]
    return out


def factor_types(plan: Plan) -> dict[str, pa.DataType]:
    """Arrow types of the factor columns."""
    return {factor.key: factor_type(factor) for factor in plan.factors}


def factor_type(factor: Factor) -> pa.DataType:
    """The Arrow type of a factor's column: integers, numbers when all are, else text."""
    values = factor.typed()
    if all(isinstance(v, int) for v in values):
        return pa.int64()
    if all(isinstance(v, int | float) for v in values):
        return pa.float64()
    return pa.string()


def _row_types(plan: Plan) -> dict[str, pa.DataType]:
    return {
        "variant": pa.string(),
        **factor_types(plan),
        "replication": pa.int32(),
        "seed": pa.uint64(),
        "status": pa.string(),
        "error": pa.string(),
        "warmup_s": pa.float64(),
        **{f.name: pa.float64() for f in HEADLINE},
        **{name: pa.int64() for name in trials_columns()},
        "wall_time_s": pa.float64(),
    }


def read_tables(root: str | Path) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    """``sweep.parquet``, ``summary.parquet`` and ``plan.json`` of a sweep folder."""
    root = Path(root)
    missing = [n for n in (PLAN_FILE, SWEEP_TABLE, SUMMARY_TABLE) if not (root / n).is_file()]
    if missing:
        raise SweepFolderError(f"{root} is not a sweep folder (missing {', '.join(missing)})")
    try:
        plan = json.loads((root / PLAN_FILE).read_text("utf-8"))
        return pq.read_table(root / SWEEP_TABLE), pq.read_table(root / SUMMARY_TABLE), plan
    except (OSError, ValueError, pa.ArrowException) as exc:  # corrupted, not missing
        raise SweepFolderError(f"{root}: a table or plan.json cannot be read: {exc}") from None


def tasks_root(root: Path, plan: Mapping[str, Any]) -> Path:
    """The folder holding a sweep folder's ``tasks/``: its store's, if ``plan.json`` names one."""
    store = plan.get("store")
    return Path(store) if store else root


def _rename_old_task_folders(tasks: Path) -> None:
    """Rename task folders of the layout before the hive one (``v000/rep-000``).

    ``variant=v000/replication=000`` is the new name: resuming such a sweep reruns nothing.
    """
    for old in sorted(tasks.glob("v[0-9]*/rep-[0-9]*")):
        variant, replication = old.parent.name[1:], old.name[4:]
        if not (variant.isdigit() and replication.isdigit()) or not old.is_dir():
            continue
        new = tasks / task_name(int(variant), int(replication))
        new.parent.mkdir(exist_ok=True)
        if not new.exists():
            old.rename(new)
    for partial in tasks.glob("v[0-9]*/.rep-*.partial-*"):
        shutil.rmtree(partial, ignore_errors=True)  # left by a store interrupted back then
    for old in tasks.glob("v[0-9]*"):
        with contextlib.suppress(OSError):
            old.rmdir()  # only if emptied (a staging leftover keeps it, harmlessly)
    for folder in tasks.glob("variant=*"):
        remove_stale_staging(folder)


def _json_reads(path: Path) -> bool:
    try:
        json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return True


def _atomic_write_table(table: pa.Table, path: Path) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    write_table(table, temp)
    _replace(temp, path)


def _atomic_write_text(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    _replace(temp, path)


def _replace(temp: Path, path: Path) -> None:
    """Rename ``temp`` over ``path`` once its bytes are on disk."""
    with temp.open("rb") as file:
        os.fsync(file.fileno())
    os.replace(temp, path)


def _same(folder: Path, other: Path | None) -> bool:
    """Whether two paths name the same folder (one may be relative)."""
    return other is not None and folder.resolve() == other.resolve()
