"""Recording while the model runs: transactions to Parquet, stations to a time series.

:class:`TransactionRecorder` keeps each arrival batch's outcomes until every
transaction of the batch has ended, then hands the batch on in id order to its
subscribers (the ledger, and :class:`TransactionFile`, which writes it as a
Parquet row group). Memory therefore holds only the batches still in flight,
whatever the run's length. Transactions that never exist as objects (a bank's
block of credits, whose landing times are computed arithmetically) are recorded
a block at a time with :meth:`TransactionRecorder.record_block`; batches and
blocks draw their ids from one :class:`IdCounter`. :func:`sample_stations` is a
small SimPy process that reads every station's queue and busy servers at a
fixed interval.
"""

from __future__ import annotations

import itertools
import operator
from collections import deque
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import simpy

from sim.engine.stations import FOLD_WAITS_AT, StationStats
from sim.outputs.parquet_io import ParquetSink
from sim.outputs.record import (
    ARRIVAL_FIELDS,
    BLOCK_FIELDS,
    ENDED_FIELDS,
    FIELDS,
    Vocabularies,
    table,
    transaction_schema,
    typed,
)
from sim.scenario.families import SERVICES
from sim.world.demand import ArrivalBatch
from sim.world.domain import (
    CardKind,
    CardState,
    Channel,
    FlagRule,
    FraudKind,
    Level,
    Outcome,
    Reason,
    Scheme,
    labels,
)
from sim.world.transaction import Transaction

__all__ = [
    "BLOCK_COLUMNS",
    "IdCounter",
    "StationSeries",
    "TransactionFile",
    "TransactionRecorder",
    "sample_stations",
    "transaction_schema",
]


_ENDED = ("row", *ENDED_FIELDS)
"""What :meth:`TransactionRecorder.finish` keeps of a transaction, in this order."""
_ended_of = operator.attrgetter(*_ENDED)


BLOCK_COLUMNS = BLOCK_FIELDS
"""What :meth:`TransactionRecorder.record_block` needs per row (:data:`.record.FIELDS`)."""

ROW_GROUP_ROWS = 65_536
"""Completed batches and blocks are written together once they hold this many rows."""


class IdCounter:
    """Hands out transaction ids in contiguous ranges, from one counter per run.

    Arrival batches and recorded blocks draw their ranges from the same counter,
    so ids are unique and, in the order ranges are drawn, contiguous.
    """

    __slots__ = ("next_id",)

    def __init__(self, first_id: int = 0) -> None:
        self.next_id = first_id

    def take(self, n: int) -> int:
        """The first id of a new range of ``n`` ids."""
        first = self.next_id
        self.next_id += n
        return first


class _OpenBatch:
    __slots__ = ("batch", "ended", "first_id", "size")

    def __init__(self, batch: ArrivalBatch) -> None:
        self.batch = batch
        self.first_id = batch.first_id
        self.size = batch.size
        self.ended: list[tuple[Any, ...]] = []

    @property
    def complete(self) -> bool:
        return len(self.ended) == self.size

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        b = self.batch
        # Exact for fen below 2**53; fromiter over the flattened tuples is the fastest way in.
        n = len(self.ended)
        rows = np.fromiter(itertools.chain.from_iterable(self.ended), np.float64,
                           n * len(_ENDED)).reshape(n, len(_ENDED))  # fmt: skip
        rows = rows[np.argsort(rows[:, 0], kind="stable")]
        ended = {name: rows[:, i] for i, name in enumerate(_ENDED)}
        return {**ended, **{f.name: getattr(b, f.batch or f.name) for f in ARRIVAL_FIELDS}}


class _Block:
    """Rows recorded all at once (complete from the start), such as a block of credits."""

    __slots__ = ("data", "first_id", "size")
    complete = True

    def __init__(self, first_id: int, data: dict[str, npt.NDArray[Any]]) -> None:
        self.first_id = first_id
        self.data = data
        self.size = int(data["service"].size)

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        return self.data


RowGroup = Callable[[int, Mapping[str, npt.NDArray[Any]]], None]
"""A subscriber: called with the first id and the typed fields of each row group."""


