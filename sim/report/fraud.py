"""Fraud and the cards that should not have worked: what each rule caught, what the hot list cost.

:func:`fraud_outcomes` draws one run: per kind of fraud how its attempts ended
(accepted, refused for the card, caught by a rule), and per detection rule its
hits against its false alarms. :func:`hotlist_losses` draws several runs that
differ in ``cards.hotlist_every``: the fares lost to cards let through offline,
against the interval. :func:`rule_scores` is the table behind the rules' bars,
with precision and recall computed from the labelled transactions (``fraud``
is the truth, ``flagged_by`` the rule's word). All read what a run wrote
(``transactions.parquet``, ``summary.json``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.outputs.fraud import RULE_TARGETS
from sim.report.frames import RunFrames
from sim.report.style import OUTCOME_COLOURS, SERIES, empty, finish, new_figure
from sim.scenario.units import parse_duration

__all__ = ["PARTS", "attempt_ends", "fraud_outcomes", "has_fraud", "hotlist_losses", "rule_scores"]


def has_fraud(run: RunFrames) -> bool:
    """Whether the run had fraud or detection rules (its summary has ``fraud``)."""
    return "fraud" in run.summary


def rule_scores(transactions: pd.DataFrame) -> pd.DataFrame:
    """Per detection rule: flags, hits on its kinds, false alarms, precision and recall.

    Precision: the share of a rule's flags that fall on the kinds it is meant for
    (:data:`sim.outputs.fraud.RULE_TARGETS`); recall: the share of those kinds'
    attempts it flagged. Undefined (NaN) without a flag, or without an attempt.
    """
    fraud = transactions["fraud"].astype(str)
    flagged = transactions["flagged_by"].astype(str)
    rows = []
    for rule, kinds in RULE_TARGETS.items():
        mine = flagged == rule
        target = fraud.isin(kinds)
        hits, flags, attempts = int((mine & target).sum()), int(mine.sum()), int(target.sum())
        rows.append({
            "rule": rule, "meant for": ", ".join(kinds), "flags": flags, "hits": hits,
            "false alarms": int((mine & (fraud == "none")).sum()), "attempts": attempts,
            "precision": hits / flags if flags else np.nan,
            "recall": hits / attempts if attempts else np.nan,
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("rule")


PARTS = (
    ("caught by a rule", SERIES[3]),
    ("refused for the card", OUTCOME_COLOURS["declined"]),
    ("accepted", OUTCOME_COLOURS["settled"]),
    ("other end (fallback, declined)", OUTCOME_COLOURS["fallback"]),
)
"""How a fraud attempt ended, in the order it is decided (a flagged attempt is caught)."""

CARD_REASONS = ("card_frozen", "card_replaced", "card_expired", "hot_listed")


def attempt_ends(transactions: pd.DataFrame) -> pd.DataFrame:
    """Per kind of fraud, its attempts counted by how they ended (:data:`PARTS`)."""
    txns = transactions[transactions["fraud"].astype(str) != "none"]
    caught = txns["flagged_by"].astype(str) != "none"
    card = txns["reason"].astype(str).isin(CARD_REASONS)
    settled = txns["outcome"].astype(str) == "settled"
    part = np.select([caught, card, settled], [p for p, _ in PARTS[:3]], PARTS[3][0])
    table = pd.crosstab(txns["fraud"].astype(str), part)
    return table.reindex(columns=[p for p, _ in PARTS], fill_value=0)


def fraud_outcomes(run: RunFrames) -> Figure:
    """Per kind how attempts ended; per rule its hits against its false alarms."""
    fig, axes = new_figure(1, 2, width=12.0, height=4.8)
    txns = run.transactions
    ax = axes[0, 0]
    ends = attempt_ends(txns)
    if ends.empty:
        empty(ax, "no fraud attempted")
    else:
        left = np.zeros(len(ends))
        for part, colour in PARTS:
            values = ends[part].to_numpy(dtype=float)
            ax.barh(range(len(ends)), values, left=left, color=colour, height=0.7, label=part)
            left += values
        labels = [f"{k} (n={n:,})" for k, n in ends.sum(axis=1).items()]
        ax.set_yticks(range(len(ends)), labels)
        finish(ax, f"How fraud attempts ended — {run.name}", "attempts", "kind of fraud")
        ax.legend(
            fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, frameon=False
        )
    ax = axes[0, 1]
    scores = rule_scores(txns)
    if not scores["flags"].sum():
        empty(ax, "no detection rule flagged anything")
    else:
        y = np.arange(len(scores))
        ax.barh(y - 0.2, scores["hits"], height=0.4, color=SERIES[2], label="hits")
        ax.barh(y + 0.2, scores["false alarms"], height=0.4, color=SERIES[1],
                label="false alarms (genuine uses)")  # fmt: skip
        ax.set_yticks(y, list(scores.index))
        finish(ax, "Detection rules: hits against false alarms", "flags", "rule")
        ax.legend(
            fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, frameon=False
        )
    return fig


def hotlist_losses(runs: Sequence[RunFrames]) -> Figure:
    """Frozen-card taps let through offline (their fares lost) and refused at the gate.

    One point per run, against its ``cards.hotlist_every``; each point of the
    let-through line is labelled with the fares the operator lost.
    """
    fig, axes = new_figure(width=8.5, height=4.6)
    ax = axes[0, 0]
    points = sorted((parse_duration(run.scenario["cards"]["hotlist_every"]) / 3600.0,
                     *_gate_counts(run)) for run in runs)  # fmt: skip
    if not points:
        empty(ax, "no run")
        return fig
    hours, through, refused, lost = (np.array(column) for column in zip(*points, strict=True))
    ax.plot(hours, through, marker="o", color=SERIES[3],
            label="let through offline, refused at upload (fare lost)")  # fmt: skip
    ax.plot(hours, refused, marker="s", color=SERIES[0], linestyle="--",
            label="refused at the gate (on its hot list)")  # fmt: skip
    for x, y, fen in zip(hours, through, lost, strict=True):
        ax.annotate(f"¥{fen / 100:,.0f}", (x, y), textcoords="offset points", xytext=(4, 6),
                    fontsize=8.5, color=SERIES[3])  # fmt: skip
    finish(ax, "Hot-list interval against offline losses", "hot-list interval (h)",
           "taps of blocked cards")  # fmt: skip
    ax.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2,
              frameon=False)  # fmt: skip
    return fig


def _gate_counts(run: RunFrames) -> tuple[int, int, int]:
    """Transit taps let through and refused at upload, refused at the gate, and the fen lost."""
    txns = run.transactions
    transit = txns["service"].astype(str) == "transit"
    reason = txns["reason"].astype(str)
    through = transit & reason.isin(["card_frozen", "card_replaced", "card_expired"])
    at_gate = transit & (reason == "hot_listed")
    lost = int(txns.loc[through, "amount_fen"].sum())
    return int(through.sum()), int(at_gate.sum()), lost
