"""Capacity planning from a sweep: a figure with its confidence band against a factor.

Reads a sweep's ``summary.parquet`` (one row per variant: ``F_mean`` and the
ends of the 95% interval, ``F_low`` and ``F_high``, of each headline figure F;
older folders: the Student-t ``F_halfwidth``) and draws F against
one varied key (say ``network.national.servers``), one curve per value of
another (say demand), with a service-level line and each curve's knee: the
point after which adding more brings little (Satopää et al., "Finding a
'Kneedle' in a Haystack", 2011).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from sim.experiment.figures import HEADLINE
from sim.report.frames import SweepFrames
from sim.report.style import SERIES, finish, new_figure

__all__ = ["capacity_curve", "capacity_table", "knee"]

MIN_BEND = 0.1
"""A knee is reported only where the normalised curve bends at least this far from its chord."""


def knee(x: npt.ArrayLike, y: npt.ArrayLike) -> float | None:
    """The knee of a decreasing curve (the Kneedle rule), or None if it does not bend.

    Both axes are scaled to [0, 1]; the knee is the point farthest below the chord
    from the first point to the last. NaN points are ignored.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    order = np.argsort(xs)
    xs, ys = xs[order], ys[order]
    if xs.size < 3 or xs[-1] == xs[0] or ys.max() == ys.min():
        return None
    xn = (xs - xs[0]) / (xs[-1] - xs[0])
    yn = (ys - ys.min()) / (ys.max() - ys.min())
    chord = yn[0] + (yn[-1] - yn[0]) * xn
    bend = chord - yn
    best = int(np.argmax(bend))
    return float(xs[best]) if bend[best] >= MIN_BEND else None


def _curves(
    sweep: SweepFrames, x: str, group: str | None, figure: str
) -> list[tuple[Any, pd.DataFrame]]:
    """The summary rows of each group, sorted by ``x``; checks nothing else varied."""
    table = sweep.summary
    others = [f for f in sweep.factors if f not in (x, group)]
    if others:
        raise ValueError(f"the sweep also varies {', '.join(others)}; plot a sweep that "
                         f"varies only {x}{f' and {group}' if group else ''}")  # fmt: skip
    for column in (x, f"{figure}_mean", f"{figure}_halfwidth"):
        if column not in table.columns:
            raise ValueError(f"summary.parquet has no column {column!r}")
    if group is None:
        return [(None, table.sort_values(x))]
    return [(value, rows.sort_values(x)) for value, rows in table.groupby(group, sort=True)]


def _band(curve: pd.DataFrame, figure: str) -> tuple[npt.NDArray[np.float64], ...]:
    """The mean and the ends of its 95% interval (a proportion's is asymmetric, in [0, 1])."""
    mean = curve[f"{figure}_mean"].to_numpy(dtype=float)
    if f"{figure}_low" in curve.columns and f"{figure}_high" in curve.columns:
        return (mean, curve[f"{figure}_low"].to_numpy(dtype=float),
                curve[f"{figure}_high"].to_numpy(dtype=float))  # fmt: skip
    half = curve[f"{figure}_halfwidth"].to_numpy(dtype=float)  # a folder from before F_low
    return mean, mean - half, mean + half


def capacity_table(
    sweep: SweepFrames,
    x: str = "network.national.servers",
    group: str | None = None,
    figure: str = "request_p99_cross_s",
    sla: float = 3.0,
) -> pd.DataFrame:
    """Per group: the knee, and the smallest ``x`` meeting the SLA with confidence.

    A value meets ``figure ≤ sla`` when its whole 95% interval does (the rule of
    ``sscard-sim capacity``).
    """
    rows = []
    for value, curve in _curves(sweep, x, group, figure):
        mean, _low, upper = _band(curve, figure)
        meets = curve[x].to_numpy()[np.nan_to_num(upper, nan=math.inf) <= sla]
        rows.append({
            group or "curve": value if group else "all",
            "knee": knee(curve[x], mean),
            f"smallest {x} with {figure} ≤ {sla:g}": meets.min() if meets.size else None,
        })  # fmt: skip
    return pd.DataFrame(rows)


def capacity_curve(
    sweep: SweepFrames,
    x: str = "network.national.servers",
    group: str | None = None,
    figure: str = "request_p99_cross_s",
    sla: float | None = 3.0,
    labels: Mapping[Any, str] | None = None,
    log_y: bool = True,
    mark_knee: bool = True,
) -> Figure:
    """``figure`` against ``x``: mean and 95% band, the SLA line, each curve's knee (○).

    One curve per value of ``group`` (named by ``labels`` if given); no SLA line
    when ``sla`` is None, no knee without ``mark_knee``.
    """
    described = {f.name: f.description for f in HEADLINE}
    fig, axes = new_figure(width=9.5, height=5.6)
    ax = axes[0, 0]
    for i, (value, curve) in enumerate(_curves(sweep, x, group, figure)):
        colour = SERIES[i % len(SERIES)]
        xs = curve[x].to_numpy(dtype=float)
        mean, low, high = _band(curve, figure)
        low, high = np.where(np.isnan(low), mean, low), np.where(np.isnan(high), mean, high)
        name = (labels or {}).get(value, f"{group} = {value}") if group else figure
        if log_y:
            low = np.maximum(low, np.nanmin(mean) / 10)
        ax.fill_between(xs, low, high, color=colour, alpha=0.18, lw=0)
        ax.plot(xs, mean, "-o", color=colour, ms=4, label=f"{name} (mean ± 95% CI)")
        bend = knee(xs, mean) if mark_knee else None
        if bend is not None:
            at = float(mean[xs == bend][0])
            ax.plot([bend], [at], "o", ms=15, mfc="none", mec=colour, mew=2)
            ax.annotate(f"knee: {bend:g}", (bend, at), textcoords="offset points",
                        xytext=(12, 10 + 14 * i), color=colour, fontsize=10)  # fmt: skip
    if sla is not None:
        unit = " s" if figure.endswith("_s") else ""
        ax.axhline(sla, color="black", ls="--", lw=1.3, label=f"SLA: {sla:g}{unit}")
    if log_y:
        ax.set_yscale("log")
        plain = FuncFormatter(lambda value, _pos: f"{value:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(axis="y", which="minor", labelsize=8)
    ax.set_xticks(sorted(set(sweep.summary[x].astype(float))))
    reps = sweep.summary["replications"]
    counted = f"{reps.min()}" if reps.min() == reps.max() else f"{reps.min()}–{reps.max()}"
    ylabel = described.get(figure, figure) + (", log scale" if log_y else "")
    finish(ax, f"{figure} against {x} — {sweep.plan.get('name', '')} "
           f"({counted} replications per variant)",
           x, textwrap.fill(ylabel, 48), legend=True)  # fmt: skip
    return fig
