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
import datetime as dt
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from sim.outputs.folders import fsync_tree, remove_stale
from sim.outputs.metrics import Quantiles, finite, proportion
from sim.scenario.families import medical_labels
from sim.world.domain import Outcome, Reason, labels

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
    from sim.outputs.parquet_io import parquet_options

    pq.write_table(table, path, **parquet_options(table.schema))


def write_json(data: Mapping[str, Any], path: Path) -> None:
    """Write JSON with NaN as null, UTF-8, and a trailing newline."""
    text = json.dumps(finite(data), indent=2, ensure_ascii=False, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def current_umask() -> int:
    """The process's umask (reading it means setting it: it is put straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def staging(out_dir: Path) -> Iterator[Path]:
    """A hidden folder beside ``out_dir``, renamed to it only if the block succeeds.

    An interrupted or failed run removes the staging folder, so a results
    folder either holds a complete run or does not exist. The folder gets the
    permissions the user's umask gives (``mkdtemp`` alone makes it private, and
    colleagues on a shared server could not read the results).
    """
    if out_dir.exists():
        raise FileExistsError(f"results folder already exists: {out_dir}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out_dir.parent, STAGING_MARK)  # left by runs killed outright
    work: Path | None = None
    try:
        prefix = f".{out_dir.name}{STAGING_MARK}{os.getpid()}-"
        work = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent))
        work.chmod(0o777 & ~current_umask())
        yield work
        fsync_tree(work)  # durable before the rename makes it visible
        work.rename(out_dir)
        fsync_tree(out_dir.parent, files=False)
    except BaseException:
        if work is not None:
            _remove(work)
        raise


STAGING_MARK = ".partial-"
"""Staging folders are ``.NAME.partial-<pid>-<random>``."""


def _remove(work: Path) -> None:
    """Remove a staging folder, however many interrupts arrive meanwhile."""
    while True:
        try:
            with signals_held():  # a second Ctrl-C must not cut the clean-up short
                shutil.rmtree(work, ignore_errors=True)
            return
        except KeyboardInterrupt:  # delivered as the hold ends: the folder is gone by then
            continue


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
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


def codes(column: pa.ChunkedArray, vocabulary: list[str]) -> npt.NDArray[np.int64]:
    """Dictionary-encoded column as codes into ``vocabulary``."""
    array = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    if not pa.types.is_dictionary(array.type):
        raise TypeError("expected a dictionary-encoded column")
    if len(array) == 0:
        return np.zeros(0, dtype=np.int64)
    mapping = np.array([vocabulary.index(v) for v in array.dictionary.to_pylist()])
    return np.asarray(mapping[array.indices.to_numpy()], dtype=np.int64)


class _ServiceFigures:
    """Running figures of one service over the measured window."""

    def __init__(self) -> None:
        self.arrivals = 0
        self.outcomes = [0] * len(Outcome)
        self.cross = 0
        self.amount_fen = 0
        self.fund_fen = 0
        self.settle_local = Quantiles()
        self.settle_cross = Quantiles()
        self.settle_all = Quantiles()
        self.settled_by_day: dict[int, int] = {}
        self.latency = Quantiles()
        self.wait = Quantiles()
        self.point = Quantiles()


def summarise(
    batches: Iterable[pa.RecordBatch | pa.Table],
    *,
    services: list[str],
    service_names: list[str],
    warmup_s: float,
    horizon_s: float,
    scale: float,
    extra: Mapping[str, Any],
    start: dt.datetime | None = None,
) -> dict[str, Any]:
    """Headline figures over transactions that arrived in the measured window.

    Reads the transactions a batch at a time (``SUMMARY_COLUMNS``), so memory does
    not grow with the run: counts and sums are exact, percentiles are exact up to
    500,000 values per figure and sketched beyond (:class:`~sim.outputs.metrics.Quantiles`).
    Settlements are also counted per local calendar day of arrival (``start``, the
    scenario's start, names the days), because an average over a several-day horizon
    hides a payday whose credits all land on one morning.
    """
    start = start or dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    midnight_s = _second_of_day(start)
    hours = (horizon_s - warmup_s) / 3600.0
    per_day = 24.0 / hours / scale  # measured count → full-scale daily count
    figures = {service_names.index(name): _ServiceFigures() for name in services}
    measured = 0
    outcomes = np.zeros(len(Outcome), dtype=np.int64)
    reasons = np.zeros(len(Reason), dtype=np.int64)
    settle = {"local": Quantiles(), "cross_province": Quantiles()}
    request = {"local": Quantiles(), "cross_province": Quantiles()}
    medical_codes = [service_names.index(n) for n in MEDICAL]
    inpatient_code = service_names.index("medical_inpatient")
    medical = {"settled": 0, "cross_settled": 0, "inpatient_cross_settled": 0,
               "inpatient_cross": 0}  # fmt: skip
    for batch in batches:
        c = _columns(batch, service_names)
        window = (c["arrival_s"] >= warmup_s) & (c["arrival_s"] < horizon_s)
        c = {k: v[window] for k, v in c.items()}
        measured += int(window.sum())
        outcomes += np.bincount(c["outcome"], minlength=len(Outcome))
        reasons += np.bincount(c["reason"], minlength=len(Reason))
        settled = c["outcome"] == Outcome.SETTLED
        served = c["reason"] != Reason.BLOCKED  # turned-away arrivals neither wait nor stay
        cross = c["cross"]
        # Medical settlement only: other services' settle_latency_s means other things
        # (a transit fare's tap-to-debit delay, a credit's time in the bank's batch).
        is_medical = np.isin(c["service"], medical_codes)
        requested = is_medical & np.isfinite(c["settle"])  # a request was sent and ended
        for where, mask in (("local", ~cross), ("cross_province", cross)):
            settle[where].add(c["settle"][is_medical & settled & mask])
            # Every request whatever its answer; one that timed out counts with the time
            # until the point gave up, so an overloaded node cannot look fast.
            request[where].add(c["settle"][requested & mask])
        for code, fig in figures.items():
            mine = c["service"] == code
            ok = mine & settled
            fig.arrivals += int(mine.sum())
            fig.outcomes = [a + int(b) for a, b in zip(fig.outcomes, np.bincount(
                c["outcome"][mine], minlength=len(Outcome)), strict=True)]  # fmt: skip
            fig.cross += int((mine & cross).sum())
            fig.amount_fen += int(c["amount_fen"][ok].sum())
            fig.fund_fen += int(c["fund_fen"][ok].sum())
            fig.settle_local.add(c["settle"][ok & ~cross])
            fig.settle_cross.add(c["settle"][ok & cross])
            fig.settle_all.add(c["settle"][ok])
            days = np.floor((c["arrival_s"][ok] + midnight_s) / 86400.0).astype(np.int64)
            for day, n in zip(*np.unique(days, return_counts=True), strict=True):
                fig.settled_by_day[int(day)] = fig.settled_by_day.get(int(day), 0) + int(n)
            fig.latency.add(c["latency"][mine & served])
            fig.wait.add(c["wait"][mine & served])
            fig.point.add(c["point"][mine])
        inpatient_cross = (c["service"] == inpatient_code) & cross
        medical["settled"] += int((is_medical & settled).sum())
        medical["cross_settled"] += int((is_medical & settled & cross).sum())
        medical["inpatient_cross_settled"] += int((inpatient_cross & settled).sum())
        medical["inpatient_cross"] += int(inpatient_cross.sum())

    def named(counts: Sequence[int]) -> dict[str, int]:
        return {name: int(counts[code]) for code, name in enumerate(labels(Outcome))}

    by_service = {}
    for code, fig in figures.items():
        settled_n = fig.outcomes[Outcome.SETTLED]
        by_service[service_names[code]] = {
            "arrivals": fig.arrivals,
            "outcomes": named(fig.outcomes),
            "settled_per_hour": settled_n / hours,
            "settled_per_day_full_scale": settled_n * per_day,
            "cross_province_share": proportion(fig.cross, fig.arrivals),
            "settled_by_day_full_scale": {
                (start.date() + dt.timedelta(days=day)).isoformat(): n / scale
                for day, n in sorted(fig.settled_by_day.items())},
            "settle_latency_s": {"all": fig.settle_all.summary(),
                                 "local": fig.settle_local.summary(),
                                 "cross_province": fig.settle_cross.summary()},
            "latency_s": fig.latency.summary(),
            "wait_s": fig.wait.summary(),
            "point_latency_s": fig.point.summary(),
            "amount_fen": fig.amount_fen,
            "fund_fen": fig.fund_fen,
        }  # fmt: skip
    every = [q for f in figures.values() for q in (f.settle_local, f.settle_cross, f.settle_all,
                                                   f.latency, f.wait, f.point)]  # fmt: skip
    return {
        **extra,
        "window": {"from_s": warmup_s, "to_s": horizon_s, "hours": hours},
        "transactions": {
            "measured": measured,
            "outcomes": named(outcomes.tolist()),
            "reasons": {n: int(reasons[c]) for c, n in enumerate(labels(Reason))},
        },
        "services": by_service,
        "end_to_end_settle_latency_s": {k: q.summary() for k, q in settle.items()},
        "request_latency_s": {k: q.summary() for k, q in request.items()},
        "medical": {
            "settled_per_day_full_scale": medical["settled"] * per_day,
            "cross_province_settled_per_day_full_scale": medical["cross_settled"] * per_day,
            "cross_province_share_of_settled": proportion(
                medical["cross_settled"], medical["settled"]
            ),
            "inpatient_share_of_cross_province_settled": proportion(
                medical["inpatient_cross_settled"], medical["cross_settled"]
            ),
            "cross_province_inpatient_direct_settlement_rate": proportion(
                medical["inpatient_cross_settled"], medical["inpatient_cross"]
            ),
        },
        "percentiles": "exact"
        if all(q.exact for q in [*every, *settle.values()])
        else "sketched above 500,000 values per figure (≤ 0.1% relative error)",
    }


MEDICAL = medical_labels()
"""Labels settled through the medical platforms, from the family registry."""


def _second_of_day(start: dt.datetime) -> float:
    """Seconds after local midnight at ``start`` (simulated time 0)."""
    return start.hour * 3600.0 + start.minute * 60.0 + start.second + start.microsecond / 1e6


def _columns(batch: pa.RecordBatch | pa.Table, service_names: list[str]) -> dict[str, Any]:
    """One batch of SUMMARY_COLUMNS as numpy arrays (codes for categories)."""

    def column(name: str) -> Any:
        col = batch.column(name)
        return pa.chunked_array([col]) if isinstance(col, pa.Array) else col

    return {
        "service": codes(column("service"), service_names),
        "outcome": codes(column("outcome"), labels(Outcome)),
        "reason": codes(column("reason"), labels(Reason)),
        "cross": column("cross_province").to_numpy(),
        "arrival_s": column("arrival_s").to_numpy(),
        "settle": column("settle_latency_s").to_numpy(),
        "latency": column("latency_s").to_numpy(),
        "wait": column("wait_s").to_numpy(),
        "point": column("point_latency_s").to_numpy(),
        "amount_fen": column("amount_fen").to_numpy(),
        "fund_fen": column("fund_fen").to_numpy(),
    }


READ_BATCH_ROWS = 1 << 16
"""Rows read at a time when streaming a results file (about a row group): Arrow holds
what it decodes for a batch, so a batch of a million rows cost 300 MB more at the end
of a national run than this."""


def iter_transactions(path: Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """Some columns of ``transactions.parquet``, a batch of about a row group at a time.

    Each row group gets a reader of its own: one reader over the whole file keeps
    memory it no longer needs (pyarrow 26; apache/arrow#39808 is the same for
    datasets): iterating a national day's 41.6 M rows took 1.8 GiB that way, and
    0.27 GiB with a reader per row group. The file is closed once read (or when the
    caller drops the iterator), not left to the garbage collector.
    """
    with pq.ParquetFile(path) as file:
        for group in range(file.num_row_groups):
            yield from file.iter_batches(
                columns=columns, row_groups=[group], batch_size=READ_BATCH_ROWS
            )


def pq_read(path: Path, columns: list[str]) -> pa.Table:
    """Read some columns of a Parquet file."""
    return pq.read_table(path, columns=columns)
