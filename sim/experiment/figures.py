"""Headline figures: the few numbers per run that sweeps compare across variants.

A run's ``summary.json`` and ``stations.parquet`` hold hundreds of numbers; a
sweep keeps an explicit short list of them, one column each in
``sweep.parquet``, so that intervals and differences are computed for figures
people ask about (latency percentiles, throughput, the direct settlement rate,
how loaded the settlement nodes are). A figure a run cannot give (no
cross-province settlement, say) is NaN. The figures that are fractions in [0, 1]
are declared here, once (``proportion=True``): their intervals stay inside
[0, 1]; those that are shares of a count also keep that count, the
``F_trials`` column, which bounds their interval (see :mod:`sim.experiment.stats`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.outputs.results import MANIFEST, STATIONS, SUMMARY

__all__ = [
    "HEADLINE",
    "Figure",
    "figure_names",
    "headline",
    "is_proportion",
    "node_figure",
    "task_row",
    "trials_column",
    "trials_columns",
]

Reader = Callable[[Mapping[str, Any], pa.Table], float]


@attrs.frozen
class Figure:
    """One headline figure: its column name, what it means, and how it is read."""

    name: str
    description: str
    read: Reader = attrs.field(repr=False)
    proportion: bool = False
    """A fraction in [0, 1] (a share of transactions, a utilisation): its interval stays inside."""
    trials: Reader | None = attrs.field(default=None, repr=False)
    """A proportion's denominator (the transactions it is a share of), if it has one."""


def _at(*path: str) -> Reader:
    """A figure read from ``summary.json`` at a key path."""

    def read(summary: Mapping[str, Any], _stations: pa.Table) -> float:
        value: Any = summary
        for key in path:
            if not isinstance(value, Mapping) or key not in value:
                return math.nan
            value = value[key]
        return math.nan if value is None else float(value)

    return read


def _measured(summary: Mapping[str, Any], _stations: pa.Table) -> float:
    """The transactions measured (the denominator of the shares of transactions)."""
    return float(summary.get("transactions", {}).get("measured", 0)) or math.nan


def _reasons_share(*reasons: str) -> Reader:
    """Share of measured transactions that ended for one of ``reasons`` (none: fell back)."""

    def read(summary: Mapping[str, Any], _stations: pa.Table) -> float:
        txns = summary.get("transactions", {})
        measured = int(txns.get("measured", 0))
        if not measured:
            return math.nan
        if not reasons:
            return int(txns.get("outcomes", {}).get("fallback", 0)) / measured
        counts = txns.get("reasons", {})
        return sum(int(counts.get(r, 0)) for r in reasons) / measured

    return read


def _station(name: str, column: str) -> Reader:
    """A figure of one station (``node:national``) from ``stations.parquet``."""

    def read(_summary: Mapping[str, Any], stations: pa.Table) -> float:
        names = stations["station"].to_pylist()
        if name not in names:
            return math.nan
        value = stations[column][names.index(name)].as_py()
        return math.nan if value is None else float(value)

    return read


def _provincial_max(column: str) -> Reader:
    """The largest value of a column over the provincial platforms (the busiest province)."""

    def read(_summary: Mapping[str, Any], stations: pa.Table) -> float:
        kind = np.asarray(stations["kind"].to_pylist())
        province = np.asarray(stations["province"].to_pylist())
        values = stations[column].to_numpy(zero_copy_only=False).astype(np.float64)
        mine = values[(kind == "node") & (province != "")]
        mine = mine[np.isfinite(mine)]
        return float(mine.max()) if mine.size else math.nan

    return read


