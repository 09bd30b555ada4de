"""Transit: offline taps at gates, uploads in batches, clearing and the tap-to-debit delay."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim import run_once
from sim.engine.kernel import Environment
from sim.engine.stations import StationStats
from sim.outputs.results import Result
from sim.scenario import parse_scenario
from sim.scenario.families import SERVICES
from sim.services.transit import Gate, TransitGates, UploadBacklog
from sim.world.transaction import Transaction

UPLOAD_S = 300.0
ACCESS_S, BACKBONE_S = 0.010, 0.020
CLEAR_S, HUB_S, TAP_S = 0.050, 0.020, 0.3


def transit_scenario(**changes: Any) -> dict[str, Any]:
    """Two morning-rush hours of taps with constant times and uncontended clearing nodes."""
    transit: dict[str, Any] = {
        "rate": {"per_holder_per_day": 0.02},
        "fare": {"uniform": {"low": "2 yuan", "high": "6 yuan"}},
        "stations": {"total": 20000, "gates": 4, "tap_time": {"constant": "300ms"}},
        "upload_every": "5min",
        "cross_province_share": 0.05,
        "other_city_share": 0.05,
        "clearing": {"servers": 64, "service_time": {"constant": "50ms"}, "per_record": 0},
        "interconnection": {"servers": 64, "service_time": {"constant": "20ms"}},
        **changes,
    }
    return {
        "name": "transit-test",
        "seed": 11,
        "start": "2024-03-12T07:00:00+08:00",
        "horizon": "2h",
        "scale": 1e-3,
        "services": {"transit": transit},
        "network": {
            "access": {"latency": {"constant": "10ms"}},
            "backbone": {"latency": {"constant": "20ms"}},
        },
    }


@pytest.fixture(scope="module")
def rush(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """The two-hour rush run."""
    out = tmp_path_factory.mktemp("transit") / "out"
    return run_once(parse_scenario(transit_scenario()), out)


def columns(result: Result) -> dict[str, np.ndarray]:
    """The transactions the test needs, as numpy columns."""
    t = result.transactions(["arrival_s", "start_s", "end_s", "point_latency_s",
                             "settle_latency_s", "cross_province", "channel", "outcome",
                             "amount_fen", "personal_fen"])  # fmt: skip
    return {n: np.asarray(t[n].to_pylist()) for n in t.column_names}


def test_tap_to_debit_is_bounded_by_upload_interval_plus_clearing(rush: Result) -> None:
    """Local: ≤ upload interval + access link + clearing; interconnected adds the hub leg.

    Every delay also has the fixed part as a floor, and with a gate's phase random the
    wait for the upload is uniform: the mean is half the interval plus the fixed part.
    """
    c = columns(rush)
    delay, cross = c["settle_latency_s"], c["cross_province"]
    local_fixed = ACCESS_S + CLEAR_S
    hub_fixed = local_fixed + 2 * BACKBONE_S + HUB_S + CLEAR_S
    assert delay.size > 1000
    assert delay.max() <= UPLOAD_S + hub_fixed + 1e-9
    assert delay[~cross].min() >= local_fixed - 1e-9
    assert delay[cross].min() >= hub_fixed - 1e-9, "cross-province taps go through the hub"
    local = rush.summary["figures"]["transit"]["tap_to_debit_s"]["local"]
    assert local["p99"] <= UPLOAD_S + local_fixed
    assert delay[~cross].mean() == pytest.approx(UPLOAD_S / 2 + local_fixed, rel=0.05)
    np.testing.assert_allclose(c["end_s"] - c["arrival_s"] - c["point_latency_s"], delay)


def test_a_tap_ends_at_its_debit_and_the_rider_leaves_at_the_gate(rush: Result) -> None:
    """point_latency = tap latency (constant 300 ms without queues); the fare is paid."""
    c = columns(rush)
    assert set(c["channel"]) == {"gate"}
    assert set(c["outcome"]) == {"settled"}
    assert np.allclose(c["point_latency_s"][c["start_s"] == c["arrival_s"]], TAP_S)
    assert (c["end_s"] > c["arrival_s"] + TAP_S).all()
    assert np.array_equal(c["personal_fen"], c["amount_fen"])
    assert 200 <= c["amount_fen"].min() and c["amount_fen"].max() <= 600
    figures = rush.summary["figures"]["transit"]
    assert figures["tap_latency_s"]["p50"] == pytest.approx(TAP_S)


def test_clearing_nodes_and_backlog_are_reported(rush: Result) -> None:
    """Clearing and hub nodes appear among the stations; every record waited and left."""
    stations = rush.stations.to_pydict()
    rows = {name: i for i, name in enumerate(stations["station"])}
    assert stations["arrivals"][rows["node:transit_interconnection"]] > 0
    clearing = [i for n, i in rows.items() if n.startswith("node:transit_clearing:")]
    assert len(clearing) == 31
    assert max(stations["wait_p99_s"][i] for i in clearing) == 0.0
    backlog = [i for n, i in rows.items() if n.startswith("backlog:transit:")]
    figures = rush.summary["figures"]["transit"]
    assert figures["upload_backlog_max_records"] == max(stations["max_queue"][i] for i in backlog)
    assert figures["uploads"] > 0 and figures["records_per_upload"] >= 1
    series = rush.timeseries.to_pydict()
    assert any(q > 0 for s, q in zip(series["station"], series["queue"], strict=True)
               if s.startswith("backlog:"))  # fmt: skip


def test_upload_backlog_records_waits_and_closes_littles_law(rush: Result) -> None:
    """A record waits on its gate from the tap to the upload: the backlog rows have those
    waits (at most one upload interval), the open wait of records left at the horizon,
    and Little's law closes on them exactly (before: no waits, wait_open_s 0)."""
    from sim.validation.little import littles_law

    rows = [r for r in rush.stations.to_pylist() if r["kind"] == "backlog"]
    assert len(rows) == 31
    for row in rows:
        if row["completions"] == 0:
            continue
        assert 0.0 < row["wait_mean_s"] <= UPLOAD_S
        assert row["wait_p99_s"] <= UPLOAD_S + 1e-3
        assert (row["wait_open_s"] > 0) == (row["queue_end"] > 0)
        assert row["wait_open_s"] <= row["queue_end"] * UPLOAD_S
        waited = row["wait_mean_s"] * row["completions"]
        area = waited - row["wait_carried_in_s"] + row["wait_open_s"]
        assert row["mean_queue"] * row["window_s"] == pytest.approx(area, rel=1e-6)
    checks = {c.station: c for c in littles_law(rush.stations)}
    assert all(f"backlog:transit:{r['province']}" in checks for r in rows)
    assert all(c.ok for c in checks.values())


