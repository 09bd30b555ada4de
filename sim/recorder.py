"""Recording while the model runs: transactions to Parquet, stations to a time series.

:class:`TransactionRecorder` keeps each arrival batch's outcomes until every
transaction of the batch has ended, then writes the batch as one Parquet row
group, in batch order. Memory therefore holds only the batches still in flight,
whatever the run's length. :func:`sample_stations` is a small SimPy process that
reads every station's queue and busy servers at a fixed interval.
"""

from __future__ import annotations

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
from sim.domain import SERVICES, CardKind, Channel, Level, Outcome, Reason, Scheme, labels
from sim.stations import StationStats
from sim.transaction import Transaction

__all__ = ["StationSeries", "TransactionRecorder", "sample_stations", "transaction_schema"]


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

ROW_GROUP_ROWS = 65_536
"""Completed batches are written together once they hold this many rows."""

_ENDED = ("row", "start_s", "end_s", "settle_s", "outcome", "reason", "attempts",
          "fund_fen", "personal_fen", "leave_s")  # fmt: skip
"""What :meth:`TransactionRecorder.finish` keeps of a transaction, in this order."""


def transaction_schema() -> pa.Schema:
    """The columns of ``transactions.parquet`` (the contract notebooks rely on)."""
    return pa.schema(list(_TRANSACTION_COLUMNS))


class _OpenBatch:
    __slots__ = ("batch", "ended")

    def __init__(self, batch: ArrivalBatch) -> None:
        self.batch = batch
        self.ended: list[tuple[Any, ...]] = []

    @property
    def complete(self) -> bool:
        return len(self.ended) == self.batch.size


