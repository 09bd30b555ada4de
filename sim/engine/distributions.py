"""Sampling the scenario's distributions, in numpy batches.

``sample(dist, rng, n)`` draws ``n`` values at once; :class:`BatchSampler`
serves them one by one to event callbacks at the cost of a list pop, refilling
a block at a time. Money amounts are drawn as floats and rounded to whole fen
once, here, so no float ever reaches an account.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from sim.scenario.schema import Constant, Distribution, Exponential, Gamma, Lognormal, Uniform
from sim.scenario.units_types import Quantity

__all__ = ["BatchSampler", "mean", "sample", "sample_fen", "sampler", "uniform_sampler"]

BLOCK = 4096


def sample(dist: Distribution, rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
    """``n`` independent draws from ``dist``."""
    if isinstance(dist, Exponential):
        return rng.exponential(dist.mean, n)
    if isinstance(dist, Lognormal):
        sigma2 = math.log1p(dist.cv * dist.cv)
        mu = math.log(dist.mean) - sigma2 / 2.0
        return rng.lognormal(mu, math.sqrt(sigma2), n)
    if isinstance(dist, Gamma):
        shape = 1.0 / (dist.cv * dist.cv)
        return rng.gamma(shape, dist.mean / shape, n)
    if isinstance(dist, Uniform):
        return rng.uniform(dist.low, dist.high, n)
    if isinstance(dist, Constant):
        return np.full(n, float(dist.value))
    raise TypeError(f"unknown distribution {dist!r}")


def sample_fen(dist: Distribution, rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
    """``n`` money amounts in whole fen (rounded half to even, never negative)."""
    return np.maximum(np.rint(sample(dist, rng, n)), 0).astype(np.int64)


def mean(dist: Distribution) -> float:
    """The distribution's mean (for theory checks and capacity estimates)."""
    if isinstance(dist, Uniform):
        return (dist.low + dist.high) / 2.0
    if isinstance(dist, Constant):
        return float(dist.value)
    return float(dist.mean)


class BatchSampler:
    """One draw per call, sampled ``BLOCK`` at a time from its own generator."""

    __slots__ = ("_buffer", "_dist", "_rng")

    def __init__(self, dist: Distribution, rng: np.random.Generator) -> None:
        self._dist = dist
        self._rng = rng
        self._buffer: list[float] = []

    def __call__(self) -> float:
        """The next draw."""
        buffer = self._buffer
        if not buffer:
            buffer.extend(sample(self._dist, self._rng, BLOCK).tolist())
            buffer.reverse()  # pop() from the end serves draws in sampling order
        return buffer.pop()


def sampler(dist: Distribution, rng: np.random.Generator) -> Callable[[], float]:
    """A zero-argument draw function; constants skip the buffer altogether."""
    if isinstance(dist, Constant):
        value = float(dist.value)
        return lambda: value
    return BatchSampler(dist, rng)


def uniform_sampler(rng: np.random.Generator) -> Callable[[], float]:
    """Uniform draws on [0, 1) one at a time (a decision taken per event), in blocks."""
    return BatchSampler(Uniform(Quantity(0.0), Quantity(1.0)), rng)