def test_link_faults_reach_fare_uploads(tmp_path: Path) -> None:
    """Uploads cross the same links as settlement, so link faults act on them.

    With every backbone message lost, no record that must cross the backbone (another
    province's or city's rider) is debited: after the sender's retries each ends as a
    fallback on timeout, unpaid, while local records are debited as before. Added
    latency on the backbone delays interconnected debits by both backbone legs.
    (Before, transit had links of its own: cross-province debits landed regardless.)
    """
    raw = transit_scenario()
    raw["faults"] = {"links": [{"link": "backbone", "loss": 1.0}]}
    lossy = run_once(parse_scenario(raw), tmp_path / "lossy")
    c = columns(lossy)
    cross, settled = c["cross_province"], c["outcome"] == "settled"
    assert cross.sum() > 50
    assert not settled[cross].any(), "no cross-province fare crosses a dead backbone"
    assert set(c["outcome"][cross]) == {"fallback"}
    assert (c["personal_fen"][~settled] == 0).all()
    assert np.isnan(c["settle_latency_s"][~settled]).all()
    assert settled[~cross].mean() > 0.9  # other-city riders (5%) also cross the backbone
    assert all(lossy.summary["ledger"]["checks"].values())
    # A send lost for good schedules no event and counts none (before: transit counted
    # more events than the run scheduled, and "shared" went negative).
    by_service = lossy.manifest["events_by_service"]
    assert 0 < by_service["shared"]["events"]
    assert by_service["transit"]["events"] < lossy.manifest["events"]

    raw["faults"] = {"links": [{"link": "backbone", "added_latency": "10s"}]}
    slow = run_once(parse_scenario(raw), tmp_path / "slow")
    delay = columns(slow)["settle_latency_s"][columns(slow)["cross_province"]]
    hub_fixed = ACCESS_S + CLEAR_S + 2 * BACKBONE_S + HUB_S + CLEAR_S
    assert delay.min() >= hub_fixed + 20.0 - 1e-9


