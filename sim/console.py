"""What a person at a terminal sees: a progress bar while running, a summary table after.

The progress bar goes to stderr, and only when stderr is a terminal and the
run has lasted a second; the summary table goes to stdout. Nothing here
changes results.
"""

from __future__ import annotations

import math
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
from rich.table import Table
from rich.text import Text

__all__ = ["RunProgress", "print_node_theory", "print_summary"]


def _clock(seconds: float) -> str:
    seconds = max(0.0, seconds)
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    text = f"{hours:02d}:{rest // 60:02d}"
    return f"{days}d {text}" if days else text


class _SimTimeColumn(ProgressColumn):
    """Simulated time reached out of the horizon."""

    def render(self, task: Task) -> Text:
        """Render ``sim HH:MM / HH:MM``."""
        return Text(f"sim {_clock(task.completed)} / {_clock(task.total or 0)}", style="cyan")


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


def _ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 1000:,.0f}" if value < 10 else f"{value:,.1f}s"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def print_summary(
    summary: dict[str, Any], manifest: dict[str, Any], folder: str, stream: TextIO | None = None
) -> None:
    """Print the run's headline figures as tables."""
    out = stream if stream is not None else sys.stdout
    console = Console(file=out, width=None if out.isatty() else 132)
    table = Table(
        title=f"{summary['scenario']} · seed {summary['seed']} · scale {summary['scale']:g}",
        title_justify="left",
    )
    table.add_column("service", no_wrap=True, min_width=18)
    for name in (
        "arrivals",
        "settled",
        "fallback",
        "declined",
        "settled/day (full scale)",
        "cross %",
        "settle p50 ms",
        "p99 ms",
        "cross p99 ms",
    ):
        table.add_column(name, justify="right")
    for name, s in summary["services"].items():
        out = s["outcomes"]
        share = s["cross_province_share"]["value"]
        table.add_row(
            name,
            _count(s["arrivals"]),
            _count(out["settled"]),
            _count(out["fallback"]),
            _count(out["declined"]),
            _count(s["settled_per_day_full_scale"]),
            "–" if share is None else f"{share * 100:.2f}",
            _ms(s["settle_latency_s"]["local"]["p50"]),
            _ms(s["settle_latency_s"]["local"]["p99"]),
            _ms(s["settle_latency_s"]["cross_province"]["p99"]),
        )
    console.print(table)
    medical = summary["medical"]
    rate = medical["cross_province_inpatient_direct_settlement_rate"]
    lines = []
    if any(name in MEDICAL for name in summary["services"]):
        lines += [
            "medical settlements/day (full scale): "
            f"{_count(medical['settled_per_day_full_scale'])}",
            "cross-province share of settlements: "
            f"{_pct(medical['cross_province_share_of_settled'])}",
            "inpatient share of cross-province settlements: "
            f"{_pct(medical['inpatient_share_of_cross_province_settled'])}",
            f"cross-province inpatient direct settlement rate: {_pct(rate)}",
        ]
    lines += family_lines(summary.get("figures", {}))
    lines += node_load_lines(summary)
    lines += _money_lines(summary)
    lines += [
        "protocol: "
        + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in summary["protocol"].items()),
        f"{manifest['transactions']:,} transactions, {manifest['events']:,} events in "
        f"{manifest['wall_time_s']:.1f}s wall "
        f"({(manifest['events_per_wall_second'] or 0):,.0f} events/s)",
        f"results: {folder}",
    ]
    warmup = summary.get("warmup", {})
    if warmup.get("method", "fixed") != "fixed":
        dropped = warmup["transactions_dropped"]
        flag = " (at the search limit: run longer)" if warmup["at_search_limit"] else ""
        lines.insert(-2, f"warm-up ({warmup['method']}): cut at {_clock(warmup['cut_s'])}, "
                         f"{dropped:,} transactions dropped{flag}")  # fmt: skip
    for line in lines:
        console.print(line, highlight=False)


def _money_lines(summary: dict[str, Any]) -> list[str]:
    """Ledger totals and clearing, when the summary has them."""
    lines = []
    ledger = summary.get("ledger")
    if ledger:
        totals = ledger["totals_fen"]
        ok = all(ledger["checks"].values())
        lines.append(
            f"money: fund shares ¥{totals['fund_share'] / 100:,.2f}, personal shares "
            f"¥{totals['personal_share'] / 100:,.2f}, self-paid ¥{totals['self_pay'] / 100:,.2f}"
            f"; {ledger['postings']:,} postings, checks {'passed' if ok else 'FAILED'}"
        )
    clearing = summary.get("clearing")
    if clearing and clearing["gross_obligations_fen"]:
        lines.append(
            f"clearing: {clearing['periods']} period(s), gross obligations "
            f"¥{clearing['gross_obligations_fen'] / 100:,.2f}, net transfers "
            f"¥{clearing['net_transfers_fen'] / 100:,.2f} (netting ratio "
            f"{clearing['netting_ratio']:.3f})"
        )
    return lines


