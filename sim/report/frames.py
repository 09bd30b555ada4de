"""A run's results folder, or a sweep's folder, as pandas DataFrames.

Plots and notebooks read results through :func:`load_run` and :func:`load_sweep`
rather than opening Parquet files themselves: a :class:`RunFrames` reads each
table on first use (a year of transactions need not be loaded to draw a queue),
keeps ``summary.json`` and ``manifest.json`` as dictionaries, and knows the run's
clock, so every time axis shows local time the same way.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cached_property
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.engine.calendar import Clock
from sim.experiment.catalogue import SWEEP_TABLE, read_tables
from sim.outputs.results import (
    CLEARING,
    LEDGER,
    MANIFEST,
    STATIONS,
    SUMMARY,
    TIMESERIES,
    TRANSACTIONS,
)
from sim.scenario.units import parse_duration
from sim.world.provinces import load_provinces

__all__ = [
    "ResultsFolderError",
    "RunFrames",
    "SweepFrames",
    "TimeAxis",
    "folder_kind",
    "load_run",
    "load_sweep",
    "services_in",
]


class ResultsFolderError(ValueError):
    """A folder that is not a run's results folder (or lacks a table asked for)."""


def folder_kind(folder: str | Path) -> str:
    """What a folder holds: ``"sweep"``, ``"capacity"``, ``"run"`` or ``""`` (none of them).

    A sweep holds ``sweep.parquet``, a capacity search ``capacity.parquet``, a run
    ``summary.json`` and ``manifest.json``.
    """
    path = Path(folder)
    if (path / "capacity.parquet").is_file():
        return "capacity"
    if (path / SWEEP_TABLE).is_file():
        return "sweep"
    if (path / SUMMARY).is_file() and (path / MANIFEST).is_file():
        return "run"
    return ""


