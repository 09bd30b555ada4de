"""Metrics from arrays, the all-or-nothing results folder, the recorder and the console."""

from __future__ import annotations

import datetime as dt
import io
import math
from collections import deque
from pathlib import Path

import attrs
import numpy as np
import pyarrow.parquet as pq
import pytest

from sim.cli.console import RunProgress, print_summary
from sim.cli.main import default_out_dir
from sim.outputs.metrics import finite, percentiles, share, wilson_interval
from sim.outputs.recorder import TransactionRecorder
from sim.outputs.results import staging
from sim.scenario.families import SERVICES
from sim.world.demand import ArrivalBatch
from sim.world.domain import Outcome, Reason
from sim.world.transaction import Transaction
from tests.recording import recording


def test_percentiles_of_known_values() -> None:
    """Mean and linear-interpolated percentiles of 1..100; NaN for nothing."""
    values = np.arange(1, 101, dtype=float)
    got = percentiles(values)
    assert got == {"mean": 50.5, "p50": 50.5, "p95": 95.05, "p99": 99.01}
    assert all(math.isnan(v) for v in percentiles([]).values())


def test_wilson_interval_matches_reference_values() -> None:
    """0 of 10 → [0, 0.2775]; 5 of 10 → [0.2366, 0.7634] (Wilson 1927, z = 1.96)."""
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27754), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-4)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_share_counts_within_a_subset() -> None:
    """A share restricted to a mask counts hits and trials in that subset only."""
    mask = np.array([True, False, True, True])
    within = np.array([True, True, False, True])
    got = share(mask, within)
    assert (got["count"], got["of"]) == (2, 3)
    assert got["value"] == pytest.approx(2 / 3)


def test_finite_replaces_nan_for_json() -> None:
    """NaN anywhere in a nested summary becomes None."""
    assert finite({"a": math.nan, "b": [1.0, math.nan], "c": {"d": math.inf}}) == {
        "a": None, "b": [1.0, None], "c": {"d": None},
    }  # fmt: skip


def test_staging_renames_on_success_and_removes_on_failure(tmp_path: Path) -> None:
    """A completed block leaves the folder in place; a failed one leaves nothing at all."""
    with staging(tmp_path / "ok") as work:
        (work / "f.txt").write_text("x")
    assert (tmp_path / "ok" / "f.txt").read_text() == "x"

    def fail_halfway() -> None:
        with staging(tmp_path / "bad") as work:
            (work / "half.txt").write_text("x")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_halfway()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok"]
    with pytest.raises(FileExistsError), staging(tmp_path / "ok"):
        pass


def _batch(index: int, first_id: int, n: int) -> ArrivalBatch:
    zeros = np.zeros(n, dtype=np.int64)
    return ArrivalBatch(index, 0.0, 1.0, first_id, np.linspace(0, 0.5, n),
                        np.zeros(n, dtype=np.uint8), zeros, zeros, zeros,
                        np.zeros(n, dtype=np.uint8), np.zeros(n, dtype=np.uint8),
                        np.ones(n, dtype=bool), np.zeros(n, dtype=bool),
                        np.full(n, 100, dtype=np.int64), zeros,
                        np.zeros(n, dtype=np.uint8), np.zeros(n, dtype=np.uint8))  # fmt: skip


def _end(batch: ArrivalBatch, row: int) -> Transaction:
    txn = Transaction(batch.first_id + row, batch, row, 0, 0, 0, 0, True, False, 100, 0.0)
    txn.start_s, txn.end_s, txn.outcome, txn.reason = 0.1, 0.2, Outcome.SETTLED, Reason.NONE
    return txn


