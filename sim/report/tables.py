"""The run's figures as small tables: per service, headline, money, protocol, clearing, nodes.

The same tables appear in notebooks (as DataFrames of plain numbers) and in the
HTML report (written by the rule of :mod:`sim.report.cells`). All but
:func:`node_table` read ``summary.json``; that one reads ``stations.parquet``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from sim.cli.headlines import PROTOCOL_NOTES
from sim.report.frames import RunFrames
from sim.report.traffic import describe_station

__all__ = [
    "clearing_table",
    "headline_table",
    "money_checks",
    "node_table",
    "protocol_table",
    "service_table",
]

PROTOCOL_MEANINGS = {
    "attempts": "requests sent, retries included",
    "retries": "attempts after a timeout",
    "timeouts": "attempts the point stopped waiting for",
    "late_settlements": "settlements answered after the point gave up: reversed, never kept",
    "messages_lost": "messages lost at a node that was down, on a link or across a partition",
    "reversals_sent": "reversals sent for requests that ran out of attempts",
    "settlements_reversed": "settlements the reversals undid",
    "reversals_before_settlement": "reversals that found no settlement: the key can no longer "
    "settle",
    "settles_refused_after_reversal": "settle attempts refused because the key was reversed",
    **PROTOCOL_NOTES,
}
"""What each protocol counter of ``summary.json`` counts, as the page explains it."""


def _p(summary: dict[str, Any], *path: str) -> Any:
    value: Any = summary
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def service_table(run: RunFrames) -> pd.DataFrame:
    """One row per service: arrivals, outcomes, throughput and settle latency percentiles."""
    rows = []
    for name, s in run.summary.get("services", {}).items():
        latency = s.get("settle_latency_s", {})
        rows.append({
            "service": name,
            "arrivals": s.get("arrivals"),
            **{o: s.get("outcomes", {}).get(o) for o in ("settled", "fallback", "declined")},
            "settled per hour": s.get("settled_per_hour"),
            "settled per day (full scale)": s.get("settled_per_day_full_scale"),
            "cross-province share": _p(s, "cross_province_share", "value"),
            "settle p50 local (s)": _p(latency, "local", "p50"),
            "settle p99 local (s)": _p(latency, "local", "p99"),
            "settle p50 cross (s)": _p(latency, "cross_province", "p50"),
            "settle p99 cross (s)": _p(latency, "cross_province", "p99"),
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("service") if rows else pd.DataFrame()


def headline_table(run: RunFrames) -> pd.DataFrame:
    """The run's headline figures, one per row, with their values.

    The run-wide latency percentiles are those of ``summary.json``: over every
    service with a settle latency (transit debits and payday credits included);
    :func:`service_table` has them per service.
    """
    s = run.summary
    m = run.manifest
    rows: list[tuple[str, Any]] = [
        ("scenario", run.name),
        ("seed", m.get("seed")),
        ("scale", run.scale_label),
        ("measured window (h)", _p(s, "window", "hours")),
        ("warm-up cut (s)", run.warmup_s),
        ("transactions measured", _p(s, "transactions", "measured")),
        ("settled", _p(s, "transactions", "outcomes", "settled")),
        ("fallback", _p(s, "transactions", "outcomes", "fallback")),
        ("declined", _p(s, "transactions", "outcomes", "declined")),
        ("medical settle latency p99, local (s)",
         _p(s, "end_to_end_settle_latency_s", "local", "p99")),
        ("medical settle latency p99, cross-province (s)",
         _p(s, "end_to_end_settle_latency_s", "cross_province", "p99")),
        ("medical request latency p99, cross-province, timeouts included (s)",
         _p(s, "request_latency_s", "cross_province", "p99")),
        ("medical settlements per day (full scale)",
         _p(s, "medical", "settled_per_day_full_scale")),
        ("cross-province inpatient direct settlement rate",
         _p(s, "medical", "cross_province_inpatient_direct_settlement_rate", "value")),
        ("retries", _p(s, "protocol", "retries")),
        ("timeouts", _p(s, "protocol", "timeouts")),
        ("clearing netting ratio", _p(s, "clearing", "netting_ratio")),
        ("simulation events", m.get("events")),
    ]  # fmt: skip
    return pd.DataFrame(
        [(k, v) for k, v in rows if v is not None], columns=["figure", "value"]
    ).set_index("figure")


def money_checks(run: RunFrames) -> pd.DataFrame:
    """The ledger's end-of-run checks (no yuan lost, nothing paid twice): name → passed."""
    checks = _p(run.summary, "ledger", "checks") or {}
    return pd.DataFrame(
        [(name.replace("_", " "), bool(ok)) for name, ok in checks.items()],
        columns=["check", "passed"],
    ).set_index("check")


