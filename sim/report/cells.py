"""How a figure is written in a table of the HTML page: one rule for every cell.

A cell is formatted by what its label says it is (the column name, or the row
name in a table of figure and value):

- identifiers (``seed``, ``period``) as they are, never with separators;
- times, labelled ``(s)`` or ``(h)``, with their unit in the cell (``142 ms``,
  ``1.32 s``, ``20 min``), the unit dropped from the label;
- shares, rates and utilisations (a last word ``share``, ``rate`` or
  ``utilisation``) as percentages;
- money (``¥`` in the label, which carries the unit) with two decimals;
- every other number with thousands separators from 1,000 up, integers exactly
  and others to four significant digits; booleans as yes / no; missing as "–".

The tables of :mod:`sim.report.tables` keep plain numbers for notebooks; only
the page formats them, here.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["Kind", "count", "duration", "format_cell", "header", "html_table", "kind_of"]

Kind = Literal["identifier", "time", "hours", "share", "money", "number"]

IDENTIFIERS = frozenset({"seed", "period"})
"""Labels of numbers that name something: printed exactly as stored."""
MISSING = "–"
_UNIT = re.compile(r"\s*\((s|h)\)")
_UNITS = (("µs", 1e-6, 1e-3), ("ms", 1e-3, 1.0), ("s", 1.0, 60.0), ("min", 60.0, 3600.0),
          ("h", 3600.0, 360_000.0))  # fmt: skip
"""(unit, seconds per unit, up to how many seconds it is used) of :func:`duration`."""


def kind_of(label: object) -> Kind:
    """What a cell labelled ``label`` holds (see the module's rule)."""
    text = str(label).strip().lower()
    if text in IDENTIFIERS:
        return "identifier"
    if "¥" in text:
        return "money"
    unit = _UNIT.search(text)
    if unit:
        return "time" if unit.group(1) == "s" else "hours"
    if re.search(r"\b(share|rate|utilisation)$", text):
        return "share"
    return "number"


def header(label: object) -> str:
    """A label as the page shows it: a time's unit moves into its cells."""
    return _UNIT.sub("", str(label))


def format_cell(value: Any, kind: Kind = "number") -> str:
    """``value`` written by the page's rule for a cell of ``kind``."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float) or kind == "identifier":
        return str(value)
    if not math.isfinite(value):
        return "∞" if value > 0 else "−∞"
    if kind == "time":
        return duration(float(value))
    if kind == "hours":
        return duration(float(value) * 3600.0)
    if kind == "share":
        percent = float(value) * 100.0
        if 0 < abs(percent) < 0.005:  # not rounded to a false 0.00%
            return "< 0.01%" if percent > 0 else "> −0.01%"
        return f"{percent:.1f}%" if abs(percent) >= 10 else f"{percent:.2f}%"
    if kind == "money":
        return f"{value:,.2f}"
    return count(value)


def count(value: float) -> str:
    """A plain number: separators from 1,000; four significant digits below."""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}" if abs(value) >= 1e-3 else f"{value:.2e}"


def duration(seconds: float) -> str:
    """A time with its unit (µs, ms, s, min or h) to three significant digits: ``1.00 s``."""
    if seconds == 0:
        return "0 s"
    if abs(seconds) < 1e-6:
        return "< 1 µs"
    for unit, per, below in _UNITS:
        value = float(f"{seconds / per:.3g}")  # rounded first: 999.7 ms is 1.00 s
        if abs(value) * per < below:
            decimals = max(0, 2 - math.floor(math.log10(abs(value))))
            return f"{value:.{decimals}f} {unit}"
    return f"{seconds / 3600.0:,.0f} h"


def html_table(frame: pd.DataFrame, by_row: bool = False) -> str:
    """``frame`` as an HTML table: one header row, index levels as row headers.

    With ``by_row`` the row's name decides each cell's kind (a table of figure
    and value); otherwise the column's. Repeated leading index values span rows.
    """
    names = [n if n is not None else "" for n in frame.index.names]
    columns = [header(c) for c in frame.columns]
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in [*names, *columns])
    keys = [k if isinstance(k, tuple) else (k,) for k in frame.index]
    body = []
    for i, (key, values) in enumerate(zip(keys, frame.itertuples(index=False), strict=True)):
        cells = _row_headers(keys, i, by_row)
        for column, value in zip(frame.columns, values, strict=True):
            kind = kind_of(key[-1] if by_row else column)
            text = format_cell(value, kind)
            numeric = isinstance(value, int | float | np.number) and not isinstance(value, bool)
            align = ' class="num"' if (numeric or text == MISSING) and kind != "identifier" else ""
            cells.append(f"<td{align}>{html.escape(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
            + "\n".join(body) + "\n</tbody>\n</table>")  # fmt: skip


def _row_headers(keys: Sequence[tuple[Hashable, ...]], i: int, by_row: bool) -> list[str]:
    """Row header cells of row ``i``; a leading level equal to the row above is spanned.

    With ``by_row`` the last level names the row's figure: a time's unit is in its cell.
    """
    cells = []
    for level, value in enumerate(keys[i]):
        outer = level < len(keys[i]) - 1
        if outer and i > 0 and keys[i - 1][: level + 1] == keys[i][: level + 1]:
            continue
        span, same = 1, keys[i][: level + 1]
        while outer and i + span < len(keys) and keys[i + span][: level + 1] == same:
            span += 1
        rowspan = f' rowspan="{span}"' if span > 1 else ""
        text = header(value) if by_row and not outer else str(value)
        cells.append(f'<th scope="row"{rowspan}>{html.escape(text)}</th>')
    return cells