class _Flow:
    """Stands in for clearing: remembers what each upload carried, and when."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.window = (0.0, math.inf)
        self.uploads: list[tuple[float, int]] = []

    def upload(self, records: list[Transaction], site: int) -> None:
        self.uploads.append((self.env.now, len(records)))


def test_riders_take_the_shortest_gate_and_gates_upload_only_what_they_hold() -> None:
    """Five riders at once on two 1 s gates: queues of 2 and 1; one upload per gate at 600 s."""
    env = Environment(tags=len(SERVICES))
    stats = StationStats("point:transit:AA", "point", "AA", "transit")
    gates = [[[Gate(env, stats, 0, 0.0), Gate(env, stats, 0, 0.0)]]]
    backlog = [UploadBacklog("backlog:transit:AA", "backlog", "AA", "transit")]
    spec = parse_scenario(transit_scenario(upload_every="10min")).services.transit
    flow = _Flow(env)
    desk = TransitGates(env, gates, backlog, spec, lambda: 1.0, flow)  # type: ignore[arg-type]
    for i in range(5):
        txn = Transaction(i, None, i, 4, 0, 0, 0, True, False, 300, 0.0)
        txn.point = 0
        desk.arrive(txn)
    assert [len(g.station.waiting) for g in gates[0][0]] == [2, 1]
    env.run()
    assert desk.max_gate_queue == [2]
    assert sorted(flow.uploads) == [(600.0, 2), (600.0, 3)]
    assert backlog[0].max_queue == 5 and backlog[0].queue == 0
    assert desk.figures()["uploads"] == 2


def test_next_upload_follows_the_gate_phase() -> None:
    """A gate with phase 100 s uploads at 100, 700, 1300 … and never at the present time."""
    gate = Gate(Environment(tags=len(SERVICES)), StationStats("g", "point"), 0, 100.0)
    assert gate.next_upload(0.0, 600.0) == 100.0
    assert gate.next_upload(100.0, 600.0) == 700.0
    assert gate.next_upload(650.0, 600.0) == 700.0
    assert gate.next_upload(1299.9, 600.0) == 1300.0


def test_gate_queues_build_at_rush_hour_when_gates_are_few(tmp_path: Path) -> None:
    """One gate per station and slow taps: queues form, and the figure is the worst gate's."""
    raw = transit_scenario(stations={"total": 2000, "gates": 1, "tap_time": {"constant": "3s"}})
    raw["horizon"] = "1h"
    result = run_once(parse_scenario(raw), tmp_path / "out")
    figures = result.summary["figures"]["transit"]
    assert figures["max_gate_queue"] >= 2
    assert figures["max_gate_queue"] == max(figures["max_gate_queue_by_province"].values())
    assert figures["tap_latency_s"]["p99"] > 3.0


def test_same_seed_same_bytes_with_every_new_service(tmp_path: Path) -> None:
    """Determinism holds with libraries, transit, credits in blocks and bank visits together."""
    from tests.unit.test_library import library_scenario
    from tests.unit.test_pension import payout_scenario

    raw = transit_scenario()
    raw["start"] = "2024-03-15T01:30:00+08:00"
    raw["horizon"] = "9h"
    raw["scale"] = 1e-4
    raw["services"]["library"] = library_scenario()["services"]["library"]
    raw["services"]["pension_payout"] = payout_scenario(1000.0, withdrawals=True)["services"][
        "pension_payout"
    ]
    folders = [run_once(parse_scenario(raw), tmp_path / n).folder for n in ("a", "b")]
    data = [(f / "transactions.parquet").read_bytes() for f in folders if f is not None]
    assert len(data) == 2 and data[0] == data[1]
    assert folders[0] is not None
    summary = Result.read(folders[0]).summary
    assert all(summary["services"][name]["arrivals"] > 0 for name in
               ("library", "transit", "pension_credit", "bank_withdrawal"))  # fmt: skip
    assert (folders[0] / "summary.json").read_text() == (folders[1] / "summary.json").read_text()