_LATENCY = ("end_to_end_settle_latency_s",)
_DIRECT = ("medical", "cross_province_inpatient_direct_settlement_rate")
HEADLINE: tuple[Figure, ...] = (
    Figure("settle_p50_local_s", "settle latency, local, median (s)",
           _at(*_LATENCY, "local", "p50")),
    Figure("settle_p95_local_s", "settle latency, local, p95 (s)", _at(*_LATENCY, "local", "p95")),
    Figure("settle_p99_local_s", "settle latency, local, p99 (s)", _at(*_LATENCY, "local", "p99")),
    Figure("settle_p50_cross_s", "settle latency, cross-province, median (s)",
           _at(*_LATENCY, "cross_province", "p50")),
    Figure("settle_p95_cross_s", "settle latency, cross-province, p95 (s)",
           _at(*_LATENCY, "cross_province", "p95")),
    Figure("settle_p99_cross_s", "settle latency, cross-province, p99 (s)",
           _at(*_LATENCY, "cross_province", "p99")),
    Figure("request_p99_local_s", "settlement request latency, local, p99, timeouts included (s)",
           _at("request_latency_s", "local", "p99")),
    Figure("request_p99_cross_s", "settlement request latency, cross-province, p99, timeouts "
           "included (s)", _at("request_latency_s", "cross_province", "p99")),
    Figure("settled_per_day_full_scale", "medical settlements per day at full scale",
           _at("medical", "settled_per_day_full_scale")),
    Figure("cross_settled_per_day_full_scale", "cross-province settlements per day, full scale",
           _at("medical", "cross_province_settled_per_day_full_scale")),
    Figure("direct_settlement_rate", "cross-province inpatient direct settlement rate",
           _at(*_DIRECT, "value"), proportion=True, trials=_at(*_DIRECT, "of")),
    Figure("fallback_share", "share of transactions that fell back", _reasons_share(),
           proportion=True, trials=_measured),
    Figure("timeout_share", "share of transactions that fell back for a timeout",
           _reasons_share("timeout", "verify_timeout"), proportion=True, trials=_measured),
    Figure("national_utilisation", "national platform utilisation",
           _station("node:national", "utilisation"), proportion=True),
    Figure("national_wait_p99_s", "national platform wait, p99 (s)",
           _station("node:national", "wait_p99_s")),
    Figure("provincial_utilisation_max", "utilisation of the busiest provincial platform",
           _provincial_max("utilisation"), proportion=True),
    Figure("provincial_wait_p99_max_s", "largest provincial platform wait p99 (s)",
           _provincial_max("wait_p99_s")),
    Figure("card_platform_utilisation", "card platform utilisation",
           _station("node:card_platform", "utilisation"), proportion=True),
    Figure("card_platform_wait_p99_s", "card platform wait, p99 (s)",
           _station("node:card_platform", "wait_p99_s")),
)  # fmt: skip
"""The headline figures, in the order of their columns."""

_NODE_FIGURES: dict[str, dict[str, str]] = {
    "national": {
        "p99_latency_s": "request_p99_cross_s",
        "utilisation": "national_utilisation",
        "wait_p99_s": "national_wait_p99_s",
    },
    "provincial": {
        "p99_latency_s": "request_p99_local_s",
        "utilisation": "provincial_utilisation_max",
        "wait_p99_s": "provincial_wait_p99_max_s",
    },
    "card_platform": {
        "utilisation": "card_platform_utilisation",
        "wait_p99_s": "card_platform_wait_p99_s",
    },
}
"""Short names that mean a figure of one node. ``p99_latency_s`` is the p99 latency of
the settlement requests that cross the node, timeouts included (counted with the time
until the point gave up): cross-province requests at the national platform, local ones
at the provincial platforms (which visit nothing else)."""


def figure_names() -> list[str]:
    """The column names of the headline figures."""
    return [f.name for f in HEADLINE]


def is_proportion(name: str) -> bool:
    """Whether a headline figure is a fraction in [0, 1], whose interval must stay inside."""
    return any(f.proportion for f in HEADLINE if f.name == name)


def trials_column(name: str) -> str | None:
    """The ``sweep.parquet`` column of a proportion's denominator, or None if it has none."""
    return f"{name}_trials" if any(f.trials for f in HEADLINE if f.name == name) else None


def trials_columns() -> list[str]:
    """The ``sweep.parquet`` columns of every proportion's denominator, in figure order."""
    return [f"{f.name}_trials" for f in HEADLINE if f.trials is not None]


def node_figure(node: str, name: str) -> str:
    """The headline figure a name stands for at ``node`` (itself if it is one already).

    Raises:
        KeyError: with a message listing what is known, if ``name`` means nothing.
    """
    if name in figure_names():
        return name
    aliases = _NODE_FIGURES.get(node, {})
    if name in aliases:
        return aliases[name]
    known = ", ".join([*aliases, *figure_names()])
    raise KeyError(f"unknown figure {name!r} for node {node!r} (known: {known})")


def headline(folder: Path) -> dict[str, float]:
    """The headline figures of the results folder of one run."""
    summary = json.loads((folder / SUMMARY).read_text("utf-8"))
    stations = pq.read_table(
        folder / STATIONS, columns=["station", "kind", "province", "utilisation", "wait_p99_s"]
    )
    figures = {f.name: f.read(summary, stations) for f in HEADLINE}
    figures.update({f"{f.name}_trials": f.trials(summary, stations)
                    for f in HEADLINE if f.trials is not None})  # fmt: skip
    return figures


def warmup_cut(folder: Path) -> float:
    """The warm-up cut a run applied (estimated with ``warmup: auto``), in seconds."""
    summary = json.loads((folder / SUMMARY).read_text("utf-8"))
    return float(summary["window"]["from_s"])


def task_row(folder: Path) -> dict[str, float]:
    """A finished task's part of its ``sweep.parquet`` row: warm-up cut, figures, wall time.

    Read by a worker that wrote the folder into a store, or by the sweep from its own
    folder: the same function, so the same bytes either way.
    """
    manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    row: dict[str, float] = {"warmup_s": warmup_cut(folder)}
    row.update(headline(folder))
    row["wall_time_s"] = float(manifest.get("wall_time_s") or float("nan"))
    return row
