"""Intervals across replications: Student t, proportions, paired differences, precision."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from sim.experiment.stats import (
    Interval,
    mean_interval,
    paired_interval,
    proportion_interval,
    replications_for,
    t_critical,
)
from sim.outputs.metrics import wilson_interval


@pytest.mark.parametrize(
    ("n", "expected"),
    [(2, 12.706), (5, 2.776), (10, 2.262), (30, 2.045), (121, 1.980)],
)
def test_t_critical_matches_the_textbook_table(n: int, expected: float) -> None:
    """t_{0.975, n−1} as printed in Student-t tables (3 decimals)."""
    assert expected == round(t_critical(n), 3)


def test_mean_interval_of_a_textbook_sample() -> None:
    """8, 9, 10, 11, 12: mean 10, s = √2.5, half-width 2.7764 × √2.5 / √5 = 1.9632."""
    got = mean_interval([8.0, 9.0, 10.0, 11.0, 12.0])
    assert (got.mean, got.n) == (10.0, 5)
    assert got.half_width == pytest.approx(1.9632, abs=1e-4)
    assert (got.low, got.high) == pytest.approx((8.0368, 11.9632), abs=1e-4)


def test_mean_interval_agrees_with_scipy() -> None:
    """The interval equals scipy.stats.t.interval around the sample mean."""
    values = np.random.default_rng(3).gamma(2.0, 1.5, size=17)
    got = mean_interval(values)
    low, high = scipy_stats.t.interval(
        0.95, len(values) - 1, loc=values.mean(), scale=scipy_stats.sem(values)
    )
    assert (got.low, got.high) == pytest.approx((low, high), rel=1e-12)


def test_nan_values_are_left_out_and_small_samples_have_no_width() -> None:
    """NaN (a figure a replication could not give) does not count; n < 2 gives NaN width."""
    assert 2 == mean_interval([1.0, math.nan, 3.0]).n
    one = mean_interval([4.0, math.nan])
    assert (one.mean, one.n) == (4.0, 1) and math.isnan(one.half_width)
    empty = mean_interval([])
    assert empty.n == 0 and math.isnan(empty.mean)


def test_interval_shrinks_like_one_over_root_n() -> None:
    """Quadrupling the replications of a normal sample roughly halves the half-width."""
    rng = np.random.default_rng(11)
    widths = [mean_interval(rng.normal(5.0, 2.0, size=n)).half_width for n in (25, 100, 400)]
    assert widths[0] > widths[1] > widths[2]
    assert widths[1] / widths[2] == pytest.approx(2.0, rel=0.25)


def test_paired_interval_is_the_interval_of_the_differences() -> None:
    """Pairs where either side is NaN are dropped; the rest give the interval of b − a."""
    a = np.array([1.0, 2.0, math.nan, 4.0, 5.0])
    b = np.array([1.5, 2.1, 9.0, 4.7, math.nan])
    got = paired_interval(a, b)
    expected = mean_interval([1.5 - 1.0, 2.1 - 2.0, 4.7 - 4.0])
    assert got == expected


def test_pairing_beats_independent_intervals_under_common_random_numbers() -> None:
    """With shared noise, the paired interval is far narrower and excludes 0 for a small shift."""
    rng = np.random.default_rng(5)
    common = rng.normal(0.0, 10.0, size=20)
    a = 100.0 + common + rng.normal(0.0, 0.1, size=20)
    b = 100.5 + common + rng.normal(0.0, 0.1, size=20)
    paired = paired_interval(a, b)
    assert paired.excludes(0.0)
    assert paired.half_width < mean_interval(a).half_width / 10
    assert not mean_interval(a).excludes(mean_interval(b).mean)  # unpaired cannot tell them apart


def test_paired_interval_needs_aligned_replications() -> None:
    """Arrays of different lengths are not pairs."""
    with pytest.raises(ValueError, match="equal lengths"):
        paired_interval([1.0, 2.0], [1.0])


def test_replications_for_a_target_half_width() -> None:
    """n (h/target)², at least one more, at most doubling per round and at most the cap."""
    assert 10 == replications_for(Interval(0.0, 0.05, 10), 0.1, most=100)  # already met
    assert 13 == replications_for(Interval(0.0, 0.11, 10), 0.1, most=100)  # ⌈10 × 1.21⌉
    assert 20 == replications_for(Interval(0.0, 1.0, 10), 0.1, most=100)  # capped at 2n
    assert 15 == replications_for(Interval(0.0, 1.0, 10), 0.1, most=15)  # capped at most
    assert 11 == replications_for(Interval(0.0, 0.1001, 10), 0.1, most=100)  # at least n + 1
    assert 2 == replications_for(Interval(1.0, math.nan, 1), 0.1, most=100)  # no variance yet


def test_a_proportion_near_zero_keeps_its_interval_inside_zero_one() -> None:
    """Fallback shares 0, 2.1% and 2.5% over three replications (a smoke sweep's): the t
    interval reaches below 0; the proportion's interval does not, is asymmetric about the
    mean (longer upwards), and has the same mean."""
    shares, trials = [0.0, 2 / 94, 2 / 81], [78, 94, 81]
    assert mean_interval(shares).low < 0.0
    got = proportion_interval(shares, trials)
    assert got.mean == mean_interval(shares).mean and got.n == 3 and not got.symmetric
    assert 0.0 < got.low < got.mean < got.high < 1.0
    assert got.high - got.mean > got.mean - got.low
    assert got.half_width == pytest.approx((got.high - got.low) / 2)


def test_replications_all_at_zero_or_one_give_wilson_on_the_pooled_counts() -> None:
    """No replication varies, so the pooled counts are all there is: Wilson's interval of
    0 (or all) of their sum, at the Student-t quantile; without counts, a point."""
    t = t_critical(4)
    zero = proportion_interval([0.0] * 4, [100, 120, 90, 110])
    assert (zero.low, zero.high) == pytest.approx(wilson_interval(0, 420, z=t))
    assert zero.low == 0.0 < zero.high < 0.05
    one = proportion_interval([1.0] * 4, [100, 120, 90, 110])
    assert (one.low, one.high) == pytest.approx(wilson_interval(420, 420, z=t))
    point = proportion_interval([1.0, 1.0, 1.0])
    assert (point.low, point.mean, point.high) == (1.0, 1.0, 1.0)


def test_a_proportion_interval_tends_to_the_t_interval() -> None:
    """With many replications of an ordinary share, the two intervals agree closely."""
    rng = np.random.default_rng(11)
    shares = rng.binomial(1000, 0.3, size=400) / 1000
    got, t = proportion_interval(shares, [1000] * 400), mean_interval(shares)
    assert (got.low, got.high) == pytest.approx((t.low, t.high), rel=2e-3)


def test_proportion_intervals_cover_on_simulated_replications() -> None:
    """Replications whose share varies more than binomially (a beta-distributed rate per
    replication, then binomial counts), near 0 and near 1, 5 or 10 replications each:
    the interval covers the mean share about 95% of the time (no less than the t
    interval) and never leaves [0, 1], which the t interval often does."""
    rng = np.random.default_rng(20240312)
    left_t = 0
    for rate, spread, trials, n in [(0.02, None, 500, 5), (0.03, 60, 400, 5),
                                    (0.97, 100, 1000, 10), (0.3, 20, 200, 5)]:  # fmt: skip
        covered = covered_t = 0
        for _ in range(400):
            rates = np.full(n, rate) if spread is None else rng.beta(
                rate * spread, (1 - rate) * spread, n)  # fmt: skip
            shares = rng.binomial(trials, rates) / trials
            got, t = proportion_interval(shares, [trials] * n), mean_interval(shares)
            assert 0.0 <= got.low <= got.mean <= got.high <= 1.0
            covered += got.low <= rate <= got.high
            covered_t += t.low <= rate <= t.high
            left_t += t.low < 0.0 or t.high > 1.0
        assert covered / 400 >= max(0.92, covered_t / 400), (rate, spread)
    assert left_t > 0


def test_a_proportion_outside_zero_one_is_refused() -> None:
    """A share above 1 is a bug upstream, not something to put an interval on."""
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\], got 1.5"):
        proportion_interval([0.5, 1.5])
    with pytest.raises(ValueError, match="equal lengths"):
        proportion_interval([0.5, 0.4], [10])
