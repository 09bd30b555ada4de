"""Component costs: routing, the policy split, clearing a month between two provinces."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine.kernel import Environment
from sim.engine.streams import Streams
from sim.money.clearing import ClearingHouse
from sim.money.ledger import Ledger
from sim.money.policy import PolicyTable
from sim.network.nodes import Network
from sim.scenario.families import SERVICES
from sim.scenario.schema import (
    SERVICE_NAMES,
    ClearingSpec,
    LevelRatios,
    NetworkSpec,
    PolicyRule,
    PolicySpec,
    RatioTable,
)
from sim.world.provinces import load_provinces

N = 50_000
IDS = load_provinces().ids


@pytest.mark.benchmark(group="component")
def test_routing(benchmark) -> None:
    """N route look-ups for random (treatment, home) pairs, 5% cross-province."""
    network = Network(Environment(tags=len(SERVICES)), NetworkSpec(), IDS, Streams(1))
    rng = np.random.default_rng(1)
    sites = rng.integers(0, 31, N).tolist()
    homes = np.where(rng.random(N) < 0.05, rng.integers(0, 31, N), sites).tolist()

    def route_all() -> int:
        return sum(
            len(network.settlement_route(s, h).nodes) for s, h in zip(sites, homes, strict=True)
        )

    assert benchmark(route_all) >= N


@pytest.mark.benchmark(group="component")
def test_policy_split(benchmark) -> None:
    """N bills split by the home province's rule (ratio table, annual ceiling, catalogue)."""
    ratios = RatioTable(LevelRatios(0.9, 0.85, 0.8), LevelRatios(0.8, 0.7, 0.6))
    rule = PolicyRule(ratios=ratios, deductible=80_000, ceiling=30_000_000)
    spec = PolicySpec(default={"medical_inpatient": rule})
    table = PolicyTable(spec, IDS, SERVICE_NAMES)
    rng = np.random.default_rng(2)
    homes = rng.integers(0, 31, N).tolist()
    amounts = rng.integers(1_000, 5_000_000, N).tolist()

    def split_all() -> int:
        fund = 0
        for i, (home, amount) in enumerate(zip(homes, amounts, strict=True)):
            fund += table.split(home, 1, amount, site=home, scheme=i % 2, level=3, holder=i)[0]
        return fund

    assert benchmark(split_all) > 0


@pytest.mark.benchmark(group="component")
def test_clearing_a_month_of_a_province_pair(benchmark) -> None:
    """A month of cross-province fund shares between two provinces, then its netting."""
    rng = np.random.default_rng(3)
    times = np.sort(rng.uniform(0, 30 * 86400, N)).tolist()
    funds = rng.integers(10_000, 2_000_000, N).tolist()
    directions = (rng.random(N) < 0.7).tolist()

    def clear() -> int:
        ledger = Ledger(IDS)
        house = ClearingHouse(ClearingSpec(period="30d"), IDS, load_provinces().holders,
                              [0.0], 30 * 86400.0, ledger, [10**10] * 31)  # fmt: skip
        for t, fund, forward in zip(times, funds, directions, strict=True):
            house.record(t, 11 if forward else 0, 0 if forward else 11, fund)  # AH ↔ BJ
        house.finish(31 * 86400.0)
        assert all(ledger.close().values())
        return house.summary()["net_transfers_fen"]

    assert benchmark(clear) > 0
