"""Pension and benefit payout: recipients, bank nodes landing credits in blocks, withdrawals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from sim import run_once
from sim.engine.calendar import Clock
from sim.outputs.recorder import BLOCK_COLUMNS, IdCounter
from sim.outputs.results import Result
from sim.scenario import parse_scenario
from sim.services.pension import BLOCK_CREDITS
from sim.services.withdrawals import WithdrawalArrivals
from sim.world.provinces import apportion, load_provinces
from tests.recording import recording

TABLE = load_provinces()
START = "2024-03-15T00:00:00+08:00"


def payout_scenario(
    credits_per_s: float, scale: float = 1e-4, withdrawals: bool = False, **extra: Any
) -> dict[str, Any]:
    """Raw scenario: one province-wide payday on the 15th, one pension batch at 02:00."""
    payout: dict[str, Any] = {
        "payday": 15,
        "deadline": "08:00",
        "bank": {"credits_per_s": credits_per_s},
        "employee_pension": {
            "recipients": "147.39 million",
            "amount": {"lognormal": {"mean": "3825 yuan", "cv": 0.4}},
            "batch_time": "02:00",
        },
        **extra,
    }
    if withdrawals:
        payout["withdrawals"] = {
            "rate": {"per_holder_per_day": 0.02},
            "amount": {"lognormal": {"mean": "800 yuan", "cv": 1.0}},
            "spike": {"amplitude": 3.0, "decay": "1d"},
            "counters": {"total": 200000, "capacity": 2,
                         "service_time": {"exponential": {"mean": "4min"}}},
            "atms": {"total": 800000, "capacity": 1,
                     "service_time": {"exponential": {"mean": "90s"}}},
        }  # fmt: skip
    return {
        "name": "payout-test",
        "seed": 5,
        "start": START,
        "horizon": "10h",
        "scale": scale,
        "population": {"employee_share": 0.3},
        "services": {"pension_payout": payout},
    }


def run(raw: dict[str, Any], tmp_path: Path, name: str) -> Result:
    """Run a raw scenario into ``tmp_path / name``."""
    return run_once(parse_scenario(raw), tmp_path / name)


def credits_per_province(scale: float) -> np.ndarray:
    """Employee pensioners per province at a scale, as the model apportions them."""
    aged = TABLE.population * TABLE.aged_60_plus_share
    return apportion(aged, 147.39e6 * scale)


def test_slow_bank_misses_the_deadline_fast_bank_meets_it(tmp_path: Path) -> None:
    """Completion = batch size ÷ throughput (within 1%): 300/s misses 08:00, 2000/s meets it.

    Shandong has the most aged 60+ (≈ 11.8 M employee pensioners): at 300 credits/s that
    takes ≈ 11 h from 02:00; at 2000/s ≈ 1.6 h.
    """
    sizes = credits_per_province(1e-4)
    for rate, met in ((300.0, False), (2000.0, True)):
        result = run(payout_scenario(rate), tmp_path, f"r{rate:g}")
        figures = result.summary["figures"]["pension_payout"]
        day = figures["paydays"]["2024-03-15"]
        assert figures["deadline_met"] is met
        assert day["deadline_met"] is met
        for pid, f in day["by_province"].items():
            expected = sizes[TABLE.index(pid)] / (rate * 1e-4)
            assert f["completion_s"] == pytest.approx(expected, rel=0.01)
            assert f["deadline_met"] == (2 * 3600 + expected <= 8 * 3600)
        late = {pid for pid, f in day["by_province"].items() if not f["deadline_met"]}
        assert set(day["provinces_late"]) == late
        assert (len(late) > 0) is not met
        # The credits' rows say the same: the last one of each province lands at 02:00 + N/R.
        table = result.transactions(["service", "site_province", "end_s", "arrival_s"])
        site = np.asarray(table["site_province"].to_pylist())
        end = table["end_s"].to_numpy()
        assert (table["arrival_s"].to_numpy() == 7200.0).all()
        sd = TABLE.index("SD")
        assert end[site == "SD"].max() - 7200.0 == pytest.approx(sizes[sd] / (rate * 1e-4), 0.01)


def test_completion_time_does_not_depend_on_scale(tmp_path: Path) -> None:
    """Batches and throughput scale together: the last credit lands at the same time."""
    times = []
    for scale in (1e-4, 1e-3):
        raw = payout_scenario(1000.0, scale=scale)
        raw["horizon"] = "6h"
        f = run(raw, tmp_path, f"s{scale:g}").summary["figures"]["pension_payout"]
        times.append(f["paydays"]["2024-03-15"]["completion_s"])
    assert times[0] == pytest.approx(times[1], rel=0.01)


def test_one_row_per_credit_with_unique_contiguous_ids(tmp_path: Path) -> None:
    """Each recipient gets one credit row; ids are 0..n-1 across credits and bank visits."""
    result = run(payout_scenario(1500.0, withdrawals=True), tmp_path, "rows")
    table = result.transactions()
    ids = table["txn_id"].to_numpy()
    assert np.array_equal(np.sort(ids), np.arange(ids.size))
    assert np.all(np.diff(ids) == 1), "rows are written in id order"
    service = np.asarray(table["service"].to_pylist())
    credit = service == "pension_credit"
    holders = table["holder_id"].to_numpy()[credit]
    assert credit.sum() == credits_per_province(1e-4).sum() == np.unique(holders).size
    amount = table["amount_fen"].to_numpy()[credit]
    assert (table["fund_fen"].to_numpy()[credit] == amount).all()
    assert amount.mean() == pytest.approx(382_500, rel=0.03)
    assert set(np.asarray(table["channel"].to_pylist())[credit]) == {"bank"}
    assert set(service) == {"pension_credit", "bank_withdrawal"}
    assert np.isnan(table["point_latency_s"].to_numpy()[credit]).all()


def test_withdrawal_before_the_credit_lands_is_declined(tmp_path: Path) -> None:
    """Declined (credit_pending) ⇔ a recipient read the card between send and landing."""
    result = run(payout_scenario(300.0, withdrawals=True), tmp_path, "declines")
    t = result.transactions(["service", "holder_id", "start_s", "end_s", "outcome", "reason"])
    service = np.asarray(t["service"].to_pylist())
    holder = t["holder_id"].to_numpy()
    credit, visit = service == "pension_credit", service == "bank_withdrawal"
    landing = dict(zip(holder[credit].tolist(), t["end_s"].to_numpy()[credit].tolist(),
                       strict=True))  # fmt: skip
    reason = np.asarray(t["reason"].to_pylist())[visit]
    outcome = np.asarray(t["outcome"].to_pylist())[visit]
    start = t["start_s"].to_numpy()[visit]
    pending = np.array([7200.0 <= s < landing.get(h, -1.0)
                        for h, s in zip(holder[visit].tolist(), start, strict=True)])  # fmt: skip
    assert np.array_equal(pending, reason == "credit_pending")
    assert np.array_equal(reason == "credit_pending", outcome == "declined")
    assert pending.sum() > 10
    figures = result.summary["figures"]["pension_payout"]["withdrawals"]
    assert figures["declined_credit_pending"] == pending.sum()


def test_bank_node_lands_batches_in_order_a_block_per_event(tmp_path: Path) -> None:
    """Two batches at one node: the later starts when the first ends; one event per block."""
    raw = payout_scenario(1000.0, scale=1e-3)
    raw["horizon"] = "12h"
    raw["services"]["pension_payout"]["unemployment_benefit"] = {
        "recipients": "2.7 million",
        "amount": {"constant": "1506 yuan"},
        "batch_time": "02:00",
    }
    result = run(raw, tmp_path, "fifo")
    t = result.transactions(["service", "site_province", "start_s", "end_s"])
    service = np.asarray(t["service"].to_pylist())
    site = np.asarray(t["site_province"].to_pylist())
    end = t["end_s"].to_numpy()
    gd = site == "GD"
    pensions, benefits = (
        end[gd & (service == "pension_credit")],
        end[gd & (service == "benefit_credit")],
    )
    assert benefits.min() > pensions.max()
    assert benefits.min() - pensions.max() == pytest.approx(1 / 1.0, rel=1e-6)
    assert np.all(np.diff(np.sort(end[gd])) == pytest.approx(1.0))
    credits = int(result.manifest["transactions"])
    assert result.manifest["events"] < credits / BLOCK_CREDITS * 3 + 2000


def test_payday_on_the_31st_falls_on_the_last_day_of_shorter_months() -> None:
    """days_at: 31 → 29 Feb 2024 and 30 Apr; once per month at the time of day given."""
    clock = Clock(dt.datetime.fromisoformat("2024-02-01T00:00:00+08:00"))
    days = [clock.civil(t).date().isoformat() for t in clock.days_at(31, 7200.0, 0, 90 * 86400)]
    assert days == ["2024-02-29", "2024-03-31", "2024-04-30"]
    assert all(clock.civil(t).hour == 2 for t in clock.days_at(31, 7200.0, 0, 90 * 86400))


def test_spike_expectation_integrates_the_decaying_rate() -> None:
    """Expected visits over a piece = ∫ rate (1 + A e^(−t/τ)) dt, checked numerically."""
    scenario = parse_scenario(payout_scenario(1000.0, withdrawals=True))
    from sim.world.population import build_population

    population = build_population(TABLE, scenario.population, 1e-4, np.random.default_rng(1))
    spec = scenario.services.pension_payout.withdrawals
    clock = Clock(scenario.start)
    spikes = [[7200.0] for _ in TABLE.ids]
    counts = {c: np.ones(len(TABLE), dtype=np.int64) for c in (0, 3)}
    arrivals = WithdrawalArrivals(spec, population, _NoRecipients(), counts, spikes, clock,
                                  np.random.default_rng(2))  # fmt: skip
    base = arrivals.base_rate.sum() * arrivals.weights[10]
    t0, t1 = 10 * 3600.0, 11 * 3600.0
    grid = np.linspace(t0, t1, 100_001)
    rate = base * (1 + 3.0 * np.exp(-(grid - 7200.0) / 86400.0))
    integral = float(((rate[1:] + rate[:-1]) / 2 * np.diff(grid)).sum())
    assert arrivals.expected(10, t0, t1) == pytest.approx(integral, rel=1e-6)
    draws = [arrivals.draw(10, t0, t1)["time_s"].size for _ in range(20)]
    assert np.mean(draws) == pytest.approx(integral, rel=0.05)


class _NoRecipients:
    """Recipients of nobody: spike visits are drawn among all holders."""

    def __init__(self) -> None:
        self.by_province = [np.zeros(0, dtype=np.int64) for _ in TABLE.ids]


def test_recorder_keeps_blocks_in_id_order_and_checks_their_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block takes the next ids from the shared counter and waits for earlier batches."""
    monkeypatch.setattr("sim.outputs.recorder.ROW_GROUP_ROWS", 1)  # write as soon as complete
    recorder = recording(tmp_path / "t.parquet", IdCounter())
    n = 3
    block = {name: np.zeros(n) for name in BLOCK_COLUMNS}
    assert recorder.record_block(block) == 0
    assert recorder.record_block(block) == 3
    assert recorder.rows_written == 6
    with pytest.raises(ValueError, match="lacks"):
        recorder.record_block({"service": np.zeros(2)})
    with pytest.raises(ValueError, match="one length"):
        recorder.record_block({**block, "end_s": np.zeros(5)})
    recorder.close()
    assert pq.read_table(tmp_path / "t.parquet")["txn_id"].to_pylist() == list(range(6))


