"""The province table: who lives where, and how many of them hold a card.

Provinces are rows of a small table shipped as package data. Every other
module refers to a province by its position in this table (``ProvinceIdx``),
and to users by its two-letter id (``GD``). Columns are numpy arrays because
demand and population are computed over all 31 at once.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from importlib import resources
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

__all__ = ["BUILTIN_TABLES", "ProvinceTable", "apportion", "full_scale_counts", "load_provinces"]

BUILTIN_TABLES = {"builtin:2020": "provinces_2020.csv"}


@attrs.frozen(eq=False)
class ProvinceTable:
    """Province ids, names and counts as aligned columns, in table order."""

    ids: tuple[str, ...]
    codes: tuple[int, ...]
    names: tuple[str, ...]
    names_zh: tuple[str, ...]
    population: npt.NDArray[np.int64]
    aged_60_plus_share: npt.NDArray[np.float64]
    holders: npt.NDArray[np.int64]
    source: str

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, province_id: str) -> int:
        """Position of a province given its two-letter id (``KeyError`` if unknown)."""
        try:
            return self.ids.index(province_id)
        except ValueError:
            raise KeyError(f"unknown province {province_id!r}") from None

    def subset(self, province_ids: tuple[str, ...]) -> ProvinceTable:
        """The rows of the named provinces only, in table order (a scenario's ``region``).

        Table order, not the order given, so that the same region written in
        another order simulates exactly the same thing.
        """
        rows = sorted(self.index(pid) for pid in set(province_ids))
        pick = np.array(rows, dtype=np.int64)
        return attrs.evolve(
            self,
            ids=tuple(self.ids[i] for i in rows),
            codes=tuple(self.codes[i] for i in rows),
            names=tuple(self.names[i] for i in rows),
            names_zh=tuple(self.names_zh[i] for i in rows),
            population=self.population[pick],
            aged_60_plus_share=self.aged_60_plus_share[pick],
            holders=self.holders[pick],
        )

    def with_holders_total(self, total: float) -> ProvinceTable:
        """The same table with holders rescaled so that they sum to ``total``."""
        holders = apportion(self.holders.astype(np.float64), total)
        return attrs.evolve(self, holders=holders)


def apportion(weights: npt.NDArray[np.float64], total: float) -> npt.NDArray[np.int64]:
    """Split an integer ``total`` in proportion to ``weights`` (largest remainder).

    The parts are integers that add up to ``round(total)`` exactly, which keeps
    scaled counts honest: no province gains or loses a holder to rounding drift.
    """
    target = round(total)
    weight = float(weights.sum())
    if target == 0:
        return np.zeros(weights.size, dtype=np.int64)
    if not (math.isfinite(weight) and weight > 0):
        # Dividing by it would make NaNs, cast to the most negative int64.
        raise ValueError(f"cannot apportion {target} among weights summing to {weight:g}")
    exact = weights / weight * target
    parts: npt.NDArray[np.int64] = np.floor(exact).astype(np.int64)
    short = target - int(parts.sum())
    if short > 0:
        # Stable order: ties broken by table position, so results are reproducible.
        order = np.argsort(-(exact - parts), kind="stable")
        parts[order[:short]] += 1
    return parts


def full_scale_counts(
    table: ProvinceTable,
    per_province: int | None,
    total: int | None,
    overrides: Mapping[str, int] | None = None,
) -> npt.NDArray[np.int64]:
    """Counts of something per province at full scale (points, libraries, stations).

    Either the same count in every province or a national ``total`` apportioned
    by holders; ``overrides`` then replaces the count of the provinces it names
    (unknown ids are ignored here: validation reports them).
    """
    if per_province is not None:
        counts = np.full(len(table), per_province, dtype=np.int64)
    elif total is not None:
        counts = apportion(table.holders.astype(np.float64), float(total))
    else:
        raise ValueError("give per_province or total")
    for pid, count in (overrides or {}).items():
        if pid in table.ids:
            counts[table.index(pid)] = count
    return counts


def simulated_provinces(scenario: Any) -> ProvinceTable:
    """The provinces a scenario simulates: its table, holders rescaled, its ``region`` only.

    The model and the theory checks both start from this, so they count the same
    holders and points.
    """
    table = load_provinces(scenario.provinces)
    if scenario.population.holders is not None:
        table = table.with_holders_total(scenario.population.holders)
    if scenario.region is not None:
        table = table.subset(scenario.region)
    return table


def load_provinces(name: str = "builtin:2020") -> ProvinceTable:
    """Load a builtin province table by name (``builtin:2020``)."""
    if name not in BUILTIN_TABLES:
        known = ", ".join(sorted(BUILTIN_TABLES))
        raise KeyError(f"unknown province table {name!r} (known: {known})")
    text = resources.files("sim.data").joinpath(BUILTIN_TABLES[name]).read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(_strip_comments(text))))
    return ProvinceTable(
        ids=tuple(r["id"] for r in rows),
        codes=tuple(int(r["code"]) for r in rows),
        names=tuple(r["name"] for r in rows),
        names_zh=tuple(r["name_zh"] for r in rows),
        population=np.array([int(r["population"]) for r in rows], dtype=np.int64),
        aged_60_plus_share=np.array([float(r["aged_60_plus_share"]) for r in rows]),
        holders=np.array([int(r["holders"]) for r in rows], dtype=np.int64),
        source=name,
    )


def _strip_comments(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