def protocol_table(run: RunFrames) -> pd.DataFrame:
    """The protocol counters: the simulated holders', the background's, and what each counts.

    The background column is there when the nodes carried the full load
    (``network_load`` of ``summary.json``); it counts only what the background
    counts (attempts, retries, timeouts, lost messages, reversals sent).
    """
    counters = run.summary.get("protocol") or {}
    background = _p(run.summary, "network_load", "background") or {}
    rows = []
    for name, value in counters.items():
        row: dict[str, Any] = {"counter": name.replace("_", " "), "simulated holders": value}
        if background:
            row["background"] = background.get(name)
        row["what it counts"] = PROTOCOL_MEANINGS.get(name, "")
        rows.append(row)
    return pd.DataFrame(rows).set_index("counter") if rows else pd.DataFrame()


def clearing_table(run: RunFrames) -> pd.DataFrame:
    """Clearing between provinces: periods, obligations, transfers, netting (simulated ¥)."""
    c = run.summary.get("clearing") or {}
    if not c:
        return pd.DataFrame()
    yuan = {key: c.get(f"{key}_fen") for key in ("gross_obligations", "net_transfers",
                                                 "top_ups", "initial_advance")}  # fmt: skip
    rows: list[tuple[str, Any]] = [
        ("clearing periods", c.get("periods")),
        ("gross obligations (¥)", _yuan(yuan["gross_obligations"])),
        ("net transfers (¥)", _yuan(yuan["net_transfers"])),
        ("netting ratio (net ÷ gross)", c.get("netting_ratio")),
        ("top-ups of advance funds (¥)", _yuan(yuan["top_ups"])),
        ("initial advance funds (¥)", _yuan(yuan["initial_advance"])),
        ("net positions sum to zero", c.get("net_positions_sum_to_zero")),
    ]
    return pd.DataFrame(
        [(k, v) for k, v in rows if v is not None], columns=["figure", "value"]
    ).set_index("figure")


def _yuan(fen: Any) -> float | None:
    return None if fen is None else float(fen) / 100.0


NODE_COLUMNS = {
    "servers": "servers",
    "arrivals": "arrivals",
    "throughput_per_h": "completed per hour",
    "utilisation": "utilisation",
    "wait_mean_s": "wait mean (s)",
    "wait_p99_s": "wait p99 (s)",
    "max_queue": "longest queue",
    "foreground_arrivals": "holders' arrivals",
    "foreground_wait_mean_s": "holders' wait mean (s)",
    "foreground_wait_p99_s": "holders' wait p99 (s)",
}
"""The columns of :func:`node_table`, from those of ``stations.parquet``."""


def node_table(run: RunFrames) -> pd.DataFrame:
    """The settlement nodes (``stations.parquet``), busiest first: load, waits, queues.

    The ``holders'`` columns are the simulated holders' own requests (the
    foreground); the others count every request the node served, the
    background's too when the nodes carried the full load.
    """
    stations = run.stations
    nodes = stations[stations["kind"].astype(str) == "node"]
    if nodes.empty:
        return pd.DataFrame()
    columns = [c for c in NODE_COLUMNS if c in nodes.columns]
    names = nodes["station"].astype(str).map(describe_station)
    table = nodes.set_index(names)[columns].rename(columns=NODE_COLUMNS)
    table = table.sort_values("utilisation", ascending=False, kind="stable")
    return table.rename_axis("settlement node")
