"""A whole run of the smoke scenario: invariants of the transactions and stations it writes."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pyarrow.parquet as pq
import pytest

from sim import run_once
from sim.outputs.results import Result
from sim.scenario import Scenario


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """The smoke scenario without warm-up, run once for all tests here."""
    from sim.scenario import load_scenario
    from tests.conftest import SCENARIOS

    scenario = attrs.evolve(load_scenario(SCENARIOS / "smoke.yaml"), warmup=0.0)
    return run_once(scenario, tmp_path_factory.mktemp("smoke") / "out")


@pytest.fixture(scope="module")
def txns(run: Result) -> dict[str, np.ndarray]:
    """The transactions table as numpy columns (categories as strings)."""
    table = run.transactions()
    return {
        name: (
            np.asarray(table[name].to_pylist())
            if str(table[name].type).startswith("dictionary")
            else table[name].to_numpy()
        )
        for name in table.column_names
    }


def test_every_transaction_has_one_row_and_one_terminal_state(txns: dict) -> None:
    """Ids run 0..n-1 once each, and every outcome is one of the three terminal states."""
    n = txns["txn_id"].size
    assert n > 300
    assert np.array_equal(np.sort(txns["txn_id"]), np.arange(n))
    assert set(txns["outcome"]) <= {"settled", "fallback", "declined"}


def test_times_are_ordered_and_latency_is_end_minus_arrival(txns: dict) -> None:
    """arrival ≤ start ≤ end; latency and wait are derived exactly."""
    assert (txns["arrival_s"] <= txns["start_s"]).all()
    assert (txns["start_s"] <= txns["end_s"]).all()
    assert np.allclose(txns["latency_s"], txns["end_s"] - txns["arrival_s"])
    assert np.allclose(txns["wait_s"], txns["start_s"] - txns["arrival_s"])


def test_money_splits_add_up_and_only_settled_has_a_fund_share(txns: dict) -> None:
    """fund + personal = amount always; fund > 0 only for settled transactions."""
    assert np.array_equal(txns["fund_fen"] + txns["personal_fen"], txns["amount_fen"])
    assert (txns["fund_fen"] >= 0).all()
    unsettled = txns["outcome"] != "settled"
    assert (txns["fund_fen"][unsettled] == 0).all()


def test_reasons_match_outcomes(txns: dict) -> None:
    """Settled ⇔ no reason; not_filed only for cross-province; declined ⇔ ineligible."""
    outcome, reason, cross = txns["outcome"], txns["reason"], txns["cross_province"]
    assert ((outcome == "settled") == (reason == "none")).all()
    assert ((outcome == "declined") == (reason == "ineligible")).all()
    assert cross[reason == "not_filed"].all()
    assert (reason == "not_filed").sum() > 0
    assert np.array_equal(cross, txns["home_province"] != txns["site_province"])


def test_node_visits_follow_the_routes(run: Result, txns: dict) -> None:
    """Without retries: local = 1 provincial visit, cross = 3 provincial + 2 national visits,
    e-card = 1 card-platform visit. Stations are measured up to the horizon, so the counts lie
    between those of transactions that ended by the horizon and of all transactions."""
    assert run.summary["protocol"]["retries"] == 0
    stations = run.stations.to_pydict()
    arrivals = dict(zip(stations["station"], stations["arrivals"], strict=True))
    provincial = sum(v for k, v in arrivals.items() if len(k) == len("node:XX"))
    horizon = run.summary["window"]["to_s"]
    for ended in (txns["end_s"] <= horizon, np.ones_like(txns["end_s"], dtype=bool)):
        cross = txns["cross_province"] & ended
        local = ~txns["cross_province"] & ended
        ecard = (txns["card_kind"] == "ecard") & ended
        bound = 1 if ended.all() else -1  # upper bound for all, lower bound for ended
        assert bound * (2 * cross.sum() - arrivals["node:national"]) >= 0
        assert bound * (local.sum() + 3 * cross.sum() - provincial) >= 0
        assert bound * (ecard.sum() - arrivals["node:card_platform"]) >= 0
    assert arrivals["node:national"] > 0


def test_point_groups_count_their_transactions(run: Result, txns: dict) -> None:
    """Each (service, province) group's arrivals equal its transactions."""
    stations = run.stations.to_pydict()
    for name, kind, service, province, arrivals in zip(
        stations["station"],
        stations["kind"],
        stations["service"],
        stations["province"],
        stations["arrivals"],
        strict=True,
    ):
        if kind == "point":
            mine = (txns["service"] == service) & (txns["site_province"] == province)
            assert arrivals == mine.sum(), name


