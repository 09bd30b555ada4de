"""The report of one run: the standard plots as PNG files, and one self-contained HTML page.

``sscard-sim report RESULTS_DIR`` calls :func:`write_report`. The page embeds
every plot as a base64 ``data:`` URI and carries its own style sheet, so it can
be mailed or archived alone: it loads nothing from anywhere.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Callable
from pathlib import Path

import attrs
import pandas as pd
from matplotlib.figure import Figure

from sim.report.cells import format_cell, html_table
from sim.report.clearing import net_positions_table
from sim.report.faults import fault_spans, fault_timeline, fault_windows_table
from sim.report.frames import RunFrames
from sim.report.fraud import fraud_outcomes, has_fraud
from sim.report.latency import latency_cdf
from sim.report.outcomes import outcome_breakdown
from sim.report.style import png_bytes
from sim.report.tables import (
    clearing_table,
    headline_table,
    money_checks,
    node_table,
    protocol_table,
    service_table,
)
from sim.report.traffic import (
    busiest_point_service,
    busiest_stations,
    station_timeline,
    throughput_per_hour,
    utilisation_heatmap,
)

__all__ = ["PLOTS", "Plot", "Report", "write_report"]


@attrs.frozen
class Plot:
    """One standard plot: its file name, caption, how it is drawn, and what it needs."""

    name: str
    caption: str
    draw: Callable[[RunFrames], Figure] = attrs.field(repr=False)
    needs_transactions: bool = True
    applies: Callable[[RunFrames], bool] = attrs.field(default=lambda run: True, repr=False)
    not_applied: str = "the run had no faults"
    """Why the plot is skipped when it does not apply to the run."""


PLOTS: tuple[Plot, ...] = (
    Plot("latency_cdf", "Settle latency CDF per service, local against cross-province.",
         latency_cdf),
    Plot("throughput_per_hour", "Transactions ended per hour, per service, by outcome.",
         throughput_per_hour),
    Plot("busiest_stations", "Throughput and queue over time at the busiest provincial "
         "platform, the national platform and the point group with the longest queue.",
         lambda run: station_timeline(run, busiest_stations(run, points=True)), False),
    Plot("utilisation_heatmap", "Share of servers busy by province and hour, at the "
         "service points of the most utilised service.",
         lambda run: utilisation_heatmap(run, busiest_point_service(run)), False),
    Plot("outcomes", "Outcome of transactions per service.", outcome_breakdown),
    Plot("faults", "Throughput, fallbacks and retries over time; fault windows shaded.",
         fault_timeline, applies=lambda run: bool(fault_spans(run))),
    Plot("fraud", "How fraud attempts ended per kind; each detection rule's hits against "
         "its false alarms.", fraud_outcomes, applies=has_fraud,
         not_applied="the run had no fraud or detection rules"),
)  # fmt: skip
"""The plots ``sscard-sim report`` writes, in the order of the page."""


@attrs.frozen
class Report:
    """What :func:`write_report` wrote and what it skipped (with the reason)."""

    pngs: tuple[Path, ...]
    html: Path | None
    skipped: tuple[tuple[str, str], ...]


def write_report(run: RunFrames, out_dir: str | Path, html_page: bool = False) -> Report:
    """Write each standard plot as ``<name>.png`` into ``out_dir``.

    With ``html_page``, also ``report.html``: the summary tables and every plot.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    drawn: list[tuple[Plot, bytes]] = []
    skipped: list[tuple[str, str]] = []
    for plot in PLOTS:
        if not plot.applies(run):
            skipped.append((plot.name, plot.not_applied))
            continue
        if plot.needs_transactions and not run.has("transactions"):
            skipped.append((plot.name, "the run kept no transactions.parquet"))
            continue
        if plot.needs_transactions and len(run.transactions) == 0:
            skipped.append((plot.name, "no transaction ended in the run"))
            continue
        drawn.append((plot, png_bytes(plot.draw(run))))
    pngs = []
    for plot, data in drawn:
        path = out / f"{plot.name}.png"
        path.write_bytes(data)
        pngs.append(path)
    page = None
    if html_page:
        page = out / "report.html"
        page.write_text(render_html(run, drawn), encoding="utf-8")
    return Report(tuple(pngs), page, tuple(skipped))


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
thead th { background: #f2f2f2; }
tbody th { font-weight: normal; background: #fafafa; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1.5em 0; } img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption, .note { color: #555; font-size: 0.9em; } .meta { color: #555; }
"""


def _section(title: str, frame: pd.DataFrame, empty: str, note: str = "",
             by_row: bool = False) -> str:  # fmt: skip
    """A heading, a table (or why there is none) and a note under it."""
    body = html_table(frame, by_row) if not frame.empty else f"<p>{html.escape(empty)}</p>"
    under = f'\n<p class="note">{html.escape(note)}</p>' if note and not frame.empty else ""
    return f"<h2>{html.escape(title)}</h2>\n{body}{under}"


def render_html(run: RunFrames, plots: list[tuple[Plot, bytes]]) -> str:
    """The self-contained page: title, summary tables, and every plot embedded."""
    description = run.scenario.get("description") or ""
    figures = "\n".join(
        f'<figure><img alt="{html.escape(plot.caption)}" '
        f'src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'
        f"<figcaption>{html.escape(plot.caption)}</figcaption></figure>"
        for plot, data in plots
    )
    written = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    wall = format_cell(run.manifest.get("wall_time_s"), "time")
    sections = "\n".join(
        (
            _section("Headline figures", headline_table(run), "No figures recorded.", by_row=True),
            _section("Services", service_table(run), "No service in this run.",
                     "Settle latency: from sending the settlement request to its answer, "
                     "retries included, of settled transactions."),
            _section("Faults", fault_windows_table(run), "No fault in this run.",
                     "Medical settlement before, during and after each fault window; "
                     "times after the start; by faults: fallbacks after a timeout."),
            _section("Settlement nodes", node_table(run) if run.has("stations") else
                     pd.DataFrame(), "No settlement node in this run.", _load_note(run)),
            _section("Protocol", protocol_table(run), "No protocol counters recorded."),
            _section("Clearing", clearing_table(run), "No clearing period in this run.",
                     "Simulated money, at the run's scale.", by_row=True),
            _section("Clearing positions by province", _positions(run),
                     "No province owed or was owed anything in this run.",
                     "Full scale (simulated ÷ scale), receivers first; provinces with no "
                     "obligations left out."),
            _section("Money checks", money_checks(run), "No ledger checks recorded."),
        )
    )  # fmt: skip
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sscard-sim report: {html.escape(run.name)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>sscard-sim report: {html.escape(run.name)}</h1>
<p>{html.escape(str(description))}</p>
<p class="meta">Results folder {html.escape(str(run.folder))}; simulated in {wall};
report written {written}.</p>
{sections}
<h2>Plots</h2>
{figures or "<p>No plot could be drawn (see the command's output).</p>"}
</body>
</html>
"""


def _load_note(run: RunFrames) -> str:
    """What the node figures count: the simulated holders only, or the full load too."""
    load = run.summary.get("network_load") or {}
    background = load.get("background") or {}
    busiest = "Busiest first. "
    if load.get("mode") == "full" and background:
        requests = format_cell(background.get("requests"))
        return (
            f"{busiest}Full load: the simulated holders' requests and {requests} "
            "background requests; the holders' columns are the simulated holders' own."
        )
    return f"{busiest}The simulated holders' requests only (the nodes at the run's scale)."


def _positions(run: RunFrames) -> pd.DataFrame:
    """Net clearing positions per province, full scale, in the page's labels."""
    if not run.has("clearing") or run.clearing.empty:
        return pd.DataFrame()
    table = net_positions_table(run).rename(columns={
        "gross_due_million_yuan": "due as treatment province (¥ million)",
        "gross_owed_million_yuan": "owed as home province (¥ million)",
        "net_million_yuan": "net (¥ million)",
    })  # fmt: skip
    moved = (table != 0).any(axis=1)
    return table[moved].rename_axis("province")