@attrs.frozen
class TimeAxis:
    """How simulated seconds are drawn: local hours of the start day, or days for long runs."""

    offset_s: float
    """Seconds from local midnight of the start day to the start of the run."""
    unit_s: float
    """3600 (hours) or 86400 (days)."""
    label: str

    def __call__(self, time_s: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Simulated seconds as positions on the axis."""
        values: npt.NDArray[np.float64] = (
            np.asarray(time_s, dtype=np.float64) + self.offset_s
        ) / self.unit_s
        return values


class RunFrames:
    """One run's results folder; each table is read into a DataFrame on first use.

    Dictionary-encoded columns (service, province, outcome, reason, …) become
    pandas categoricals.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ResultsFolderError(f"no such folder: {self.folder}")
        missing = [n for n in (SUMMARY, MANIFEST) if not (self.folder / n).is_file()]
        if missing:
            raise ResultsFolderError(
                f"{self.folder} is not a results folder (missing {', '.join(missing)})"
            )
        self.summary: dict[str, Any] = _json_object(self.folder / SUMMARY)
        self.manifest: dict[str, Any] = _json_object(self.folder / MANIFEST)

    def _table(self, name: str) -> pd.DataFrame:
        path = self.folder / name
        if not path.is_file():
            hint = " (the run had outputs.transactions: false)" if name == TRANSACTIONS else ""
            raise ResultsFolderError(f"{self.folder} has no {name}{hint}")
        try:
            return pq.read_table(path).to_pandas()
        except (OSError, pa.ArrowException) as exc:  # a corrupted file is not a write failure
            raise ResultsFolderError(f"{path} is not a readable Parquet table: {exc}") from None

    def has(self, name: str) -> bool:
        """Whether the folder holds a table (``"transactions"``, ``"ledger"``, …)."""
        return (self.folder / f"{name}.parquet").is_file()

    @cached_property
    def transactions(self) -> pd.DataFrame:
        """``transactions.parquet``: one row per transaction."""
        return self._table(TRANSACTIONS)

    @cached_property
    def stations(self) -> pd.DataFrame:
        """``stations.parquet``: one row per point group and node."""
        return self._table(STATIONS)

    @cached_property
    def timeseries(self) -> pd.DataFrame:
        """``timeseries.parquet``: queue, busy servers and completions per station and sample."""
        return self._table(TIMESERIES)

    @cached_property
    def ledger(self) -> pd.DataFrame:
        """``ledger.parquet``: every money movement as double-entry legs in fen."""
        return self._table(LEDGER)

    @cached_property
    def clearing(self) -> pd.DataFrame:
        """``clearing.parquet``: one row per clearing period and province."""
        return self._table(CLEARING)

    # --- what the run was ---------------------------------------------------------

    @property
    def scenario(self) -> dict[str, Any]:
        """The fully resolved scenario, as recorded in the manifest."""
        scenario: dict[str, Any] = self.manifest["scenario"]
        return scenario

    @property
    def name(self) -> str:
        """The scenario's name."""
        return str(self.scenario["name"])

    @property
    def scale(self) -> float:
        """The fraction of holders simulated."""
        return float(self.scenario["scale"])

    @property
    def horizon_s(self) -> float:
        """Simulated seconds over which arrivals were generated."""
        return parse_duration(self.scenario["horizon"])

    @property
    def warmup_s(self) -> float:
        """The warm-up cut applied (estimated when the scenario said ``auto``)."""
        return float(self.summary["window"]["from_s"])

    @property
    def sample_every_s(self) -> float:
        """The interval between samples of ``timeseries.parquet``."""
        return parse_duration(self.scenario["outputs"]["sample_every"])

    @property
    def clock(self) -> Clock:
        """Simulated seconds ↔ local civil time."""
        return Clock(dt.datetime.fromisoformat(self.scenario["start"]))

    @property
    def provinces(self) -> list[str]:
        """Province ids in the province table's order."""
        return list(load_provinces(self.scenario.get("provinces", "builtin:2020")).ids)

    @property
    def scale_label(self) -> str:
        """``1:1,000`` for scale 0.001."""
        return f"1:{1 / self.scale:,.0f}" if self.scale < 1 else "full scale"

    def time_axis(self) -> TimeAxis:
        """Local hours of the start day for runs up to three days, days after that."""
        clock = self.clock
        start = clock.start
        zone = start.strftime("UTC%z")
        zone = f"{zone[:-2]}:{zone[-2:]}"
        day = start.date().isoformat()
        offset = clock.start_second_of_day
        if self.horizon_s <= 3 * 86400:
            what = "local time" if self.horizon_s + offset <= 86400 else "hours"
            return TimeAxis(offset, 3600.0, f"{what} (h from {day} 00:00 {zone})")
        return TimeAxis(offset, 86400.0, f"days from {day} 00:00 {zone}")

    def station_names(self, kind: str) -> list[str]:
        """Names of the stations of one kind.

        ``kind`` is ``platform`` (the provincial platforms), ``national``,
        ``card_platform``, ``points`` (every point group) or a service (its point
        groups).
        """
        st = self.stations
        names = st["station"].astype(str)
        if kind == "platform":
            mask = names == "node:" + st["province"].astype(str)
        elif kind in ("national", "card_platform"):
            mask = names == f"node:{kind}"
        elif kind == "points":
            mask = st["kind"].astype(str) == "point"
        else:
            mask = (st["kind"].astype(str) == "point") & (st["service"].astype(str) == kind)
        return list(names[mask])


@attrs.frozen(eq=False)
class SweepFrames:
    """A sweep folder: one row per task (``tasks``), one per variant (``summary``), the plan."""

    folder: Path
    tasks: pd.DataFrame
    summary: pd.DataFrame
    plan: dict[str, Any]

    @property
    def factors(self) -> list[str]:
        """The scenario keys the sweep varied, in the order of ``--vary``."""
        return [f["key"] for f in self.plan.get("vary", [])]


def services_in(table: pd.DataFrame) -> list[str]:
    """Services present in a table's ``service`` column, in the order of its categories."""
    column = table["service"]
    present = set(column.astype(str))
    order = [str(c) for c in column.cat.categories] if hasattr(column, "cat") else sorted(present)
    return [s for s in order if s in present]


def _json_object(path: Path) -> dict[str, Any]:
    """A JSON file that must hold an object; anything else is a :class:`ResultsFolderError`."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultsFolderError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ResultsFolderError(f"{path} holds {type(data).__name__}, not a JSON object")
    return data


def load_run(folder: str | Path) -> RunFrames:
    """Open a run's results folder (``summary.json``, ``manifest.json`` and the tables).

    Raises:
        ResultsFolderError: the folder does not exist or is not a results folder.
    """
    return RunFrames(folder)


def load_sweep(folder: str | Path) -> SweepFrames:
    """Read a sweep folder's ``sweep.parquet``, ``summary.parquet`` and ``plan.json``.

    Raises:
        SweepFolderError: the folder is not a sweep folder.
    """
    tasks, summary, plan = read_tables(folder)
    return SweepFrames(Path(folder), tasks.to_pandas(), summary.to_pandas(), plan)