def test_timeseries_samples_every_station_each_minute(run: Result) -> None:
    """One sample per minute from 0 to the horizon, for every station."""
    ts = run.timeseries.to_pydict()
    stations = len(run.stations)
    times = sorted(set(ts["time_s"]))
    assert times == [60.0 * i for i in range(121)]
    assert len(ts["time_s"]) == 121 * stations
    assert min(ts["queue"]) >= 0 and min(ts["busy"]) >= 0


def test_summary_counts_agree_with_the_table(run: Result, txns: dict) -> None:
    """The summary's outcome counts are those of the transactions table."""
    outcomes = run.summary["transactions"]["outcomes"]
    for name in ("settled", "fallback", "declined"):
        assert outcomes[name] == (txns["outcome"] == name).sum()
    assert run.manifest["transactions"] == txns["txn_id"].size
    assert run.manifest["events"] > 5 * txns["txn_id"].size


def test_events_by_service_add_up_to_the_run(run: Result, txns: dict) -> None:
    """Every event of the run is a service's or shared; each service's rows are counted."""
    by_service = run.manifest["events_by_service"]
    assert run.manifest["events"] == sum(entry["events"] for entry in by_service.values())
    assert by_service["shared"]["events"] > 0
    for name in ("medical_outpatient", "medical_inpatient", "pharmacy"):
        entry = by_service[name]
        assert entry["transactions"] == (txns["service"] == name).sum()
        # An arrival, a point service and at least one settlement exchange (3 events).
        assert 5.0 <= entry["events_per_transaction"] < 8.0


def test_a_local_chip_card_visit_is_five_events(tmp_path: Path) -> None:
    """Arrival, point service, and a settlement: link, provincial node, link back."""
    from sim.scenario import load_scenario
    from tests.conftest import SCENARIOS

    local = [f"services.{name}.{key}=0" for name in ("medical_outpatient", "medical_inpatient",
             "pharmacy") for key in ("cross_province_share", "ineligible_share")]  # fmt: skip
    scenario = load_scenario(SCENARIOS / "smoke.yaml", ["population.ecard_share=0", *local])
    by_service = run_once(scenario, tmp_path / "out").manifest["events_by_service"]
    for name in ("medical_outpatient", "medical_inpatient", "pharmacy"):
        assert by_service[name]["transactions"] > 0
        assert by_service[name]["events_per_transaction"] == 5.0


def test_warmup_is_cut_from_summary_and_stations(smoke: Scenario, tmp_path: Path) -> None:
    """With a warm-up, the summary counts only arrivals after it; stations reset at it."""
    result = run_once(smoke, tmp_path / "out")
    table = pq.read_table(tmp_path / "out" / "transactions.parquet", columns=["arrival_s"])
    after = (table["arrival_s"].to_numpy() >= smoke.warmup).sum()
    assert result.summary["transactions"]["measured"] == after
    assert after < table.num_rows


def test_same_seed_same_bytes_other_seed_other_bytes(smoke: Scenario, tmp_path: Path) -> None:
    """Determinism: equal seeds give identical transactions.parquet; another seed differs."""
    a = run_once(smoke, tmp_path / "a").folder
    b = run_once(smoke, tmp_path / "b").folder
    c = run_once(attrs.evolve(smoke, seed=2), tmp_path / "c").folder
    assert a and b and c
    data = [(f / "transactions.parquet").read_bytes() for f in (a, b, c)]
    assert data[0] == data[1]
    assert data[0] != data[2]
    assert (a / "summary.json").read_text() == (b / "summary.json").read_text()


