"""The validation table as ``sscard-sim validate-model`` prints it."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import TextIO

from rich.text import Text

from sim.cli.console import console_for, print_table
from sim.cli.headlines import new_table
from sim.validation.runner import CONFIRM_SEED_OFFSET, MAX_REL_ERROR, CaseReport, Row

__all__ = ["print_reports"]


def _num(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3e}"


def _missed(report: CaseReport, row: Row) -> str:
    """The note on a row that missed in the first set and is shown from the confirmation."""
    first = [m for m in report.missed if m.quantity == row.quantity]
    if not first:
        return ""
    m = first[0]
    a, b = (s - CONFIRM_SEED_OFFSET for s in report.seeds)
    if m.p_value is not None:
        figure = f"p = {m.p_value:.3g}"
    else:
        low, high = m.ci99 or (math.nan, math.nan)
        figure = f"{_num(m.mean)}, 99% CI {_num(low)} – {_num(high)}"
        if m.rel_error is not None and not math.isnan(m.rel_error):
            figure += f", rel. error {m.rel_error * 100:.2f}%"
    c, d = report.seeds
    return f"missed on seeds {a}–{b} ({figure}); confirmed on seeds {c}–{d}"


def _cells(row: Row) -> list[str]:
    ci = "–" if row.ci95 is None else f"{_num(row.ci95[0])} – {_num(row.ci95[1])}"
    if row.p_value is not None:
        rel = f"p = {row.p_value:.3g}"
    elif row.rel_error is None or math.isnan(row.rel_error):
        rel = "–"
    else:
        rel = f"{row.rel_error * 100:.2f}%"
    return [_num(row.theory), _num(row.mean), ci, rel]


def print_reports(
    reports: Sequence[CaseReport], quick: bool, wall_s: float, stream: TextIO | None = None
) -> None:
    """Print one table of every case's rows, then the cases' notes and a verdict line."""
    out = stream if stream is not None else sys.stdout
    console = console_for(out)
    reps = reports[0].replications if reports else 0
    rule = "theory inside the 99% CI" + (
        "" if quick else f" and relative error < {MAX_REL_ERROR:.0%}"
    )
    table = new_table(
        f"sscard-sim validate-model: {len(reports)} cases × {reps} replications "
        "(seeds: each scenario's seed + r)" + (" (quick: windows 10× shorter)" if quick else ""),
        f"pass: {rule}; χ² and KS: p ≥ 0.01; Little: closes exactly on every station",
    )
    for name in ("case", "model", "quantity", "theory", "simulated", "95% CI", "rel. error",
                 "verdict"):  # fmt: skip
        numeric = name in ("theory", "simulated", "95% CI", "rel. error")
        table.add_column(name, justify="right" if numeric else "left",
                         no_wrap=name not in ("model", "quantity", "95% CI"))  # fmt: skip
    for report in reports:
        for i, row in enumerate(report.rows):
            first = i == 0
            verdict = Text("pass", "green") if row.passed else Text("FAIL", "bold red")
            if not row.tested:
                verdict = Text("n/a", "dim")
            notes = [n for n in (row.detail, _missed(report, row)) if n]
            quantity = row.quantity + "".join(f"\n[dim]{n}[/dim]" for n in notes)
            table.add_row(
                row.case if first else "",
                row.kind if first else "",
                quantity,
                *_cells(row),
                verdict,
                end_section=i == len(report.rows) - 1,
            )
    print_table(console, table)
    for report in reports:
        for note in report.case.notes:
            console.print(f"{report.case.name}: {note}", highlight=False)
    for report in reports:
        if report.missed:
            names = ", ".join(m.quantity for m in report.missed)
            console.print(
                f"{report.case.name}: missed {names} on its first set of seeds; shown and "
                f"judged on an independent confirmation set (seeds {report.seeds[0]}–"
                f"{report.seeds[1]})",
                highlight=False,
            )
    failed = [r.case.name for r in reports if not r.passed]
    summary = f"FAILED: {', '.join(failed)}" if failed else "all cases pass"
    console.print(f"{summary} · {wall_s:.1f}s wall", highlight=False)
