"""Server pools, the background traffic of ``network.load: full``, and the ``load`` factor."""

from __future__ import annotations

import hashlib
from pathlib import Path

import attrs
import numpy as np
import pyarrow.parquet as pq
import pytest

from sim import load_scenario, run_once
from sim.engine.servers import NodeStats, ServerPool
from sim.outputs.theory import mmc
from sim.run.guard import estimate
from sim.scenario.load import with_load
from sim.validation.little import littles_law

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHORT = ["horizon=40min", "warmup=5min", "scale=1e-3"]


def _run(tmp: Path, name: str, sets: list[str]):  # type: ignore[no-untyped-def]
    return run_once(load_scenario(SCENARIOS / "smoke.yaml", [*SHORT, *sets]), tmp / name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The smoke scenario (at 1:1,000) sampled and with full load, and full load again."""
    tmp = tmp_path_factory.mktemp("background")
    return {
        "sampled": _run(tmp, "sampled", []),
        "full": _run(tmp, "full", ["network.load=full"]),
        "again": _run(tmp, "again", ["network.load=full"]),
    }


def test_server_pool_is_an_mmc_queue() -> None:
    """Poisson arrivals and exponential service through a pool: the Erlang-C mean wait."""
    rng = np.random.default_rng(7)
    pool = ServerPool(3, NodeStats("pool", "node"))
    arrivals = np.cumsum(rng.exponential(1 / 12.0, 300_000))
    services = rng.exponential(0.2, arrivals.size)
    waits = np.empty(arrivals.size)
    for k, (t, s) in enumerate(zip(arrivals.tolist(), services.tolist(), strict=True)):
        first = pool.free[0]
        end = pool.admit(t, s)
        waits[k] = max(first - t, 0.0)  # a job starts when the first server frees
        assert end == pytest.approx(t + waits[k] + s)
    theory = mmc(12.0, 0.2, 3)
    assert waits.mean() == pytest.approx(theory.wait_s, rel=0.05)
    assert (waits > 0).mean() == pytest.approx(theory.p_wait, rel=0.03)


def test_server_pool_keeps_the_figures_of_a_station() -> None:
    """Busy servers, queue, waits (recorded when service starts) and the window integrals."""
    stats = NodeStats("pool", "node")
    pool = ServerPool(2, stats)
    for t, s in ((0.0, 4.0), (1.0, 4.0), (2.0, 1.0), (3.0, 1.0)):
        pool.admit(t, s)
    stats.advance(4.5)
    # Jobs 1-2 in service to 4 and 5; job 3 started at 4, ends 5; job 4 waits for 5.
    assert (stats.busy, stats.queue, stats.completions) == (2, 1, 1)
    assert stats.busy_area == pytest.approx(4.5 + 3.5)
    assert stats.queue_area == pytest.approx(2.0 + 1.5)  # job 3 waited 2, job 4 1.5 so far
    assert sorted(stats.wait_array().tolist()) == [0.0, 0.0, 2.0]
    assert stats.open_wait(4.5) == pytest.approx(1.5)
    lost = pool.fail(4.5)
    assert lost == 3 and (stats.busy, stats.queue) == (0, 0)
    pool.recover(6.0)
    assert pool.admit(6.5, 1.0) == pytest.approx(7.5)


def test_full_load_brings_the_unsimulated_holders_to_the_nodes(runs: dict) -> None:
    """The platforms receive about 1/scale times the foreground's requests."""
    sampled = {r["station"]: r for r in runs["sampled"].stations.to_pylist()}
    full = {r["station"]: r for r in runs["full"].stations.to_pylist()}
    scale = runs["full"].summary["scale"]
    for name in sampled:
        if name.startswith("node:"):
            assert full[name]["foreground_arrivals"] == sampled[name]["arrivals"], name
    provincial = [n for n, r in sampled.items() if r["kind"] == "node" and r["province"]]
    groups = {"provincial": provincial, "national": ["node:national"],
              "card platform": ["node:card_platform"]}  # fmt: skip
    for label, names in groups.items():
        ratio = (sum(full[n]["arrivals"] for n in names) * scale
                 / sum(sampled[n]["arrivals"] for n in names))  # fmt: skip
        assert 0.75 < ratio < 1.33 if label == "national" else 0.85 < ratio < 1.15, label
    assert full["node:GD"]["utilisation"] > 100 * sampled["node:GD"]["utilisation"]
    background = runs["full"].summary["network_load"]["background"]
    assert background["requests"] > 0.9 * (1 / scale - 1) * runs["sampled"].summary[
        "protocol"]["attempts"] * 0.9  # fmt: skip


def test_the_foreground_is_the_same_under_either_load(runs: dict) -> None:
    """The background draws from streams of its own: the same holders arrive at the same times."""
    columns = ["service", "holder_id", "arrival_s", "cross_province", "amount_fen"]
    a = pq.read_table(runs["sampled"].folder / "transactions.parquet", columns=columns)
    b = pq.read_table(runs["full"].folder / "transactions.parquet", columns=columns)
    assert a.equals(b)


def test_full_load_is_deterministic(runs: dict) -> None:
    """Same scenario and seed with full load: the same bytes out."""
    for name in ("transactions.parquet", "stations.parquet", "timeseries.parquet"):
        digests = {hashlib.sha256((runs[r].folder / name).read_bytes()).hexdigest()
                   for r in ("full", "again")}  # fmt: skip
        assert len(digests) == 1, name


def test_littles_law_closes_on_loaded_nodes(runs: dict) -> None:
    """The pools' integrals and waits satisfy Little's identity exactly on every node row."""
    checks = [c for c in littles_law(runs["full"].stations) if c.station.startswith("node:")]
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok][:3]
    assert max(c.queue for c in checks) > 0 or max(c.lambda_w for c in checks) >= 0