class TransactionRecorder:
    """Collects ended transactions and hands them on in id order, a row group at a time.

    An arrival batch or block is released once it and everything before it is
    complete; released rows are handed, as typed fields (:data:`sim.outputs.record.FIELDS`),
    to every subscriber in the order they subscribed: the ledger posts from them,
    :class:`TransactionFile` writes them. The recorder itself opens no file.
    """

    def __init__(self, ids: IdCounter | None = None) -> None:
        self.ids = ids if ids is not None else IdCounter()
        self.subscribers: list[RowGroup] = []
        self._open: deque[_OpenBatch | _Block] = deque()
        self._by_index: dict[int, _OpenBatch] = {}
        self._expected_id = self.ids.next_id
        self.ended = 0
        self.rows_written = 0
        self.rows_by_service = np.zeros(len(SERVICES), dtype=np.int64)
        """Rows released per service code."""
        self._buffer: list[tuple[int, int, Mapping[str, npt.NDArray[Any]]]] = []
        self._buffered = 0

    def subscribe(self, subscriber: RowGroup) -> None:
        """Hand every row group released from now on to ``subscriber`` too."""
        self.subscribers.append(subscriber)

    def open(self, batch: ArrivalBatch) -> None:
        """Expect the transactions of a new batch (its ids follow the last range recorded)."""
        self._take_range(batch.first_id, batch.size)
        entry = _OpenBatch(batch)
        self._open.append(entry)
        self._by_index[batch.index] = entry
        self._flush()

    def finish(self, txn: Transaction) -> None:
        """Record a transaction's end (exactly once per transaction)."""
        entry = self._by_index[txn.batch.index]
        entry.ended.append(_ended_of(txn))
        self.ended += 1
        if entry.complete and entry is self._open[0]:
            self._flush()

    def record_block(self, columns: Mapping[str, npt.ArrayLike]) -> int:
        """Record a block of ended transactions at once; returns the first of their ids.

        ``columns`` holds one array per name in :data:`BLOCK_COLUMNS`, all of one
        length (the optional fields default). The block takes the next id range,
        so it is released after every batch opened before it, keeping id order.
        """
        missing = [name for name in BLOCK_COLUMNS if name not in columns]
        if missing:
            raise ValueError(f"block lacks column(s) {', '.join(missing)}")
        size = int(np.asarray(columns["service"]).size)
        data = {
            f.name: np.asarray(columns[f.name]) if f.name in columns
            else np.full(size, f.default, dtype=f.dtype)
            for f in FIELDS
        }  # fmt: skip
        sizes = {a.shape for a in data.values()}
        if len(sizes) != 1 or len(next(iter(sizes))) != 1:
            raise ValueError(f"block columns must be 1-d and of one length, got {sizes}")
        first = self.ids.take(size)
        self._take_range(first, size)
        self._open.append(_Block(first, data))
        self.ended += size
        self._flush()
        return first

    def _take_range(self, first_id: int, n: int) -> None:
        if first_id != self._expected_id:
            raise ValueError(f"ids must follow on: expected {self._expected_id}, got {first_id}")
        self._expected_id = first_id + n
        self.ids.next_id = max(self.ids.next_id, self._expected_id)

    @property
    def in_flight_batches(self) -> int:
        """Batches with transactions still in flight (or not yet released)."""
        return len(self._open)

    def close(self) -> None:
        """Release what is complete; refuse if anything is still in flight."""
        self._flush()
        self._write_buffer()
        if self._open:
            pending = sum(e.size - len(e.ended) for e in self._open if isinstance(e, _OpenBatch))
            raise RuntimeError(f"{pending} transaction(s) never reached a terminal state")

    def _flush(self) -> None:
        """Release complete entries from the head: each batch alone, a run of blocks together.

        Blocks (credits) come in runs of many small ones; one row group per run
        keeps the file's row groups few. When a slow transaction held many batches
        back, they are released as they complete, a row group at a time, so that
        neither the row groups nor the buffers behind them grow with the hold-up.
        """
        while self._open and self._open[0].complete:
            entry = self._open.popleft()
            if isinstance(entry, _OpenBatch):
                del self._by_index[entry.batch.index]
                if entry.size:
                    self._write(entry.first_id, entry.size, entry.columns())
            else:
                run = [entry]
                while self._open and isinstance(self._open[0], _Block):
                    run.append(self._open.popleft())  # type: ignore[arg-type]
                size = sum(b.size for b in run)
                data = {name: np.concatenate([b.data[name] for b in run]) for name in run[0].data}
                self._write(entry.first_id, size, data)
            if self._buffered >= ROW_GROUP_ROWS:
                self._write_buffer()

    def _write(self, first_id: int, size: int, columns: Mapping[str, npt.NDArray[Any]]) -> None:
        """Buffer complete rows; they are released in groups of at least ROW_GROUP_ROWS."""
        if size:
            self._buffer.append((first_id, size, columns))
            self._buffered += size

    def _write_buffer(self) -> None:
        """Release the buffered rows as one row group, to every subscriber."""
        if not self._buffer:
            return
        first_id = self._buffer[0][0]
        n = self._buffered
        fields = typed({f.name: np.concatenate([np.asarray(c[f.name]) for _, _, c in self._buffer])
                        for f in FIELDS})  # fmt: skip
        self._buffer, self._buffered = [], 0
        for subscriber in self.subscribers:
            subscriber(first_id, fields)
        self.rows_written += n
        codes = fields["service"].astype(np.intp, copy=False)
        self.rows_by_service += np.bincount(codes, minlength=len(SERVICES))


