"""Faults over time: throughput, fallbacks and retries, with each fault window shaded.

Reads the transactions that sent a request (``attempts`` ≥ 1), binned by the
time they arrived, and the ``faults`` section of ``summary.json``: the outages
that happened (``outages``, random ones included) and the fixed windows of the
other faults (``windows``: link loss and latency, partitions, offline readers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.report.frames import RunFrames
from sim.report.style import CROSS, LOCAL, finish, new_figure, shade, suptitle

__all__ = ["fault_spans", "fault_timeline", "fault_windows_table"]

REASON_COLOURS = ("#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
"""Colours of fallback reasons (none of them the green of settled)."""


def fault_spans(run: RunFrames) -> list[tuple[float, float, str]]:
    """(from_s, to_s, label) of every outage and every other fault window of the run."""
    faults = run.summary.get("faults") or {}
    spans = [(float(o["down_s"]), float(o["up_s"]), f"outage {o['node']}")
             for o in faults.get("outages", [])]  # fmt: skip
    for window in faults.get("windows", []):
        label = str(window["fault"])
        if not label.startswith("outage "):  # outages are listed above as they happened
            spans.append((float(window["from_s"]), float(window["to_s"]), label))
    return spans


def fault_windows_table(run: RunFrames) -> pd.DataFrame:
    """Medical settlement before, during and after each fault window (``summary.json``).

    One row per window and stretch: arrivals, settled per hour, fallbacks (all,
    and those caused by faults), the fallback share and the settle latency p99.
    """
    rows = []
    for window in (run.summary.get("faults") or {}).get("windows", []):
        for stretch in ("before", "during", "after"):
            figures = window[stretch]
            if figures is None:  # outside the run (a fault over all of it)
                continue
            rows.append({
                "fault": window["fault"],
                "stretch": stretch,
                "from (h)": figures["from_s"] / 3600.0,
                "to (h)": figures["to_s"] / 3600.0,
                "arrivals": figures["arrivals"],
                "settled per hour": figures["settled_per_hour"],
                "fallbacks": figures["fallbacks"],
                "by faults": figures["fallbacks_by_faults"],
                "fallback share": figures["fallback_share"],
                "settle p99 (s)": (figures.get("settle_latency_s") or {}).get("p99"),
            })  # fmt: skip
    return pd.DataFrame(rows).set_index(["fault", "stretch"]) if rows else pd.DataFrame()


def _per_hour(
    values: npt.NDArray[np.float64], bins: npt.NDArray[np.int64], bin_s: float, n_bins: int
) -> npt.NDArray[np.float64]:
    """Sum of ``values`` in each bin, as a rate per hour."""
    summed = np.bincount(bins, weights=values, minlength=n_bins)[:n_bins]
    rate: npt.NDArray[np.float64] = summed.astype(np.float64) * (3600.0 / bin_s)
    return rate


def fault_timeline(run: RunFrames, bin_s: float = 600.0) -> Figure:
    """Settled, fallbacks by reason, and retries per hour over time; faults shaded.

    Transactions that sent a request are counted in bins of ``bin_s`` by arrival
    time; settled ones separately for local and cross-province.
    """
    txns = run.transactions
    sent = txns[txns["attempts"].to_numpy() >= 1]
    axis = run.time_axis()
    n_bins = max(1, int(np.ceil(run.horizon_s / bin_s)))
    bins = np.clip(sent["arrival_s"].to_numpy() // bin_s, 0, n_bins - 1).astype(np.int64)
    x = axis(np.arange(n_bins + 1) * bin_s)
    outcome = sent["outcome"].astype(str).to_numpy()
    cross = sent["cross_province"].to_numpy(dtype=bool)
    settled = (outcome == "settled").astype(np.float64)
    retries = np.clip(sent["attempts"].to_numpy(dtype=np.float64) - 1.0, 0.0, None)
    fig, axes = new_figure(4, 1, width=11.0, height=11.0, sharex=True)
    local_ax, cross_ax, fallback_ax, retry_ax = axes[:, 0]

    def steps(ax: Axes, values: npt.NDArray[np.float64], **style: Any) -> None:
        ax.step(x, np.append(values, values[-1]), where="post", **style)

    steps(local_ax, _per_hour(settled[~cross], bins[~cross], bin_s, n_bins), color=LOCAL)
    steps(cross_ax, _per_hour(settled[cross], bins[cross], bin_s, n_bins), color=CROSS)
    fallback = outcome == "fallback"
    reasons = sent["reason"].astype(str).to_numpy()
    base = np.zeros(n_bins)
    for i, reason in enumerate(sorted(set(reasons[fallback]))):
        mine = fallback & (reasons == reason)
        rate = _per_hour(np.ones(int(mine.sum())), bins[mine], bin_s, n_bins)
        fallback_ax.bar(x[:-1], rate, width=np.diff(x), bottom=base, align="edge",
                        color=REASON_COLOURS[i % len(REASON_COLOURS)], label=reason)  # fmt: skip
        base += rate
    for label, mask, colour in (("local", ~cross, LOCAL), ("cross-province", cross, CROSS)):
        steps(retry_ax, _per_hour(retries[mask], bins[mask], bin_s, n_bins), color=colour,
              label=label)  # fmt: skip
    spans = [(float(axis(a)), float(axis(b)), label) for a, b, label in fault_spans(run)]
    for ax, title, ylabel in (
        (local_ax, "local transactions settled", "settled per hour"),
        (cross_ax, "cross-province transactions settled", "settled per hour"),
        (fallback_ax, "fallbacks, by reason", "fallbacks per hour"),
        (retry_ax, "retries (attempts after the first)", "retries per hour"),
    ):
        shade(ax, spans)
        finish(ax, title, ylabel=ylabel, legend=True)
        ax.set_ylim(bottom=0)
    retry_ax.set_xlabel(f"{axis.label}; {bin_s / 60:g}-minute bins by arrival time", fontsize=11)
    retry_ax.set_xlim(x[0], x[-1])
    what = "; ".join(label for _a, _b, label in spans[:3]) or "no faults"
    suptitle(fig, f"Faults over time — {run.name} (shaded: {what}; scale {run.scale_label})")
    return fig