def test_recorder_writes_batches_in_order_once_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch 1 ending first is held until batch 0 is complete; rows come out in id order,
    a row group each time the buffered rows reach the row-group size, even when one
    completion releases several batches at once (row groups stay bounded)."""
    monkeypatch.setattr("sim.outputs.recorder.ROW_GROUP_ROWS", 2)
    recorder = recording(tmp_path / "t.parquet")
    first, second = _batch(0, 0, 2), _batch(1, 2, 1)
    recorder.open(first)
    recorder.open(second)
    recorder.finish(_end(second, 0))
    recorder.finish(_end(first, 1))
    assert recorder.rows_written == 0
    recorder.finish(_end(first, 0))
    assert recorder.rows_written == 2  # batch 0 reached the row-group size: written alone
    recorder.close()
    table = pq.read_table(tmp_path / "t.parquet")
    assert table["txn_id"].to_pylist() == [0, 1, 2]
    assert pq.ParquetFile(tmp_path / "t.parquet").num_row_groups == 2


def test_recorder_hands_each_row_group_to_its_subscribers(tmp_path: Path) -> None:
    """A subscriber sees every released row once, as typed numpy fields."""
    seen: list[list[int]] = []
    recorder = TransactionRecorder()
    recorder.subscribe(
        lambda first, fields: seen.append(list(range(first, first + fields["service"].size)))
    )
    batch = _batch(0, 0, 2)
    recorder.open(batch)
    recorder.finish(_end(batch, 1))
    recorder.finish(_end(batch, 0))
    recorder.close()
    assert seen == [[0, 1]]


def test_recorder_refuses_to_close_with_transactions_in_flight(tmp_path: Path) -> None:
    """Closing while a transaction never ended is an error naming how many."""
    recorder = recording(tmp_path / "t.parquet")
    recorder.open(_batch(0, 0, 2))
    recorder.finish(_end(recorder._open[0].batch, 0))
    with pytest.raises(RuntimeError, match="1 transaction"):
        recorder.close()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_appears_only_on_a_terminal_after_the_delay() -> None:
    """No bar on a pipe; on a terminal, a bar once the delay has passed."""
    pipe = io.StringIO()
    quiet = RunProgress(3600.0, "x", stream=pipe, delay_s=0.0)
    quiet(1800.0)
    quiet.close()
    assert pipe.getvalue() == ""
    tty = _Tty()
    shown = RunProgress(3600.0, "x", stream=tty, delay_s=0.0)
    shown(1800.0)
    assert shown._progress is not None
    shown.close()
    late = RunProgress(3600.0, "x", stream=_Tty(), delay_s=60.0)
    late(1800.0)
    assert late._progress is None


def test_default_out_dir_is_unique(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """results/<name>-<stamp>, with a suffix when that folder exists."""
    monkeypatch.chdir(tmp_path)
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    first = default_out_dir("x", now)
    assert first == Path("results/x-20260102T030405Z")
    first.mkdir(parents=True)
    assert default_out_dir("x", now) == Path("results/x-20260102T030405Z-2")


def test_print_summary_shows_services_and_headlines() -> None:
    """The summary printout names each service and the headline figures."""
    pct = {"mean": 0.1, "p50": 0.1, "p95": 0.2, "p99": 0.3}
    one = {"value": 0.5, "count": 1, "of": 2, "ci95": [0.1, 0.9]}
    summary = {
        "scenario": "s", "seed": 1, "scale": 0.001,
        "services": {"pharmacy": {
            "arrivals": 10, "outcomes": {"settled": 9, "fallback": 1, "declined": 0},
            "settled_per_day_full_scale": 9000.0, "cross_province_share": one,
            "settle_latency_s": {"local": pct, "cross_province": pct}}},
        "medical": {"settled_per_day_full_scale": 9000.0, "cross_province_share_of_settled": one,
                    "inpatient_share_of_cross_province_settled": one,
                    "cross_province_inpatient_direct_settlement_rate": one},
        "protocol": {"retries": 0},
    }  # fmt: skip
    manifest = {"transactions": 10, "events": 100, "wall_time_s": 0.5,
                "events_per_wall_second": 200.0}  # fmt: skip
    out = io.StringIO()
    print_summary(summary, manifest, "results/s", stream=out)
    text = out.getvalue()
    assert "pharmacy" in text and "9,000" in text and "results/s" in text
    assert "50.00% (95% CI 10.00–90.00%, 1 of 2)" in text


def test_quantiles_exact_then_sketched_within_a_tenth_of_a_percent() -> None:
    """Up to the limit the figures equal numpy's; beyond it percentiles stay within 0.1%
    of the exact ones and the mean stays exact."""
    from sim.outputs.metrics import Quantiles

    rng = np.random.default_rng(3)
    values = rng.lognormal(-1.0, 1.2, 300_000)
    small = Quantiles(exact_up_to=1_000_000)
    for part in np.array_split(values, 7):
        small.add(part)
    assert small.exact
    assert small.summary() == percentiles(values)
    sketch = Quantiles(exact_up_to=50_000)
    for part in np.array_split(values, 7):
        sketch.add(part)
    assert not sketch.exact
    got, want = sketch.summary(), percentiles(values)
    assert got["mean"] == pytest.approx(want["mean"], rel=1e-12)
    for q in ("p50", "p95", "p99"):
        assert got[q] == pytest.approx(want[q], rel=0.0012)


def test_quantiles_ignore_nan_and_count_tiny_values_as_zero() -> None:
    """NaN is skipped; values under a microsecond sit at 0 in the sketch."""
    from sim.outputs.metrics import Quantiles

    q = Quantiles(exact_up_to=2)
    q.add([np.nan, *[0.0] * 60, *[5.0] * 40])
    assert q.count == 100
    assert q.summary()["p50"] == 0.0
    assert q.summary()["p95"] == pytest.approx(5.0, rel=0.001)


def test_station_table_columns_have_one_type_whatever_the_run() -> None:
    """A station with nobody waiting and one with a queue give the same column types.

    ``wait_open_s`` was the int 0 when no job waited at the end (an empty sum) and
    a float otherwise, so stations.parquet had it as int64 in some runs, double in others.
    """
    import pyarrow as pa

    from sim.engine.stations import StationStats
    from sim.outputs.metrics import STATION_SCHEMA, station_table

    idle = StationStats("point:idle", "point", "BJ", "pharmacy")
    idle.servers = 1
    queued = StationStats("point:queued", "point", "BJ", "pharmacy")
    queued.servers = 1
    queued.queues.append(deque([(1.0, None, print)]))
    queued.queue = 1
    idle_table = pa.table(station_table([idle], 10.0))
    queued_table = pa.table(station_table([queued], 10.0))
    assert idle_table.schema == queued_table.schema == STATION_SCHEMA
    assert idle_table.column("wait_open_s").type == pa.float64()
    assert queued_table.column("wait_open_s").to_pylist() == [9.0]


def test_clearing_table_has_its_types_when_no_period_was_cleared() -> None:
    """An empty clearing.parquet has typed columns, not Arrow's null type."""
    import pyarrow as pa

    from sim.money.clearing import CLEARING_SCHEMA, PeriodResult

    empty = pa.table({f.name: [] for f in attrs.fields(PeriodResult)}, schema=CLEARING_SCHEMA)
    assert empty.schema.field("net_fen").type == pa.int64()
    assert empty.schema.field("start_s").type == pa.float64()
    assert not any(pa.types.is_null(f.type) for f in CLEARING_SCHEMA)


