"""Latency distributions: the CDF of each service's latency, local against cross-province.

The default is the settle latency (``settle_latency_s``: from sending the
settlement request to its answer, retries included) of settled transactions,
the quantity behind ``end_to_end_settle_latency_s`` in ``summary.json``; any
latency column of ``transactions.parquet`` can be drawn the same way.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from sim.report.frames import RunFrames, services_in
from sim.report.style import CROSS, LOCAL, empty, finish, grid_shape, log_x, new_figure, suptitle

__all__ = ["ecdf", "latency_cdf"]

WHAT = {
    "settle_latency_s": "settle latency",
    "latency_s": "time in system",
    "wait_s": "wait at the point",
    "point_latency_s": "time at the point",
}


def ecdf(values: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Sorted values and the share of values ≤ each (the empirical CDF)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    y = np.arange(1, x.size + 1, dtype=np.float64) / max(x.size, 1)
    return x, y


def latency_cdf(
    run: RunFrames, column: str = "settle_latency_s", settled_only: bool = True
) -> Figure:
    """Latency CDF per service, local against cross-province, p99 marked.

    One panel per service that has a value of ``column``; log time axis.
    """
    txns = run.transactions
    values = txns[column].to_numpy(dtype=np.float64)
    keep = np.isfinite(values) & (values > 0)
    if settled_only:
        keep &= (txns["outcome"].astype(str) == "settled").to_numpy()
    cross = txns["cross_province"].to_numpy(dtype=bool)
    service = txns["service"].astype(str).to_numpy()
    services = [s for s in services_in(txns) if (keep & (service == s)).any()]
    rows, cols = grid_shape(max(1, len(services)))
    fig, axes = new_figure(rows, cols, width=max(3.8 * cols, 6.5), height=3.0 * rows + 0.8)
    what = WHAT.get(column, column)
    if not services:
        empty(axes[0, 0], f"no transaction has a {what}")
    for i, name in enumerate(services):
        ax = axes.flat[i]
        for label, mask, colour in (("local", ~cross, LOCAL), ("cross-province", cross, CROSS)):
            mine = values[keep & (service == name) & mask]
            if not mine.size:
                continue
            x, y = ecdf(mine)
            p99 = float(np.quantile(mine, 0.99))
            ax.step(x, y, where="post", color=colour,
                    label=f"{label} (n={mine.size:,}; p99 {_seconds(p99)})")  # fmt: skip
            ax.axvline(p99, color=colour, ls=":", lw=1)
        log_x(ax)
        ax.set_ylim(0, 1.02)
        finish(ax, name, f"{what} (s, log scale)",
               "share ≤ x" if i % cols == 0 else None, legend=True)  # fmt: skip
        legend = ax.get_legend()
        if legend is not None:
            legend.set_loc("lower right")
            for text in legend.get_texts():
                text.set_fontsize(8)
    for ax in axes.flat[max(1, len(services)) :]:
        ax.set_visible(False)
    subset = "settled transactions" if settled_only else "all transactions"
    suptitle(fig, f"CDF of {what} per service, local vs cross-province — {run.name} "
                  f"({subset}; dotted: p99)")  # fmt: skip
    return fig


def _seconds(value: float) -> str:
    if not math.isfinite(value):
        return "–"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.3g} s" if value < 600 else f"{value / 60:.3g} min"
