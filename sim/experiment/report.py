"""Printing a sweep's comparison table and a capacity search's curve.

Reads only what the sweep folder holds (``summary.parquet``, ``sweep.parquet``,
``plan.json``), so ``sscard-sim report`` works on any sweep folder, also one
copied from a cluster's head node.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
from rich.console import Console
from rich.table import Table

from sim.cli.console import console_for, print_table
from sim.cli.headlines import new_table
from sim.experiment.capacity import (
    CAPACITY_JSON,
    CONTEXT,
    CapacityResult,
    Point,
    Target,
)
from sim.experiment.figures import HEADLINE, is_proportion
from sim.experiment.knee import KneeResult, LoadPoint
from sim.experiment.stats import Interval
from sim.experiment.task import FAILED

__all__ = ["DEFAULT_FIGURES", "print_comparison", "print_curve", "print_knee"]

DEFAULT_FIGURES = (
    "settle_p99_local_s",
    "settle_p99_cross_s",
    "direct_settlement_rate",
    "national_utilisation",
)
"""Figures ``report`` shows unless told otherwise."""


def number(value: Any) -> str:
    """A figure for a table: thousands separators for large values, 4 digits otherwise."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def interval_ends(low: float | None, high: float | None) -> str:
    """An interval by its two ends, ``[low, high]`` (``–`` when it has none)."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return "–"
    return f"[{number(low)}, {number(high)}]"


def _spread(interval: Interval, proportion: bool) -> str:
    """The interval's cell beside its mean: its ends for a proportion, else its half-width."""
    return interval_ends(interval.low, interval.high) if proportion else number(
        interval.half_width)  # fmt: skip


def _console(stream: TextIO | None) -> Console:
    return console_for(stream if stream is not None else sys.stdout)


def print_comparison(
    tasks: pa.Table,
    summary: pa.Table,
    plan: dict[str, Any],
    figures: Sequence[str] = DEFAULT_FIGURES,
    stream: TextIO | None = None,
) -> None:
    """One table per figure: each variant's mean and 95% interval, and Δ to v000.

    A proportion's interval is shown by its ends, ``[low, high]`` (it is
    asymmetric near 0 and 1), any other's as ± its half-width. Δ is the paired
    difference (same replications, common random numbers), always ± its
    half-width; one whose interval excludes zero is marked ``*``.
    """
    console = _console(stream)
    factors = [f["key"] for f in plan.get("vary", [])]
    rows = summary.to_pylist()
    described = {f.name: f.description for f in HEADLINE}
    console.print(
        f"[bold]{plan.get('name', '')}[/bold] · {plan.get('scenario', '')} · "
        f"{len(rows)} variant(s) · {plan.get('replications', 0)} replication(s) each",
        highlight=False,
    )
    for name in figures:
        table = new_table(f"{name}: {described.get(name, '')}")
        table.add_column("variant", no_wrap=True)
        for key in factors:  # a value wraps between its words when the table is too wide
            table.add_column(key, justify="right")
        ends = is_proportion(name) and f"{name}_low" in summary.column_names
        spread = "95% interval" if ends else "± 95%"
        for column in ("n", "mean", spread, "Δ vs v000", "± 95% ", ""):
            table.add_column(column, justify="right", no_wrap=column != "95% interval")
        for i, row in enumerate(rows):
            diff, half = row[f"{name}_diff"], row[f"{name}_diff_halfwidth"]
            table.add_row(
                row["variant"],
                *(str(row[k]) for k in factors),
                str(row[f"{name}_n"]),
                number(row[f"{name}_mean"]),
                interval_ends(row[f"{name}_low"], row[f"{name}_high"])
                if ends
                else number(row[f"{name}_halfwidth"]),
                "" if i == 0 else number(diff),
                "" if i == 0 else number(half),
                "*" if i and _excludes_zero(diff, half) else "",
            )
        print_table(console, table)
    failed = [r for r in tasks.to_pylist() if r["status"] == FAILED]
    for r in failed[:10]:
        where = f"variant={r['variant']}/replication={r['replication']:03d}"
        console.print(f"failed: {where}: {r['error']}",
                      highlight=False, soft_wrap=True)  # fmt: skip
    if len(failed) > 10:
        console.print(f"… and {len(failed) - 10} more failed task(s); see sweep.parquet")


def _excludes_zero(mean: float | None, half: float | None) -> bool:
    if mean is None or half is None or not (math.isfinite(mean) and math.isfinite(half)):
        return False
    return abs(mean) > half


class CapacityFolderError(ValueError):
    """A folder that is not (or not wholly) a capacity search's."""