def test_full_load_at_scale_one_adds_nothing(tmp_path: Path) -> None:
    """Every holder simulated: the background is empty and the results are the sampled ones."""
    region = ["region=[NX, QH]", "scale=1", "horizon=10min", "warmup=0s"]
    sampled = _run(tmp_path, "sampled", region)
    full = _run(tmp_path, "full", [*region, "network.load=full"])
    assert full.summary["network_load"]["background"]["requests"] == 0
    for name in ("transactions.parquet", "stations.parquet"):
        assert (sampled.folder / name).read_bytes() == (full.folder / name).read_bytes()


def test_the_guard_counts_the_background(runs: dict) -> None:
    """The estimate of background requests is within 5% of what the run sent."""
    scenario = load_scenario(SCENARIOS / "smoke.yaml", [*SHORT, "network.load=full"])
    expected = estimate(scenario).background_requests
    sent = runs["full"].summary["network_load"]["background"]["requests"]
    assert expected == pytest.approx(sent, rel=0.05)
    assert estimate(attrs.evolve(scenario, network=attrs.evolve(
        scenario.network, load="sampled"))).background_requests == 0  # fmt: skip


def test_load_multiplies_every_rate_and_leaves_the_scenario_as_written() -> None:
    """``load: 2`` doubles each service's rate; the scenario keeps the factor for the manifest."""
    base = load_scenario(SCENARIOS / "baseline_weekday.yaml")
    doubled = with_load(attrs.evolve(base, load=2.0))
    services = base.services
    assert (
        doubled.services.medical_outpatient.rate.value
        == 2 * services.medical_outpatient.rate.value
    )
    assert doubled.services.transit.rate.value == 2 * services.transit.rate.value
    withdrawals = services.pension_payout.withdrawals
    assert doubled.services.pension_payout.withdrawals.rate.value == 2 * withdrawals.rate.value
    payout = doubled.services.pension_payout
    assert payout.employee_pension == services.pension_payout.employee_pension  # not arrivals
    assert with_load(base) is base


def test_load_factor_scales_arrivals_foreground_and_background(tmp_path: Path) -> None:
    """Twice the load: about twice the transactions and twice the node traffic."""
    one = _run(tmp_path, "one", ["network.load=full"])
    two = _run(tmp_path, "two", ["network.load=full", "load=2"])
    ratio = two.manifest["transactions"] / one.manifest["transactions"]
    assert 1.8 < ratio < 2.2
    nodes = {r["station"]: r for r in one.stations.to_pylist()}
    nodes2 = {r["station"]: r for r in two.stations.to_pylist()}
    assert 1.8 < nodes2["node:national"]["arrivals"] / nodes["node:national"]["arrivals"] < 2.2
    assert two.summary["network_load"]["load_factor"] == 2.0
    assert two.manifest["scenario"]["load"] == 2.0


def test_background_messages_meet_link_faults(tmp_path: Path) -> None:
    """Lossy links (the event-by-event path): background messages are lost, time out and
    are retried, and the run's books still balance."""
    faults = "faults={links: [{link: access, loss: 0.2, at: 10min, duration: 10min}]}"
    result = _run(tmp_path, "lossy", ["network.load=full", faults])
    background = result.summary["network_load"]["background"]
    assert background["messages_lost"] > 0.1 * background["requests"] * 10 / 40 * 0.5
    assert background["retries"] > 0 and background["timeouts"] >= background["retries"]
    assert all(result.summary["ledger"]["checks"].values())
