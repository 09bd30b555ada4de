"""Statistics across replications: Student-t intervals, paired differences, precision.

Each replication of a variant gives one value of a figure (its p99 latency, say);
replications are independent and identically distributed, so the mean over n
of them has a Student-t interval with n − 1 degrees of freedom. Variants share
their replications' random numbers (common random numbers), so two variants are
compared through the per-replication differences, whose interval is usually much
narrower than the two intervals side by side.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import numpy.typing as npt
from scipy.special import stdtrit  # the Student-t quantile; scipy.stats is slow to import

__all__ = ["Interval", "mean_interval", "paired_interval", "replications_for", "t_critical"]

LEVEL = 0.95
"""Confidence level of every interval the experiment layer reports."""


@attrs.frozen
class Interval:
    """A mean with the half-width of its confidence interval, over ``n`` values."""

    mean: float
    half_width: float
    """NaN when fewer than two values are available."""
    n: int

    @property
    def low(self) -> float:
        """Lower end of the interval."""
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        """Upper end of the interval."""
        return self.mean + self.half_width

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