def test_a_money_error_stops_the_run_and_keeps_no_folder(
    smoke: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If postings go missing, the end-of-run check names the transactions and the
    results folder is never created."""
    import sim.money.ledger
    from sim.money.ledger import MoneyError

    real = sim.money.ledger.transaction_postings

    def lose_one(columns):  # drop the first posting of each batch
        postings = real(columns)
        return {k: v[1:] for k, v in postings.items()}

    monkeypatch.setattr(sim.money.ledger, "transaction_postings", lose_one)
    with pytest.raises(MoneyError, match="txn_id"):
        run_once(smoke, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


OVERLOADED = """\
name: overloaded
seed: 3
start: 2024-03-12T08:00:00+08:00
horizon: 2h
region: [SC, CQ]
scale: 1.0e-3
services:
  pharmacy:
    rate: {per_point_per_hour: 120}
    profile: flat
    sites: [SC]
    cross_province_share: 0.2
    amount: {constant: 90 yuan}
    points:
      {per_province: 1, capacity: 1, queue_limit: 2, service_time: {exponential: {mean: 1min}}}
policy:
  default:
    pharmacy: {ratio: 0.5}
"""


@pytest.fixture(scope="module")
def overloaded(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """One point in SC at twice its capacity with room for two in the queue; CQ simulated too."""
    from sim.scenario import parse_scenario
    from sim.scenario.loader import read_yaml

    scenario = parse_scenario(read_yaml(OVERLOADED, "overloaded"))
    return run_once(scenario, tmp_path_factory.mktemp("overloaded") / "out")


def test_full_queue_turns_arrivals_away_as_declined_blocked(overloaded: Result) -> None:
    """Turned-away arrivals end at once as declined/blocked, pay in full, and are counted."""
    table = overloaded.transactions().to_pydict()
    reason = np.asarray(table["reason"])
    blocked = reason == "blocked"
    assert 0.2 < blocked.mean() < 0.8  # M/M/1/3 at load 2 turns away about 53%
    assert set(np.asarray(table["outcome"])[blocked]) == {"declined"}
    assert np.allclose(np.asarray(table["latency_s"])[blocked], 0.0, atol=1e-6)
    assert (np.asarray(table["attempts"])[blocked] == 0).all()
    assert np.isnan(np.asarray(table["settle_latency_s"], dtype=float)[blocked]).all()
    fund, personal, amount = (np.asarray(table[k]) for k in ("fund_fen", "personal_fen",
                                                               "amount_fen"))  # fmt: skip
    assert (fund[blocked] == 0).all() and (personal[blocked] == amount[blocked]).all()
    stations = overloaded.stations.to_pydict()
    row = stations["station"].index("point:pharmacy:SC")
    assert stations["blocked"][row] == blocked.sum()
    assert stations["max_queue"][row] == 2
    assert overloaded.summary["transactions"]["reasons"]["blocked"] == blocked.sum()


def test_summary_waits_leave_turned_away_arrivals_out(overloaded: Result) -> None:
    """Wait and latency figures cover served transactions only (blocked ones waited 0)."""
    table = overloaded.transactions().to_pydict()
    served = np.asarray(table["reason"]) != "blocked"
    wait = overloaded.summary["services"]["pharmacy"]["wait_s"]["mean"]
    assert wait == pytest.approx(np.asarray(table["wait_s"])[served].mean())


def test_region_and_sites_confine_the_run(overloaded: Result) -> None:
    """Only SC and CQ exist; all arrivals are at SC; cross-province holders come from CQ."""
    table = overloaded.transactions().to_pydict()
    assert set(table["site_province"]) == {"SC"}
    homes = np.asarray(table["home_province"])[np.asarray(table["cross_province"])]
    assert homes.size > 0 and set(homes) == {"CQ"}
    stations = set(overloaded.stations.to_pydict()["station"])
    assert stations == {"point:pharmacy:SC", "point:pharmacy:CQ", "node:SC", "node:CQ",
                        "node:national", "node:card_platform"}  # fmt: skip


@pytest.mark.parametrize("name", ["smoke.yaml", "baseline_weekday.yaml"])
def test_one_simulated_holder_runs(name: str, tmp_path: Path) -> None:
    """One simulated holder: cross-province visits and advance funds still balance."""
    from sim import load_scenario
    from tests.conftest import SCENARIOS

    overrides = ["population.holders=1000", "scale=1e-3", "horizon=12h",
                 "services.medical_outpatient.rate.per_holder_per_year=1e6",
                 "services.medical_outpatient.cross_province_share=0.5"]  # fmt: skip
    result = run_once(load_scenario(SCENARIOS / name, overrides), tmp_path / "out")
    assert result.manifest["transactions"] > 100


def test_no_simulated_holder_is_refused_by_key() -> None:
    """Holders × scale rounding to none is a validation problem under the key to change."""
    from sim.scenario import ScenarioError, load_scenario
    from tests.conftest import SCENARIOS

    with pytest.raises(ScenarioError, match=r"population\.holders: gives 0\.1 simulated holders"):
        load_scenario(SCENARIOS / "smoke.yaml", ["population.holders=1000"])
