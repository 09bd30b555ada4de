"""A designed sweep's sensitivity indices as bar charts with interval whiskers, and a page.

``sscard-sim report SWEEP_DIR --html`` on a ``--design`` sweep reads its
``sensitivity.parquet`` (:mod:`sim.experiment.sensitivity`) and draws, per
headline figure, one bar per factor and measure (Sobol' S1 and ST, or the
SRRC of an LHS sweep), each with its 95% bootstrap interval as a whisker; the
PNGs and ``report.html`` (the same charts embedded, with their tables) go to
``SWEEP_DIR/report/`` or ``--out``.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.experiment.catalogue import PLAN_FILE
from sim.experiment.figures import HEADLINE
from sim.experiment.sensitivity_report import MEASURES, read_sensitivity
from sim.report.cells import html_table
from sim.report.page import STYLE
from sim.report.style import SERIES, finish, new_figure, png_bytes

__all__ = ["sensitivity_chart", "write_sensitivity_report"]


def sensitivity_chart(frame: pd.DataFrame, figure: str) -> Figure:
    """One figure's indices: a bar per factor and measure, whiskers at the 95% interval."""
    mine = frame[(frame["figure"] == figure) & (frame["factor"] != "*")]
    factors = list(dict.fromkeys(mine["factor"]))
    measures = list(dict.fromkeys(mine["measure"]))
    fig, axes = new_figure(width=9.0, height=1.2 + 0.7 * len(factors) * len(measures))
    ax = axes[0, 0]
    height = 0.8 / max(len(measures), 1)
    y = np.arange(len(factors), dtype=np.float64)
    for j, measure in enumerate(measures):
        rows = mine[mine["measure"] == measure].set_index("factor").reindex(factors)
        est = rows["estimate"].to_numpy(dtype=np.float64)
        low = rows["low"].to_numpy(dtype=np.float64)
        high = rows["high"].to_numpy(dtype=np.float64)
        err = np.vstack([np.where(np.isfinite(low), est - low, 0.0),
                         np.where(np.isfinite(high), high - est, 0.0)])  # fmt: skip
        at = y + (j - (len(measures) - 1) / 2) * height
        ax.barh(at, np.nan_to_num(est), height * 0.9, xerr=np.abs(err),
                color=SERIES[j % len(SERIES)], capsize=3,
                label=f"{measure}: {MEASURES.get(measure, measure)}")  # fmt: skip
        for where in at[~np.isfinite(est)]:  # a zero-length bar: say there is no index
            ax.text(0.0, where, " no index", va="center", fontsize=8, color="#555")
    ax.axvline(0.0, color="#444", linewidth=0.8)
    ax.set_yticks(y, factors)
    ax.invert_yaxis()
    described = {f.name: f.description for f in HEADLINE}.get(figure, figure)
    what = "coefficient" if measures == ["SRRC"] else "index"
    finish(ax, f"{figure}: {described}", f"{what} (whiskers: 95% bootstrap interval)",
           legend=True)  # fmt: skip
    return fig


def write_sensitivity_report(
    folder: Path, out: Path, figures: Sequence[str] = (), html_page: bool = False
) -> list[Path]:
    """Write a chart per figure with a finite index into ``out`` (and ``report.html``).

    Returns:
        The files written, PNGs first.

    Raises:
        ValueError: the folder holds no ``sensitivity.parquet`` (no ``--design``).
    """
    table = read_sensitivity(folder)
    if table is None:
        raise ValueError(f"{folder} has no sensitivity.parquet: the sweep had no --design")
    frame = table.to_pandas()
    wanted = list(figures) or list(dict.fromkeys(frame["figure"]))
    drawn = [f for f in wanted
             if np.isfinite(frame.loc[frame["figure"] == f, "estimate"]).any()]  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    written, images = [], []
    for figure in drawn:
        data = png_bytes(sensitivity_chart(frame, figure))
        path = out / f"sensitivity_{figure}.png"
        path.write_bytes(data)
        written.append(path)
        images.append((figure, data))
    if html_page:
        page = out / "report.html"
        page.write_text(_page(folder, frame, images, wanted), encoding="utf-8")
        written.append(page)
    return written


def _page(folder: Path, frame: pd.DataFrame, images: list[tuple[str, bytes]],
          figures: Sequence[str]) -> str:  # fmt: skip
    plan = json.loads((folder / PLAN_FILE).read_text("utf-8"))
    design = plan.get("design", {})
    ranges = ", ".join(f"{r['key']} = {r['range']}" for r in design.get("ranges", []))
    shown = frame[frame["figure"].isin(figures)].copy()
    shown["95% interval"] = [_ends(lo, hi) for lo, hi in zip(shown["low"], shown["high"],
                                                             strict=True)]  # fmt: skip
    shown = shown[["figure", "factor", "measure", "estimate", "95% interval", "samples"]]
    charts = "\n".join(
        f'<figure><img alt="sensitivity of {html.escape(name)}" '
        f'src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'
        f"<figcaption>Sensitivity of {html.escape(name)} to each factor.</figcaption></figure>"
        for name, data in images
    )
    measures = "; ".join(f"{m}: {MEASURES[m]}" for m in dict.fromkeys(shown["measure"]))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sscard-sim sensitivity: {html.escape(str(plan.get("name", "")))}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>sscard-sim sensitivity: {html.escape(str(plan.get("name", "")))}</h1>
<p class="meta">Sweep folder {html.escape(str(folder))}; {html.escape(str(design.get("method")))}
design, {design.get("samples")} samples of {html.escape(ranges)};
{plan.get("replications")} replication(s) per variant.</p>
<h2>Indices</h2>
{html_table(shown.set_index(["figure", "factor", "measure"]))}
<p class="note">{html.escape(measures)}. Intervals: 95% bootstrap percentile.</p>
<h2>Plots</h2>
{charts or "<p>No figure has a finite index.</p>"}
</body>
</html>
"""


def _ends(low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "–"
    return f"[{low:.4g}, {high:.4g}]"
