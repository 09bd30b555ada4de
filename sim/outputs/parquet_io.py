"""How every Parquet file of a run is written: one set of options, and a writer thread.

A run produces its two big files (transactions and ledger, 3 GB at full scale)
row group by row group. Turning a row group into Arrow arrays, encoding and
compressing it mostly happens in Arrow's C++ with the GIL released, so a
:class:`ParquetSink` does it on a thread of its own while the simulation goes
on, on the machine's other core. Row groups are written in the order given, so
the file's bytes are those of writing them inline.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["ParquetSink", "parquet_options"]


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """Writer options: zstd, and dictionaries only for the category columns.

    Dictionary-encoding float columns (pyarrow's default for every column) costs
    half the writing time and makes files larger; categories are already encoded.
    """
    categories = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    return {"compression": "zstd", "use_dictionary": categories}


class ParquetSink:
    """A Parquet file whose row groups are built and written on a thread, in order.

    ``write(make)`` queues ``make()`` (which returns the row group's table) and
    returns at once, unless ``ahead`` row groups are already waiting: then it
    waits for the oldest, which bounds the memory held. An error on the thread
    is raised in the caller, at its next ``write`` or at ``close``.
    """

    def __init__(self, path: Path, schema: pa.Schema, ahead: int = 2) -> None:
        self.path = path
        self.ahead = ahead
        self._writer = pq.ParquetWriter(path, schema, **parquet_options(schema))
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"write-{path.name}")
        self._waiting: deque[Future[None]] = deque()
        self.closed = False

    def write(self, make: Callable[[], pa.Table]) -> None:
        """Queue one row group, built by ``make`` on the writer thread."""
        if self.closed:
            raise RuntimeError(f"{self.path} is already closed")
        while len(self._waiting) >= self.ahead:
            self._waiting.popleft().result()
        self._waiting.append(self._thread.submit(self._write, make))

    def _write(self, make: Callable[[], pa.Table]) -> None:
        rows = make()
        self._writer.write_table(rows, row_group_size=max(1, rows.num_rows))

    def close(self) -> None:
        """Write what is queued and finish the file (idempotent); raise a writer's error."""
        if self.closed:
            return
        self.closed = True
        try:
            while self._waiting:
                self._waiting.popleft().result()
        finally:
            for left in self._waiting:  # after an error: drop the rest, the run has failed
                left.cancel()
            self._thread.shutdown(wait=True)
            self._writer.close()