def test_blocks_waiting_behind_a_batch_are_written_together_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch 0 in flight, two blocks recorded: nothing is written until the batch ends, then
    the batch and the two blocks in id order (one row group once they reach its size)."""
    monkeypatch.setattr("sim.outputs.recorder.ROW_GROUP_ROWS", 5)
    from sim.world.demand import ArrivalBatch
    from sim.world.transaction import Transaction

    ids = IdCounter()
    recorder = recording(tmp_path / "t.parquet", ids)
    one = np.zeros(1, dtype=np.int64)
    batch = ArrivalBatch(0, 0.0, 1.0, ids.take(1), np.zeros(1), one.astype(np.uint8), one, one,
                         one, one.astype(np.uint8), one.astype(np.uint8), np.ones(1, bool),
                         np.zeros(1, bool), one, one, one.astype(np.uint8),
                         one.astype(np.uint8))  # fmt: skip
    recorder.open(batch)
    block = {name: np.zeros(2) for name in BLOCK_COLUMNS}
    assert [recorder.record_block(block), recorder.record_block(block)] == [1, 3]
    assert recorder.rows_written == 0
    txn = Transaction(0, batch, 0, 0, 0, 0, 0, True, False, 0, 0.0)
    txn.start_s = txn.end_s = 0.5
    recorder.finish(txn)
    recorder.close()
    assert pq.read_table(tmp_path / "t.parquet")["txn_id"].to_pylist() == [0, 1, 2, 3, 4]
    assert pq.ParquetFile(tmp_path / "t.parquet").num_row_groups == 1


def _credit_rows(result: Result, province: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(arrival, start, end) of the credits landed by one province's bank node."""
    t = result.transactions(["service", "site_province", "arrival_s", "start_s", "end_s"])
    service = np.asarray(t["service"].to_pylist())
    mine = (np.asarray(t["site_province"].to_pylist()) == province) & np.isin(
        service, ["pension_credit", "benefit_credit"]
    )
    return tuple(t[c].to_numpy()[mine] for c in ("arrival_s", "start_s", "end_s"))  # type: ignore[return-value]


