"""``summary.json`` as small tables: per service, the headline figures, the money checks.

The same tables appear in notebooks (as DataFrames) and in the HTML report.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from sim.report.frames import RunFrames

__all__ = ["headline_table", "money_checks", "service_table"]


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
