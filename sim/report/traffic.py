"""Load over time: throughput per service, the busiest stations, utilisation by province.

Transactions give throughput per hour per service (by the hour they ended);
``timeseries.parquet`` gives each station's completions, queue and busy servers
at every sample, from which the station timelines and the provinces × hours
utilisation heat map are drawn. Times are local (see :meth:`RunFrames.time_axis`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.report.frames import RunFrames, services_in
from sim.report.style import (
    OUTCOME_COLOURS,
    empty,
    finish,
    grid_shape,
    new_figure,
    shade,
    suptitle,
)

__all__ = [
    "busiest_point_service",
    "busiest_stations",
    "describe_station",
    "station_timeline",
    "throughput_per_hour",
    "utilisation_heatmap",
]

OUTCOMES = ("settled", "fallback", "declined")


def describe_station(name: str) -> str:
    """A station's name in words: ``node:GD`` → ``provincial platform GD``."""
    parts = name.split(":")
    if parts[0] == "node":
        if len(parts) == 2:
            known = {"national": "national platform", "card_platform": "card platform",
                     "transit_interconnection": "transit interconnection node"}  # fmt: skip
            return known.get(parts[1], f"provincial platform {parts[1]}")
        kinds = {"bank": "bank node", "transit_clearing": "transit clearing node"}
        return f"{kinds.get(parts[1], parts[1])} {parts[2]}"
    if parts[0] == "point" and len(parts) in (3, 4):
        channel = f" ({parts[3]})" if len(parts) == 4 else ""
        return f"{parts[1]} points {parts[2]}{channel}"
    if parts[0] == "backlog" and len(parts) == 3:
        return f"{parts[1]} upload backlog {parts[2]}"
    return name


def busiest_stations(run: RunFrames, points: bool = False) -> list[str]:
    """The provincial platform with the most completions, then the national platform.

    With ``points``, also the point group whose queue was longest on average
    (most completions on a tie): where holders waited most.
    """
    st = run.stations
    names = st["station"].astype(str)
    chosen: list[str] = []
    platforms = st[names.isin(run.station_names("platform"))]
    if len(platforms):
        busiest = platforms.sort_values("completions", ascending=False)
        chosen.append(str(busiest["station"].iloc[0]))
    if "node:national" in set(names):
        chosen.append("node:national")
    if points:
        groups = st[st["kind"].astype(str) == "point"]
        if len(groups):
            top = groups.sort_values(["mean_queue", "completions"], ascending=False)
            chosen.append(str(top["station"].iloc[0]))
    return chosen


def busiest_point_service(run: RunFrames) -> str:
    """The service whose point groups were busiest overall (busy servers / servers)."""
    st = run.stations
    points = st[st["kind"].astype(str) == "point"]
    if points.empty:
        return "platform"
    load = points.groupby(points["service"].astype(str))[["mean_busy", "servers"]].sum()
    share = load["mean_busy"] / load["servers"].where(load["servers"] > 0)
    return str(share.fillna(0.0).idxmax())