def test_bank_node_statistics_are_per_credit(tmp_path: Path) -> None:
    """The bank node's row in stations.parquet is what its credits' own rows say.

    Waits are each credit's (start − send), not one per block; the queue falls one
    credit at a time, so Little's law closes exactly; the longest queue is every
    credit sent at once but the first. Before, a block's credits shared one wait and
    left the queue together (mean queue half of the credits', p50 = p95 = p99).
    """
    raw = payout_scenario(300.0)
    raw["services"]["pension_payout"]["unemployment_benefit"] = {
        "recipients": "2.7 million",
        "amount": {"constant": "1506 yuan"},
        "batch_time": "02:00",
    }
    result = run(raw, tmp_path, "stats")  # SD and others are still landing at the horizon
    horizon = 10 * 3600.0
    rows = result.stations.to_pylist()
    checked = 0
    for pid in ("SD", "GD", "TJ", "SH"):
        (row,) = [r for r in rows if r["station"] == f"node:bank:{pid}"]
        arrival, start, _end = _credit_rows(result, pid)
        begun = start <= horizon
        waits = start[begun] - arrival[begun]
        assert row["arrivals"] == arrival.size
        assert row["wait_mean_s"] == pytest.approx(waits.mean(), rel=1e-6)
        assert row["wait_p95_s"] == pytest.approx(np.percentile(waits, 95), rel=1e-3, abs=1.0)
        assert row["wait_p50_s"] < row["wait_p95_s"] < row["wait_p99_s"]
        open_ = float((horizon - arrival[~begun]).sum())
        assert row["wait_open_s"] == pytest.approx(open_, rel=1e-9, abs=1e-6)
        assert row["queue_end"] == int((~begun).sum())
        area = float(np.minimum(start, horizon).sum() - arrival.sum())
        assert row["mean_queue"] * row["window_s"] == pytest.approx(area, rel=1e-9)
        assert row["max_queue"] == arrival.size - 1  # every credit was sent at 02:00
        checked += 1
    assert checked == 4


