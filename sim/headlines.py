"""Headline figures as text: the lines and small tables printed under a run's summary.

:mod:`sim.console` prints them; each helper turns part of ``summary.json`` into
words and numbers with their units, so what a planner reads says what it measures.
"""

from __future__ import annotations

import math
from typing import Any

from rich import box
from rich.table import Table

__all__ = [
    "MEDICAL",
    "PROTOCOL_NOTES",
    "SETTLE_MEASURES",
    "clock",
    "count",
    "day_lines",
    "family_lines",
    "fault_table",
    "full",
    "money_lines",
    "ms",
    "new_table",
    "node_load_lines",
    "pct",
    "protocol_line",
    "secs",
]


def clock(seconds: float) -> str:
    """Simulated seconds as ``HH:MM``, with days in front past the first."""
    seconds = max(0.0, seconds)
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    text = f"{hours:02d}:{rest // 60:02d}"
    return f"{days}d {text}" if days else text


SETTLE_MEASURES = {
    "library": "request → verified by home",
    "transit": "tap → fare debited",
    "pension_credit": "file sent → credit landed",
    "benefit_credit": "file sent → credit landed",
    "bank_withdrawal": "(none: served at the bank)",
}
"""What ``settle_latency_s`` measures per service; medical services: request → answer."""


def ms(value: float | None) -> str:
    """Seconds shown in milliseconds (with an "s" from ten seconds on)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 1000:,.0f}" if value < 10 else f"{value:,.1f}s"


def secs(value: float | None) -> str:
    """A duration in seconds, with as many decimals as its size warrants."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value < 10:
        return f"{value:.3f}"
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def count(value: float) -> str:
    """A count with thousands separators."""
    return f"{value:,.0f}"


def full(value: float) -> str:
    """A full-scale count: millions with an "M" once they pass a million (narrow columns)."""
    return f"{value / 1e6:,.2f} M" if value >= 1e6 else count(value)


def new_table(title: str, caption: str = "") -> Table:
    """A table that fits narrow terminals: no vertical rules, padding shared between columns."""
    return Table(title=title, title_justify="left", caption=caption or None,
                 caption_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                 collapse_padding=True)  # fmt: skip


def fault_table(windows: list[dict[str, Any]]) -> Table:
    """Before, during and after each fault window: the figures ``summary.json`` has."""
    table = new_table(
        "faults: medical figures before, during and after each window",
        "times after the start; fallback: bills paid in full, of arrivals "
        "(by the fault: after a timeout)",
    )
    table.add_column("fault", no_wrap=True)
    for name in ("phase", "from–to", "arrivals", "settled/h", "fallback %", "by the fault",
                 "settle p99 (s)"):  # fmt: skip
        table.add_column(name, justify="left" if name == "phase" else "right", no_wrap=True)
    for window in windows:
        for phase in ("before", "during", "after"):
            figures = window.get(phase)
            if not figures:
                continue
            share = figures.get("fallback_share")
            table.add_row(
                window["fault"] if phase == "before" else "",
                phase,
                f"{clock(figures['from_s'])}–{clock(figures['to_s'])}",
                count(figures["arrivals"]),
                f"{figures['settled_per_hour']:,.1f}",
                "–" if share is None else f"{share * 100:.2f}",
                count(figures["fallbacks_by_faults"]),
                secs((figures.get("settle_latency_s") or {}).get("p99")),
            )
    return table


PROTOCOL_NOTES = {
    "reversals_unacknowledged": "no answer to the reversal either: the bill fell back, and "
    "the home platform's books are checked and put right at close",
    "reconciled_at_close": "settled at home though the point gave up: undone at close",
    "late_responses": "answers arriving after the point gave up",
    "duplicates_suppressed": "retries a home had already settled, answered from its book",
}
"""What a protocol counter means, printed beside it when it is not zero."""


def protocol_line(counters: dict[str, int]) -> str:
    """The protocol counters that are not zero, each explained where a name is not enough."""
    shown = []
    for key, value in counters.items():
        if value:
            note = PROTOCOL_NOTES.get(key)
            shown.append(f"{key.replace('_', ' ')} {value:,}" + (f" ({note})" if note else ""))
    zero = [k.replace("_", " ") for k, v in counters.items() if not v]
    return (
        "protocol: "
        + ("; ".join(shown) if shown else "no messages")
        + (f"; zero: {', '.join(zero)}" if zero and shown else "")
    )


def day_lines(services: dict[str, Any]) -> list[str]:
    """Settled per local calendar day of arrival, full scale, per service."""
    return [
        f"{name} settled per day (full scale): "
        + ", ".join(f"{day} {full(n)}" for day, n in s["settled_by_day_full_scale"].items())
        for name, s in services.items()
        if s.get("settled_by_day_full_scale")
    ]


def money_lines(summary: dict[str, Any]) -> list[str]:
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


def family_lines(figures: dict[str, Any]) -> list[str]:
    """One or two lines of headline figures per service family that reports them."""
    lines = []
    library = figures.get("library")
    if library is not None:
        verify = library["verification_s"]
        lines.append(
            f"library verification p99: local {ms(verify['local']['p99'])} ms, "
            f"interconnected {ms(verify['interconnected']['p99'])} ms; visitors "
            f"{library['visitors']:,} ({library['not_interconnected']:,} not interconnected)"
        )
    transit = figures.get("transit")
    if transit is not None:
        debit = transit["tap_to_debit_s"]
        lines.append(
            f"transit: tap p99 {ms(transit['tap_latency_s']['p99'])} ms, max gate queue "
            f"{transit['max_gate_queue']}, upload backlog max "
            f"{transit['upload_backlog_max_records']:,} records, tap-to-debit p99 "
            f"{secs_whole(debit['all']['p99'])} (local {secs_whole(debit['local']['p99'])}, "
            f"interconnected {secs_whole(debit['interconnected']['p99'])})"
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


def secs_whole(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}s"


def pct(share: dict[str, Any]) -> str:
    """A proportion of ``summary.json`` as a percentage with its interval and counts."""
    if share["value"] is None:
        return "– (no cases)"
    low, high = share["ci95"]
    return (
        f"{share['value'] * 100:.2f}% (95% CI {low * 100:.2f}–{high * 100:.2f}%, "
        f"{share['count']:,} of {share['of']:,})"
    )


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
                f"{count(bg.get('requests', 0))} background requests, "
                f"{count(bg.get('retries', 0))} retries)")  # fmt: skip
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
