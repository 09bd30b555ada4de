"""What a run produces: tables, the summary, and the results folder on disk.

The results folder is the contract notebooks and later tooling rely on:
``transactions.parquet`` (one row per transaction), ``stations.parquet`` (one
row per service-point group and settlement node), ``timeseries.parquet`` (per
station and sample), ``summary.json`` (headline figures) and ``manifest.json``
(the resolved scenario, seed, versions, wall time, event count). A run writes
into a hidden staging folder that is renamed into place only when complete;
a run that fails or is interrupted removes it, so no half-written folder stays.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from sim.domain import Outcome, Reason, labels
from sim.metrics import finite, percentiles, share

__all__ = ["Result", "staging", "summarise", "write_json", "write_table"]

TRANSACTIONS = "transactions.parquet"
STATIONS = "stations.parquet"
TIMESERIES = "timeseries.parquet"
SUMMARY = "summary.json"
MANIFEST = "manifest.json"
LEDGER = "ledger.parquet"
CLEARING = "clearing.parquet"


@attrs.frozen(eq=False)
class Result:
    """The outputs of one run, as written to (or read from) a results folder."""

    summary: dict[str, Any]
    manifest: dict[str, Any]
    stations: pa.Table
    timeseries: pa.Table
    folder: Path | None = None

    @property
    def transactions_path(self) -> Path | None:
        """Where ``transactions.parquet`` is, if the run kept it."""
        if self.folder is None:
            return None
        path = self.folder / TRANSACTIONS
        return path if path.exists() else None

    def transactions(self, columns: list[str] | None = None) -> pa.Table:
        """Read the transactions table (all columns, or the ones named)."""
        path = self.transactions_path
        if path is None:
            raise FileNotFoundError("this run kept no transactions.parquet")
        return pq.read_table(path, columns=columns)

    @classmethod
    def read(cls, folder: str | Path) -> Result:
        """Load a results folder written by a run."""
        folder = Path(folder)
        return cls(
            summary=json.loads((folder / SUMMARY).read_text("utf-8")),
            manifest=json.loads((folder / MANIFEST).read_text("utf-8")),
            stations=pq.read_table(folder / STATIONS),
            timeseries=pq.read_table(folder / TIMESERIES),
            folder=folder,
        )


def write_table(table: pa.Table, path: Path) -> None:
    """Write a Parquet table (zstd, deterministic bytes for equal tables)."""
    pq.write_table(table, path, compression="zstd")


def write_json(data: Mapping[str, Any], path: Path) -> None:
    """Write JSON with NaN as null, UTF-8, and a trailing newline."""
    text = json.dumps(finite(data), indent=2, ensure_ascii=False, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


@contextlib.contextmanager
def staging(out_dir: Path) -> Iterator[Path]:
    """A hidden folder beside ``out_dir``, renamed to it only if the block succeeds.

    An interrupted or failed run removes the staging folder, so a results
    folder either holds a complete run or does not exist.
    """
    if out_dir.exists():
        raise FileExistsError(f"results folder already exists: {out_dir}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work: Path | None = None
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
        yield work
        work.rename(out_dir)
    except BaseException:
        if work is not None:
            with _signals_held():  # a second Ctrl-C must not cut the clean-up short
                shutil.rmtree(work, ignore_errors=True)
        raise


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends (where the platform allows it).

    A signal arriving meanwhile is delivered when the block ends, so the user's
    interrupt still stops the program, just not halfway through removing files.
    """
    hold = getattr(signal, "pthread_sigmask", None)
    if hold is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = hold(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        hold(signal.SIG_SETMASK, previous)


# --- the summary ---------------------------------------------------------------------

SUMMARY_COLUMNS = [
    "service",
    "cross_province",
    "outcome",
    "reason",
    "arrival_s",
    "latency_s",
    "wait_s",
    "point_latency_s",
    "settle_latency_s",
    "amount_fen",
    "fund_fen",
    "personal_fen",
]


def _codes(column: pa.ChunkedArray, vocabulary: list[str]) -> npt.NDArray[np.int64]:
    """Dictionary-encoded column as codes into ``vocabulary``."""
    array = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    if not pa.types.is_dictionary(array.type):
        raise TypeError("expected a dictionary-encoded column")
    if len(array) == 0:
        return np.zeros(0, dtype=np.int64)
    mapping = np.array([vocabulary.index(v) for v in array.dictionary.to_pylist()])
    return np.asarray(mapping[array.indices.to_numpy()], dtype=np.int64)


def summarise(
    table: pa.Table,
    *,
    services: list[str],
    service_names: list[str],
    warmup_s: float,
    horizon_s: float,
    scale: float,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """Headline figures over transactions that arrived in the measured window."""
    arrival = table["arrival_s"].to_numpy()
    window = (arrival >= warmup_s) & (arrival < horizon_s)
    hours = (horizon_s - warmup_s) / 3600.0
    service = _codes(table["service"], service_names)[window]
    outcome = _codes(table["outcome"], labels(Outcome))[window]
    reason = _codes(table["reason"], labels(Reason))[window]
    cross = table["cross_province"].to_numpy(zero_copy_only=False)[window]
    settle = table["settle_latency_s"].to_numpy()[window]
    latency = table["latency_s"].to_numpy()[window]
    wait = table["wait_s"].to_numpy()[window]
    point = table["point_latency_s"].to_numpy()[window]
    amount = table["amount_fen"].to_numpy()[window]
    fund = table["fund_fen"].to_numpy()[window]
    settled = outcome == Outcome.SETTLED
    requested = np.isfinite(settle)  # a settlement request was sent and ended
    per_day = 24.0 / hours / scale  # measured count → full-scale daily count

    def outcomes(mask: npt.NDArray[np.bool_]) -> dict[str, int]:
        return {
            name: int((outcome[mask] == code).sum()) for code, name in enumerate(labels(Outcome))
        }

    by_service: dict[str, Any] = {}
    for name in services:
        mine = service == service_names.index(name)
        ok = mine & settled
        by_service[name] = {
            "arrivals": int(mine.sum()),
            "outcomes": outcomes(mine),
            "settled_per_hour": int(ok.sum()) / hours,
            "settled_per_day_full_scale": int(ok.sum()) * per_day,
            "cross_province_share": share(cross, mine),
            "settle_latency_s": {
                "local": percentiles(settle[ok & ~cross]),
                "cross_province": percentiles(settle[ok & cross]),
            },
            "latency_s": percentiles(latency[mine]),
            "wait_s": percentiles(wait[mine]),
            "point_latency_s": percentiles(point[mine & ~np.isnan(point)]),
            "amount_fen": int(amount[ok].sum()),
            "fund_fen": int(fund[ok].sum()),
        }
    summary: dict[str, Any] = {
        **extra,
        "window": {"from_s": warmup_s, "to_s": horizon_s, "hours": hours},
        "transactions": {
            "measured": int(window.sum()),
            "outcomes": outcomes(np.ones_like(settled)),
            "reasons": {n: int((reason == c).sum()) for c, n in enumerate(labels(Reason))},
        },
        "services": by_service,
        "end_to_end_settle_latency_s": {
            "local": percentiles(settle[settled & ~cross]),
            "cross_province": percentiles(settle[settled & cross]),
        },
        # Every settlement request whatever its answer; one that timed out counts with
        # the time until the point gave up, so an overloaded node cannot look fast.
        "request_latency_s": {
            "local": percentiles(settle[requested & ~cross]),
            "cross_province": percentiles(settle[requested & cross]),
        },
        "medical": _medical(service, service_names, settled, cross, per_day),
    }
    return summary


def _medical(
    service: npt.NDArray[np.int64],
    names: list[str],
    settled: npt.NDArray[np.bool_],
    cross: npt.NDArray[np.bool_],
    per_day: float,
) -> dict[str, Any]:
    medical = np.isin(
        service, [names.index(n) for n in ("medical_outpatient", "medical_inpatient", "pharmacy")]
    )
    inpatient = service == names.index("medical_inpatient")
    cross_settled = medical & cross & settled
    return {
        "settled_per_day_full_scale": int((medical & settled).sum()) * per_day,
        "cross_province_settled_per_day_full_scale": int(cross_settled.sum()) * per_day,
        "cross_province_share_of_settled": share(cross, medical & settled),
        "inpatient_share_of_cross_province_settled": share(inpatient, cross_settled),
        "cross_province_inpatient_direct_settlement_rate": share(settled, inpatient & cross),
    }


def pq_read(path: Path, columns: list[str]) -> pa.Table:
    """Read some columns of a Parquet file."""
    return pq.read_table(path, columns=columns)
