"""Headline figures as text: the lines and small tables printed under a run's summary.

:mod:`sim.cli.console` prints them; each helper turns part of ``summary.json`` into
words and numbers with their units, so what a planner reads says what it measures.
"""

from __future__ import annotations

import importlib
from typing import Any

from rich import box
from rich.table import Table

from sim.outputs.text import count, full, ms, secs
from sim.scenario.families import FAMILIES, medical_labels

__all__ = [
    "MEDICAL",
    "PROTOCOL_NOTES",
    "SETTLE_MEASURES",
    "card_lines",
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


def card_lines(summary: dict[str, Any]) -> list[str]:
    """Card states and fraud, when the scenario has them (``docs/cards.md``)."""
    lines = []
    cards = summary.get("cards")
    if cards:
        lines.append(
            f"cards: {cards['lost']:,} lost, {cards['reported']:,} reported, "
            f"{cards['expired']:,} expired, {cards['renewed']:,} renewed in the run; "
            f"{cards['frozen_at_end']:,} still frozen at its end"
        )
    fraud = summary.get("fraud")
    if fraud:
        kinds = ", ".join(
            f"{name} {k['attempts']:,} ({k['caught']:,} caught, {k['missed']:,} missed)"
            for name, k in fraud["kinds"].items() if k["attempts"]
        )  # fmt: skip
        lost = fraud["lost_fen"]
        lines.append(f"fraud attempts: {kinds or 'none'}")
        lines.append(
            f"fraud lost: fund ¥{lost['fund'] / 100:,.2f}, holders ¥{lost['holder'] / 100:,.2f}, "
            f"transit operators ¥{lost['transit_operator'] / 100:,.2f}; fares refused at upload "
            f"¥{fraud['fares_refused_at_upload_fen'] / 100:,.2f}; "
            f"{fraud['false_alarms']:,} false alarm(s)"
        )
    return lines


MEDICAL = medical_labels()

SETTLE_MEASURES = {lab.name: lab.settles for fam in FAMILIES for lab in fam.labels}
"""What ``settle_latency_s`` measures per service, from the family registry."""


def family_lines(figures: dict[str, Any]) -> list[str]:
    """The headline lines of every family that reports figures, in the registry's order.

    A family's runtime module says them (``headline(figures)``); one without it
    prints none.
    """
    lines: list[str] = []
    for fam in FAMILIES:
        if fam.key not in figures:
            continue
        headline = getattr(importlib.import_module(fam.runtime), "headline", None)
        if headline is not None:
            lines += headline(figures[fam.key])
    return lines


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
