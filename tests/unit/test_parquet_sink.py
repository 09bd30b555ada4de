"""The writer thread: the same file as writing inline, errors raised in the caller."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim.outputs.parquet_io import ParquetSink, parquet_options

SCHEMA = pa.schema([("id", pa.int64()), ("x", pa.float64())])


def _group(i: int) -> pa.Table:
    return pa.table({"id": list(range(i * 10, i * 10 + 10)), "x": [i / 7] * 10}, schema=SCHEMA)


def test_row_groups_come_out_in_order_with_the_bytes_of_inline_writing(tmp_path: Path) -> None:
    """Ten row groups through the thread: byte for byte the file pyarrow writes inline."""
    sink = ParquetSink(tmp_path / "thread.parquet", SCHEMA, ahead=2)
    for i in range(10):
        sink.write(lambda i=i: _group(i))
    sink.close()
    with pq.ParquetWriter(tmp_path / "inline.parquet", SCHEMA, **parquet_options(SCHEMA)) as w:
        for i in range(10):
            w.write_table(_group(i), row_group_size=10)
    assert (tmp_path / "thread.parquet").read_bytes() == (tmp_path / "inline.parquet").read_bytes()
    assert pq.ParquetFile(tmp_path / "thread.parquet").metadata.num_row_groups == 10


def test_no_more_than_ahead_row_groups_wait(tmp_path: Path) -> None:
    """A slow writer holds the caller back: at most ``ahead`` groups are queued, not all."""
    gate = threading.Event()
    started: list[int] = []

    def slow(i: int) -> pa.Table:
        started.append(i)
        gate.wait(5)
        return _group(i)

    sink = ParquetSink(tmp_path / "slow.parquet", SCHEMA, ahead=2)
    sink.write(lambda: slow(0))
    sink.write(lambda: slow(1))
    blocked = threading.Thread(target=sink.write, args=(lambda: slow(2),))
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive()  # the third write waits for the first to be written
    gate.set()
    blocked.join(5)
    sink.close()
    assert started == [0, 1, 2]
    assert pq.read_table(tmp_path / "slow.parquet").num_rows == 30


def test_an_error_on_the_thread_is_raised_in_the_caller_and_the_file_closed(
    tmp_path: Path,
) -> None:
    """A row group that fails to build raises at the next write or at close, never silently."""

    def broken() -> pa.Table:
        raise ValueError("column point overflows int32")

    sink = ParquetSink(tmp_path / "bad.parquet", SCHEMA, ahead=1)
    sink.write(lambda: _group(0))
    sink.write(broken)
    with pytest.raises(ValueError, match="overflows int32"):
        sink.write(lambda: _group(2))  # waits for the broken one: its error comes out here
    sink.close()
    sink.close()  # idempotent
    with pytest.raises(RuntimeError, match="already closed"):
        sink.write(lambda: _group(3))
    assert pq.read_table(tmp_path / "bad.parquet").num_rows == 10
