"""Tests for sim.engine.distributions: batch sampling of the scenario's distributions."""

# Assertions read `expected == actual` (STYLE.md section 6), which SIM300 calls Yoda style.

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.engine.distributions import BLOCK, BatchSampler, mean, sample, sample_fen, sampler
from sim.scenario.schema import Constant, Exponential, Gamma, Lognormal, Uniform

N = 200_000
"""Draws per moment check: the standard error of the mean is cv / sqrt(N) ≈ 0.22% × cv."""


def _lognormal_excess_kurtosis(cv: float) -> float:
    s2 = math.log1p(cv * cv)
    return math.exp(4 * s2) + 2 * math.exp(3 * s2) + 3 * math.exp(2 * s2) - 6


@pytest.mark.parametrize(
    ("dist", "expected_mean", "expected_cv", "excess_kurtosis"),
    [
        (Exponential(4.0), 4.0, 1.0, 6.0),
        (Lognormal(250.0, 0.5), 250.0, 0.5, _lognormal_excess_kurtosis(0.5)),
        (Lognormal(0.4, 1.2), 0.4, 1.2, _lognormal_excess_kurtosis(1.2)),
        (Gamma(90.0, 0.5), 90.0, 0.5, 6 * 0.5**2),
        (Gamma(2.0, 2.0), 2.0, 2.0, 6 * 2.0**2),
        (Uniform(2.0, 6.0), 4.0, (4 / math.sqrt(12)) / 4.0, -1.2),
    ],
    ids=["exponential", "lognormal-0.5", "lognormal-1.2", "gamma-0.5", "gamma-2", "uniform"],
)
def test_sample_mean_and_cv(
    dist: object, expected_mean: float, expected_cv: float, excess_kurtosis: float
) -> None:
    """Sample mean and cv match the parameters within 5 standard errors.

    Standard error of the mean: cv / sqrt(N) (relative). Standard error of the
    sample sd: sqrt((excess kurtosis + 2) / (4 N)) (relative, large-N approximation).
    """
    draws = sample(dist, np.random.default_rng(2024), N)  # type: ignore[arg-type]
    assert (N,) == draws.shape
    se_mean = expected_cv / math.sqrt(N)
    se_sd = math.sqrt((excess_kurtosis + 2) / (4 * N))
    assert expected_mean == pytest.approx(draws.mean(), rel=5 * se_mean)
    assert expected_cv == pytest.approx(draws.std() / draws.mean(), rel=5 * (se_sd + se_mean))
    assert np.all(draws >= 0)


def test_uniform_stays_in_bounds() -> None:
    """Uniform draws fall inside [low, high]."""
    draws = sample(Uniform(2.0, 6.0), np.random.default_rng(1), 10_000)
    assert draws.min() >= 2.0
    assert draws.max() <= 6.0


def test_constant_always_the_same() -> None:
    """A constant distribution returns its value every time, without using the generator."""
    rng = np.random.default_rng(5)
    assert [90.0] * 4 == sample(Constant(90.0), rng, 4).tolist()
    assert np.random.default_rng(5).random() == rng.random()


def test_sampler_of_constant_skips_the_buffer() -> None:
    """sampler() of a constant is a plain function returning the value."""
    draw = sampler(Constant(2.5), np.random.default_rng(0))
    assert not isinstance(draw, BatchSampler)
    assert [2.5, 2.5, 2.5] == [draw(), draw(), draw()]


def test_sampler_of_random_distribution_is_a_batch_sampler() -> None:
    """sampler() of any other distribution draws in batches."""
    assert isinstance(sampler(Exponential(1.0), np.random.default_rng(0)), BatchSampler)


@pytest.mark.parametrize(
    "dist",
    [Exponential(1.0), Lognormal(2.0, 0.5), Gamma(3.0, 1.5), Uniform(0.0, 1.0)],
    ids=["exponential", "lognormal", "gamma", "uniform"],
)
def test_batch_sampler_serves_draws_in_sampling_order(dist: object) -> None:
    """One draw at a time, across refills, equals one big sample() from the same seed."""
    n = 2 * BLOCK + 17
    expected = sample(dist, np.random.default_rng(99), n)  # type: ignore[arg-type]
    draw = BatchSampler(dist, np.random.default_rng(99))  # type: ignore[arg-type]
    actual = [draw() for _ in range(n)]
    assert expected.tolist() == actual


def test_sample_zero_draws() -> None:
    """Asking for no draws gives an empty array."""
    assert (0,) == sample(Exponential(1.0), np.random.default_rng(0), 0).shape


def test_unknown_distribution() -> None:
    """Something that is not a distribution is refused."""
    with pytest.raises(TypeError, match="unknown distribution"):
        sample("exponential", np.random.default_rng(0), 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dist", "expected"),
    [
        (Exponential(4.0), 4.0),
        (Lognormal(250.0, 1.0), 250.0),
        (Gamma(3.0, 0.2), 3.0),
        (Uniform(1.0, 4.0), 2.5),
        (Constant(7.0), 7.0),
    ],
)
def test_mean(dist: object, expected: float) -> None:
    """mean() gives each distribution's theoretical mean."""
    assert expected == mean(dist)  # type: ignore[arg-type]


def test_sample_fen_integral_and_non_negative() -> None:
    """Money draws are whole, non-negative int64 fen with the right mean."""
    fen = sample_fen(Lognormal(25_000.0, 1.0), np.random.default_rng(3), N)
    assert np.int64 == fen.dtype
    assert fen.min() >= 0
    assert 25_000.0 == pytest.approx(fen.mean(), rel=5 / math.sqrt(N))


def test_sample_fen_rounds_half_to_even() -> None:
    """Amounts are rounded to the nearest fen, halves to even."""
    rng = np.random.default_rng(0)
    assert [2, 2] == sample_fen(Constant(2.5), rng, 2).tolist()
    assert [4] == sample_fen(Constant(3.5), rng, 1).tolist()
    assert [3] == sample_fen(Constant(2.6), rng, 1).tolist()


@given(
    st.floats(0.0, 1e9),
    st.floats(0.0, 1e9),
    st.integers(0, 2**32 - 1),
)
def test_sample_fen_uniform_bounds(a: float, b: float, seed: int) -> None:
    """Rounded uniform draws stay within the rounded bounds and are never negative."""
    low, high = min(a, b), max(a, b)
    fen = sample_fen(Uniform(low, high), np.random.default_rng(seed), 50)
    assert np.all(fen >= 0)
    assert np.all((np.rint(low) <= fen) & (fen <= np.rint(high)))
