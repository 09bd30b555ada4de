"""Warm-up truncation: where a run's start-up transient ends, and cutting it there.

A run starts empty (no queues, no busy servers), so its first transactions are
faster than the steady state. With ``warmup: auto`` the cut is estimated after
the run with MSER-5 (White 1997; Franklin and White 2008) on the time in system
(``latency_s``) of transactions in arrival order: the series is grouped into
batch means of 5, and the number of batches dropped, d, minimises

    MSER(d) = Σ_{i>d} (Y_i − Ȳ_d)² / (m − d)²

(the squared standard error of the mean of what is kept), searched over the
first half of the batches. A minimum at the end of that range means the run is
too short, or not stationary (a diurnal profile is not a warm-up), and is
flagged.

The stations' figures need the cut as well, but it is known only after the
run. :class:`AutoWarmup` therefore checkpoints every station at each sampling
instant, and measures the station figures from the first checkpoint at or after
the estimate; the summary uses that same instant, so both describe one window.
"""

from __future__ import annotations

import copy
import math
from array import array
from collections import deque
from collections.abc import Generator, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import simpy

from sim.engine.servers import NodeStats
from sim.engine.stations import StationStats

__all__ = ["AutoWarmup", "Cut", "Truncation", "mser"]

BATCH_SIZE = 5
"""Observations per batch mean (the "5" of MSER-5)."""


@attrs.frozen
class Truncation:
    """Where MSER puts the end of the transient in a series."""

    observations: int
    """Leading observations to drop (``batches × batch_size``)."""
    batches: int
    """Leading batch means dropped (d*)."""
    total_batches: int
    batch_size: int
    at_limit: bool
    """The minimum sits at the end of the search range: the estimate is not reliable."""


def mser(
    series: npt.ArrayLike, batch_size: int = BATCH_SIZE, max_fraction: float = 0.5
) -> Truncation:
    """MSER-``batch_size`` truncation point of a series in time order.

    Args:
        series: The observations, in the order they were produced.
        batch_size: Observations per batch mean (5 for MSER-5; 1 for plain MSER).
        max_fraction: The largest share of batches that may be dropped.

    Returns:
        The number of leading observations (and batches) to drop; none when
        the series has fewer than three batches.
    """
    y = np.asarray(series, dtype=np.float64)
    if not np.isfinite(y).all():
        raise ValueError("MSER needs finite observations")
    m = y.size // batch_size
    limit = min(int(m * max_fraction), m - 2)
    if limit < 1:
        return Truncation(0, 0, m, batch_size, at_limit=False)
    means = y[: m * batch_size].reshape(m, batch_size).mean(axis=1)
    means = means - means.mean()  # the statistic is shift-invariant; this avoids cancellation
    tail_sum = np.cumsum(means[::-1])[::-1]
    tail_squares = np.cumsum((means * means)[::-1])[::-1]
    kept = (m - np.arange(m)).astype(np.float64)
    spread = np.maximum(tail_squares - tail_sum * tail_sum / kept, 0.0)
    statistic = spread / (kept * kept)
    d = int(np.argmin(statistic[: limit + 1]))
    return Truncation(d * batch_size, d, m, batch_size, at_limit=d == limit)


@attrs.frozen
class Cut:
    """The warm-up applied to a run with ``warmup: auto``."""

    truncation: Truncation
    estimate_s: float
    """Arrival time of the first transaction MSER keeps (0 when nothing is dropped)."""
    cut_s: float
    """The cut applied: the first station checkpoint at or after the estimate."""
    checkpoint: int

    def report(self) -> dict[str, Any]:
        """The estimate as reported in ``summary.json`` and ``manifest.json``."""
        t = self.truncation
        return {
            "method": f"MSER-{t.batch_size}",
            "series": "latency_s (time in system) in arrival order",
            "batch_size": t.batch_size,
            "batches": t.total_batches,
            "batches_dropped": t.batches,
            "transactions_dropped": t.observations,
            "estimate_s": self.estimate_s,
            "cut_s": self.cut_s,
            "at_search_limit": t.at_limit,
        }


