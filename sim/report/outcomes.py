"""How transactions ended, why, and who paid.

Outcomes per service, causes of fallback, the direct settlement rate by home
and treatment province, and how settled bills split between fund and patient.
All read ``transactions.parquet``: ``outcome`` (settled / fallback / declined),
``reason``, ``home_province`` and ``site_province`` (the treatment province), and
the money columns in fen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.report.frames import RunFrames, services_in
from sim.report.style import OUTCOME_COLOURS, SERIES, empty, finish, legend_below, new_figure

__all__ = [
    "direct_settlement_heatmap",
    "direct_settlement_table",
    "fund_share",
    "outcome_breakdown",
    "reason_breakdown",
]

OUTCOMES = ("settled", "fallback", "declined")
AXIS_NAMES = {"home_province": "home province", "site_province": "treatment province",
              "level": "hospital level", "scheme": "insurance scheme"}  # fmt: skip


def _select(
    run: RunFrames, service: str | None, cross_province: bool | None
) -> tuple[pd.DataFrame, str]:
    """Transactions of one service (all if None), cross-province or local (both if None)."""
    txns = run.transactions
    mask = np.ones(len(txns), dtype=bool)
    words = []
    if service is not None:
        mask &= (txns["service"].astype(str) == service).to_numpy()
        words.append(service)
    if cross_province is not None:
        mask &= txns["cross_province"].to_numpy(dtype=bool) == cross_province
        words.append("cross-province" if cross_province else "local")
    return txns[mask], " ".join(words) or "all"


def outcome_breakdown(run: RunFrames) -> Figure:
    """Share of each service's transactions settled, fallen back and declined."""
    txns = run.transactions
    services = services_in(txns)
    table = pd.crosstab(txns["service"].astype(str), txns["outcome"].astype(str))
    table = table.reindex(index=services[::-1], columns=list(OUTCOMES), fill_value=0)
    totals = table.sum(axis=1)
    shares = table.div(totals.replace(0, np.nan), axis=0).fillna(0.0) * 100.0
    fig, axes = new_figure(width=10.0, height=1.1 + 0.55 * max(1, len(services)))
    ax = axes[0, 0]
    left = np.zeros(len(shares))
    for outcome in OUTCOMES:
        values = shares[outcome].to_numpy()
        ax.barh(range(len(shares)), values, left=left, color=OUTCOME_COLOURS[outcome],
                label=outcome, height=0.7)  # fmt: skip
        for y, (x0, width) in enumerate(zip(left, values, strict=True)):
            if width >= 6:
                ax.text(x0 + width / 2, y, f"{width:.1f}%", ha="center", va="center",
                        fontsize=8.5, color="white")  # fmt: skip
        left += values
    labels = [f"{s} (n={totals[s]:,})" for s in shares.index]
    ax.set_yticks(range(len(shares)), labels)
    ax.set_xlim(0, 100)
    finish(ax, f"Outcome of transactions by service — {run.name}",
           "share of the service's transactions (%)", "service")  # fmt: skip
    legend_below(fig, ax)
    return fig


def reason_breakdown(
    run: RunFrames, service: str | None = None, cross_province: bool | None = None
) -> Figure:
    """Why transactions were not settled: counts per reason, coloured by outcome."""
    txns, what = _select(run, service, cross_province)
    lost = txns[txns["outcome"].astype(str) != "settled"]
    counts = lost.groupby([lost["reason"].astype(str), lost["outcome"].astype(str)]).size()
    fig, axes = new_figure(width=9.0, height=1.4 + 0.5 * max(1, len(counts)))
    ax = axes[0, 0]
    title = f"Why {what} transactions were not settled — {run.name}"
    if counts.empty:
        empty(ax, "every transaction was settled")
        finish(ax, title)
        return fig
    counts = counts.sort_values()
    total = len(txns)
    colours = [OUTCOME_COLOURS.get(outcome, "#333333") for _reason, outcome in counts.index]
    ax.barh(range(len(counts)), counts.to_numpy(), color=colours, height=0.7)
    for y, value in enumerate(counts.to_numpy()):
        ax.text(value, y, f" {value:,} ({value / total:.1%})", va="center", fontsize=9)
    ax.set_yticks(range(len(counts)), [f"{r} ({o})" for r, o in counts.index])
    ax.set_xlim(0, counts.max() * 1.3)
    finish(ax, title, f"transactions (of {total:,}; simulated, scale {run.scale_label})",
           "reason (outcome)")  # fmt: skip
    return fig


