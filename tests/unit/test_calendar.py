"""Tests for sim.engine.calendar: diurnal profiles and the simulated-to-civil clock."""

# Assertions read `expected == actual` (STYLE.md section 6), which SIM300 calls Yoda style.

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.engine.calendar import BUILTIN_PROFILES, Clock, hourly_weights

CST = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize("name", sorted(BUILTIN_PROFILES))
def test_builtin_profiles_normalised_to_mean_one(name: str) -> None:
    """Each builtin profile has 24 non-negative weights with mean exactly 1."""
    weights = hourly_weights(name)
    assert (24,) == weights.shape
    assert 1.0 == pytest.approx(weights.mean(), abs=1e-12)
    assert np.all(weights >= 0)


def test_hourly_weights_keeps_shape() -> None:
    """Normalising scales every hour by the same factor."""
    raw = tuple(float(h) for h in range(1, 25))
    weights = hourly_weights(raw)
    assert np.allclose(np.array(raw) / np.mean(raw), weights)
    assert 24.0 / 300.0 == pytest.approx(weights[0])


def test_flat_profile_is_all_ones() -> None:
    """The flat profile has weight 1 in every hour."""
    assert [1.0] * 24 == hourly_weights("flat").tolist()


@given(st.lists(st.floats(0.0, 1e6), min_size=24, max_size=24).filter(lambda w: sum(w) > 1e-300))
def test_hourly_weights_mean_one_for_any_profile(raw: list[float]) -> None:
    """Any explicit profile is normalised to mean 1 (a daily rate is preserved).

    Sums below 1e-300 are left out: there 24 / sum overflows to inf (a known limit).
    """
    assert 1.0 == pytest.approx(hourly_weights(tuple(raw)).mean(), rel=1e-9)


@pytest.mark.parametrize(
    "raw",
    [(1.0,) * 23, (1.0,) * 25, (0.0,) * 24, (-1.0,) + (1.0,) * 23],
    ids=["23 hours", "25 hours", "all zero", "negative"],
)
def test_hourly_weights_refuses_invalid(raw: tuple[float, ...]) -> None:
    """Wrong length, all zero or negative weights are refused."""
    with pytest.raises(ValueError, match="24 non-negative weights"):
        hourly_weights(raw)


def test_hourly_weights_unknown_name() -> None:
    """An unknown profile name raises KeyError."""
    with pytest.raises(KeyError):
        hourly_weights("nightly")


def test_start_second_of_day() -> None:
    """The start's local clock time, in seconds after midnight."""
    assert 34200.5 == Clock(dt.datetime(2024, 3, 12, 9, 30, 0, 500000, CST)).start_second_of_day
    assert 0.0 == Clock(dt.datetime(2024, 3, 12, tzinfo=CST)).start_second_of_day


def test_hour_edges_from_midnight() -> None:
    """A run starting at midnight is cut at every whole hour, ending at the horizon."""
    clock = Clock(dt.datetime(2024, 3, 12, tzinfo=CST))
    assert [0.0, 3600.0, 7200.0, 9000.0] == clock.hour_edges(9000.0).tolist()
    assert [0.0, 3600.0, 7200.0] == clock.hour_edges(7200.0).tolist()
    assert 25 == clock.hour_edges(86400.0).size


def test_hour_edges_from_half_past() -> None:
    """A run starting at 09:30 has a first piece of half an hour, then whole hours."""
    clock = Clock(dt.datetime(2024, 3, 12, 9, 30, tzinfo=CST))
    assert [0.0, 1800.0, 5400.0, 9000.0, 10000.0] == clock.hour_edges(10000.0).tolist()


def test_hour_edges_short_run() -> None:
    """A run shorter than the first piece is a single piece."""
    clock = Clock(dt.datetime(2024, 3, 12, 9, 30, tzinfo=CST))
    assert [0.0, 600.0] == clock.hour_edges(600.0).tolist()
    assert [0.0, 1800.0] == clock.hour_edges(1800.0).tolist()


@given(
    st.integers(0, 86399),
    st.floats(1.0, 3 * 86400.0),
)
def test_hour_edges_pieces_stay_within_one_local_hour(start_s: int, horizon: float) -> None:
    """Edges rise from 0 to the horizon and no piece crosses a local hour boundary."""
    start = dt.datetime(2024, 3, 12, tzinfo=CST) + dt.timedelta(seconds=start_s)
    clock = Clock(start)
    edges = clock.hour_edges(horizon)
    assert (0.0, horizon) == (edges[0], edges[-1])
    widths = np.diff(edges)
    assert np.all(widths > 0)
    assert np.all(widths <= 3600.0)
    hour_index = np.floor((start_s + edges[:-1]) / 3600.0)  # hours since the start's midnight
    assert np.all(start_s + edges[1:] <= (hour_index + 1) * 3600.0)
    assert np.all(np.diff(hour_index) == 1)


def test_hour_of_day_wraps() -> None:
    """Local hours count from the start's clock time and wrap after 23."""
    clock = Clock(dt.datetime(2024, 3, 12, 22, 30, tzinfo=CST))
    times = [0.0, 1799.0, 1800.0, 5400.0, 86400.0, 90000.0]
    assert [22, 22, 23, 0, 22, 23] == clock.hour_of_day(times).tolist()


def test_hour_of_day_uses_start_offset() -> None:
    """The hour is local to the start's time zone, not UTC."""
    utc_midnight = dt.datetime(2024, 3, 12, tzinfo=dt.UTC)
    assert 0 == int(Clock(utc_midnight).hour_of_day(0.0))
    assert 8 == int(Clock(utc_midnight.astimezone(CST)).hour_of_day(0.0))


def test_civil_time() -> None:
    """Simulated seconds map to local date-times, across midnight."""
    clock = Clock(dt.datetime(2024, 3, 12, 23, 0, tzinfo=CST))
    assert dt.datetime(2024, 3, 13, 1, 30, tzinfo=CST) == clock.civil(9000.0)
    assert dt.datetime(2024, 3, 12, 23, 0, 0, 250000, tzinfo=CST) == clock.civil(0.25)
    assert dt.timedelta(hours=8) == clock.civil(9000.0).utcoffset()
