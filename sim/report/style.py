"""How every plot looks: figure size, fonts, colours, and writing it out.

Figures are plain :class:`matplotlib.figure.Figure` objects drawn on the Agg
canvas, never through ``pyplot``: nothing opens a window, nothing is kept in a
global list, and the same figure shows inline in a notebook (as its last
expression) or is written to a PNG by :func:`save_png`.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

__all__ = [
    "CROSS",
    "LOCAL",
    "OUTCOME_COLOURS",
    "SERIES",
    "empty",
    "finish",
    "grid_shape",
    "legend_below",
    "log_x",
    "new_figure",
    "png_bytes",
    "save_png",
    "shade",
    "suptitle",
    "wrap_to",
]

TITLE_PT = 13.0
LABEL_PT = 11.0
TICK_PT = 9.5
LEGEND_PT = 9.5
DPI = 110

LOCAL = "#1f77b4"
"""Colour of local transactions."""
CROSS = "#d62728"
"""Colour of cross-province transactions."""
OUTCOME_COLOURS = {"settled": "#2ca02c", "fallback": "#ff7f0e", "declined": "#7f7f7f"}
SERIES = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
"""Colours of successive series (the tab10 palette)."""


class _Figure(Figure):
    """A Figure that shows as a PNG in a notebook even without ``%matplotlib inline``."""

    def _repr_png_(self) -> bytes:
        return png_bytes(self)


def new_figure(
    rows: int = 1,
    cols: int = 1,
    *,
    width: float = 9.0,
    height: float = 4.8,
    sharex: bool = False,
    sharey: bool = False,
) -> tuple[Figure, npt.NDArray[Any]]:
    """A figure with a grid of axes (always returned as a 2-d array), on the Agg canvas."""
    fig = _Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, sharex=sharex, sharey=sharey, squeeze=False)
    return fig, np.asarray(axes)


def grid_shape(panels: int, cols: int = 4) -> tuple[int, int]:
    """Rows and columns of a grid holding ``panels`` panels, at most ``cols`` a row."""
    cols = max(1, min(cols, panels))
    return math.ceil(panels / cols), cols


def finish(
    ax: Axes,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    legend: bool = False,
) -> None:
    """Title, axis labels and legend in the standard sizes, and a light grid."""
    if title is not None:
        shown = ax.set_title(title, fontsize=LABEL_PT if len(title) > 60 else TITLE_PT)
        spec = ax.get_subplotspec()
        share = 1.0 if spec is None else len(spec.colspan) / spec.get_gridspec().ncols
        wrap_to(shown, ax.figure.bbox.width * share * 0.95)
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=LABEL_PT)
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=LABEL_PT)
    ax.tick_params(labelsize=TICK_PT)
    ax.grid(True, alpha=0.3, linewidth=0.6)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=LEGEND_PT, framealpha=0.85)


def legend_below(fig: Figure, ax: Axes, columns: int = 4) -> None:
    """The legend of ``ax`` centred under the figure, outside every panel."""
    handles, labels = ax.get_legend_handles_labels()
    legend = ax.get_legend()
    if legend is not None:
        legend.remove()
    fig.legend(handles, labels, loc="outside lower center", ncols=columns, fontsize=LEGEND_PT,
               frameon=False)  # fmt: skip


def log_x(ax: Axes) -> None:
    """A log x axis labelled in plain numbers (0.1, 1, 10).

    When the axis spans less than two decades, 2 and 5 between them are labelled too.
    """
    ax.set_xscale("log")
    plain = FuncFormatter(lambda value, _pos: f"{value:g}")
    ax.xaxis.set_major_formatter(plain)
    low, high = ax.get_xlim()
    if low > 0 and high / low < 100:
        ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.xaxis.set_minor_formatter(plain)
        ax.tick_params(axis="x", which="minor", labelsize=TICK_PT - 1)
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())


def suptitle(fig: Figure, text: str) -> None:
    """The title of a figure of several panels, wrapped onto lines that fit its width."""
    title = fig.suptitle(text, fontsize=TITLE_PT + 1, fontweight="bold")
    wrap_to(title, fig.bbox.width * 0.97)


def wrap_to(text: Text, width_px: float) -> None:
    """Break ``text`` between words onto as few lines as keep it within ``width_px``.

    Matplotlib clips a title wider than its figure (a grid of one or two panels
    is narrow); measured with the figure's renderer, so any font and size fit.
    """
    figure = text.figure
    get_renderer = getattr(getattr(figure, "canvas", None), "get_renderer", None)
    if get_renderer is None:  # not on a figure, or a canvas that cannot measure: left as is
        return
    renderer = get_renderer()
    words = " ".join(text.get_text().split())
    if text.get_window_extent(renderer).width <= width_px:
        return
    chars = len(words)
    while chars > 10:
        chars = int(chars * 0.9)
        text.set_text(textwrap.fill(words, chars, break_on_hyphens=False))
        if text.get_window_extent(renderer).width <= width_px:
            return


def shade(
    ax: Axes,
    spans: Sequence[tuple[float, float, str]],
    colour: str = "#d62728",
    alpha: float = 0.12,
) -> None:
    """Shade intervals ``(from, to, label)`` of the x axis; each label once in the legend."""
    seen: set[str] = set()
    for start, end, label in spans:
        ax.axvspan(start, end, color=colour, alpha=alpha, lw=0,
                   label=label if label and label not in seen else None)  # fmt: skip
        seen.add(label)


def empty(ax: Axes, message: str) -> None:
    """Say on the axes that there is nothing to draw."""
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes,
            fontsize=LABEL_PT, color="#555555")  # fmt: skip
    ax.set_xticks([])
    ax.set_yticks([])


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write the figure as a PNG (white background) and return its path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=DPI, facecolor="white")
    return out


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()