def read_capacity(folder: Path) -> CapacityResult:
    """A capacity search as it was printed, read back from its folder (for ``report``)."""
    import json

    import pyarrow.parquet as pq

    record_path = folder / CAPACITY_JSON
    if not record_path.is_file():
        raise CapacityFolderError(
            f"{folder} has capacity.parquet but no {CAPACITY_JSON} (made by an older "
            "sscard-sim): run the same capacity command again; it reuses the finished sweeps"
        )
    record = json.loads(record_path.read_text("utf-8"))
    target = Target(**record["target"])
    table = pq.read_table(folder / "capacity.parquet").to_pylist()
    curve = tuple(
        Point(
            row["servers"],
            _stored_interval(row, target.figure),
            row["meets_target"],
            {name: row[name] for name in CONTEXT},
            row["failed"],
            folder / f"servers-{row['servers']:05d}",
        )
        for row in table
    )
    return CapacityResult(record["node"], target, record["answer"], curve, folder,
                          record["wall_time_s"])  # fmt: skip


def _stored_interval(row: dict[str, Any], figure: str) -> Interval:
    """A curve point's interval as stored: by its ends, or (older folders) mean ± half-width."""
    mean, n = row[f"{figure}_mean"], row["replications"]
    if not is_proportion(figure) or f"{figure}_low" not in row:
        return Interval(mean, row[f"{figure}_halfwidth"], n)
    return Interval.between(mean, row[f"{figure}_low"], row[f"{figure}_high"], n)


def _curve_table(
    title: str, target: Target, steps: list[tuple[str, Point | LoadPoint]],
    step_name: str, utilisation_name: str,
) -> Table:  # fmt: skip
    """A search's measured curve: per step the target's interval, verdict and context."""
    bound = "upper" if target.op == "<=" else "lower"
    table = new_table(f"{title} {target.written} {target.op} {target.value:g} "
                      f"({target.figure}; {bound} end of the 95% interval)")  # fmt: skip
    proportion = is_proportion(target.figure)
    for name in (step_name, "n", "mean", "95% interval" if proportion else "± 95%",
                 f"{bound} bound", "meets", utilisation_name, "fallback share",
                 "failed"):  # fmt: skip
        table.add_column(name, justify="right", no_wrap=name != "95% interval")
    for label, p in steps:
        table.add_row(
            label,
            str(p.interval.n),
            number(p.interval.mean),
            _spread(p.interval, proportion),
            number(target.bound(p.interval)),
            "yes" if p.met else "no",
            number(p.context["utilisation"]),
            number(p.context["fallback_share"]),
            str(p.failed),
        )
    return table


def print_curve(result: CapacityResult, stream: TextIO | None = None) -> None:
    """The measured curve of a capacity search, and its answer."""
    console = _console(stream)
    steps: list[tuple[str, Point | LoadPoint]] = [(str(p.servers), p) for p in result.curve]
    table = _curve_table(f"capacity of {result.node}:", result.target, steps, "servers",
                         "utilisation")  # fmt: skip
    print_table(console, table)
    for warning in result.warnings:
        console.print(f"warning: {warning}; no answer", highlight=False)
    if result.warnings:
        ...  # the warning says why there is no answer
    elif result.answer is None:
        top = max(p.servers for p in result.curve)
        console.print(f"not met with up to {top} servers", highlight=False)
    else:
        console.print(f"smallest {result.node} servers meeting the target: {result.answer}",
                      highlight=False)  # fmt: skip
    if not result.monotone and not result.warnings:
        console.print("warning: the measured curve is not monotone; bisection assumes it is "
                      "(add replications)", highlight=False)  # fmt: skip
    console.print(f"{len(result.curve)} server counts measured in {result.wall_time_s:.1f}s; "
                  f"folder: {result.folder}", highlight=False)  # fmt: skip


def print_knee(result: KneeResult, stream: TextIO | None = None) -> None:
    """The measured curve of a knee search, and its answer."""
    console = _console(stream)
    steps: list[tuple[str, Point | LoadPoint]] = [(f"{p.load:.4g}", p) for p in result.curve]
    table = _curve_table("knee: highest load with", result.target, steps, "load",
                         f"{result.node} utilisation")  # fmt: skip
    print_table(console, table)
    for warning in result.warnings:
        console.print(f"warning: {warning}", highlight=False)
    if result.answer is None:
        low = min(p.load for p in result.curve)
        console.print(f"not met even at load {low:.4g}", highlight=False)
    elif result.reached_highest:
        console.print(f"still met at the highest load tried, {result.answer:.4g}: the knee lies "
                      "beyond (raise --max-load)", highlight=False)  # fmt: skip
    else:
        console.print(f"knee: load {result.answer:.4g} is the highest measured that meets the "
                      "target", highlight=False)  # fmt: skip
    console.print(f"{len(result.curve)} loads measured in {result.wall_time_s:.1f}s; "
                  f"folder: {result.folder}", highlight=False)  # fmt: skip


def figure_names_help() -> str:
    """The headline figures with their meaning, for ``--help``."""
    return "; ".join(f"{f.name}: {f.description}" for f in HEADLINE)
