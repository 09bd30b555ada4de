"""Tests for sim.world.population: scaled holder columns and drawing holders."""

# Assertions read `expected == actual` (STYLE.md section 6), which SIM300 calls Yoda style.

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.scenario.schema import PopulationSpec
from sim.world.domain import CardKind, Scheme
from sim.world.population import Population, build_population
from sim.world.provinces import ProvinceTable, apportion, load_provinces

SCALE = 1e-3
SPEC = PopulationSpec(ecard_share=0.3, employee_share=0.25, migrant_share=0.05)


@pytest.fixture(scope="module")
def provinces() -> ProvinceTable:
    """The builtin province table."""
    return load_provinces()


@pytest.fixture(scope="module")
def population(provinces: ProvinceTable) -> Population:
    """1,335,000 holders (1.335 bn at 1:1000) with e-cards, employees and migrants."""
    return build_population(provinces, SPEC, SCALE, np.random.default_rng(42))


def everyone(population: Population, column: str) -> np.ndarray:
    """A whole column, computed for every holder id."""
    return getattr(population, column)[np.arange(population.size)]


def tolerance(p: float, n: int) -> float:
    """Five standard errors of a sample proportion."""
    return 5 * math.sqrt(p * (1 - p) / n)


def test_counts_sum_to_scaled_total(population: Population, provinces: ProvinceTable) -> None:
    """Per-province counts are the apportioned scaled holders and sum exactly."""
    assert 1_335_000 == population.size
    assert 1_335_000 == int(population.holders_per_province.sum())
    expected = apportion(provinces.holders.astype(np.float64), 1.335e9 * SCALE)
    assert expected.tolist() == population.holders_per_province.tolist()


def test_holders_total_from_spec(provinces: ProvinceTable) -> None:
    """population.holders replaces the table's total (1.38 bn at 1:10,000 is 138,000)."""
    spec = PopulationSpec(holders=1.38e9)
    pop = build_population(provinces, spec, 1e-4, np.random.default_rng(0))
    assert 138_000 == pop.size
    exact = provinces.holders / provinces.holders.sum() * 138_000
    assert np.all(np.abs(pop.holders_per_province - exact) < 1)


def test_ids_contiguous_per_home(population: Population, provinces: ProvinceTable) -> None:
    """Holders of home province h are exactly ids offsets[h] .. offsets[h+1] - 1."""
    offsets = population.offsets
    assert (0, population.size) == (offsets[0], offsets[-1])
    assert len(provinces) + 1 == offsets.size
    for h in range(len(provinces)):
        block = population.home[offsets[h] : offsets[h + 1]]
        assert np.all(block == h)
    assert np.all(np.diff(everyone(population, "home").astype(np.int64)) >= 0)


def test_columns_cost_nothing_per_holder(population: Population) -> None:
    """Columns are computed from ids (one byte each when read); the population stores only
    range boundaries, so its memory does not grow with the number of holders."""
    ids = np.arange(0, population.size, 997)
    for column in (population.home, population.residence, population.card_kind, population.scheme):
        assert np.uint8 == column[ids].dtype
        assert ids.shape == column[ids].shape
    assert population.nbytes < 100_000
    bigger = build_population(load_provinces(), SPEC, 1.0, np.random.default_rng(42))
    assert 1_335_000_000 == bigger.size
    assert bigger.nbytes == population.nbytes


def test_columns_are_functions_of_the_id(population: Population) -> None:
    """Reading a holder twice, alone or among others, gives the same attributes."""
    ids = np.array([5, 123_456, 1_334_999])
    for column in (population.home, population.residence, population.card_kind, population.scheme):
        together = column[ids].tolist()
        assert together == [int(column[np.array([i])][0]) for i in ids]


def test_card_kind_share(population: Population) -> None:
    """The e-card share matches the spec within five standard errors."""
    cards = everyone(population, "card_kind")
    share = float(np.mean(cards == CardKind.ECARD))
    assert 0.3 == pytest.approx(share, abs=tolerance(0.3, population.size))
    assert set(np.unique(cards).tolist()) == {CardKind.CHIP, CardKind.ECARD}


def test_employee_share(population: Population) -> None:
    """The employee-scheme share matches the spec within five standard errors."""
    share = float(np.mean(everyone(population, "scheme") == Scheme.EMPLOYEE))
    assert 0.25 == pytest.approx(share, abs=tolerance(0.25, population.size))


def test_migrant_share(population: Population) -> None:
    """About 5% of holders live outside their home province."""
    migrant = everyone(population, "residence") != everyone(population, "home")
    assert 0.05 == pytest.approx(migrant.mean(), abs=0.001)  # apportioned, not drawn
    assert int(migrant.sum()) == int(population.migrants.sum())


