"""``summary.parquet``: each variant's figures with intervals, and differences to the first.

For every headline figure F a variant's row holds ``F_mean``, the ends of its
95% interval ``F_low`` and ``F_high``, ``F_halfwidth`` (half the interval's
length) and ``F_n`` (replications with a value), then the paired difference to
variant ``v000``: ``F_diff``, ``F_diff_low``, ``F_diff_high``,
``F_diff_halfwidth`` and ``F_diff_n``, over the replications both have. The
interval is Student t, symmetric, except for proportions, whose interval stays
inside [0, 1] (:func:`figure_intervals`). Failed and pending tasks are left out;
their number is in ``failed`` and ``pending``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sim.experiment.catalogue import factor_types, factor_values
from sim.experiment.figures import figure_names, is_proportion, trials_column
from sim.experiment.plan import Plan
from sim.experiment.stats import Interval, mean_interval, paired_interval, proportion_interval
from sim.experiment.task import FAILED, OK, PENDING

__all__ = ["figure_intervals", "figure_matrix", "summarise_sweep"]


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


def figure_intervals(tasks: pa.Table, figure: str, plan: Plan) -> list[Interval]:
    """Each variant's interval of one figure: inside [0, 1] for a proportion, else Student t."""
    matrix = figure_matrix(tasks, figure, plan)
    if not is_proportion(figure):
        return [mean_interval(row) for row in matrix]
    column = trials_column(figure)
    if column is None or column not in tasks.column_names:  # a table from before F_trials
        trials = [None] * len(matrix)
    else:
        trials = list(figure_matrix(tasks, column, plan))
    try:
        return [proportion_interval(row, n) for row, n in zip(matrix, trials, strict=True)]
    except ValueError as exc:
        raise ValueError(f"{figure} in sweep.parquet: {exc}") from None


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
        own = figure_intervals(tasks, figure, plan)
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
    columns[f"{prefix}_low"] = [i.low for i in intervals]
    columns[f"{prefix}_high"] = [i.high for i in intervals]
    columns[f"{prefix}_halfwidth"] = [i.half_width for i in intervals]
    columns[f"{prefix}_n"] = [i.n for i in intervals]
