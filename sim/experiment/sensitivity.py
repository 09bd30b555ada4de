"""Sensitivity of each headline figure to each ranged factor: ``sensitivity.parquet``.

A ``--design sobol`` sweep gives **Sobol' indices**: the first-order index S1
(the share of the figure's variance explained by the factor alone; Saltelli et
al. 2010's estimator, mean of f(B)·(f(AB_i) − f(A)) over the variance) and the
total index ST (the share that involves the factor at all, its interactions
included; Jansen's estimator, mean of (f(A) − f(AB_i))² over twice the
variance). A ``--design lhs`` sweep cannot give Sobol' indices honestly (they
need the A/B/AB_i structure), so it gives **standardized rank regression
coefficients** (SRRC): the coefficients of the regression of the figure's ranks
on the factors' ranks, all standardized; their sign is the direction of the
effect, and their squares add up to the regression's R² (row ``R2_rank``, over
all factors), which says how much of the figure a monotone, additive model
explains: with a low R², SRRCs miss interactions and should not be read as
shares.

A variant's value is its mean over the replications that finished; samples
with a missing value are left out. Every interval is the 95% percentile
interval of 1,000 bootstrap resamples of the samples (rows A_j, B_j, AB_ij
resampled together), from a generator seeded by the scenario's seed, so the
table is the same for the same sweep. Replication noise adds to the variance
(common random numbers share it between variants): indices of a figure that the
factors barely move are mostly noise, and their intervals say so.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sim.experiment.figures import figure_names
from sim.experiment.plan import Plan
from sim.experiment.summary import figure_matrix

__all__ = ["SENSITIVITY_TABLE", "rank_regression", "sensitivity_table", "sobol_indices"]

SENSITIVITY_TABLE = "sensitivity.parquet"
RESAMPLES = 1000
BOOTSTRAP_STREAM = 0xB0075
"""The spawn key of the bootstrap's generator (apart from replications and the design)."""

Array = npt.NDArray[np.float64]
SCHEMA = pa.schema([
    ("figure", pa.string()), ("factor", pa.string()), ("measure", pa.string()),
    ("estimate", pa.float64()), ("low", pa.float64()), ("high", pa.float64()),
    ("samples", pa.int64()),
])  # fmt: skip
"""One row per figure, factor and measure (S1, ST; or SRRC, and R2_rank with factor ``*``)."""


def _s1_st(ya: Array, yb: Array, yab: Array) -> tuple[Array, Array]:
    """S1 and ST of each factor; NaN where the figure does not vary.

    ``ya`` and ``yb`` are (… × N), ``yab`` (k × … × N): the leading axes are
    bootstrap resamples, computed all at once.
    """
    variance = np.var(np.concatenate([ya, yb], axis=-1), axis=-1, ddof=1)
    varies = variance > 0
    scale = np.where(varies, variance, 1.0)
    first = np.mean(yb * (yab - ya), axis=-1) / scale
    total = 0.5 * np.mean((ya - yab) ** 2, axis=-1) / scale
    return np.where(varies, first, math.nan), np.where(varies, total, math.nan)


def sobol_indices(
    ya: Array, yb: Array, yab: Array, rng: np.random.Generator, resamples: int = RESAMPLES
) -> dict[str, Array]:
    """First-order and total Sobol' indices with bootstrap 95% intervals.

    Args:
        ya: f at the rows of A (N).
        yb: f at the rows of B (N).
        yab: f at the rows of each AB_i (k × N).
        rng: The bootstrap's generator.
        resamples: Bootstrap resamples.

    Returns:
        ``S1``, ``S1_low``, ``S1_high``, ``ST``, ``ST_low``, ``ST_high`` (k each).
    """
    first, total = _s1_st(ya, yb, yab)
    boot = rng.integers(0, len(ya), size=(resamples, len(ya)))
    s1, st = _s1_st(ya[boot], yb[boot], yab[:, boot])  # k × resamples
    out = {"S1": first, "ST": total}
    for name, draws in (("S1", s1), ("ST", st)):
        out[f"{name}_low"], out[f"{name}_high"] = _percentiles(draws.T)
    return out


def _srrc(x: Array, y: Array) -> tuple[Array, Array]:
    """SRRC of each factor and the rank regression's R², NaN where undefined.

    ``x`` is (… × n × k), ``y`` (… × n): the leading axes are bootstrap
    resamples, solved all at once.
    """
    from scipy.stats import rankdata  # deferred: planning a sweep needs no SciPy

    rx = np.asarray(rankdata(x, axis=-2), dtype=np.float64)
    ry = np.asarray(rankdata(y, axis=-1), dtype=np.float64)
    sx, sy = rx.std(axis=-2, keepdims=True), ry.std(axis=-1, keepdims=True)
    defined = np.all(sx > 0, axis=(-2, -1)) & (sy[..., 0] > 0)
    zx = (rx - rx.mean(axis=-2, keepdims=True)) / np.where(sx > 0, sx, 1.0)
    zy = (ry - ry.mean(axis=-1, keepdims=True)) / np.where(sy > 0, sy, 1.0)
    gram = np.swapaxes(zx, -1, -2) @ zx
    rhs = np.swapaxes(zx, -1, -2) @ zy[..., None]
    k = x.shape[-1]
    solvable = defined & (np.abs(np.linalg.det(gram)) > 1e-9 * zy.shape[-1] ** k)
    eye = np.broadcast_to(np.eye(k), gram.shape)
    beta = np.linalg.solve(np.where(solvable[..., None, None], gram, eye), rhs)[..., 0]
    residual = zy - (zx @ beta[..., None])[..., 0]
    r2 = 1 - np.sum(residual**2, axis=-1) / np.where(defined, np.sum(zy**2, axis=-1), 1.0)
    return (np.where(solvable[..., None], beta, math.nan), np.where(solvable, r2, math.nan))


