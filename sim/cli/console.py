"""What a person at a terminal sees: a progress bar while running, a summary table after.

The progress bar goes to stderr, and only when stderr is a terminal and the
run has lasted a second; the summary table goes to stdout. Nothing here
changes results.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from typing import Any, TextIO

from rich.console import Console
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from sim.cli.headlines import (
    MEDICAL,
    SETTLE_MEASURES,
    card_lines,
    clock,
    count,
    day_lines,
    family_lines,
    fault_table,
    full,
    money_lines,
    new_table,
    node_load_lines,
    pct,
    protocol_line,
    secs,
)

__all__ = [
    "RunProgress",
    "console_for",
    "fit_table",
    "print_node_theory",
    "print_summary",
    "print_table",
    "wrap_header",
]


class _SimTimeColumn(ProgressColumn):
    """Simulated time reached out of the horizon."""

    def render(self, task: Task) -> Text:
        """Render ``sim HH:MM / HH:MM``."""
        return Text(f"sim {clock(task.completed)} / {clock(task.total or 0)}", style="cyan")


class RunProgress:
    """A progress callback that shows a bar once the run has lasted ``delay_s``."""

    def __init__(
        self, horizon_s: float, label: str, stream: TextIO | None = None, delay_s: float = 1.0
    ) -> None:
        self.horizon_s = horizon_s
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.delay_s = delay_s
        self._started = time.perf_counter()
        self._progress: Progress | None = None
        self._task: Any = None

    def __call__(self, now_s: float) -> None:
        """Show the simulated time reached (starting the bar after the delay)."""
        if not self.enabled:
            return
        if self._progress is None:
            if time.perf_counter() - self._started < self.delay_s:
                return
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                _SimTimeColumn(),
                TextColumn("wall"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=self.horizon_s)
        self._progress.update(self._task, completed=now_s)

    def close(self) -> None:
        """Remove the bar from the terminal."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def console_for(out: TextIO) -> Console:
    """A console as wide as ``COLUMNS`` or the terminal; a file or pipe gets 200 columns.

    Rich reads ``COLUMNS`` itself; without it a pipe would be cut at 80 columns.
    """
    if out.isatty() or os.environ.get("COLUMNS", "").isdigit():
        return Console(file=out)
    return Console(file=out, width=200)


_BREAK = re.compile(r"[^ ._/–-]*(?:[._/–-]+| +|$)")
"""A header's pieces: each ends where a line may break (a space, or after . _ / –)."""


def wrap_header(text: str, width: int) -> str:
    """``text`` in lines of at most ``width`` characters, broken between words or key parts.

    A piece longer than ``width`` stays whole (the column widens to it), so no word
    is cut; spaces at a break are dropped.
    """
    lines: list[str] = []
    line = ""
    for piece in (m.group() for m in _BREAK.finditer(text) if m.group()):
        if line and len((line + piece).rstrip()) > width:
            lines.append(line.rstrip())
            line = piece.lstrip(" ")
        else:
            line += piece
    lines.append(line.rstrip())
    return "\n".join(lines)


def fit_table(table: Table, width: int) -> bool:
    """Wrap the headers of ``table`` so that it fits ``width`` columns with every cell whole.

    Columns marked ``no_wrap`` hold figures: they keep the width of their widest cell,
    and their headers wrap (widest surplus first) down to that width; if that is not
    enough, columns are set one space apart without edges. Text columns share what is
    left, never narrower than their longest word. Returns whether the table fits.
    """
    console = Console(width=10_000)

    def measure(renderable: Any) -> Measurement:
        return Measurement.get(console, console.options, renderable)

    fixed = [c for c in table.columns if c.no_wrap]
    texts = {id(c): str(c.header) for c in table.columns}
    for c in table.columns:
        if not c.no_wrap:  # measured by its longest piece; rewrapped to its width below
            c.header = wrap_header(texts[id(c)], 1)
    cells = {id(c): max((measure(cell).maximum for cell in c.cells), default=0) for c in fixed}

    def header_width(column: Any) -> int:
        return max(len(line) for line in str(column.header).split("\n"))

    while True:
        for c in fixed:
            c.min_width = max(cells[id(c)], header_width(c))
        size = measure(table)
        if size.maximum <= width:  # everything on one line
            _share_the_rest(table, width - size.minimum, measure, texts)
            return True
        for c in sorted(fixed, key=lambda c: cells[id(c)] - header_width(c)):
            if header_width(c) <= cells[id(c)]:
                continue
            narrower = wrap_header(texts[id(c)], header_width(c) - 1)
            if max(len(line) for line in narrower.split("\n")) < header_width(c):
                c.header = narrower
                break
        else:
            if size.minimum <= width:  # the text columns wrap into what is left
                _share_the_rest(table, width - size.minimum, measure, texts)
                return True
            if not table.show_edge:
                return False
            table.padding, table.show_edge = (0, 0), False  # one space between columns