def test_summary_settle_latency_of_all_settled_and_settlements_per_calendar_day() -> None:
    """Cross-province-only settlements still get a p50 under "all"; days are local dates."""
    import pyarrow as pa

    from sim.outputs.results import summarise

    def enc(values: list[str]) -> pa.Array:
        return pa.array(values).dictionary_encode()

    n = 4
    batch = pa.table({
        "service": enc(["medical_inpatient"] * n), "cross_province": [True] * n,
        "outcome": enc(["settled"] * n), "reason": enc(["none"] * n),
        "arrival_s": [3600.0, 7200.0, 86400.0 + 3600.0, 86400.0 + 7200.0],
        "latency_s": [1.0] * n, "wait_s": [0.0] * n, "point_latency_s": [0.5] * n,
        "settle_latency_s": [1.0, 2.0, 3.0, 4.0], "amount_fen": [1] * n, "fund_fen": [1] * n,
        "personal_fen": [0] * n,
    })  # fmt: skip
    start = dt.datetime(2024, 3, 15, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    summary = summarise([batch], services=["medical_inpatient"], service_names=list(SERVICES),
                        warmup_s=0.0, horizon_s=2 * 86400.0, scale=0.5, extra={},
                        start=start)  # fmt: skip
    figures = summary["services"]["medical_inpatient"]
    assert math.isnan(figures["settle_latency_s"]["local"]["p50"])
    assert figures["settle_latency_s"]["all"]["p50"] == pytest.approx(2.5)
    # 23:00 and 00:00 local on the first day's evening fall on the 15th and the 16th
    assert {"2024-03-15": 2.0, "2024-03-16": 4.0, "2024-03-17": 2.0} == figures[
        "settled_by_day_full_scale"
    ]


def test_transactions_are_read_back_a_row_group_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row once, in file order, and no batch spans two row groups."""
    import pyarrow as pa

    from sim.outputs import results

    monkeypatch.setattr(results, "READ_BATCH_ROWS", 4)
    path = tmp_path / "transactions.parquet"
    ids = np.arange(23, dtype=np.int64)
    pq.write_table(pa.table({"txn_id": ids, "x": ids * 2.0}), path, row_group_size=10)
    batches = list(results.iter_transactions(path, ["txn_id"]))
    assert batches[0].schema.names == ["txn_id"]
    assert np.concatenate([b.column(0).to_numpy() for b in batches]).tolist() == ids.tolist()
    # row groups of 10, 10 and 3 rows, each cut into batches of at most 4
    assert [b.num_rows for b in batches] == [4, 4, 2, 4, 4, 2, 3]