def direct_settlement_table(
    run: RunFrames, service: str = "medical_inpatient", min_count: int = 1
) -> pd.DataFrame:
    """Direct settlement rate of cross-province transactions, home × treatment province.

    Rows are home provinces, columns treatment provinces; NaN where fewer than
    ``min_count`` transactions.
    """
    txns, _ = _select(run, service, True)
    settled = (txns["outcome"].astype(str) == "settled").astype(float)
    frame = pd.DataFrame(
        {"home": txns["home_province"].astype(str), "site": txns["site_province"].astype(str),
         "settled": settled}
    )  # fmt: skip
    grouped = frame.groupby(["home", "site"])["settled"]
    rate = grouped.mean().where(grouped.size() >= min_count).unstack("site")
    order = run.provinces
    return rate.reindex(index=order, columns=order)


def direct_settlement_heatmap(
    run: RunFrames, service: str = "medical_inpatient", min_count: int = 20
) -> Figure:
    """Heat map of the direct settlement rate, home province × treatment province.

    Cross-province transactions of ``service``; pairs with fewer than
    ``min_count`` are left blank.
    """
    rate = direct_settlement_table(run, service, min_count)
    txns, _ = _select(run, service, True)
    overall = float((txns["outcome"].astype(str) == "settled").mean()) if len(txns) else np.nan
    fig, axes = new_figure(width=11.0, height=9.5)
    ax = axes[0, 0]
    values = np.ma.masked_invalid(rate.to_numpy(dtype=float))
    image = ax.imshow(values, cmap="RdYlGn", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_facecolor("#e8e8e8")
    n = len(rate.index)
    ax.set_xticks(range(n), rate.columns, rotation=90)
    ax.set_yticks(range(n), rate.index)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("direct settlement rate (share settled)", fontsize=11)
    finish(ax, f"Direct settlement rate of cross-province {service}, home × treatment province"
           f"\n{run.name}: {overall:.1%} overall over {len(txns):,} transactions; grey: fewer "
           f"than {min_count}", "treatment (site) province", "home province")  # fmt: skip
    ax.tick_params(labelsize=8)
    ax.grid(False)
    return fig


def fund_share(
    run: RunFrames,
    by: str = "home_province",
    service: str | None = "medical_inpatient",
    cross_province: bool | None = True,
) -> Figure:
    """Of directly settled bills, the share paid by the fund and by the patient.

    One bar per value of ``by`` (a column of ``transactions.parquet``), sorted by
    fund share, with the overall fund share marked.
    """
    txns, what = _select(run, service, cross_province)
    ok = txns[txns["outcome"].astype(str) == "settled"]
    money = ok.groupby(ok[by].astype(str))[["fund_fen", "amount_fen"]].sum()
    money = money[money["amount_fen"] > 0]
    fund = (money["fund_fen"] / money["amount_fen"] * 100.0).sort_values()
    fig, axes = new_figure(width=10.0, height=1.8 + 0.2 * max(4, len(fund)))
    ax = axes[0, 0]
    title = f"Fund and personal share of settled {what} bills by {by} — {run.name}"
    if fund.empty:
        empty(ax, "no settled bill")
        finish(ax, title)
        return fig
    y = np.arange(len(fund))
    ax.barh(y, fund.to_numpy(), color=SERIES[0], label="fund share", height=0.75)
    ax.barh(y, 100.0 - fund.to_numpy(), left=fund.to_numpy(), color=SERIES[1],
            label="personal share", height=0.75)  # fmt: skip
    overall = float(money["fund_fen"].sum() / money["amount_fen"].sum() * 100.0)
    ax.axvline(overall, color="black", ls="--", lw=1.2, label=f"overall fund share {overall:.1f}%")
    ax.set_yticks(y, fund.index)
    ax.set_xlim(0, 100)
    finish(ax, title, "share of the settled amount (%)", AXIS_NAMES.get(by, by))
    ax.tick_params(axis="y", labelsize=8 if len(fund) > 12 else 9.5)
    legend_below(fig, ax)
    return fig