class AutoWarmup:
    """Station checkpoints during a run, and the cut chosen once it has ended."""

    _FIELDS = ("arrivals", "completions", "blocked", "busy_area", "queue_area", "open_wait",
               "waits", "queue", "peak", "fg_arrivals", "fg_waits")  # fmt: skip

    def __init__(self, stations: Sequence[StationStats], capacity: int) -> None:
        self.stations = list(stations)
        shape = (capacity, len(self.stations))
        self.time_s = np.zeros(capacity)
        self.figures = {
            name: np.zeros(
                shape, dtype=np.float64 if name.endswith(("area", "wait")) else np.int64
            )
            for name in self._FIELDS
        }
        self.count = 0
        self._at_horizon: list[StationStats] = []

    def checkpoint(
        self, env: simpy.Environment, every_s: float, until_s: float
    ) -> Generator[simpy.Event, Any, None]:
        """A process: checkpoint every station at 0, ``every_s``, … before ``until_s``."""
        while env.now < until_s and self.count < self.time_s.size:
            self._take(env.now)
            yield env.timeout(min(every_s, until_s - env.now))

    def _take(self, now: float) -> None:
        i = self.count
        self.time_s[i] = now
        f = self.figures
        for j, st in enumerate(self.stations):
            st.advance(now)
            f["arrivals"][i, j] = st.arrivals
            f["completions"][i, j] = st.completions
            f["blocked"][i, j] = st.blocked
            f["open_wait"][i, j] = st.open_wait(now)
            f["busy_area"][i, j] = st.busy_area
            f["queue_area"][i, j] = st.queue_area
            f["waits"][i, j] = len(st.waits)
            f["queue"][i, j] = st.queue
            f["peak"][i, j] = st.max_queue  # the longest queue since the previous checkpoint
            st.max_queue = st.queue
            if isinstance(st, NodeStats):  # a settlement node's foreground, kept apart
                f["fg_arrivals"][i, j] = st.fg_arrivals
                f["fg_waits"][i, j] = len(st.fg_waits)
        self.count += 1

    def freeze(self) -> None:
        """Keep a copy of every station's figures as they are at the horizon."""
        self._at_horizon = []
        for st in self.stations:
            frozen = copy.copy(st)
            frozen.waits = array("f", st.waits)
            if isinstance(st, NodeStats) and isinstance(frozen, NodeStats):
                frozen.fg_waits = array("f", st.fg_waits)
            frozen.queues = [deque(q) for q in st.queues]  # who is still waiting at the horizon
            self._at_horizon.append(frozen)

    def cut(self, arrival_s: npt.ArrayLike, latency_s: npt.ArrayLike) -> Cut:
        """Estimate the cut from the transactions' arrival times and times in system."""
        arrival = np.asarray(arrival_s, dtype=np.float64)
        order = np.argsort(arrival, kind="stable")
        truncation = mser(np.asarray(latency_s, dtype=np.float64)[order])
        dropped = truncation.observations
        estimate = float(arrival[order][dropped]) if dropped else 0.0
        times = self.time_s[: self.count]
        k = min(int(np.searchsorted(times, estimate - 1e-9, side="left")), self.count - 1)
        return Cut(truncation, estimate, float(times[k]), k)

    def stations_from(self, cut: Cut) -> list[StationStats]:
        """The stations' figures at the horizon, measured from the cut's checkpoint."""
        if not self._at_horizon:
            raise RuntimeError("freeze() the stations at the horizon first")
        k, f = cut.checkpoint, self.figures
        measured = []
        for j, frozen in enumerate(self._at_horizon):
            st = copy.copy(frozen)
            st.arrivals_at_reset = int(f["arrivals"][k, j])
            st.completions_at_reset = int(f["completions"][k, j])
            st.blocked_at_reset = int(f["blocked"][k, j])
            st.queue_at_reset = int(f["queue"][k, j])
            st.wait_carried_in = float(f["open_wait"][k, j])
            st.busy_area = frozen.busy_area - float(f["busy_area"][k, j])
            st.queue_area = frozen.queue_area - float(f["queue_area"][k, j])
            st.waits = frozen.waits[int(f["waits"][k, j]) :]
            later = f["peak"][k + 1 : self.count, j]
            st.max_queue = max(int(f["queue"][k, j]), frozen.max_queue, *map(int, later))
            st.since = float(self.time_s[k])
            if isinstance(st, NodeStats) and isinstance(frozen, NodeStats):
                st.fg_arrivals_at_reset = int(f["fg_arrivals"][k, j])
                st.fg_waits = frozen.fg_waits[int(f["fg_waits"][k, j]) :]
            measured.append(st)
        return measured


def checkpoints_needed(horizon_s: float, every_s: float) -> int:
    """How many checkpoints fit before the horizon (one spare for rounding)."""
    return math.ceil(horizon_s / every_s) + 1