def test_bank_outage_delays_the_last_credit_by_its_length_at_any_scale(tmp_path: Path) -> None:
    """A 1 h outage in the middle of Guangdong's payday delays its last credit by 1 h.

    The credit in service when the node fails lands; the others wait for the
    recovery, at 1e-4 as at 1e-3 (before, a block of 4,096 credits went on landing
    through the outage, so the delay depended on scale: 0 s at 1e-4).
    """
    for scale in (1e-4, 1e-3):
        raw = payout_scenario(1000.0, scale=scale)
        raw["horizon"] = "6h"
        plain = run(raw, tmp_path, f"plain{scale:g}")
        raw["faults"] = {"outages": [{"node": "bank:GD", "at": "2.5h", "duration": "1h"}]}
        broken = run(raw, tmp_path, f"outage{scale:g}")
        per_credit = 1.0 / (1000.0 * scale)
        ends = [_credit_rows(r, "GD")[2] for r in (plain, broken)]
        assert ends[1].size == ends[0].size
        assert ends[1].max() - ends[0].max() == pytest.approx(3600.0, abs=per_credit)
        during = (ends[1] > 9000.0 + per_credit) & (ends[1] < 9000.0 + 3600.0)
        assert not during.any(), "no credit lands while the node is down"
        days = [r.summary["figures"]["pension_payout"]["paydays"]["2024-03-15"] for r in
                (plain, broken)]  # fmt: skip
        gd = [d["by_province"]["GD"]["completion_s"] for d in days]
        assert gd[1] - gd[0] == pytest.approx(3600.0, abs=per_credit)
        assert gd[1] == pytest.approx(ends[1].max() - 7200.0)


def test_bank_node_under_random_outages_lands_every_credit_once_and_none_while_down(
    tmp_path: Path,
) -> None:
    """Many short outages: each credit lands once, none while the node is down (but the
    one in service when it fails), in order, and Little's law still closes."""
    raw = payout_scenario(1000.0, scale=1e-3)
    raw["horizon"] = "6h"
    raw["faults"] = {"random_outages": [{"node": "bank:GD", "mtbf": "10min", "mttr": "2min"}]}
    result = run(raw, tmp_path, "random")
    arrival, start, end = _credit_rows(result, "GD")
    assert end.size == credits_per_province(1e-3)[TABLE.index("GD")]
    assert np.all(np.diff(end) > 0) and np.all(end > start)
    down = [(o["down_s"], o["up_s"]) for o in result.summary["faults"]["outages"]
            if o["node"] == "bank:GD"]  # fmt: skip
    assert len(down) > 5
    for a, b in down:
        assert not ((start > a) & (start < b)).any(), "no credit starts while the node is down"
    (row,) = [r for r in result.stations.to_pylist() if r["station"] == "node:bank:GD"]
    horizon = 6 * 3600.0
    area = float(np.minimum(start, horizon).sum() - arrival.sum())
    assert row["mean_queue"] * row["window_s"] == pytest.approx(area, rel=1e-9)
    assert row["completions"] == int((end <= horizon).sum())
