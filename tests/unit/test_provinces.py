"""Tests for sim.world.provinces: the shipped table and apportioning counts."""

# Assertions read `expected == actual` (STYLE.md section 6), which SIM300 calls Yoda style.

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.world.provinces import BUILTIN_TABLES, ProvinceTable, apportion, load_provinces


@pytest.fixture(scope="module")
def table() -> ProvinceTable:
    """The builtin 2020 table."""
    return load_provinces("builtin:2020")


def test_table_has_31_rows_with_aligned_columns(table: ProvinceTable) -> None:
    """The 31 provincial-level divisions, every column the same length."""
    assert 31 == len(table)
    lengths = {
        len(table.ids),
        len(table.codes),
        len(table.names),
        len(table.names_zh),
        table.population.size,
        table.aged_60_plus_share.size,
        table.holders.size,
    }
    assert {31} == lengths
    assert "builtin:2020" == table.source


def test_ids_and_codes_are_unique(table: ProvinceTable) -> None:
    """Two-letter ids and administrative codes identify one province each."""
    assert 31 == len(set(table.ids))
    assert 31 == len(set(table.codes))
    assert all(len(pid) == 2 and pid.isupper() for pid in table.ids)


def test_known_rows(table: ProvinceTable) -> None:
    """Spot-check a few rows against the census."""
    bj, gd = table.index("BJ"), table.index("GD")
    assert ("BJ", 110000, "北京") == (table.ids[0], table.codes[bj], table.names_zh[bj])
    assert 126_012_510 == table.population[gd]  # Guangdong, 7th census
    assert int(np.argmax(table.population)) == gd


def test_population_sum(table: ProvinceTable) -> None:
    """The 31 rows sum to the census figure 1,409,778,724."""
    assert 1_409_778_724 == int(table.population.sum())


def test_holders_sum_exactly(table: ProvinceTable) -> None:
    """Holders add up to exactly 1.335 billion (end 2020)."""
    assert 1_335_000_000 == int(table.holders.sum())
    assert np.int64 == table.holders.dtype


def test_holders_follow_population(table: ProvinceTable) -> None:
    """Holders are apportioned by population: each within one of its exact share."""
    exact = table.population / table.population.sum() * 1_335_000_000
    assert np.all(np.abs(table.holders - exact) < 1)


def test_aged_share_is_a_share(table: ProvinceTable) -> None:
    """The 60+ share is a proportion in a plausible range."""
    assert np.all((table.aged_60_plus_share > 0.05) & (table.aged_60_plus_share < 0.4))


def test_index_unknown_id(table: ProvinceTable) -> None:
    """Looking up an unknown id raises KeyError naming the id, as documented."""
    with pytest.raises(KeyError, match="XX"):
        table.index("XX")


def test_unknown_table_name() -> None:
    """Only builtin tables can be loaded; the error lists them."""
    with pytest.raises(KeyError, match="builtin:2020"):
        load_provinces("builtin:1990")
    assert ["builtin:2020"] == sorted(BUILTIN_TABLES)


def test_with_holders_total(table: ProvinceTable) -> None:
    """Rescaling holders keeps proportions and hits the new total exactly."""
    rescaled = table.with_holders_total(1.38e9)
    assert 1_380_000_000 == int(rescaled.holders.sum())
    exact = table.holders / table.holders.sum() * 1.38e9
    assert np.all(np.abs(rescaled.holders - exact) < 1)
    assert table.population is rescaled.population
    assert 1_335_000_000 == int(table.holders.sum())  # the original is unchanged


def test_apportion_example() -> None:
    """Largest remainder: 10 split 1:1:1 gives 4, 3, 3 (ties broken by position)."""
    assert [4, 3, 3] == apportion(np.array([1.0, 1.0, 1.0]), 10).tolist()
    assert [2, 1] == apportion(np.array([0.6, 0.4]), 3).tolist()
    assert [0, 0] == apportion(np.array([1.0, 2.0]), 0).tolist()


def test_apportion_rounds_fractional_total() -> None:
    """A fractional total is rounded first (scaled counts such as 1.335e9 × 1e-4)."""
    assert 133_500 == int(apportion(np.array([1.0, 2.0, 3.0]), 1.335e9 * 1e-4).sum())
    assert 3 == int(apportion(np.array([1.0, 1.0]), 2.7).sum())


@given(
    st.lists(st.floats(0.001, 1e9), min_size=1, max_size=40),
    st.integers(0, 10**10),
)
def test_apportion_sums_exactly_and_is_proportional(weights: list[float], total: int) -> None:
    """Parts are integers adding to the total, each within 1 of its exact share."""
    w = np.array(weights)
    parts = apportion(w, total)
    exact = w / w.sum() * total
    assert total == int(parts.sum())
    assert np.all(parts >= 0)
    assert np.all(np.abs(parts - exact) < 1 + 1e-6 * np.maximum(exact, 1))


def test_subset_keeps_named_rows_in_table_order(table: ProvinceTable) -> None:
    """A region's table holds its provinces' rows, in table order whatever the order given."""
    region = table.subset(("SC", "BJ", "CQ"))
    assert ("BJ", "CQ", "SC") == region.ids
    assert table.holders[table.index("SC")] == region.holders[region.index("SC")]
    assert [table.codes[table.index(p)] for p in region.ids] == list(region.codes)
    assert 3 == region.population.size == region.aged_60_plus_share.size
    with pytest.raises(KeyError, match="XX"):
        table.subset(("XX",))


def test_apportion_among_zero_weights_says_so() -> None:
    """Zero weights: nothing to split is fine; something to split is a clear error, not NaN."""
    assert apportion(np.zeros(3), 0.2).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="cannot apportion 5 among weights summing to 0"):
        apportion(np.zeros(3), 5.0)
