"""Printing a designed sweep's sensitivity indices (``sensitivity.parquet``), figure by figure.

Reads only the sweep folder, like :mod:`sim.experiment.report`: a Sobol' sweep
prints S1 and ST per factor, an LHS sweep its standardized rank regression
coefficients and the regression's R², each with its 95% bootstrap interval.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.parquet as pq

from sim.cli.console import console_for, print_table
from sim.cli.headlines import new_table
from sim.experiment.figures import HEADLINE
from sim.experiment.report import interval_ends, number
from sim.experiment.sensitivity import SENSITIVITY_TABLE

__all__ = ["MEASURES", "print_sensitivity", "read_sensitivity"]

MEASURES = {
    "S1": "Sobol' first-order index",
    "ST": "Sobol' total index",
    "SRRC": "standardized rank regression coefficient",
    "R2_rank": "R² of the rank regression",
}
"""What each measure of ``sensitivity.parquet`` is, as tables and plots label it."""
LOW_R2 = 0.5
"""Below this R², an LHS sweep's table warns that the SRRCs explain little of the figure."""


def read_sensitivity(folder: Path) -> pa.Table | None:
    """The folder's ``sensitivity.parquet``, or None when the sweep had no design."""
    path = folder / SENSITIVITY_TABLE
    return pq.read_table(path) if path.is_file() else None


def print_sensitivity(
    table: pa.Table, plan: dict[str, Any], figures: Sequence[str], stream: TextIO | None = None
) -> None:
    """One table per figure: each factor's indices with their 95% bootstrap intervals."""
    console = console_for(stream if stream is not None else sys.stdout)
    design = plan.get("design", {})
    method = design.get("method", "")
    described = {f.name: f.description for f in HEADLINE}
    rows = table.to_pylist()
    measures = ["S1", "ST"] if method == "sobol" else ["SRRC"]
    what = "Sobol' indices" if method == "sobol" else "standardized rank regression coefficients"
    console.print(
        f"[bold]sensitivity[/bold] · {method} design, {design.get('samples', 0)} samples · "
        f"{what}, 95% bootstrap intervals",
        highlight=False,
    )
    for name in figures:
        mine = [r for r in rows if r["figure"] == name]
        table_ = new_table(f"{name}: {described.get(name, '')}")
        table_.add_column("factor", no_wrap=True)
        for measure in measures:
            table_.add_column(measure, justify="right")
            table_.add_column("95% interval", justify="right", no_wrap=True)
        table_.add_column("samples", justify="right")
        for key in dict.fromkeys(r["factor"] for r in mine if r["factor"] != "*"):
            cells: list[str] = [key]
            used = 0
            for measure in measures:
                row = next(r for r in mine if r["factor"] == key and r["measure"] == measure)
                cells += [number(row["estimate"]), interval_ends(row["low"], row["high"])]
                used = row["samples"]
            table_.add_row(*cells, str(used))
        print_table(console, table_)
        if not any(_finite(r["estimate"]) for r in mine):
            used = mine[0]["samples"] if mine else 0
            console.print(f"  no index: {name} does not vary over the {used} usable samples, "
                          "or they are too few", highlight=False)  # fmt: skip
            continue
        for row in (r for r in mine if r["measure"] == "R2_rank"):
            low = not (_finite(row["estimate"]) and row["estimate"] >= LOW_R2)
            console.print(f"  {MEASURES['R2_rank']}: {number(row['estimate'])} "
                          f"{interval_ends(row['low'], row['high'])}"
                          + (f"; below {LOW_R2}: the figure is not monotone and additive in "
                             "the factors, and the SRRCs miss much of it" if low else ""),
                          highlight=False)  # fmt: skip


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
