"""Tests for sim.world.demand: hourly Poisson arrivals with everything each arrival needs."""

# Assertions read `expected == actual` (STYLE.md section 6), which SIM300 calls Yoda style.

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import yaml

from sim.engine.calendar import Clock, hourly_weights
from sim.engine.streams import Streams
from sim.scenario import Scenario, apply_overrides, parse_scenario
from sim.scenario.families import SERVICE_CODES, SERVICES
from sim.services.medical import MedicalArrivals
from sim.world.demand import ArrivalBatch, Demand, hourly_means
from sim.world.points import point_counts
from sim.world.population import build_population
from sim.world.provinces import load_provinces, simulated_provinces

SCENARIO = """\
name: demand-test
seed: 5
start: 2024-03-12T09:30:00+08:00
horizon: 3h
scale: 1.0e-4
population: {ecard_share: 0.3, employee_share: 0.25, migrant_share: 0.1}
services:
  medical_outpatient:
    rate: {per_holder_per_day: 0.5}
    profile: flat
    cross_province_share: 0.2
    resident_share: 0.5
    filed_in_advance: 0.6
    ineligible_share: 0.1
    amount: {lognormal: {mean: 250 yuan, cv: 1.0}}
    points: {per_province: 20000, capacity: 2, service_time: {exponential: {mean: 2min}}}
  pharmacy:
    rate: {per_holder_per_year: 100}
    profile: retail
    cross_province_share: 0.05
    amount: {constant: 90 yuan}
    points: {total: 500000, capacity: 1, service_time: {exponential: {mean: 90s}}}
policy:
  default:
    medical_outpatient: {ratio: 0.5}
    pharmacy: {ratio: 0.5}
"""


def scenario_with(*overrides: str, pharmacy: bool = True) -> Scenario:
    """The test scenario with --set style overrides applied (and pharmacy left out)."""
    raw = apply_overrides(yaml.safe_load(SCENARIO), overrides)
    if not pharmacy:
        del raw["services"]["pharmacy"], raw["policy"]["default"]["pharmacy"]
    return parse_scenario(raw)


