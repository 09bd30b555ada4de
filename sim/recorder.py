"""Recording while the model runs: transactions to Parquet, stations to a time series.

:class:`TransactionRecorder` keeps each arrival batch's outcomes until every
transaction of the batch has ended, then writes the batch as one Parquet row
group, in id order. Memory therefore holds only the batches still in flight,
whatever the run's length. Transactions that never exist as objects (a bank's
block of credits, whose landing times are computed arithmetically) are recorded
a block at a time with :meth:`TransactionRecorder.record_block`; batches and
blocks draw their ids from one :class:`IdCounter`. :func:`sample_stations` is a
small SimPy process that reads every station's queue and busy servers at a
fixed interval.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
import simpy

from sim.demand import ArrivalBatch
from sim.domain import CardKind, Channel, Level, Outcome, Reason, Scheme, labels
from sim.scenario.families import SERVICES
from sim.stations import FOLD_WAITS_AT, StationStats
from sim.transaction import Transaction

__all__ = [
    "BLOCK_COLUMNS",
    "IdCounter",
    "StationSeries",
    "TransactionRecorder",
    "sample_stations",
    "transaction_schema",
]


_CATEGORY = pa.dictionary(pa.int8(), pa.string())
_TRANSACTION_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("txn_id", pa.int64()),
    ("service", _CATEGORY),
    ("home_province", _CATEGORY),
    ("site_province", _CATEGORY),
    ("cross_province", pa.bool_()),
    ("holder_id", pa.int64()),
    ("card_kind", _CATEGORY),
    ("scheme", _CATEGORY),
    ("channel", _CATEGORY),
    ("level", _CATEGORY),
    ("point", pa.int32()),
    ("arrival_s", pa.float64()),
    ("start_s", pa.float64()),
    ("end_s", pa.float64()),
    ("latency_s", pa.float64()),
    ("wait_s", pa.float64()),
    ("point_latency_s", pa.float64()),
    ("settle_latency_s", pa.float64()),
    ("outcome", _CATEGORY),
    ("reason", _CATEGORY),
    ("attempts", pa.int8()),
    ("amount_fen", pa.int64()),
    ("fund_fen", pa.int64()),
    ("personal_fen", pa.int64()),
)

_ENDED = ("row", "start_s", "end_s", "settle_s", "outcome", "reason", "attempts",
          "fund_fen", "personal_fen", "leave_s")  # fmt: skip
"""What :meth:`TransactionRecorder.finish` keeps of a transaction, in this order."""


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """How the run's Parquet files are written: zstd, dictionary pages only for categories.

    Dictionary-encoding float columns (pyarrow's default for every column) costs
    half the writing time and makes files larger; categories are already encoded.
    """
    categories = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    return {"compression": "zstd", "use_dictionary": categories}


def transaction_schema() -> pa.Schema:
    """The columns of ``transactions.parquet`` (the contract notebooks rely on)."""
    return pa.schema(list(_TRANSACTION_COLUMNS))


BLOCK_COLUMNS: tuple[str, ...] = (
    "service", "home", "site", "holder", "card", "scheme", "channel", "arrival_s",
    "start_s", "end_s", "settle_s", "leave_s", "outcome", "reason", "attempts",
    "amount_fen", "fund_fen", "personal_fen",
)  # fmt: skip
"""What :meth:`TransactionRecorder.record_block` needs per row: codes, times, money.

``settle_s`` is a duration (the settlement or verification round trip) and
``leave_s`` the time the holder left the point; a negative value means "none"
and is written as null. ``level`` and ``point`` are optional (none, -1).
"""

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
        return {
            **ended,
            "service": b.service, "home": b.home, "site": b.site, "holder": b.holder,
            "card": b.card, "scheme": b.scheme, "channel": b.channel, "arrival_s": b.time_s,
            "amount_fen": b.amount_fen, "level": b.level, "point": b.point,
        }  # fmt: skip


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


OnBatch = Callable[[Mapping[str, npt.NDArray[Any]]], None]
"""Called with the columns of each row group written (the ledger posts from them)."""


class TransactionRecorder:
    """Collects ended transactions and streams them to ``transactions.parquet``.

    Row groups are written in transaction id order: an arrival batch or block is
    written once it and everything before it is complete.
    """

    def __init__(
        self,
        path: Path,
        province_ids: Sequence[str],
        ids: IdCounter | None = None,
        on_batch: OnBatch | None = None,
    ) -> None:
        self.path = path
        self.on_batch = on_batch
        self.schema = transaction_schema()
        self.ids = ids if ids is not None else IdCounter()
        self._writer = pq.ParquetWriter(path, self.schema, **parquet_options(self.schema))
        self._open: deque[_OpenBatch | _Block] = deque()
        self._by_index: dict[int, _OpenBatch] = {}
        self._expected_id = self.ids.next_id
        self._provinces = pa.array(list(province_ids), pa.string())
        self._services = pa.array(list(SERVICES), pa.string())
        self._channels = pa.array(labels(Channel), pa.string())
        self._cards = pa.array(labels(CardKind), pa.string())
        self._schemes = pa.array(labels(Scheme), pa.string())
        self._outcomes = pa.array(labels(Outcome), pa.string())
        self._reasons = pa.array(labels(Reason), pa.string())
        self._levels = pa.array(labels(Level), pa.string())
        self.ended = 0
        self.rows_written = 0
        self.rows_by_service = np.zeros(len(SERVICES), dtype=np.int64)
        """Rows written per service code."""
        self._buffer: list[tuple[int, int, Mapping[str, npt.NDArray[Any]]]] = []
        self._buffered = 0

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
        entry.ended.append((txn.row, txn.start_s, txn.end_s, txn.settle_s, int(txn.outcome),
                            int(txn.reason), txn.attempts, txn.fund_fen, txn.personal_fen,
                            txn.leave_s))  # fmt: skip
        self.ended += 1
        if entry.complete and entry is self._open[0]:
            self._flush()

    def record_block(self, columns: Mapping[str, npt.ArrayLike]) -> int:
        """Record a block of ended transactions at once; returns the first of their ids.

        ``columns`` holds one array per name in :data:`BLOCK_COLUMNS`, all of one
        length. The block takes the next id range, so it is written after every
        batch opened before it, keeping the file in id order.
        """
        missing = [name for name in BLOCK_COLUMNS if name not in columns]
        if missing:
            raise ValueError(f"block lacks column(s) {', '.join(missing)}")
        data = {name: np.asarray(columns[name]) for name in BLOCK_COLUMNS}
        size = int(data["service"].size)
        data["level"] = np.asarray(columns.get("level", np.zeros(size, dtype=np.uint8)))
        data["point"] = np.asarray(columns.get("point", np.full(size, -1, dtype=np.int64)))
        sizes = {a.shape for a in data.values()}
        if len(sizes) != 1 or len(next(iter(sizes))) != 1:
            raise ValueError(f"block columns must be 1-d and of one length, got {sizes}")
        n = int(data["service"].size)
        first = self.ids.take(n)
        self._take_range(first, n)
        self._open.append(_Block(first, data))
        self.ended += n
        self._flush()
        return first

    def _take_range(self, first_id: int, n: int) -> None:
        if first_id != self._expected_id:
            raise ValueError(f"ids must follow on: expected {self._expected_id}, got {first_id}")
        self._expected_id = first_id + n
        self.ids.next_id = max(self.ids.next_id, self._expected_id)

    @property
    def in_flight_batches(self) -> int:
        """Batches with transactions still in flight (or not yet written)."""
        return len(self._open)

    def close(self) -> None:
        """Write what is complete and close the file; refuse if anything is still in flight."""
        self._flush()
        self._write_buffer()
        self._writer.close()
        if self._open:
            pending = sum(e.size - len(e.ended) for e in self._open if isinstance(e, _OpenBatch))
            raise RuntimeError(f"{pending} transaction(s) never reached a terminal state")

    def abort(self) -> None:
        """Close the file without checks (the run failed; the folder will be discarded)."""
        self._writer.close()

    def _flush(self) -> None:
        """Write complete entries from the head: each batch alone, a run of blocks together.

        Blocks (credits) come in runs of many small ones; one row group per run
        keeps the file's row groups few. When a slow transaction held many batches
        back, they are written as they are released, a row group at a time, so that
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
        """Buffer complete rows; they are written in groups of at least ROW_GROUP_ROWS."""
        if size:
            self._buffer.append((first_id, size, columns))
            self._buffered += size

    def _write_buffer(self) -> None:
        """Write the buffered rows as one row group (and hand them to ``on_batch``)."""
        if not self._buffer:
            return
        first_id = self._buffer[0][0]
        n = self._buffered
        names = [*BLOCK_COLUMNS, "level", "point"]
        columns = {k: np.concatenate([np.asarray(c[k]) for _, _, c in self._buffer])
                   for k in names}  # fmt: skip
        self._buffer, self._buffered = [], 0
        if self.on_batch is not None:
            self.on_batch(_ledger_view(first_id, n, columns))
        self._writer.write_table(self._table(first_id, n, columns), row_group_size=n)
        self.rows_written += n
        codes = np.asarray(columns["service"]).astype(np.intp, copy=False)
        self.rows_by_service += np.bincount(codes, minlength=len(SERVICES))

    def _table(self, first_id: int, n: int, c: Mapping[str, npt.NDArray[Any]]) -> pa.Table:
        def cat(codes: npt.ArrayLike, dictionary: pa.Array) -> pa.DictionaryArray:
            indices = pa.array(np.asarray(codes, dtype=np.int8))
            return pa.DictionaryArray.from_arrays(indices, dictionary)

        arrival = np.asarray(c["arrival_s"], dtype=np.float64)
        start = np.asarray(c["start_s"], dtype=np.float64)
        end = np.asarray(c["end_s"], dtype=np.float64)
        settle = np.asarray(c["settle_s"], dtype=np.float64)
        leave = np.asarray(c["leave_s"], dtype=np.float64)
        home, site = np.asarray(c["home"]), np.asarray(c["site"])
        columns = {
            "txn_id": pa.array(first_id + np.arange(n, dtype=np.int64)),
            "service": cat(c["service"], self._services),
            "home_province": cat(home, self._provinces),
            "site_province": cat(site, self._provinces),
            "cross_province": pa.array(site != home),
            "holder_id": pa.array(np.asarray(c["holder"], dtype=np.int64)),
            "card_kind": cat(c["card"], self._cards),
            "scheme": cat(c["scheme"], self._schemes),
            "channel": cat(c["channel"], self._channels),
            "level": cat(c["level"], self._levels),
            "point": pa.array(np.asarray(c["point"]).astype(np.int32)),
            "arrival_s": pa.array(arrival),
            "start_s": pa.array(start),
            "end_s": pa.array(end),
            "latency_s": pa.array(end - arrival),
            "wait_s": pa.array(start - arrival),
            "point_latency_s": pa.array(np.where(leave >= 0, leave - arrival, np.nan)),
            "settle_latency_s": pa.array(np.where(settle >= 0, settle, np.nan)),
            "outcome": cat(c["outcome"], self._outcomes),
            "reason": cat(c["reason"], self._reasons),
            "attempts": pa.array(np.asarray(c["attempts"]).astype(np.int8)),
            "amount_fen": pa.array(np.asarray(c["amount_fen"], dtype=np.int64)),
            "fund_fen": pa.array(np.asarray(c["fund_fen"]).astype(np.int64)),
            "personal_fen": pa.array(np.asarray(c["personal_fen"]).astype(np.int64)),
        }
        return pa.Table.from_arrays(list(columns.values()), schema=self.schema)


def _ledger_view(
    first_id: int, n: int, c: Mapping[str, npt.NDArray[Any]]
) -> dict[str, npt.NDArray[Any]]:
    """The columns the ledger posts from, with integer codes and money."""
    as_int = ("service", "home", "site", "point", "outcome", "amount_fen", "fund_fen",
              "personal_fen", "channel", "reason")  # fmt: skip
    view = {name: np.asarray(c[name]).astype(np.int64) for name in as_int}
    view["txn_id"] = first_id + np.arange(n, dtype=np.int64)
    view["end_s"] = np.asarray(c["end_s"], dtype=np.float64)
    view["arrival_s"] = np.asarray(c["arrival_s"], dtype=np.float64)
    return view


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

    With ``fold_waits``, a station holding :data:`~sim.stations.FOLD_WAITS_AT`
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