class TransactionFile:
    """``transactions.parquet``, written a row group at a time as the recorder releases them."""

    def __init__(self, path: Path, province_ids: Sequence[str]) -> None:
        self.path = path
        self.schema = transaction_schema()
        self.vocabularies = Vocabularies(
            service=pa.array(list(SERVICES), pa.string()),
            province=pa.array(list(province_ids), pa.string()),
            card=pa.array(labels(CardKind), pa.string()),
            scheme=pa.array(labels(Scheme), pa.string()),
            channel=pa.array(labels(Channel), pa.string()),
            level=pa.array(labels(Level), pa.string()),
            outcome=pa.array(labels(Outcome), pa.string()),
            reason=pa.array(labels(Reason), pa.string()),
            card_state=pa.array(labels(CardState), pa.string()),
            fraud=pa.array(labels(FraudKind), pa.string()),
            flagged_by=pa.array(labels(FlagRule), pa.string()),
        )
        self._sink = ParquetSink(path, self.schema)

    def write(self, first_id: int, fields: Mapping[str, npt.NDArray[Any]]) -> None:
        """Write one row group (a recorder subscriber), built on the writer thread.

        ``fields`` is the recorder's fresh batch, never changed after release, so
        the thread can read it while the simulation goes on.
        """
        vocabularies, schema = self.vocabularies, self.schema
        self._sink.write(lambda: table(first_id, fields, vocabularies, schema))

    def close(self) -> None:
        """Finish the file (idempotent, so a failed run can abort after a close)."""
        self._sink.close()

    def abort(self) -> None:
        """Finish the file after a failed run: the same as closing it."""
        self.close()


class StationSeries:
    """Preallocated time series of every station: queue, busy servers, completions."""

    def __init__(self, stations: Sequence[StationStats], samples: int) -> None:
        self.stations = list(stations)
        shape = (samples, len(self.stations))
        self.time_s = np.zeros(samples)
        self.queue = np.zeros(shape, dtype=np.int32)
        self.busy = np.zeros(shape, dtype=np.int32)
        self.completions = np.zeros(shape, dtype=np.int64)
        self.count = 0


def sample_stations(
    env: simpy.Environment,
    series: StationSeries,
    every_s: float,
    until_s: float,
    fold_waits: bool = True,
) -> Generator[simpy.Event, Any, None]:
    """Every ``every_s`` up to ``until_s``, record each station's state.

    With ``fold_waits``, a station holding :data:`~sim.engine.stations.FOLD_WAITS_AT`
    waits or more has them folded into its sketch (memory stays bounded).
    """
    stations = series.stations
    last = np.zeros(len(stations), dtype=np.int64)
    total = np.zeros(len(stations), dtype=np.int64)
    while series.count < series.time_s.size:
        i = series.count
        series.time_s[i] = env.now
        now = env.now
        for j, st in enumerate(stations):
            st.advance(now)  # a settlement node reads its state off its server pool here
            series.queue[i, j] = st.queue
            series.busy[i, j] = st.busy
            total[j] = st.completions
            if fold_waits and len(st.waits) >= FOLD_WAITS_AT:
                st.fold_waits()
        series.completions[i] = total - last if i else 0
        last[:] = total
        series.count += 1
        if env.now >= until_s:
            return
        yield env.timeout(min(every_s, until_s - env.now))