def rank_regression(
    x: Array, y: Array, rng: np.random.Generator, resamples: int = RESAMPLES
) -> dict[str, Any]:
    """SRRC of each factor (columns of ``x``) on ``y``, and R², with bootstrap 95% intervals.

    Returns:
        ``SRRC``, ``SRRC_low``, ``SRRC_high`` (k each) and ``R2``, ``R2_low``, ``R2_high``.
    """
    beta, r2 = _srrc(x, y)
    boot = rng.integers(0, len(y), size=(resamples, len(y)))
    draws, r2s = _srrc(x[boot], y[boot])
    low, high = _percentiles(draws)
    r2_low, r2_high = _percentiles(r2s[:, None])
    return {"SRRC": beta, "SRRC_low": low, "SRRC_high": high,
            "R2": float(r2), "R2_low": float(r2_low[0]), "R2_high": float(r2_high[0])}  # fmt: skip


def _percentiles(draws: Array) -> tuple[Array, Array]:
    """The 2.5% and 97.5% points of bootstrap draws (resample × factor), NaNs left out."""
    k = draws.shape[1]
    low, high = np.full(k, math.nan), np.full(k, math.nan)
    for i in range(k):
        finite = draws[:, i][np.isfinite(draws[:, i])]
        if finite.size >= len(draws) // 2:  # most resamples defined the index
            low[i], high[i] = np.percentile(finite, [2.5, 97.5])
    return low, high


def variant_means(tasks: pa.Table, figure: str, plan: Plan) -> Array:
    """Each variant's mean of one figure over its finished replications (NaN if none)."""
    matrix = figure_matrix(tasks, figure, plan)
    counts = np.sum(np.isfinite(matrix), axis=1)
    sums = np.nansum(matrix, axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), math.nan)


def sensitivity_table(tasks: pa.Table, plan: Plan) -> pa.Table:
    """``sensitivity.parquet`` of a designed sweep: each figure's indices per factor."""
    design = plan.design
    if design is None:
        raise ValueError("sensitivity needs a sweep planned with --design lhs or sobol")
    keys = [r.key for r in design.ranges]
    n, k = design.samples, len(keys)
    rows: list[dict[str, Any]] = []
    for figure in figure_names():
        y = variant_means(tasks, figure, plan)
        rng = np.random.default_rng(
            np.random.SeedSequence(plan.base.seed, spawn_key=(BOOTSTRAP_STREAM,))
        )
        if design.method == "sobol":
            blocks = y.reshape(k + 2, n)
            keep = np.all(np.isfinite(blocks), axis=0)
            ya, yb, yab = blocks[0, keep], blocks[1, keep], blocks[2:, keep]
            used = int(keep.sum())
            found = sobol_indices(ya, yb, yab, rng) if used >= 3 else _none(("S1", "ST"), k)
            measures: tuple[str, ...] = ("S1", "ST")
        else:
            x = np.asarray(design.points(plan.base.seed))
            keep = np.isfinite(y)
            used = int(keep.sum())
            found = rank_regression(x[keep], y[keep], rng) if used > k + 2 else {
                **_none(("SRRC",), k), "R2": math.nan, "R2_low": math.nan,
                "R2_high": math.nan}  # fmt: skip
            measures = ("SRRC",)
            rows.append(_row(figure, "*", "R2_rank", found["R2"], found["R2_low"],
                             found["R2_high"], used))  # fmt: skip
        for measure in measures:
            for i, key in enumerate(keys):
                low, high = found[f"{measure}_low"][i], found[f"{measure}_high"][i]
                rows.append(_row(figure, key, measure, found[measure][i], low, high, used))
    columns = {name: [row[name] for row in rows] for name in SCHEMA.names}
    return pa.table({f.name: pa.array(columns[f.name], f.type, from_pandas=True) for f in SCHEMA})


def _none(measures: tuple[str, ...], k: int) -> dict[str, Any]:
    nan = np.full(k, math.nan)
    return {f"{m}{end}": nan for m in measures for end in ("", "_low", "_high")}


def _row(figure: str, factor: str, measure: str, estimate: Any, low: Any, high: Any,
         samples: int) -> dict[str, Any]:  # fmt: skip
    return {"figure": figure, "factor": factor, "measure": measure, "estimate": float(estimate),
            "low": float(low), "high": float(high), "samples": samples}  # fmt: skip
