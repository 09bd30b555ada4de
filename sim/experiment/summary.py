"""``summary.parquet``: each variant's figures with intervals, and differences to the first.

For every headline figure F a variant's row holds ``F_mean``, ``F_halfwidth``
(95%, Student t) and ``F_n`` (replications with a value), then the paired
difference to variant ``v000``: ``F_diff``, ``F_diff_halfwidth`` and
``F_diff_n``, over the replications both have. Failed and pending tasks are
left out; their number is in ``failed`` and ``pending``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sim.experiment.catalogue import factor_types, factor_values
from sim.experiment.figures import figure_names
from sim.experiment.plan import Plan
from sim.experiment.stats import Interval, mean_interval, paired_interval
from sim.experiment.task import FAILED, OK, PENDING

__all__ = ["figure_matrix", "summarise_sweep"]


def figure_matrix(tasks: pa.Table, figure: str, plan: Plan) -> npt.NDArray[np.float64]:
    """Values of one figure as a (variant × replication) array; NaN where a task is not ok."""
    index = {v.id: v.index for v in plan.variants}
    reps = tasks["replication"].to_pylist()
    out = np.full((len(plan.variants), max(reps, default=-1) + 1), math.nan)
    rows = zip(tasks["variant"].to_pylist(), reps, tasks["status"].to_pylist(),
               tasks[figure].to_pylist(), strict=True)  # fmt: skip
    for variant, r, status, value in rows:
        if status == OK and value is not None:
            out[index[variant], r] = value
    return out


def summarise_sweep(tasks: pa.Table, plan: Plan) -> pa.Table:
    """One row per variant: counts, and for each figure its interval and paired difference."""
    status = tasks["status"].to_pylist()
    variant = tasks["variant"].to_pylist()
    columns: dict[str, list[Any]] = {"variant": [v.id for v in plan.variants]}
    for key in factor_types(plan):
        columns[key] = [factor_values(plan, v.index)[key] for v in plan.variants]
    for name, label in ((OK, "replications"), (FAILED, "failed"), (PENDING, "pending")):
        columns[label] = [
            sum(1 for vid, st in zip(variant, status, strict=True) if vid == v.id and st == name)
            for v in plan.variants
        ]
    for figure in figure_names():
        matrix = figure_matrix(tasks, figure, plan)
        own = [mean_interval(row) for row in matrix]
        diff = [paired_interval(matrix[0], row) for row in matrix]
        _put(columns, figure, own)
        _put(columns, f"{figure}_diff", diff, mean_suffix="")
    types = {"variant": pa.string(), **factor_types(plan)}
    return pa.table(
        {
            name: pa.array(values, types.get(name), from_pandas=True)  # NaN → null
            for name, values in columns.items()
        }
    )


def _put(
    columns: dict[str, list[Any]],
    prefix: str,
    intervals: list[Interval],
    mean_suffix: str = "_mean",
) -> None:
    columns[f"{prefix}{mean_suffix}"] = [i.mean for i in intervals]
    columns[f"{prefix}_halfwidth"] = [i.half_width for i in intervals]
    columns[f"{prefix}_n"] = [i.n for i in intervals]