MEDICAL = ("medical_outpatient", "medical_inpatient", "pharmacy")


def node_load_lines(summary: dict[str, Any]) -> list[str]:
    """Which traffic the settlement nodes carried, and the busiest one's utilisation."""
    load = summary.get("network_load")
    if not load:
        return []
    scale = float(summary["scale"])
    factor = float(load.get("load_factor", 1.0))
    demand = f", demand × {factor:g}" if factor != 1.0 else ""
    if load["mode"] == "full":
        bg = load.get("background", {})
        what = (f"full-scale load{demand} (the simulated holders' requests and "
                f"{_count(bg.get('requests', 0))} background requests, "
                f"{_count(bg.get('retries', 0))} retries)")  # fmt: skip
    elif scale < 1.0:
        what = (f"sampled load{demand}: about 1/{1.0 / scale:,.0f} of their full-scale "
                "traffic (network.load: full gives them all of it)")  # fmt: skip
    else:
        what = f"full-scale load{demand} (every holder simulated)"
    nodes = [n for n in summary.get("settlement_nodes", []) if not n["station"].startswith(
        "node:bank:") and n.get("utilisation") is not None]  # fmt: skip
    busiest = max(nodes, key=lambda n: n["utilisation"], default=None)
    if busiest is not None:
        share = busiest["utilisation"] * 100
        what += f"; busiest {busiest['station']} at {share:.1f}% utilisation"
    return [f"settlement nodes: {what}"]


def family_lines(figures: dict[str, Any]) -> list[str]:
    """One or two lines of headline figures per service family that reports them."""
    lines = []
    library = figures.get("library")
    if library is not None:
        verify = library["verification_s"]
        lines.append(
            f"library verification p99: local {_ms(verify['local']['p99'])} ms, "
            f"interconnected {_ms(verify['interconnected']['p99'])} ms; visitors "
            f"{library['visitors']:,} ({library['not_interconnected']:,} not interconnected)"
        )
    transit = figures.get("transit")
    if transit is not None:
        debit = transit["tap_to_debit_s"]
        lines.append(
            f"transit: tap p99 {_ms(transit['tap_latency_s']['p99'])} ms, max gate queue "
            f"{transit['max_gate_queue']}, upload backlog max "
            f"{transit['upload_backlog_max_records']:,} records, tap-to-debit p99 "
            f"{_s(debit['all']['p99'])} (local {_s(debit['local']['p99'])}, "
            f"interconnected {_s(debit['interconnected']['p99'])})"
        )
    payout = figures.get("pension_payout")
    if payout is not None:
        met = payout["deadline_met"]
        verdict = "no payday in the run" if met is None else ("met" if met else "MISSED")
        late = sorted({p for d in payout["paydays"].values() for p in d["provinces_late"]})
        lines.append(
            f"payout: last credit {payout['last_credit_at'] or '–'}, deadline "
            f"{payout['deadline']} {verdict}" + (f" (late: {', '.join(late)})" if late else "")
        )
        banks = payout.get("withdrawals")
        if banks is not None:
            lines.append(
                f"bank visits: {banks['visits']:,} (counter {banks['counter']:,}, ATM "
                f"{banks['atm']:,}); declined, credit not landed: "
                f"{banks['declined_credit_pending']:,}"
            )
    return lines


def _s(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}s"


def _pct(share: dict[str, Any]) -> str:
    if share["value"] is None:
        return "– (no cases)"
    low, high = share["ci95"]
    return (
        f"{share['value'] * 100:.2f}% (95% CI {low * 100:.2f}–{high * 100:.2f}%, "
        f"{share['count']:,} of {share['of']:,})"
    )


def print_node_theory(summary: dict[str, Any], stream: TextIO | None = None) -> None:
    """Print each busy settlement node's simulated wait beside its Erlang-C approximation."""
    out = stream if stream is not None else sys.stdout
    console = Console(file=out, width=None if out.isatty() else 132)
    table = Table(
        title="settlement nodes: simulated wait vs Erlang C from the measured load",
        title_justify="left",
        caption="flagged: differs by more than a factor of two, or saturated "
        "(see docs/validation.md)",
        caption_justify="left",
    )
    for name in ("node", "servers", "arrivals/s", "service ms", "util %", "wait ms",
                 "Erlang C ms", "ratio", "verdict"):  # fmt: skip
        table.add_column(name, justify="left" if name in ("node", "verdict") else "right")
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
    return f"{value * factor:,.3g}" if value * factor < 100 else f"{value * factor:,.0f}"
