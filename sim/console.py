"""What a person at a terminal sees: a progress bar while running, a summary table after.

The progress bar goes to stderr, and only when stderr is a terminal and the
run has lasted a second; the summary table goes to stdout. Nothing here
changes results.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from sim.headlines import (
    MEDICAL,
    SETTLE_MEASURES,
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

__all__ = ["RunProgress", "console_for", "print_node_theory", "print_summary"]


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
        throughput.add_column(name, justify="right", overflow="fold")
    latency = new_table(
        "settle latency (s), of settled transactions",
        "cross: cross-province settlements only; medical measures request sent → answer",
    )
    latency.add_column("service", no_wrap=True)
    for name in ("p50", "p99", "cross p50", "cross p99", "measures"):
        latency.add_column(name, justify="left" if name == "measures" else "right",
                           overflow="fold")  # fmt: skip
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
    console.print(throughput)
    console.print(latency)
    if summary.get("faults", {}).get("windows"):
        console.print(fault_table(summary["faults"]["windows"]))
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
    lines += money_lines(summary)
    lines += [
        protocol_line(summary["protocol"]),
        f"{manifest['transactions']:,} transactions, {manifest['events']:,} events in "
        f"{manifest['wall_time_s']:.1f}s wall "
        f"({(manifest['events_per_wall_second'] or 0):,.0f} events/s)",
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
        table.add_column(name, justify="left" if name in ("node", "verdict") else "right",
                         no_wrap=name in ("node", "verdict"), overflow="fold")  # fmt: skip
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
    console.print(table)


def _fixed(value: float | None, factor: float) -> str:
    if value is None or math.isnan(value):
        return "–"
    if 0 < value * factor < 0.01:
        return "<0.001" if value * factor < 0.001 else f"{value * factor:.1g}"
    return f"{value * factor:,.3g}" if value * factor < 100 else f"{value * factor:,.0f}"