def throughput_per_hour(run: RunFrames) -> Figure:
    """Transactions ended per hour (per day for long runs) by outcome, a panel per service."""
    txns = run.transactions
    axis = run.time_axis()
    unit = "hour" if axis.unit_s == 3600.0 else "day"
    services = services_in(txns)
    rows, cols = grid_shape(len(services))
    fig, axes = new_figure(rows, cols, width=max(3.6 * cols, 6.5), height=2.9 * rows + 0.8,
                           sharex=True)  # fmt: skip
    position = np.floor(axis(txns["end_s"].to_numpy()))
    frame = pd.DataFrame({"service": txns["service"].astype(str), "bin": position,
                          "outcome": txns["outcome"].astype(str)})  # fmt: skip
    counts = frame.groupby(["service", "bin", "outcome"]).size()
    for i, service in enumerate(services):
        ax = axes.flat[i]
        mine = counts.loc[service].unstack("outcome", fill_value=0)
        bottom = np.zeros(len(mine))
        for outcome in OUTCOMES:
            if outcome not in mine.columns:
                continue
            values = mine[outcome].to_numpy()
            ax.bar(mine.index + 0.5, values, width=0.9, bottom=bottom, label=outcome,
                   color=OUTCOME_COLOURS[outcome])  # fmt: skip
            bottom = bottom + values
        finish(ax, service, ylabel=f"per {unit}" if i % cols == 0 else None, legend=i == 0)
    for ax in axes.flat[len(services) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(axis.label, fontsize=9)
    suptitle(fig, f"Transactions ended per {unit}, by service — {run.name} "
                  f"(simulated counts, scale {run.scale_label})")  # fmt: skip
    return fig


def _series(run: RunFrames, names: list[str]) -> pd.DataFrame:
    ts = run.timeseries
    mine = ts[ts["station"].isin(names)].copy()
    mine["station"] = mine["station"].astype(str)
    return mine


def station_timeline(run: RunFrames, stations: list[str] | None = None) -> Figure:
    """Throughput and queue over time, one row per station.

    Left, completions per hour; right, the queue (jobs waiting) and the busy
    servers (jobs in service) at each sample. Stations default to
    :func:`busiest_stations`.
    """
    names = stations if stations is not None else busiest_stations(run)
    axis = run.time_axis()
    rows = max(1, len(names))
    fig, axes = new_figure(rows, 2, width=12.0, height=2.7 * rows + 0.7, sharex=True)
    if not names:
        empty(axes[0, 0], "no settlement nodes in this run")
        return fig
    series = _series(run, names)
    servers = dict(zip(run.stations["station"].astype(str), run.stations["servers"], strict=True))
    every = run.sample_every_s
    bin_s = 3600.0 if run.horizon_s >= 6 * 3600 else max(every, 600.0)
    warmup = [(float(axis(0.0)), float(axis(run.warmup_s)), "warm-up")] if run.warmup_s else []
    for row, name in enumerate(names):
        mine = series[series["station"] == name]
        if mine.empty:
            empty(axes[row, 0], f"no samples of {name}")
            empty(axes[row, 1], f"no samples of {name}")
            continue
        start = (mine["time_s"].to_numpy() - every).clip(0.0)
        edges = np.floor(start / bin_s) * bin_s
        per_bin = mine.groupby(edges)["completions"].sum()
        left, right = axes[row, 0], axes[row, 1]
        left.step(axis(np.append(per_bin.index, per_bin.index[-1] + bin_s)),
                  np.append(per_bin.to_numpy(), per_bin.to_numpy()[-1]) * 3600.0 / bin_s,
                  where="post", color="#1f77b4")  # fmt: skip
        t = axis(mine["time_s"].to_numpy())
        right.step(t, mine["queue"].to_numpy(), where="post", label="queue (waiting)",
                   color="#d62728")  # fmt: skip
        right.step(t, mine["busy"].to_numpy(), where="post", label="busy servers",
                   color="#7f7f7f", alpha=0.7, lw=0.8)  # fmt: skip
        count = servers.get(name, "?")
        label = f"{describe_station(name)} ({count} server{'' if count == 1 else 's'})"
        shade(left, warmup, colour="#7f7f7f")
        shade(right, warmup, colour="#7f7f7f")
        finish(left, f"{label}: throughput", ylabel="completions per hour")
        finish(right, f"{label}: queue", ylabel="jobs", legend=row == 0)
        right.set_ylim(bottom=0)
        left.set_ylim(bottom=0)
        if not (mine["queue"] > 0).any():
            busiest = int(mine["busy"].max()) if len(mine) else 0
            right.set_ylim(0, max(1, busiest + 1))
            right.text(0.02, 0.88, f"no queue at any sample; at most {busiest} server(s) busy",
                       transform=right.transAxes, fontsize=9, color="#555555")  # fmt: skip
    for ax in axes[-1]:
        ax.set_xlabel(axis.label, fontsize=10)
    suptitle(fig, f"Busiest stations — {run.name} (scale {run.scale_label}; "
                  f"queue sampled every {every:g} s)")  # fmt: skip
    return fig


def _hourly_utilisation(run: RunFrames, names: list[str]) -> pd.DataFrame:
    """Provinces × time bins: busy servers / servers, averaged over the samples in a bin."""
    st = run.stations
    info = st[st["station"].astype(str).isin(names)]
    province = dict(zip(info["station"].astype(str), info["province"].astype(str), strict=True))
    servers = info.groupby(info["province"].astype(str))["servers"].sum()
    series = _series(run, names)
    axis = run.time_axis()
    series["province"] = series["station"].map(province)
    # The last sample, at the horizon, closes the last bin rather than opening one.
    time_s = np.minimum(series["time_s"].to_numpy(), run.horizon_s - 1e-6)
    series["bin"] = np.floor(axis(time_s)).astype(int)
    busy = series.groupby(["province", "bin", "time_s"])["busy"].sum().reset_index()
    busy = busy.groupby(["province", "bin"])["busy"].mean().unstack("bin")
    return busy.div(servers.reindex(busy.index).replace(0, np.nan), axis=0)


def utilisation_heatmap(run: RunFrames, stations: str = "points") -> Figure:
    """Share of servers busy, provinces × hours (× days for long runs).

    ``stations`` is ``"points"`` (every service point's counters together),
    ``"platform"`` (the provincial platforms), or a service (its point groups).
    """
    names = run.station_names(stations)
    axis = run.time_axis()
    unit = "hour" if axis.unit_s == 3600.0 else "day"
    fig, axes = new_figure(width=11.0, height=8.0)
    ax = axes[0, 0]
    what = {"points": "all service points", "platform": "provincial platforms"}.get(
        stations, f"{stations} points"
    )
    title = f"Utilisation of {what} by province and {unit} — {run.name}"
    if not names:
        empty(ax, f"no stations of kind {stations!r} in this run")
        finish(ax, title)
        return fig
    grid = _hourly_utilisation(run, names)
    order = [p for p in run.provinces if p in grid.index]
    grid = grid.reindex(order)
    values = grid.to_numpy(dtype=float)
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
    bins = grid.columns.to_numpy()
    image = ax.imshow(values, aspect="auto", cmap="viridis", vmin=0.0, vmax=max(top, 1e-9),
                      interpolation="nearest",
                      extent=(bins[0], bins[-1] + 1, len(order) - 0.5, -0.5))  # fmt: skip
    ax.set_yticks(range(len(order)), order)
    bar = fig.colorbar(image, ax=ax, shrink=0.9)
    bar.set_label("share of servers busy (0–1)", fontsize=11)
    bar.ax.tick_params(labelsize=9)
    finish(ax, f"{title} (scale {run.scale_label})", axis.label, "province")
    ax.grid(False)
    ax.tick_params(axis="y", labelsize=8)
    return fig
