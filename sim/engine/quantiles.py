"""Percentiles of recorded values: exact while they fit, a bounded sketch beyond.

Summaries of tens of millions of waits or latencies must not hold them all:
:class:`Quantiles` keeps values exactly up to a size, then folds them into a
log-binned histogram whose percentiles are within 0.1% of the true value. The
mean is always exact. :func:`percentiles` is the exact computation both use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["PERCENTILES", "Quantiles", "percentiles"]

PERCENTILES = (50, 95, 99)


def percentiles(values: npt.ArrayLike, qs: Sequence[float] = PERCENTILES) -> dict[str, float]:
    """``{"mean", "p50", "p95", "p99"}`` of the values (NaN for no values)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {"mean": math.nan, **{f"p{q:g}": math.nan for q in qs}}
    out = {"mean": float(arr.mean())}
    for q, value in zip(qs, np.percentile(arr, qs), strict=True):
        out[f"p{q:g}"] = float(value)
    return out


class Quantiles:
    """Mean and percentiles of a stream of values, exact up to a size, then sketched.

    Values are kept until there are ``exact_up_to`` of them; beyond
    that they go into a log-binned histogram (bins 0.2% wide, from 1 µs to 10⁷ s),
    so memory stays bounded whatever the run's length. The mean is always exact;
    sketched percentiles are the geometric middle of their bin, within 0.1% of the
    true value (values under 1 µs count as 0). The summary says which was used.
    """

    BINS_PER_DECADE = 1152  # 10 ** (1 / 1152) ≈ 1.002
    LOW_EXP, HIGH_EXP = -6, 7

    def __init__(self, exact_up_to: int = 500_000) -> None:
        self.exact_up_to = exact_up_to
        self.count = 0
        self.total = 0.0
        self._values: list[npt.NDArray[np.float64]] = []
        self._hist: npt.NDArray[np.int64] | None = None
        self._zeros = 0

    def add(self, values: npt.ArrayLike) -> None:
        """Take in a batch of values (NaN values are ignored)."""
        arr = np.asarray(values, dtype=np.float64)
        arr = arr[~np.isnan(arr)]
        if arr.size == 0:
            return
        self.count += int(arr.size)
        self.total += float(arr.sum())
        if self._hist is None and self.count <= self.exact_up_to:
            self._values.append(arr)
            return
        if self._hist is None:
            bins = (self.HIGH_EXP - self.LOW_EXP) * self.BINS_PER_DECADE + 1
            self._hist = np.zeros(bins, dtype=np.int64)
            kept, self._values = self._values, []
            for part in kept:
                self._bin(part)
        self._bin(arr)

    def _bin(self, arr: npt.NDArray[np.float64]) -> None:
        assert self._hist is not None
        tiny = arr < 10.0**self.LOW_EXP
        self._zeros += int(tiny.sum())
        logs = np.log10(arr[~tiny]) - self.LOW_EXP
        index = np.clip((logs * self.BINS_PER_DECADE).astype(np.int64), 0, self._hist.size - 1)
        self._hist += np.bincount(index, minlength=self._hist.size)

    @property
    def exact(self) -> bool:
        """Whether the percentiles are exact (no sketch used)."""
        return self._hist is None

    def summary(self, qs: Sequence[float] = PERCENTILES) -> dict[str, float]:
        """``{"mean", "p50", …}`` as :func:`percentiles` gives them."""
        if self._hist is None:
            values = np.concatenate(self._values) if self._values else np.zeros(0)
            return percentiles(values, qs)
        out = {"mean": self.total / self.count}
        cumulative = np.cumsum(self._hist)
        for q in qs:
            rank = q / 100.0 * (self.count - 1)
            if rank < self._zeros:
                out[f"p{q:g}"] = 0.0
                continue
            b = int(np.searchsorted(cumulative, rank - self._zeros, side="right"))
            middle = (b + 0.5) / self.BINS_PER_DECADE + self.LOW_EXP
            out[f"p{q:g}"] = float(10.0**middle)
        return out
