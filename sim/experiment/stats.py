"""Statistics across replications: Student-t intervals, paired differences, precision.

Each replication of a variant gives one value of a figure (its p99 latency, say);
replications are independent and identically distributed, so the mean over n
of them has a Student-t interval with n − 1 degrees of freedom. A proportion (a
share of transactions, a rate) gets an interval that stays inside [0, 1] instead
(:func:`proportion_interval`). Variants share their replications' random numbers
(common random numbers), so two variants are compared through the per-replication
differences, whose interval is usually much narrower than the two intervals side
by side; a difference may be negative, so it always has a Student-t interval.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import numpy.typing as npt
from scipy.special import stdtrit  # the Student-t quantile; scipy.stats is slow to import

__all__ = [
    "Interval",
    "mean_interval",
    "paired_interval",
    "proportion_interval",
    "replications_for",
    "t_critical",
]

LEVEL = 0.95
"""Confidence level of every interval the experiment layer reports."""


@attrs.frozen
class Interval:
    """A mean with its confidence interval, over ``n`` values.

    Symmetric (``mean ± half_width``) unless ``ends`` are given: a proportion's
    interval is asymmetric near 0 and 1, and its half-width is half its length.
    """

    mean: float
    half_width: float
    """NaN when fewer than two values are available."""
    n: int
    ends: tuple[float, float] | None = None
    """The two ends of an asymmetric interval (None: ``mean ± half_width``)."""

    @classmethod
    def between(cls, mean: float, low: float, high: float, n: int) -> Interval:
        """An interval with the given ends (asymmetric about the mean in general)."""
        return cls(mean, (high - low) / 2.0, n, (low, high))

    @property
    def symmetric(self) -> bool:
        """Whether the interval is ``mean ± half_width`` (a proportion's is not)."""
        return self.ends is None

    @property
    def low(self) -> float:
        """Lower end of the interval."""
        return self.mean - self.half_width if self.ends is None else self.ends[0]

    @property
    def high(self) -> float:
        """Upper end of the interval."""
        return self.mean + self.half_width if self.ends is None else self.ends[1]

    def excludes(self, value: float) -> bool:
        """Whether ``value`` lies outside the interval (e.g. 0 for a difference)."""
        return bool(value < self.low or value > self.high)


def t_critical(n: int, level: float = LEVEL) -> float:
    """The two-sided Student-t quantile for ``n`` values (``n − 1`` degrees of freedom)."""
    if n < 2:
        return math.nan
    return float(stdtrit(n - 1, 0.5 + level / 2.0))


def mean_interval(values: npt.ArrayLike, level: float = LEVEL) -> Interval:
    """Mean and Student-t half-width of the finite values (NaN values are left out)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, math.nan, 1)
    return Interval(mean, t_critical(n, level) * float(x.std(ddof=1)) / math.sqrt(n), n)


def proportion_interval(
    values: npt.ArrayLike, trials: npt.ArrayLike | None = None, level: float = LEVEL
) -> Interval:
    """Mean of per-replication proportions, with an interval inside [0, 1].

    The Wilson score interval on an effective number of trials, as Korn and
    Graubard (1998) do for survey proportions: n* = p̄(1 − p̄) / (s² / n) from the
    replications' own variance s², so the interval holds when replications vary
    more than binomially, and with the Student-t quantile (n − 1 degrees of
    freedom), so it tends to the t interval of the mean as n grows. Given each
    replication's ``trials`` (the proportion's denominator), n* is capped at their
    sum: replications cannot tell more than their pooled counts, and when every one
    is at 0 (or 1) the interval is Wilson's on those pooled counts. Without trials,
    identical replications give a zero-width interval, as the t interval does.
    """
    x = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(x)
    pooled = math.inf
    if trials is not None:
        counts = np.asarray(trials, dtype=np.float64)
        if counts.shape != x.shape:
            raise ValueError(f"proportions and trials need equal lengths, got {x.size} and "
                             f"{counts.size}")  # fmt: skip
        keep &= np.isfinite(counts) & (counts > 0)
        pooled = float(counts[keep].sum())
    x = x[keep]
    outside = x[(x < -1e-9) | (x > 1.0 + 1e-9)]
    if outside.size:
        raise ValueError(f"a proportion must lie in [0, 1], got {float(outside[0])!r}")
    x = np.clip(x, 0.0, 1.0)  # rounding: busy time summed over servers, say
    n = int(x.size)
    if n < 2:
        return mean_interval(x, level)
    mean = float(x.mean())
    variance_of_mean = float(x.var(ddof=1)) / n
    binomial = mean * (1.0 - mean)
    effective = pooled if variance_of_mean == 0.0 else min(pooled, binomial / variance_of_mean)
    if not math.isfinite(effective):  # identical replications, no counts to bound them by
        return Interval.between(mean, mean, mean, n)
    low, high = wilson_bounds(mean, effective, t_critical(n, level))
    return Interval.between(mean, low, high, n)


def wilson_bounds(p: float, trials: float, z: float) -> tuple[float, float]:
    """Wilson's score interval of proportion ``p`` over ``trials`` (need not be whole)."""
    z2 = z * z / trials
    centre = (p + z2 / 2.0) / (1.0 + z2)
    half = math.sqrt(z2 * p * (1.0 - p) + z2 * z2 / 4.0) / (1.0 + z2)
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_interval(
    baseline: npt.ArrayLike, other: npt.ArrayLike, level: float = LEVEL
) -> Interval:
    """Interval of the mean of ``other − baseline`` over replications where both are finite.

    The two arrays are aligned by replication: element r of each comes from
    replication r, which used the same random streams in both variants.
    """
    a = np.asarray(baseline, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths, got {a.size} and {b.size}")
    both = np.isfinite(a) & np.isfinite(b)
    return mean_interval(b[both] - a[both], level)


def replications_for(interval: Interval, target_half_width: float, most: int) -> int:
    """Replications likely to bring the half-width under the target, at most ``most``.

    The half-width shrinks like 1/√n, so n × (h / target)² is the estimate; it
    never grows by more than a factor of two per round, because a variance
    estimated from a few values can be far off.
    """
    n = interval.n
    if n < 2 or not math.isfinite(interval.half_width):
        return min(most, max(2, 2 * n))
    if interval.half_width <= target_half_width:
        return n
    wanted = math.ceil(n * (interval.half_width / target_half_width) ** 2)
    return min(most, max(n + 1, min(wanted, 2 * n)))
