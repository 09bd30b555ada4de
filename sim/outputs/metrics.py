"""Figures from recorded arrays: percentiles, proportions, station and service summaries.

Everything here takes arrays (or station figures) and returns plain numbers,
so it is tested without running a simulation. Percentiles come from
:mod:`sim.engine.quantiles` (exact up to a size, then a bounded sketch).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sim.engine.quantiles import Quantiles, percentiles
from sim.engine.stations import StationStats

__all__ = [
    "STATION_SCHEMA",
    "Quantiles",
    "percentiles",
    "proportion",
    "station_table",
    "wilson_interval",
]

Array = npt.NDArray[np.float64]


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (good for small counts and extremes)."""
    if trials == 0:
        return (math.nan, math.nan)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def station_table(stations: Sequence[StationStats], now: float) -> dict[str, list[Any]]:
    """One row per station: load, waits, utilisation and queue over the measured window.

    The window runs from the station's last reset (the warm-up's end) to ``now``.
    Little's law can be checked on every row: ``mean_queue ≈ (arrivals − blocked)
    / window_s × wait_mean_s``, and exactly once the jobs queued at either end of
    the window are accounted for (``queue_start``, ``queue_end``,
    ``wait_carried_in_s``, ``wait_open_s``; see :mod:`sim.validation.little`).
    The ``foreground_`` columns are the simulated holders' own share of a settlement
    node's traffic (with ``network.load: full`` the rest is the background); elsewhere
    they repeat the station's figures.
    """
    rows: dict[str, list[Any]] = {key: [] for key in _STATION_COLUMNS}
    for st in stations:
        st.advance(now)
        span = max(now - st.since, 1e-12)
        stats = st.wait_summary()
        own = st.foreground_wait_summary() if st.kind == "node" else stats
        values: dict[str, Any] = {
            "station": st.name,
            "kind": st.kind,
            "province": st.province,
            "service": st.service,
            "servers": st.servers,
            "window_s": now - st.since,
            "arrivals": st.measured_arrivals,
            "blocked": st.measured_blocked,
            "completions": st.measured_completions,
            "throughput_per_h": st.measured_completions / span * 3600.0,
            "arrival_rate_per_s": st.measured_arrivals / span,
            "wait_mean_s": stats["mean"],
            "wait_p50_s": stats["p50"],
            "wait_p95_s": stats["p95"],
            "wait_p99_s": stats["p99"],
            "utilisation": st.busy_area / span / st.servers if st.servers else math.nan,
            "mean_busy": st.busy_area / span,
            "mean_queue": st.queue_area / span,
            "max_queue": st.max_queue,
            "queue_start": st.queue_at_reset,
            "queue_end": st.queue,
            "wait_carried_in_s": st.wait_carried_in,
            "wait_open_s": st.open_wait(now),
            "foreground_arrivals": st.foreground_arrivals,
            "foreground_wait_mean_s": own["mean"],
            "foreground_wait_p99_s": own["p99"],
        }
        for key, kind in _STATION_COLUMNS.items():
            rows[key].append(kind(values[key]))
    return rows


STATION_SCHEMA = pa.schema(
    [
        pa.field("station", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("province", pa.string()),
        pa.field("service", pa.string()),
        pa.field("servers", pa.int64()),
        pa.field("window_s", pa.float64()),
        pa.field("arrivals", pa.int64()),
        pa.field("blocked", pa.int64()),
        pa.field("completions", pa.int64()),
        pa.field("throughput_per_h", pa.float64()),
        pa.field("arrival_rate_per_s", pa.float64()),
        pa.field("wait_mean_s", pa.float64()),
        pa.field("wait_p50_s", pa.float64()),
        pa.field("wait_p95_s", pa.float64()),
        pa.field("wait_p99_s", pa.float64()),
        pa.field("utilisation", pa.float64()),
        pa.field("mean_busy", pa.float64()),
        pa.field("mean_queue", pa.float64()),
        pa.field("max_queue", pa.int64()),
        pa.field("queue_start", pa.int64()),
        pa.field("queue_end", pa.int64()),
        pa.field("wait_carried_in_s", pa.float64()),
        pa.field("wait_open_s", pa.float64()),
        pa.field("foreground_arrivals", pa.int64()),
        pa.field("foreground_wait_mean_s", pa.float64()),
        pa.field("foreground_wait_p99_s", pa.float64()),
    ]
)
"""Columns of ``stations.parquet`` and their types, the same in every run."""

_STATION_COLUMNS: dict[str, Callable[[Any], Any]] = {
    f.name: str if pa.types.is_string(f.type) else int if pa.types.is_integer(f.type) else float
    for f in STATION_SCHEMA
}


def share(
    mask: npt.NDArray[np.bool_], within: npt.NDArray[np.bool_] | None = None
) -> dict[str, Any]:
    """A proportion with its count, total and 95% Wilson interval."""
    base = mask if within is None else mask[within]
    return proportion(int(base.sum()), int(base.size))


def proportion(hits: int, total: int) -> dict[str, Any]:
    """A proportion from its counts, with its 95% Wilson interval."""
    low, high = wilson_interval(hits, total)
    return {
        "value": hits / total if total else math.nan,
        "count": hits,
        "of": total,
        "ci95": [low, high],
    }


def finite(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary with NaN replaced by None, so it is valid JSON."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, Mapping):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return {k: clean(v) for k, v in summary.items()}
