"""Statistics for comparing runs with theory: replication intervals and goodness of fit.

A steady-state figure is estimated by independent replications (different
seeds, each with its warm-up cut): the replication means are independent and,
for long runs, close to normal, so Student's t gives their confidence interval
(Law, *Simulation Modeling and Analysis*, 5th ed., §9.4.1). Distributional
checks use Pearson's chi-square for Poisson counts and the Kolmogorov-Smirnov
test against a fully specified exponential law, both from SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["Estimate", "GoodnessOfFit", "chi_square_poisson", "estimate", "ks_exponential"]


@attrs.frozen
class Estimate:
    """The mean of replication values and its Student-t confidence intervals."""

    mean: float
    sd: float
    """Standard deviation of the replication values."""
    n: int
    ci95: tuple[float, float]
    ci99: tuple[float, float]

    def contains(self, value: float, level: float = 0.99) -> bool:
        """Whether ``value`` lies in the 95% or 99% interval."""
        low, high = self.ci99 if level == 0.99 else self.ci95
        return low <= value <= high


def estimate(values: Sequence[float] | npt.NDArray[np.float64]) -> Estimate:
    """Mean and t intervals of independent replication values (at least two)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        raise ValueError(f"an interval needs at least two replications, got {x.size}")
    mean = float(x.mean())
    sd = float(x.std(ddof=1))
    se = sd / math.sqrt(x.size)

    def interval(level: float) -> tuple[float, float]:
        half = float(stats.t.ppf(0.5 + level / 2, x.size - 1)) * se
        return (mean - half, mean + half)

    return Estimate(mean, sd, int(x.size), interval(0.95), interval(0.99))


@attrs.frozen
class GoodnessOfFit:
    """A test statistic, its degrees of freedom (if any), sample size and p-value."""

    statistic: float
    df: int
    n: int
    p_value: float


def chi_square_poisson(
    observed: npt.NDArray[np.float64], expected: npt.NDArray[np.float64], min_expected: float = 5.0
) -> GoodnessOfFit:
    """Pearson's statistic for independent Poisson counts with fully specified means.

    Σ (O − E)² / E over cells with E ≥ ``min_expected`` is approximately
    chi-square with one degree of freedom per cell: no parameter is estimated
    and, unlike a multinomial test, the total is not fixed. Cells with smaller
    means are left out (the normal approximation fails there); leaving out
    cells chosen by their expected value alone keeps the test exact in level.
    """
    obs = np.asarray(observed, dtype=np.float64).ravel()
    exp = np.asarray(expected, dtype=np.float64).ravel()
    keep = exp >= min_expected
    if not keep.any():
        raise ValueError(f"no cell has an expected count ≥ {min_expected}")
    statistic = float((((obs - exp) ** 2) / exp)[keep].sum())
    df = int(keep.sum())
    return GoodnessOfFit(statistic, df, int(obs[keep].sum()), float(stats.chi2.sf(statistic, df)))


def ks_exponential(samples: npt.NDArray[np.float64], mean: float = 1.0) -> GoodnessOfFit:
    """Kolmogorov-Smirnov test of the samples against the exponential law with this mean.

    The law is fully specified (not fitted), so the usual KS p-value applies.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no samples to test")
    result = stats.kstest(x, "expon", args=(0.0, mean))
    return GoodnessOfFit(float(result.statistic), 0, int(x.size), float(result.pvalue))