def _share_the_rest(table: Table, spare: int, measure: Any, headers: dict[int, str]) -> None:
    """Give the text columns their longest word, then ``spare`` to the least needy first.

    The columns needing least to show every cell on one line (an interval, a value)
    get it before a long description does; their headers wrap to the width given.
    """
    needs = []
    for c in (c for c in table.columns if not c.no_wrap):
        ranges = [measure(r) for r in (c.header, *c.cells)]
        low = max(m.minimum for m in ranges)
        high = max(m.maximum for m in ranges)  # the header's longest piece, or a cell
        needs.append((high - low, low, c))
    for want, low, c in sorted(needs, key=lambda n: n[0]):
        extra = min(want, spare)
        spare -= extra
        c.width, c.overflow = low + extra, "fold"  # fold: a word wider than it breaks, whole
        c.header = wrap_header(headers[id(c)], c.width)


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` fitted to the console's width (:func:`fit_table`).

    One that cannot fit is printed wider than the console rather than cut.
    """
    if fit_table(table, console.width):
        console.print(table)
        return
    wide = Measurement.get(console, console.options.update_width(10_000), table).maximum
    Console(file=console.file, width=wide, force_terminal=console.is_terminal).print(table)


def print_summary(
    summary: dict[str, Any], manifest: dict[str, Any], folder: str, stream: TextIO | None = None
) -> None:
    """Print the run's headline figures: a throughput table, a latency table, then lines."""
    out = stream if stream is not None else sys.stdout
    console = console_for(out)
    services = summary["services"]
    days = max((len(s.get("settled_by_day_full_scale", {})) for s in services.values()),
               default=1)  # fmt: skip
    per_day = "settled, busiest day (full scale)" if days > 1 else "settled per day (full scale)"
    hours = summary.get("window", {}).get("hours", 24.0)
    caption = "cross %: cross-province share of arrivals; " + (
        f"per day: the busiest local calendar day of {days} (each day below)" if days > 1
        else f"per day: settled in the {hours:.3g} h measured, scaled to 24 h")  # fmt: skip
    throughput = new_table(
        f"{summary['scenario']} · seed {summary['seed']} · scale {summary['scale']:g}", caption
    )
    throughput.add_column("service", no_wrap=True)
    for name in ("arrivals", "settled", "fallback", "declined", per_day, "cross %"):
        throughput.add_column(name, justify="right", no_wrap=True)
    latency = new_table(
        "settle latency (s), of settled transactions",
        "cross: cross-province settlements only; medical measures request sent → answer",
    )
    latency.add_column("service", no_wrap=True)
    for name in ("p50", "p99", "cross p50", "cross p99", "measures"):
        latency.add_column(name, justify="left" if name == "measures" else "right",
                           no_wrap=name != "measures")  # fmt: skip
    for name, s in services.items():
        outcomes = s["outcomes"]
        share = s["cross_province_share"]["value"]
        by_day = s.get("settled_by_day_full_scale") or {}
        throughput.add_row(
            name,
            count(s["arrivals"]),
            count(outcomes["settled"]),
            count(outcomes["fallback"]),
            count(outcomes["declined"]),
            full(max(by_day.values(), default=0) if days > 1 else s["settled_per_day_full_scale"]),
            "–" if share is None else f"{share * 100:.2f}",
        )
        settle = s["settle_latency_s"]
        every = settle.get("all", settle["local"])
        latency.add_row(
            name,
            secs(every["p50"]),
            secs(every["p99"]),
            secs(settle["cross_province"]["p50"]),
            secs(settle["cross_province"]["p99"]),
            SETTLE_MEASURES.get(name, "request → answer"),
        )
    print_table(console, throughput)
    print_table(console, latency)
    if summary.get("faults", {}).get("windows"):
        print_table(console, fault_table(summary["faults"]["windows"]))
    medical = summary["medical"]
    rate = medical["cross_province_inpatient_direct_settlement_rate"]
    lines = day_lines(services) if days > 1 else []
    if any(name in MEDICAL for name in services):
        lines += [
            "medical settlements/day (full scale, averaged over the "
            f"{hours:.3g} h measured): {count(medical['settled_per_day_full_scale'])}",
            "cross-province share of settlements: "
            f"{pct(medical['cross_province_share_of_settled'])}",
            "inpatient share of cross-province settlements: "
            f"{pct(medical['inpatient_share_of_cross_province_settled'])}",
            f"cross-province inpatient direct settlement rate: {pct(rate)}",
        ]
    lines += family_lines(summary.get("figures", {}))
    lines += node_load_lines(summary)
    lines += card_lines(summary)
    lines += money_lines(summary)
    build = f", {manifest['build']}" if "build" in manifest else ""  # not in older folders
    lines += [
        protocol_line(summary["protocol"]),
        f"{manifest['transactions']:,} transactions, {manifest['events']:,} events in "
        f"{manifest['wall_time_s']:.1f}s wall "
        f"({(manifest['events_per_wall_second'] or 0):,.0f} events/s{build})",
        f"results: {folder}",
    ]
    warmup = summary.get("warmup", {})
    if warmup.get("method", "fixed") != "fixed":
        dropped = warmup["transactions_dropped"]
        flag = " (at the search limit: run longer)" if warmup["at_search_limit"] else ""
        lines.insert(-2, f"warm-up ({warmup['method']}): cut at {clock(warmup['cut_s'])}, "
                         f"{dropped:,} transactions dropped{flag}")  # fmt: skip
    for line in lines:
        console.print(line, highlight=False)


def print_node_theory(summary: dict[str, Any], stream: TextIO | None = None) -> None:
    """Print each busy settlement node's simulated wait beside its Erlang-C approximation."""
    out = stream if stream is not None else sys.stdout
    console = console_for(out)
    table = new_table(
        "settlement nodes: simulated wait vs Erlang C from the measured load",
        "flagged: differs by more than a factor of two, or saturated; batch arrivals: fed "
        "in batches, not Poisson, so not compared (see docs/validation.md)",
    )
    for name in ("node", "servers", "arrivals/s", "service ms", "util %", "wait ms",
                 "Erlang C ms", "ratio", "verdict"):  # fmt: skip
        table.add_column(
            name, justify="left" if name in ("node", "verdict") else "right", no_wrap=True
        )
    for row in summary.get("settlement_nodes", []):
        if not row["arrival_rate_per_s"]:
            continue
        verdict = row["verdict"]
        style = "bold red" if verdict in ("differs", "saturated") else ""
        table.add_row(
            row["station"].removeprefix("node:"),
            str(row["servers"]),
            _fixed(row["arrival_rate_per_s"], 1.0),
            _fixed(row["mean_service_s"], 1000.0),
            _fixed(row["utilisation"], 100.0),
            _fixed(row["wait_mean_s"], 1000.0),
            _fixed(row["erlang_c_wait_s"], 1000.0),
            "–" if row["ratio"] is None or math.isnan(row["ratio"]) else f"{row['ratio']:.2f}",
            Text(verdict, style=style),
        )
    print_table(console, table)


def _fixed(value: float | None, factor: float) -> str:
    if value is None or math.isnan(value):
        return "–"
    if 0 < value * factor < 0.01:
        return "<0.001" if value * factor < 0.001 else f"{value * factor:.1g}"
    return f"{value * factor:,.3g}" if value * factor < 100 else f"{value * factor:,.0f}"
