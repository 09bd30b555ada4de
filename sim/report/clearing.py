"""Clearing between provinces: who receives and who pays when obligations are netted.

Reads ``clearing.parquet`` (one row per clearing period and province, net =
gross due as treatment province − gross owed as home province) and
``transactions.parquet`` (the gross flows: fund shares of settled
cross-province bills, home province → treatment province).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.report.frames import RunFrames
from sim.report.style import LEGEND_PT, SERIES, empty, finish, new_figure

__all__ = ["gross_flows", "net_positions", "net_positions_table"]

FEN_PER_MILLION_YUAN = 100 * 1_000_000


def net_positions_table(run: RunFrames, full_scale: bool = True) -> pd.DataFrame:
    """Per province over all periods: gross due, gross owed and net, in ¥ million.

    Divided by the scale when ``full_scale``; sorted by net, receivers first.
    """
    clearing = run.clearing
    columns = ["gross_due_fen", "gross_owed_fen", "net_fen"]
    total = clearing.groupby(clearing["province"].astype(str))[columns].sum()
    factor = (1.0 / run.scale if full_scale else 1.0) / FEN_PER_MILLION_YUAN
    table = (total * factor).rename(columns=lambda c: c.replace("_fen", "_million_yuan"))
    return table.sort_values("net_million_yuan", ascending=False)


def net_positions(run: RunFrames, full_scale: bool = True) -> Figure:
    """Net clearing position per province over the run, as a bar chart.

    Above zero a province receives: its hospitals treated more of the others'
    insured than its own insured cost elsewhere.
    """
    fig, axes = new_figure(width=12.0, height=5.2)
    ax = axes[0, 0]
    periods = int(run.clearing["period"].nunique()) if len(run.clearing) else 0
    title = f"Clearing net positions by province over {periods} period(s) — {run.name}"
    if not periods:
        empty(ax, "no clearing period in this run")
        finish(ax, title)
        return fig
    table = net_positions_table(run, full_scale)
    net = table["net_million_yuan"]
    colours = np.where(net.to_numpy() >= 0, SERIES[0], SERIES[1])
    ax.bar(range(len(net)), net.to_numpy(), color=colours)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(net)), net.index, rotation=90)
    handles = [Patch(color=SERIES[0], label="receives (net > 0)"),
               Patch(color=SERIES[1], label="pays (net < 0)")]  # fmt: skip
    unit = "full scale: simulated ÷ scale" if full_scale else f"simulated, scale {run.scale_label}"
    finish(ax, title, "province", f"net position (¥ million, {unit})")
    ax.legend(handles=handles, fontsize=LEGEND_PT)
    return fig


def gross_flows(run: RunFrames, service: str | None = None) -> pd.DataFrame:
    """Fund shares of settled cross-province bills in fen: home (rows) × treatment province."""
    txns = run.transactions
    mask = txns["cross_province"].to_numpy(dtype=bool)
    mask &= (txns["outcome"].astype(str) == "settled").to_numpy()
    if service is not None:
        mask &= (txns["service"].astype(str) == service).to_numpy()
    mine = txns[mask]
    flows = mine.groupby([mine["home_province"].astype(str), mine["site_province"].astype(str)])[
        "fund_fen"
    ].sum()
    order = run.provinces
    table = flows.unstack(fill_value=0).reindex(index=order, columns=order, fill_value=0)
    return table.rename_axis(index="home", columns="treatment")