def test_migrants_grouped_by_residence(population: Population) -> None:
    """Within each home range, those living at home come first, then migrants by residence."""
    residence = everyone(population, "residence")
    for h in range(31):
        start, stop = population.offsets[h], population.offsets[h + 1]
        block = residence[start:stop]
        assert np.all(block[: population.stay[h]] == h)
        away = block[population.stay[h] :]
        assert np.all(away != h)
        assert np.all(np.diff(away.astype(np.int64)) >= 0)
        assert np.bincount(away, minlength=31).tolist() == population.migrants[h].tolist()


def test_migrants_go_where_people_are(population: Population, provinces: ProvinceTable) -> None:
    """Destinations follow population: Guangdong receives more migrants than Tibet."""
    received = population.migrants.sum(axis=0)
    assert received[provinces.index("GD")] > 10 * received[provinces.index("XZ")]
    assert int(np.argmax(received)) == int(np.argmax(provinces.population))


def test_no_migrants(provinces: ProvinceTable) -> None:
    """With migrant_share 0 everyone lives at home and the migrant index is empty."""
    pop = build_population(provinces, PopulationSpec(), 1e-5, np.random.default_rng(1))
    assert everyone(pop, "residence").tolist() == everyone(pop, "home").tolist()
    assert 0 == int(pop.migrants.sum())
    assert pop.stay.tolist() == pop.holders_per_province.tolist()


def test_same_seed_same_population(provinces: ProvinceTable) -> None:
    """The same generator seed builds identical columns."""
    a = build_population(provinces, SPEC, 1e-5, np.random.default_rng(9))
    b = build_population(provinces, SPEC, 1e-5, np.random.default_rng(9))
    for name in ("home", "residence", "card_kind", "scheme"):
        assert everyone(a, name).tolist() == everyone(b, name).tolist()
    c = build_population(provinces, SPEC, 1e-5, np.random.default_rng(10))
    assert everyone(a, "card_kind").tolist() != everyone(c, "card_kind").tolist()


def test_draw_local_returns_holders_of_that_province(population: Population) -> None:
    """Each draw is a holder insured in, and living in, the asked province."""
    rng = np.random.default_rng(3)
    province = rng.integers(0, 31, 50_000)
    holders = population.draw_local(province, rng)
    assert np.int64 == holders.dtype
    assert province.tolist() == population.home[holders].tolist()
    assert province.tolist() == population.residence[holders].tolist()


def test_draw_local_is_uniform_within_province(population: Population) -> None:
    """Draws spread evenly over the province's id range (first and second half ≈ equal)."""
    rng = np.random.default_rng(4)
    n = 100_000
    holders = population.draw_local(np.full(n, 25), rng)  # XZ, the smallest
    start = population.offsets[25]
    stop = start + population.stay[25]  # local patients live at home
    assert np.all((start <= holders) & (holders < stop))
    in_first_half = np.mean(holders < (start + stop) / 2)
    assert 0.5 == pytest.approx(in_first_half, abs=tolerance(0.5, n))


def test_draw_cross_never_returns_home_equal_site(population: Population) -> None:
    """A cross-province patient is always insured somewhere other than the treatment site."""
    rng = np.random.default_rng(5)
    site = rng.integers(0, 31, 100_000)
    resident = rng.random(site.size) < 0.5
    holders = population.draw_cross(site, resident, rng)
    assert not np.any(population.home[holders] == site)


def test_draw_cross_residents_live_at_site(population: Population) -> None:
    """Resident draws are migrants who live in the treatment province."""
    rng = np.random.default_rng(6)
    site = rng.integers(0, 31, 50_000)
    holders = population.draw_cross(site, np.ones(site.size, dtype=bool), rng)
    assert site.tolist() == population.residence[holders].tolist()


def test_draw_cross_visitors_follow_holders(population: Population) -> None:
    """Visitors' homes are drawn in proportion to holders, excluding the site."""
    rng = np.random.default_rng(7)
    n = 200_000
    site = np.full(n, 18)  # treated in Guangdong
    homes = population.home[population.draw_cross(site, np.zeros(n, dtype=bool), rng)]
    weights = population.holders_per_province.astype(np.float64)
    weights[18] = 0
    expected = weights / weights.sum()
    observed = np.bincount(homes, minlength=31) / n
    assert 0 == observed[18]
    assert np.all(np.abs(observed - expected) <= 5 * np.sqrt(expected * (1 - expected) / n))


def test_draw_cross_without_migrants_falls_back_to_visitors(provinces: ProvinceTable) -> None:
    """When no migrant lives at the site, a resident draw is a visitor from elsewhere."""
    pop = build_population(provinces, PopulationSpec(), 1e-5, np.random.default_rng(2))
    rng = np.random.default_rng(8)
    site = rng.integers(0, 31, 10_000)
    holders = pop.draw_cross(site, np.ones(site.size, dtype=bool), rng)
    assert not np.any(pop.home[holders] == site)