class DemandUnderTest:
    """Demand of medical streams, with each stream's parts reachable by service name."""

    def __init__(self, scenario: Scenario) -> None:
        provinces = simulated_provinces(scenario)
        streams = Streams(scenario.seed)
        self.population = build_population(
            provinces, scenario.population, scenario.scale, streams.generator("population")
        )
        services = scenario.services.enabled()
        self.point_counts = {
            name: point_counts(s.points, provinces.holders, scenario.scale)
            for name, s in services.items()
        }
        self.streams = {
            name: MedicalArrivals(name, spec, self.population, self.point_counts[name],
                                  streams.generator(f"demand:{name}"), scenario.population,
                                  provinces.ids)
            for name, spec in services.items()
        }  # fmt: skip
        self.clock = Clock(scenario.start)
        self.demand = Demand(self.clock, float(scenario.horizon), list(self.streams.values()))
        self.base_rate = {name: s.base_rate for name, s in self.streams.items()}
        self.weights = {name: s.weights for name, s in self.streams.items()}

    def batches(self) -> Iterator[ArrivalBatch]:
        """The merged hourly batches."""
        return self.demand.batches()

    def hourly_means(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Hour edges and expected arrivals per (hour piece, province) of a service."""
        return hourly_means(self.clock, self.demand.horizon_s, self.weights[name],
                            self.base_rate[name])  # fmt: skip

    def expected_arrivals(self) -> dict[str, float]:
        """Expected arrivals over the horizon, by service name."""
        return dict(zip(self.streams, self.demand.expected_arrivals(), strict=True))


def make_demand(scenario: Scenario) -> DemandUnderTest:
    """Population, point counts and demand wired as the medical services wire them."""
    return DemandUnderTest(scenario)


@pytest.fixture(scope="module")
def demand() -> DemandUnderTest:
    """Demand of the test scenario (133,500 holders, about 3,000 arrivals an hour)."""
    return make_demand(scenario_with())


@pytest.fixture(scope="module")
def batches(demand: DemandUnderTest) -> list[ArrivalBatch]:
    """All batches of the test scenario."""
    return list(demand.batches())


def concat(batches: list[ArrivalBatch], column: str) -> np.ndarray[Any, Any]:
    """One column over all batches."""
    return np.concatenate([getattr(b, column) for b in batches])


def within_binomial(p: float, hits: int, n: int) -> bool:
    """hits / n is within five standard errors of p."""
    return abs(hits / n - p) <= 5 * math.sqrt(p * (1 - p) / n)


def test_service_codes_are_fixed() -> None:
    """Service codes are positions in SERVICES (used by columns and policy tables)."""
    assert {"medical_outpatient": 0, "medical_inpatient": 1, "pharmacy": 2} == {
        k: v for k, v in SERVICE_CODES.items() if k.startswith(("medical", "pharmacy"))
    }
    assert list(SERVICE_CODES) == list(SERVICES)


def test_batches_cover_local_hours(batches: list[ArrivalBatch]) -> None:
    """Starting at 09:30 for 3 h: pieces 09:30-10, 10-11, 11-12, 12-12:30."""
    assert [(0.0, 1800.0), (1800.0, 5400.0), (5400.0, 9000.0), (9000.0, 10800.0)] == [
        (b.t0_s, b.t1_s) for b in batches
    ]
    assert [0, 1, 2, 3] == [b.index for b in batches]


def test_batches_time_sorted_within_their_hour(batches: list[ArrivalBatch]) -> None:
    """Arrivals in a batch are in time order and inside [t0, t1)."""
    for batch in batches:
        assert batch.size > 0
        assert np.all(np.diff(batch.time_s) >= 0)
        assert batch.t0_s <= batch.time_s[0]
        assert batch.time_s[-1] < batch.t1_s


def test_ids_contiguous_across_batches(batches: list[ArrivalBatch]) -> None:
    """Transaction ids start at 0 and run on from one batch to the next."""
    firsts = [b.first_id for b in batches]
    sizes = [b.size for b in batches]
    assert [0, *np.cumsum(sizes)[:-1].tolist()] == firsts


def test_columns_aligned(batches: list[ArrivalBatch]) -> None:
    """Every column of a batch has one entry per arrival."""
    for batch in batches:
        for name in ("service", "site", "holder", "home", "card", "scheme", "filed"):
            assert batch.size == getattr(batch, name).size
        assert batch.size == batch.ineligible.size == batch.amount_fen.size == batch.point.size


def test_expected_arrivals_flat_profile(demand: DemandUnderTest) -> None:
    """With a flat profile, expected arrivals are holders × daily rate × horizon / 1 day."""
    expected = 133_500 * 0.5 * 3 / 24
    assert expected == pytest.approx(demand.expected_arrivals()["medical_outpatient"], rel=1e-12)


def test_expected_arrivals_follow_profile(demand: DemandUnderTest) -> None:
    """With the retail profile each local hour weighs in with its normalised weight."""
    w = hourly_weights("retail")
    hours = w[9] * 0.5 + w[10] + w[11] + w[12] * 0.5  # 09:30 to 12:30
    expected = 133_500 * 100 / 365 / 24 * hours
    assert expected == pytest.approx(demand.expected_arrivals()["pharmacy"], rel=1e-12)


def test_arrival_counts_per_hour_match_rate(
    demand: DemandUnderTest, batches: list[ArrivalBatch]
) -> None:
    """Each service's count in each piece is within 5 Poisson standard deviations of its mean."""
    for batch in batches:
        hour = int(demand.clock.hour_of_day(batch.t0_s))
        width = batch.t1_s - batch.t0_s
        for name, code in (("medical_outpatient", 0), ("pharmacy", 2)):
            mean = demand.base_rate[name].sum() * demand.weights[name][hour] * width
            count = int(np.sum(batch.service == code))
            assert abs(count - mean) <= 5 * math.sqrt(mean), (batch.index, name, count, mean)


def test_arrivals_spread_by_province_holders(
    demand: DemandUnderTest, batches: list[ArrivalBatch]
) -> None:
    """Sites follow holders: each province's count within 5 Poisson sds of its mean."""
    outpatient = concat(batches, "service") == 0
    sites = concat(batches, "site")[outpatient]
    observed = np.bincount(sites, minlength=31)
    mean = demand.population.holders_per_province * 0.5 * 3 / 24
    assert np.all(np.abs(observed - mean) <= 5 * np.sqrt(mean))


def test_cross_province_share(batches: list[ArrivalBatch]) -> None:
    """About 20% of outpatient and 5% of pharmacy arrivals are treated away from home."""
    service = concat(batches, "service")
    cross = np.concatenate([b.cross for b in batches])
    for code, share in ((0, 0.2), (2, 0.05)):
        mine = service == code
        assert within_binomial(share, int(cross[mine].sum()), int(mine.sum()))


def test_local_arrivals_are_insured_at_site(
    demand: DemandUnderTest, batches: list[ArrivalBatch]
) -> None:
    """home is the holder's home province; local arrivals have home == site."""
    holder = concat(batches, "holder")
    home = concat(batches, "home")
    cross = np.concatenate([b.cross for b in batches])
    assert demand.population.home[holder].tolist() == home.tolist()
    assert np.all(concat(batches, "site")[~cross] == home[~cross])


def test_holder_columns_copied_from_population(
    demand: Demand, batches: list[ArrivalBatch]
) -> None:
    """Card kind and scheme are the drawn holder's."""
    holder = concat(batches, "holder")
    assert demand.population.card_kind[holder].tolist() == concat(batches, "card").tolist()
    assert demand.population.scheme[holder].tolist() == concat(batches, "scheme").tolist()


def test_filed_only_differs_for_cross_province(batches: list[ArrivalBatch]) -> None:
    """Local arrivals are always 'filed'; cross-province ones with the filed_in_advance share."""
    filed = concat(batches, "filed")
    cross = np.concatenate([b.cross for b in batches])
    outpatient = concat(batches, "service") == 0
    assert np.all(filed[~cross])
    mine = cross & outpatient
    assert within_binomial(0.6, int(filed[mine].sum()), int(mine.sum()))
    assert np.all(filed[cross & ~outpatient])  # pharmacy: filed_in_advance defaults to 1


def test_ineligible_share(batches: list[ArrivalBatch]) -> None:
    """About 10% of outpatient arrivals are ineligible; none of pharmacy's (default 0)."""
    ineligible = concat(batches, "ineligible")
    outpatient = concat(batches, "service") == 0
    assert within_binomial(0.1, int(ineligible[outpatient].sum()), int(outpatient.sum()))
    assert not np.any(ineligible[~outpatient])


def test_amounts_in_fen(batches: list[ArrivalBatch]) -> None:
    """Bills are non-negative int64 fen; the constant pharmacy bill is exact."""
    amount = concat(batches, "amount_fen")
    outpatient = concat(batches, "service") == 0
    assert np.int64 == amount.dtype
    assert np.all(amount >= 0)
    assert np.all(amount[~outpatient] == 9_000)
    n = int(outpatient.sum())
    assert 25_000 == pytest.approx(amount[outpatient].mean(), rel=5 / math.sqrt(n))


def test_point_within_site_points(demand: DemandUnderTest, batches: list[ArrivalBatch]) -> None:
    """Each arrival's point index is one of its site's points for its service."""
    for batch in batches:
        for name, code in (("medical_outpatient", 0), ("pharmacy", 2)):
            mine = batch.service == code
            limit = demand.point_counts[name][batch.site[mine]]
            assert np.all((batch.point[mine] >= 0) & (batch.point[mine] < limit))


def test_same_seed_same_arrivals(batches: list[ArrivalBatch]) -> None:
    """The same scenario and seed give identical arrivals, column by column."""
    again = list(make_demand(scenario_with()).batches())
    for a, b in zip(batches, again, strict=True):
        for name in ("time_s", "service", "site", "holder", "filed", "amount_fen", "point"):
            assert getattr(a, name).tolist() == getattr(b, name).tolist()


def test_other_seed_other_arrivals(batches: list[ArrivalBatch]) -> None:
    """Another seed gives other arrival times."""
    other = next(make_demand(scenario_with("seed=6")).batches())
    assert batches[0].time_s[:20].tolist() != other.time_s[:20].tolist()


def test_removing_a_service_leaves_the_others_unchanged(batches: list[ArrivalBatch]) -> None:
    """Each service has its own stream: dropping pharmacy keeps outpatient arrivals identical."""
    alone = make_demand(scenario_with(pharmacy=False))
    for full, solo in zip(batches, alone.batches(), strict=True):
        mine = full.service == 0
        assert full.time_s[mine].tolist() == solo.time_s.tolist()
        assert full.holder[mine].tolist() == solo.holder.tolist()
        assert full.amount_fen[mine].tolist() == solo.amount_fen.tolist()


def test_profile_zero_hours_have_no_arrivals() -> None:
    """Hours with profile weight 0 get no arrivals; all demand lands in the open hour."""
    weights = ",".join("1" if h == 10 else "0" for h in range(24))
    scenario = scenario_with(
        "services.medical_outpatient.profile=[" + weights + "]", pharmacy=False
    )
    demand = make_demand(scenario)
    sizes = [b.size for b in demand.batches()]
    assert 0 == sizes[0] == sizes[2] == sizes[3]
    mean = 133_500 * 0.5  # the whole day's 0.5 per holder falls in one hour
    assert abs(sizes[1] - mean) <= 5 * math.sqrt(mean)
    assert mean == pytest.approx(demand.expected_arrivals()["medical_outpatient"])


def test_per_point_rate_follows_points_not_holders() -> None:
    """A rate per point per hour gives each province points × rate, whatever its holders."""
    scenario = scenario_with(
        "services.medical_outpatient.rate={per_point_per_hour: 90}", pharmacy=False
    )
    demand = make_demand(scenario)
    points = demand.point_counts["medical_outpatient"]
    assert 2 == points[0]  # 20,000 per province at 1e-4
    assert np.allclose(points * 90 / 3600, demand.base_rate["medical_outpatient"])
    assert 31 * 2 * 90 * 3 == pytest.approx(demand.expected_arrivals()["medical_outpatient"])


def test_sites_confine_demand_to_their_provinces() -> None:
    """With sites, other provinces get no arrivals; the sites keep their full rate."""
    everywhere = make_demand(scenario_with(pharmacy=False))
    scenario = scenario_with("services.medical_outpatient.sites=[GD, XZ]", pharmacy=False)
    demand = make_demand(scenario)
    rate = demand.base_rate["medical_outpatient"]
    ids = load_provinces().ids
    sites = [ids.index("GD"), ids.index("XZ")]
    assert np.array_equal(np.flatnonzero(rate), sorted(sites))
    assert np.allclose(rate[sites], everywhere.base_rate["medical_outpatient"][sites])
    observed = set(np.concatenate([b.site for b in demand.batches()]).tolist())
    assert observed == set(sites)


def test_hourly_means_add_up_to_expected_arrivals(demand: Demand) -> None:
    """The (hour piece × province) means are the pieces of expected_arrivals, by profile."""
    edges, means = demand.hourly_means("pharmacy")
    assert (len(edges) - 1, 31) == means.shape
    assert means.sum() == pytest.approx(demand.expected_arrivals()["pharmacy"])
    w = hourly_weights("retail")
    assert means[1].sum() / means[2].sum() == pytest.approx(w[10] / w[11])