class TransactionRecorder:
    """Collects ended transactions and streams them to ``transactions.parquet``."""

    def __init__(
        self,
        path: Path,
        province_ids: Sequence[str],
        on_batch: Callable[[Mapping[str, npt.NDArray[Any]]], None] | None = None,
    ) -> None:
        self.path = path
        self.on_batch = on_batch
        """Called with each written batch's columns (the ledger posts from them)."""
        self.schema = transaction_schema()
        self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self._open: deque[_OpenBatch] = deque()
        self._by_index: dict[int, _OpenBatch] = {}
        self._provinces = pa.array(list(province_ids), pa.string())
        self._services = pa.array(list(SERVICES), pa.string())
        self._channels = pa.array(labels(Channel), pa.string())
        self._levels = pa.array(labels(Level), pa.string())
        self._cards = pa.array(labels(CardKind), pa.string())
        self._schemes = pa.array(labels(Scheme), pa.string())
        self._outcomes = pa.array(labels(Outcome), pa.string())
        self._reasons = pa.array(labels(Reason), pa.string())
        self.ended = 0
        self.rows_written = 0
        self._buffer: list[dict[str, npt.NDArray[Any]]] = []
        self._buffered = 0

    def open(self, batch: ArrivalBatch) -> None:
        """Expect the transactions of a new batch."""
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
            pending = sum(e.batch.size - len(e.ended) for e in self._open)
            raise RuntimeError(f"{pending} transaction(s) never reached a terminal state")

    def abort(self) -> None:
        """Close the file without checks (the run failed; the folder will be discarded)."""
        self._writer.close()

    def _flush(self) -> None:
        while self._open and self._open[0].complete:
            entry = self._open.popleft()
            del self._by_index[entry.batch.index]
            if entry.batch.size:
                self._buffer.append(self._columns(entry))
                self._buffered += entry.batch.size
        if self._buffered >= ROW_GROUP_ROWS:
            self._write_buffer()

    def _write_buffer(self) -> None:
        """Write buffered batches as one row group (and hand them to ``on_batch``)."""
        if not self._buffer:
            return
        columns = {k: np.concatenate([c[k] for c in self._buffer]) for k in self._buffer[0]}
        self._buffer, self._buffered = [], 0
        if self.on_batch is not None:
            self.on_batch(columns)
        table = self._arrow(columns)
        self._writer.write_table(table, row_group_size=table.num_rows)
        self.rows_written += table.num_rows

    def _columns(self, entry: _OpenBatch) -> dict[str, npt.NDArray[Any]]:
        """A completed batch as numpy columns (codes for categories), in row order."""
        b = entry.batch
        rows = np.array(entry.ended, dtype=np.float64)  # exact for fen below 2**53
        rows = rows[np.argsort(rows[:, 0], kind="stable")]
        ended = {name: rows[:, i] for i, name in enumerate(_ENDED)}
        return {
            "txn_id": b.first_id + np.arange(b.size, dtype=np.int64),
            "service": b.service.astype(np.int64),
            "home": b.home,
            "site": b.site,
            "holder": b.holder,
            "card": b.card,
            "scheme": b.scheme,
            "channel": b.channel,
            "level": b.level,
            "point": b.point,
            "arrival_s": b.time_s,
            "start_s": ended["start_s"],
            "end_s": ended["end_s"],
            "leave_s": ended["leave_s"],
            "settle_s": ended["settle_s"],
            "outcome": ended["outcome"].astype(np.int64),
            "reason": ended["reason"].astype(np.int64),
            "attempts": ended["attempts"].astype(np.int8),
            "amount_fen": b.amount_fen,
            "fund_fen": ended["fund_fen"].astype(np.int64),
            "personal_fen": ended["personal_fen"].astype(np.int64),
        }

    def _arrow(self, c: Mapping[str, npt.NDArray[Any]]) -> pa.Table:
        def cat(codes: npt.ArrayLike, dictionary: pa.Array) -> pa.DictionaryArray:
            indices = pa.array(np.asarray(codes, dtype=np.int8))
            return pa.DictionaryArray.from_arrays(indices, dictionary)

        settle = c["settle_s"]
        columns = {
            "txn_id": pa.array(c["txn_id"]),
            "service": cat(c["service"], self._services),
            "home_province": cat(c["home"], self._provinces),
            "site_province": cat(c["site"], self._provinces),
            "cross_province": pa.array(c["site"] != c["home"]),
            "holder_id": pa.array(c["holder"]),
            "card_kind": cat(c["card"], self._cards),
            "scheme": cat(c["scheme"], self._schemes),
            "channel": cat(c["channel"], self._channels),
            "level": cat(c["level"], self._levels),
            "point": pa.array(c["point"].astype(np.int32)),
            "arrival_s": pa.array(c["arrival_s"]),
            "start_s": pa.array(c["start_s"]),
            "end_s": pa.array(c["end_s"]),
            "latency_s": pa.array(c["end_s"] - c["arrival_s"]),
            "wait_s": pa.array(c["start_s"] - c["arrival_s"]),
            "point_latency_s": pa.array(c["leave_s"] - c["arrival_s"]),
            "settle_latency_s": pa.array(np.where(settle >= 0, settle, np.nan)),
            "outcome": cat(c["outcome"], self._outcomes),
            "reason": cat(c["reason"], self._reasons),
            "attempts": pa.array(c["attempts"]),
            "amount_fen": pa.array(c["amount_fen"]),
            "fund_fen": pa.array(c["fund_fen"]),
            "personal_fen": pa.array(c["personal_fen"]),
        }
        return pa.Table.from_arrays(list(columns.values()), schema=self.schema)


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
    env: simpy.Environment, series: StationSeries, every_s: float, until_s: float
) -> Generator[simpy.Event, Any, None]:
    """Every ``every_s`` up to ``until_s``, record each station's state."""
    stations = series.stations
    last = np.zeros(len(stations), dtype=np.int64)
    total = np.zeros(len(stations), dtype=np.int64)
    while series.count < series.time_s.size:
        i = series.count
        series.time_s[i] = env.now
        for j, st in enumerate(stations):
            series.queue[i, j] = st.queue
            series.busy[i, j] = st.busy
            total[j] = st.completions
        series.completions[i] = total - last if i else 0
        last[:] = total
        series.count += 1
        if env.now >= until_s:
            return
        yield env.timeout(min(every_s, until_s - env.now))
